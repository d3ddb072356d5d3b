/* nabla/ops.h — differentiable tensor ops. All run eagerly, return a step tensor
 * (or NULL with an error recorded), and record a node when an input requires a
 * gradient. Binary arithmetic broadcasts as NumPy and PyTorch do. Negative dims
 * count from the end. */
#ifndef NABLA_OPS_H
#define NABLA_OPS_H

#include "autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Arithmetic, broadcasting. */
nb_tensor *nb_add(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_sub(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_mul(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_div(nb_tensor *a, nb_tensor *b);
/* With a scalar on the right: x + s, x * s. */
nb_tensor *nb_add_scalar(nb_tensor *x, nb_real s);
nb_tensor *nb_mul_scalar(nb_tensor *x, nb_real s);

/* Pointwise. */
nb_tensor *nb_neg(nb_tensor *x);
nb_tensor *nb_pow(nb_tensor *x, nb_real exponent);
nb_tensor *nb_exp(nb_tensor *x);
nb_tensor *nb_log(nb_tensor *x);
nb_tensor *nb_sqrt(nb_tensor *x);
nb_tensor *nb_abs(nb_tensor *x);   /* d/dx = sign(x), 0 at 0 (as PyTorch) */
/* clamp(x, lo, hi); the gradient passes where lo <= x <= hi (as PyTorch).
 * Use -INFINITY / INFINITY for a one-sided clamp. */
nb_tensor *nb_clamp(nb_tensor *x, nb_real lo, nb_real hi);

/* Matrix product: [n,k] x [k,m] -> [n,m]; [b,n,k] x [b,k,m] -> [b,n,m] with the
 * batch broadcast ([n,k] or [1,n,k] against [b,k,m] and the reverse). */
nb_tensor *nb_matmul(nb_tensor *a, nb_tensor *b);

/* Reductions: over everything (rank-0 result) or along a dim. */
nb_tensor *nb_sum(nb_tensor *x);
nb_tensor *nb_mean(nb_tensor *x);
nb_tensor *nb_max(nb_tensor *x);    /* gradient to the first maximal element */
nb_tensor *nb_min(nb_tensor *x);
nb_tensor *nb_sum_dim(nb_tensor *x, int dim, bool keepdim);
nb_tensor *nb_mean_dim(nb_tensor *x, int dim, bool keepdim);
nb_tensor *nb_max_dim(nb_tensor *x, int dim, bool keepdim);  /* values; ties: first */
nb_tensor *nb_min_dim(nb_tensor *x, int dim, bool keepdim);
/* Index of the maximum along dim, as nb_real values (no gradient). */
nb_tensor *nb_argmax(nb_tensor *x, int dim, bool keepdim);

/* Shape. reshape/view share data with x; one dim may be -1 (inferred). */
nb_tensor *nb_reshape(nb_tensor *x, int ndim, const int64_t *shape);
nb_tensor *nb_view(nb_tensor *x, int ndim, const int64_t *shape);
nb_tensor *nb_flatten(nb_tensor *x, int start_dim, int end_dim);
nb_tensor *nb_transpose(nb_tensor *x, int dim0, int dim1);
nb_tensor *nb_permute(nb_tensor *x, const int *dims);  /* x->ndim entries */
/* Rows [start, end) along dim (x[start:end] for dim 0). */
nb_tensor *nb_slice(nb_tensor *x, int dim, int64_t start, int64_t end);
nb_tensor *nb_cat(int n, nb_tensor *const *xs, int dim);
nb_tensor *nb_stack(int n, nb_tensor *const *xs, int dim);
/* out[i][j] = x[i][index[i][j]] along dim (torch.gather); index holds integral
 * values of the same rank as x. */
nb_tensor *nb_gather(nb_tensor *x, int dim, nb_tensor *index);

#ifdef __cplusplus
}
#endif

#endif
