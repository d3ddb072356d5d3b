/* nn/sequential.c — torch.nn.Sequential: children "0", "1", ... run in order
 * (a Conv2d, the ReLU after it and a MaxPool2d after that as one op). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "nn/layer.h"

/* A Conv2d followed by a ReLU, and by a MaxPool2d after that, runs as one op
 * (nb_conv2d_relu, nb_conv2d_relu_max_pool2d): the same values and gradients
 * without storing or re-reading the pre-activation (PyTorch's explicit form
 * of the first is torch.ao.nn.intrinsic.ConvReLU2d). Not while a forward
 * hook wants to see each layer's own output. */
static nb_tensor *seq_forward(nb_module *m, nb_tensor *x)
{
    for (int i = 0; i < m->n_children && x; i++) {
        nb_module *c = m->children[i];
        if (i + 1 < m->n_children && nb_is_conv2d_layer(c) && nb_is_relu_layer(m->children[i + 1]) &&
            !nb_forward_hooked()) {
            const nb_module *pool = i + 2 < m->n_children && nb_is_max_pool2d_layer(m->children[i + 2])
                                        ? m->children[i + 2]
                                        : NULL;
            x = nb_forward_fused(c, x, nb_conv2d_layer_fused_forward, pool);
            i += pool ? 2 : 1;
        } else {
            x = nb_forward(c, x);
        }
    }
    return x;
}

int nb_sequential_add(nb_module *seq, nb_module *layer)
{
    if (!seq || seq->forward != seq_forward) {
        nb_module_free(layer);
        nb_error(seq ? NB_ERR_ARG : NB_ERR_NULL, "sequential_add: %s is not a Sequential",
                 seq ? seq->kind : "NULL");
        return -1;
    }
    char name[16];
    snprintf(name, sizeof name, "%d", seq->n_children);
    return nb_module_add(seq, name, layer);
}

nb_module *nb_sequential(int n, ...)
{
    if (n < 0)
        return nb_error(NB_ERR_ARG, "Sequential: layer count %d is negative", n);
    nb_module **layers = calloc((size_t)(n ? n : 1), sizeof *layers);
    va_list ap;
    va_start(ap, n);
    if (!layers) { /* the layers are ours all the same: free them */
        for (int i = 0; i < n; i++)
            nb_module_free(va_arg(ap, nb_module *));
        va_end(ap);
        return nb_error(NB_ERR_MEMORY, "Sequential: out of memory for %d layers", n);
    }
    int missing = -1;
    for (int i = 0; i < n; i++) {
        layers[i] = va_arg(ap, nb_module *);
        if (!layers[i] && missing < 0)
            missing = i;
    }
    va_end(ap);
    nb_module *seq = missing < 0 ? nb_module_new("Sequential", seq_forward, NULL) : NULL;
    int i = 0;
    for (; seq && i < n; i++)
        if (nb_sequential_add(seq, layers[i]) != 0)
            break;
    if (!seq || i < n) { /* free every layer not yet owned by seq, then seq */
        for (int j = seq ? i + 1 : 0; j < n; j++)
            nb_module_free(layers[j]);
        nb_module_free(seq);
        if (missing >= 0 && nb_last_error() == NB_OK)
            nb_error(NB_ERR_NULL, "Sequential: layer %d is NULL", missing);
        seq = NULL;
    }
    free(layers);
    return seq;
}
