/* nn/linear.c — torch.nn.Linear, and the maxout layer built on it.
 * Initialisation as torch/nn/modules/linear.py reset_parameters():
 * kaiming_uniform_(weight, a=sqrt(5)), i.e. gain sqrt(2 / (1 + 5)) = sqrt(1/3),
 * bound sqrt(3) * gain / sqrt(fan_in) = 1 / sqrt(fan_in); then bias ~ U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)) (see pytorch/pytorch#57109 for why). */
#include <math.h>
#include "nn/layer.h"

/* The parameters are read from m->params (weight, then bias if any), so that
 * a tie (nb_module_tie) takes effect. */
static nb_tensor *linear_forward(nb_module *m, nb_tensor *x)
{
    return nb_linear_op(x, m->params[0], m->n_params > 1 ? m->params[1] : NULL);
}

static void linear_repr(const nb_module *m, char *buf, size_t size)
{
    const nb_tensor *w = m->params[0];
    snprintf(buf, size, "in_features=%lld, out_features=%lld, bias=%s", (long long)w->shape[1],
             (long long)w->shape[0], m->n_params > 1 ? "True" : "False");
}

nb_module *nb_linear_ex(int64_t in, int64_t out, bool bias, nb_generator *g)
{
    if (in < 1 || out < 1)
        return nb_error(NB_ERR_ARG, "Linear: in_features %lld and out_features %lld must be >= 1",
                        (long long)in, (long long)out);
    nb_module *m = nb_module_new("Linear", linear_forward, NULL);
    nb_tensor *w, *b;
    if (!m)
        return NULL;
    m->extra_repr = linear_repr;
    if (!nb_layer_weight_bias(m, 2, (const int64_t[]){out, in}, bias, g, &w, &b)) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}

bool nb_layer_weight_bias(nb_module *m, int ndim, const int64_t *shape, bool bias, nb_generator *g,
                          nb_tensor **weight, nb_tensor **bias_out)
{
    nb_tensor *w = nb_module_param(m, "weight", nb_empty(ndim, shape)), *b = NULL;
    if (w && !nb_init_kaiming_uniform_(w, sqrt(5.0), NB_FAN_IN, "leaky_relu", g))
        w = NULL;
    if (w && bias) {
        double bound = 1 / sqrt((double)(w->numel / shape[0]));
        b = nb_module_param(m, "bias", nb_empty(1, shape));
        if (b && !nb_init_uniform_(b, -bound, bound, g))
            b = NULL;
    }
    *weight = w;
    *bias_out = b;
    return w && (!bias || b);
}

nb_module *nb_linear(int64_t in, int64_t out) { return nb_linear_ex(in, out, true, NULL); }

/* Maxout (Goodfellow et al., 2013): h_i = max_j z_ij over `pieces` affine maps
 * z_ij = x W_ij + b_ij, computed as one linear layer of out*pieces features
 * followed by nb_maxout over consecutive groups. */
typedef struct maxout_state {
    int pieces;
} maxout_state;

static nb_tensor *maxout_forward(nb_module *m, nb_tensor *x)
{
    maxout_state *s = m->user;
    return nb_maxout(nb_forward(m->children[0], x), s->pieces);
}

nb_module *nb_maxout_layer(int64_t in, int64_t out, int pieces)
{
    if (pieces < 1 || out < 1 || out > INT64_MAX / pieces)
        return nb_error(NB_ERR_ARG, "Maxout: out_features %lld x pieces %d must be >= 1", (long long)out,
                        pieces);
    nb_module *m = nb_layer_new("Maxout", maxout_forward, sizeof(maxout_state));
    if (!m)
        return NULL;
    ((maxout_state *)m->user)->pieces = pieces;
    if (nb_module_add(m, "linear", nb_linear(in, out * pieces)) != 0) {
        nb_module_free(m);
        return NULL;
    }
    return m;
}
