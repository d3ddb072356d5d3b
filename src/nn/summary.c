/* nn/summary.c — nb_module_summary, after torchsummary's summary(): a forward
 * pass on a zero input in no-grad and eval mode, recording each layer as its
 * forward returns (so numbered in completion order, containers left out), then
 * the totals. The pass leaves no trace: in eval mode BatchNorm's running
 * statistics stay as they are (and a batch of one is valid), step memory is
 * rewound, and the generators of stochastic layers and every module's
 * training flag are restored. */
#include <stdlib.h>
#include <string.h>
#include "nn/layer.h"

typedef struct row {
    const nb_module *m;
    int64_t shape[NB_MAX_DIMS];
    int ndim;
} row;

typedef struct recorder {
    const nb_module *root;
    row *rows;
    int n, cap;
    bool failed;
} recorder;

static void record(nb_module *m, nb_tensor *y, void *ctx)
{
    recorder *r = ctx;
    if (m == r->root || strcmp(m->kind, "Sequential") == 0 || r->failed)
        return;
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 16;
        row *rows = realloc(r->rows, (size_t)cap * sizeof *rows);
        if (!rows) {
            r->failed = true;
            return;
        }
        r->rows = rows;
        r->cap = cap;
    }
    row *w = &r->rows[r->n++];
    w->m = m;
    w->ndim = y->ndim;
    memcpy(w->shape, y->shape, sizeof w->shape);
}

/* The generators of the tree, saved or restored in depth-first order. */
static int generators(nb_module *m, nb_generator *saved, int k, bool restore)
{
    if (m->generator) {
        if (saved && restore)
            *m->generator = saved[k];
        else if (saved)
            saved[k] = *m->generator;
        k++;
    }
    for (int i = 0; i < m->n_children; i++)
        k = generators(m->children[i], saved, k, restore);
    return k;
}

/* The training flags of the tree, saved (and set to eval) or restored, depth first. */
static int training_flags(nb_module *m, bool *saved, int k, bool restore)
{
    if (saved && restore)
        m->training = saved[k];
    else if (saved)
        saved[k] = m->training, m->training = false;
    k++;
    for (int i = 0; i < m->n_children; i++)
        k = training_flags(m->children[i], saved, k, restore);
    return k;
}

/* n with thousands separators: 235146 -> "235,146". */
static const char *grouped(int64_t n, char *buf)
{
    char digits[24];
    int len = snprintf(digits, sizeof digits, "%lld", (long long)n), k = 0;
    for (int i = 0; i < len; i++) {
        buf[k++] = digits[i];
        if (digits[i] != '-' && (len - 1 - i) % 3 == 0 && i < len - 1)
            buf[k++] = ',';
    }
    buf[k] = '\0';
    return buf;
}

static int64_t own_params(const nb_module *m)
{
    int64_t n = 0;
    for (int i = 0; i < m->n_params; i++)
        n += m->params[i]->numel;
    return n;
}

int nb_module_summary(nb_module *m, FILE *f, int ndim, const int64_t *input_shape)
{
    if (!m || !f) {
        nb_error(NB_ERR_NULL, "module_summary: %s is NULL", m ? "file" : "module");
        return -1;
    }
    nb_tensor *x = nb_zeros(ndim, input_shape);
    int n_gen = generators(m, NULL, 0, false);
    nb_generator *saved = malloc((size_t)(n_gen ? n_gen : 1) * sizeof *saved);
    bool *flags = malloc((size_t)training_flags(m, NULL, 0, false) * sizeof *flags);
    if (!x || !saved || !flags) {
        nb_free(x);
        free(saved);
        free(flags);
        if (nb_last_error() == NB_OK)
            nb_error(NB_ERR_MEMORY, "module_summary: out of memory");
        return -1;
    }
    generators(m, saved, 0, false);
    training_flags(m, flags, 0, false);
    recorder r = {.root = m};
    void *prev_ctx;
    nb_forward_hook prev = nb_set_forward_hook(record, &r, &prev_ctx);
    nb_step_mark mark = nb_step_get_mark();
    bool grad = nb_set_grad_enabled(false);
    nb_tensor *y = nb_forward(m, x);
    nb_set_grad_enabled(grad);
    nb_set_forward_hook(prev, prev_ctx, NULL);
    row out = {.m = m};
    if (y) {
        out.ndim = y->ndim;
        memcpy(out.shape, y->shape, sizeof out.shape);
    }
    nb_step_rewind(mark);
    generators(m, saved, 0, true);
    training_flags(m, flags, 0, true);
    free(saved);
    free(flags);
    nb_free(x);
    if (!y || r.failed) {
        free(r.rows);
        if (!y)
            return -1;
        nb_error(NB_ERR_MEMORY, "module_summary: out of memory recording the layers");
        return -1;
    }
    nb_param_list list;
    if (nb_module_parameters(m, &list) < 0) {
        free(r.rows);
        return -1;
    }
    int64_t total = 0, trainable = 0;
    for (int i = 0; i < list.count; i++) {
        total += list.tensors[i]->numel;
        trainable += list.tensors[i]->requires_grad ? list.tensors[i]->numel : 0;
    }
    nb_param_list_free(&list);

    char line[80], buf[40], name[64];
    memset(line, '-', 64);
    line[64] = '\0';
    fprintf(f, "%s\n%20s  %25s %15s\n", line, "Layer (type)", "Output Shape", "Param #");
    memset(line, '=', 64);
    fprintf(f, "%s\n", line);
    /* a model that runs no layer through nb_forward is its own single row */
    for (int i = 0; i < (r.n ? r.n : 1); i++) {
        const row *w = r.n ? &r.rows[i] : &out;
        snprintf(name, sizeof name, "%s-%d", w->m->kind, i + 1);
        fprintf(f, "%20s  %25s %15s\n", name, nb_dims_fmt(w->ndim, w->shape),
                grouped(r.n ? own_params(w->m) : total, buf));
    }
    fprintf(f, "%s\n", line);
    fprintf(f, "Input shape: %s\n", nb_dims_fmt(ndim, input_shape));
    fprintf(f, "Output shape: %s\n", nb_dims_fmt(out.ndim, out.shape));
    fprintf(f, "Total params: %s\n", grouped(total, buf));
    fprintf(f, "Trainable params: %s\n", grouped(trainable, buf));
    fprintf(f, "Non-trainable params: %s\n", grouped(total - trainable, buf));
    memset(line, '-', 64);
    fprintf(f, "%s\n", line);
    free(r.rows);
    return 0;
}
