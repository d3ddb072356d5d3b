/* ops/dim.h — the dim argument of ops that work along one dim: normalised as
 * PyTorch's maybe_wrap_dim does (negative counts from the end; a rank-0 tensor
 * accepts 0 and -1, as if it were [1]), or an error naming the op. */
#ifndef NB_OPS_DIM_H
#define NB_OPS_DIM_H

#include "ops/op.h"

/* dim of x for `op`, in 0..max(rank,1)-1 (extra = 1: 0..rank, for stack's new
 * dim); -1 with "<op>: dim 5 is out of range for shape [2,3]" recorded. */
static inline int nb_op_dim(const char *op, int dim, const nb_tensor *x, int extra)
{
    int rank = x->ndim + extra;
    int d = nb_norm_dim(dim, rank ? rank : 1);
    if (d < 0)
        nb_error(NB_ERR_ARG, "%s: dim %d is out of range for shape %s (expected %d..%d)", op, dim,
                 nb_shape_fmt(x), rank ? -rank : -1, rank ? rank - 1 : 0);
    return d;
}

/* The sizes before dim, at dim and after dim of a contiguous tensor: x viewed as
 * [outer, size, inner]. A rank-0 tensor is [1, 1, 1]. */
static inline void nb_dim_split(const nb_tensor *x, int d, int64_t *outer, int64_t *size, int64_t *inner)
{
    *outer = *inner = 1;
    *size = x->ndim ? x->shape[d] : 1;
    for (int i = 0; i < x->ndim; i++) {
        if (i < d)
            *outer *= x->shape[i];
        else if (i > d)
            *inner *= x->shape[i];
    }
}

/* The shape of x reduced over dim d: d removed, or kept with size 1 when
 * keepdim (as PyTorch's keepdim). Returns the rank written into shape. */
static inline int nb_dim_reduced_shape(const nb_tensor *x, int d, bool keepdim, int64_t *shape)
{
    int ndim = 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != d || keepdim)
            shape[ndim++] = i == d ? 1 : x->shape[i];
    return ndim;
}

#endif
