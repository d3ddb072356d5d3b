/* ops/gather.c — gather along a dim and its inverse, scatter_add, as
 * torch.gather (https://pytorch.org/docs/stable/generated/torch.gather.html) and
 * torch.scatter_add(input, dim, index, src)
 * (https://pytorch.org/docs/stable/generated/torch.Tensor.scatter_add_.html).
 * With p[index] = p with its dim-th coordinate replaced by index[p]:
 *   gather:       y[p] = x[p[index]]                dx[p[index]] += dy[p]
 *   scatter_add:  y = input;  y[p[index]] += src[p]  dinput = dy;  dsrc[p] += dy[p[index]]
 * for every position p of index (repeated indices add up). index has x's rank,
 * sizes <= x's in the other dims (and <= src's in every dim for scatter_add),
 * and holds integral values in [0, x.size(dim)) stored as nb_real. It gets no
 * gradient. The adds run on one thread in index order: the same sums for any
 * thread count. */
#include <string.h>
#include "ops/dim.h"

typedef struct gather_saved {
    const int64_t *offsets; /* into x, of every element of index (y's numel) */
} gather_saved;

static void gather_backward(nb_node *n)
{
    nb_real *dx = nb_input_grad(n, 0);
    if (!dx)
        return;
    const int64_t *off = ((const gather_saved *)n->saved)->offsets;
    const nb_real *dy = n->out->grad;
    for (int64_t p = 0; p < n->out->numel; p++)
        dx[off[p]] += dy[p];
}

static const nb_op op_gather = {"gather", gather_backward};

/* The offset into x of each element p of index: of p[index] (at_values), or
 * of p itself (x at least index's size in every dim); NULL with an error
 * naming the first bad value and its position. */
static int64_t *offsets(const char *op, const nb_tensor *x, int d, const nb_tensor *index, bool at_values)
{
    int nd = x->ndim;
    int64_t stride[NB_MAX_DIMS], coord[NB_MAX_DIMS] = {0}, size = nd ? x->shape[d] : 1, base = 0;
    for (int64_t k = nd - 1, s = 1; k >= 0; k--) {
        stride[k] = s;
        s *= x->shape[k];
    }
    int64_t *off = nb_step_alloc((size_t)(index->numel ? index->numel : 1) * sizeof *off);
    if (!off)
        return NULL;
    for (int64_t p = 0; p < index->numel; p++) {
        nb_real v = at_values ? index->data[p] : (nb_real)(nd ? coord[d] : 0);
        if (!(v >= 0 && v < (nb_real)size) || v != (nb_real)(int64_t)v || (int64_t)v >= size)
            return nb_error(NB_ERR_ARG,
                            "%s: index %s holds %g at position %s: out of range for dim %d of %s %s "
                            "(valid: integers 0..%lld)",
                            op, nb_shape_fmt(index), (double)v, nb_dims_fmt(nd, coord), d,
                            strcmp(op, "gather") ? "input" : "x", nb_shape_fmt(x), (long long)size - 1);
        off[p] = base + (int64_t)v * (nd ? stride[d] : 0);
        for (int k = nd - 1; k >= 0; k--) { /* odometer over index's shape */
            if (k != d)
                base += stride[k];
            if (++coord[k] < index->shape[k])
                break;
            if (k != d)
                base -= stride[k] * index->shape[k];
            coord[k] = 0;
        }
    }
    return off;
}

nb_tensor *nb_gather(nb_tensor *x, int dim, nb_tensor *index)
{
    if (!nb_check_input("gather", 1, x) || !nb_check_input("gather", 3, index))
        return NULL;
    int d = nb_op_dim("gather", dim, x, 0);
    if (d < 0)
        return NULL;
    if (index->ndim != x->ndim)
        return nb_error(NB_ERR_SHAPE, "gather: x %s and index %s: ranks differ (%d vs %d)", nb_shape_fmt(x),
                        nb_shape_fmt(index), x->ndim, index->ndim);
    for (int k = 0; k < x->ndim; k++)
        if (k != d && index->shape[k] > x->shape[k])
            return nb_error(NB_ERR_SHAPE,
                            "gather: x %s and index %s: index dim %d has size %lld > %lld (only dim %d "
                            "may be larger)",
                            nb_shape_fmt(x), nb_shape_fmt(index), k, (long long)index->shape[k],
                            (long long)x->shape[k], d);
    int64_t *off = offsets("gather", x, d, index, true);
    if (!off)
        return NULL;
    nb_tensor *y = nb_tensor_alloc("gather", index->ndim, index->shape, false);
    if (!y)
        return NULL;
    for (int64_t p = 0; p < y->numel; p++)
        y->data[p] = x->data[off[p]];
    nb_node *n = nb_record_saved(&op_gather, y, 1, &x, sizeof(gather_saved));
    if (n)
        ((gather_saved *)n->saved)->offsets = off;
    return y;
}

typedef struct scatter_saved {
    const int64_t *offsets, *src_offsets; /* into input and into src, of every element of index */
    int64_t n;                            /* index's numel */
} scatter_saved;

static void scatter_add_backward(nb_node *n)
{
    const scatter_saved *s = n->saved;
    nb_real *dx = nb_input_grad(n, 0), *dsrc = nb_input_grad(n, 1);
    const nb_real *dy = n->out->grad;
    if (dx)
        nb_accumulate(dx, dy, n->out->numel);
    for (int64_t p = 0; dsrc && p < s->n; p++)
        dsrc[s->src_offsets[p]] += dy[s->offsets[p]];
}

static const nb_op op_scatter_add = {"scatter_add", scatter_add_backward};

nb_tensor *nb_scatter_add(nb_tensor *input, int dim, nb_tensor *index, nb_tensor *src)
{
    if (!nb_check_input("scatter_add", 1, input) || !nb_check_input("scatter_add", 3, index) ||
        !nb_check_input("scatter_add", 4, src))
        return NULL;
    int d = nb_op_dim("scatter_add", dim, input, 0);
    if (d < 0)
        return NULL;
    if (index->ndim != input->ndim || src->ndim != input->ndim)
        return nb_error(NB_ERR_SHAPE, "scatter_add: input %s, index %s, src %s: ranks differ",
                        nb_shape_fmt(input), nb_shape_fmt(index), nb_shape_fmt(src));
    for (int k = 0; k < input->ndim; k++)
        if (index->shape[k] > src->shape[k] || (k != d && index->shape[k] > input->shape[k]))
            return nb_error(
                NB_ERR_SHAPE,
                "scatter_add: input %s, index %s, src %s: index dim %d has size %lld, larger than "
                "src's%s",
                nb_shape_fmt(input), nb_shape_fmt(index), nb_shape_fmt(src), k, (long long)index->shape[k],
                k != d ? " or input's" : "");
    int64_t *off = offsets("scatter_add", input, d, index, true);
    int64_t *src_off = off ? offsets("scatter_add", src, d, index, false) : NULL;
    if (!src_off)
        return NULL;
    nb_tensor *y = nb_tensor_alloc("scatter_add", input->ndim, input->shape, false);
    if (!y)
        return NULL;
    memcpy(y->data, input->data, (size_t)y->numel * sizeof *y->data);
    for (int64_t p = 0; p < index->numel; p++)
        y->data[off[p]] += src->data[src_off[p]];
    nb_node *n = nb_record_saved(&op_scatter_add, y, 2, (nb_tensor *[]){input, src}, sizeof(scatter_saved));
    if (n)
        *(scatter_saved *)n->saved = (scatter_saved){off, src_off, index->numel};
    return y;
}
