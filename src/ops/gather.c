/* ops/gather.c — gather along a dim, as torch.gather:
 *   y[p] = x[p with its dim-th coordinate replaced by index[p]]
 *   dx[p with ... index[p]] += dy[p]             (scatter-add: repeated indices add up)
 * index has x's rank, sizes <= x's in the other dims, and holds integral values
 * in [0, x.size(dim)) stored as nb_real. It gets no gradient. */
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

/* The offset into x of each element of index; NULL with an error naming the
 * first bad value and its position. */
static int64_t *offsets(const nb_tensor *x, int d, const nb_tensor *index)
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
        nb_real v = index->data[p];
        if (!(v >= 0 && v < (nb_real)size) || v != (nb_real)(int64_t)v || (int64_t)v >= size)
            return nb_error(NB_ERR_ARG,
                            "gather: index %s holds %g at position %s: out of range for dim %d of x %s "
                            "(valid: integers 0..%lld)",
                            nb_shape_fmt(index), (double)v, nb_dims_fmt(nd, coord), d, nb_shape_fmt(x),
                            (long long)size - 1);
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
    int64_t *off = offsets(x, d, index);
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
