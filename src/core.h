/* core.h — what the tensor level (level 2: the step, tensors, errors, the
 * generator, printing) gives the library's other files and users never see:
 * tensor allocation, shape helpers, the liveness of a step tensor. */
#ifndef NB_CORE_H
#define NB_CORE_H

#include "nabla/error.h"
#include "nabla/random.h"
#include "nabla/tensor.h"
#include "step.h"

#define NB_UNUSED(x) ((void)(x))

/* Errors recorded by this thread so far (to tell whether a call added one). */
uint64_t nb_error_count(void);
/* Where an error happened, written before its message: while set (per
 * thread), each new error starts with what fn writes into buf (at most size
 * bytes, NUL-terminated). nn's nb_forward sets one for the module path. Returns
 * the previous writer. */
typedef void (*nb_error_prefix_fn)(char *buf, size_t size);
nb_error_prefix_fn nb_set_error_prefix(nb_error_prefix_fn fn);

/* Allocate a tensor header plus data: in the step arena (step tensor) or on the
 * heap (persistent). shape is validated here; errors name `op`. */
nb_tensor *nb_tensor_alloc(const char *op, int ndim, const int64_t *shape, bool persistent);
/* nb_free() for the owner of a borrowed tensor: frees it whatever its flag. */
void nb_tensor_destroy(nb_tensor *t);
/* A step tensor header whose data points at `data` (views). */
nb_tensor *nb_tensor_view_of(const char *op, nb_tensor *base, int ndim, const int64_t *shape);
/* True for a step tensor of a step that has ended: its memory has been reused. */
static inline bool nb_tensor_stale(const nb_tensor *t)
{
    return !t->persistent && t->step != nb_step_number();
}
/* The largest element count, and bound on the product of a shape's non-zero
 * sizes (so that products of any of its sizes, in bytes, fit an int64). */
#define NB_MAX_NUMEL (INT64_MAX / 8 / (int64_t)sizeof(nb_real))
/* numel of a shape, or -1 when a dim is negative or the product of the
 * non-zero dims exceeds NB_MAX_NUMEL. */
int64_t nb_shape_numel(int ndim, const int64_t *shape);
/* Normalise a possibly negative dim for a tensor of rank ndim; -1 if out of range. */
int nb_norm_dim(int dim, int ndim);
/* "[2,3]" into a small rotating per-thread buffer: for error messages only. */
const char *nb_shape_fmt(const nb_tensor *t);
const char *nb_dims_fmt(int ndim, const int64_t *shape);

/* y[i] += x[i] */
void nb_accumulate(nb_real *restrict y, const nb_real *restrict x, int64_t n);

#endif
