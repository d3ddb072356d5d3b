/* internal.h — what the library's own files share and users never see: the
 * per-thread context (step arena, tape, grad mode) and small helpers. */
#ifndef NB_INTERNAL_H
#define NB_INTERNAL_H

#include "nabla/nabla.h"

/* The step arena: a bump allocator, reset by nb_step_end(). 64-byte aligned. */
void *nb_arena_alloc(size_t bytes);
void nb_arena_reset(void);
size_t nb_arena_capacity(void);

/* The tape: every node of the current step, in creation order (which is a
 * topological order: a node's inputs exist before it does). */
typedef struct nb_context {
    uint64_t step;        /* current step number; step tensors carry theirs */
    uint64_t grad_pass;   /* number of the running/last backward pass */
    bool grad_disabled;   /* no-grad mode */
    nb_node **tape;
    size_t tape_len, tape_cap;
} nb_context;
nb_context *nb_ctx(void);

/* Errors recorded by this thread so far (to tell whether a call added one). */
uint64_t nb_error_count(void);

/* Rewind the arena to an earlier point (nb_gradcheck's many evaluations). */
typedef struct nb_arena_mark { void *chunk; size_t used; size_t tape_len; } nb_arena_mark;
nb_arena_mark nb_arena_get_mark(void);
void nb_arena_rewind(nb_arena_mark m);

/* Allocate a tensor header plus data: in the step arena (step tensor) or on the
 * heap (persistent). shape is validated here; errors name `op`. */
nb_tensor *nb_tensor_alloc(const char *op, int ndim, const int64_t *shape, bool persistent);
/* nb_free() for the owner of a borrowed tensor: frees it whatever its flag. */
void nb_tensor_destroy(nb_tensor *t);
/* A step tensor header whose data points at `data` (views). */
nb_tensor *nb_tensor_view_of(const char *op, nb_tensor *base, int ndim, const int64_t *shape);
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

/* Aligned heap allocation (size rounded up to NB_ALIGN); NULL on failure. */
void *nb_aligned_alloc(size_t bytes);

/* y[i] += x[i] */
void nb_accumulate(nb_real *restrict y, const nb_real *restrict x, int64_t n);

#define NB_UNUSED(x) ((void)(x))

/* Thread-local state touched by every op: the initial-exec model reads it
 * with one instruction instead of a __tls_get_addr call in a shared library. */
#if defined(__GNUC__)
#define NB_TLS _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define NB_TLS _Thread_local
#endif

#endif
