/* nabla/tensor.h — the tensor: a contiguous, row-major, 64-byte-aligned array of
 * nb_real with a shape of rank 0 to NB_MAX_DIMS, and the functions that create it.
 *
 * Two lifetimes. Tensors made by the creation functions below are *persistent*:
 * they live on the heap until nb_free(). Tensors returned by ops (nb_add,
 * nb_relu, ...) are *step tensors*: they come from the step arena and all of
 * them are freed at once by nb_step_end(). nb_keep() turns a step tensor into a
 * persistent copy. */
#ifndef NABLA_TENSOR_H
#define NABLA_TENSOR_H

#include <stdio.h>
#include "config.h"
#include "random.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

typedef struct nb_node nb_node;

typedef struct nb_tensor {
    nb_real *data; /* numel values, row-major */
    nb_real *grad; /* gradient, same shape; NULL until one arrives */
    int64_t shape[NB_MAX_DIMS];
    int64_t numel;
    int ndim;
    bool requires_grad;
    /* Below: bookkeeping of the library; read, never write. */
    bool persistent;    /* heap tensor (nb_free) rather than step tensor */
    bool owns_data;     /* false for views (reshape, detach) */
    bool borrowed;      /* owned by another object (a loader's batch): nb_free ignores it */
    nb_node *node;      /* the op that produced it, NULL for leaves */
    uint64_t step;      /* step in which a step tensor was made */
    uint64_t grad_pass; /* backward pass that last wrote a non-leaf grad */
    uint64_t hook_pass; /* nb_backward_hooked: the pass, and the tape position after */
    size_t hook_at;     /* which a leaf's gradient is final (its first consumer) */
} nb_tensor;

/* Creation (persistent tensors; free with nb_free). Shapes are (ndim, shape),
 * most easily written NB_SHAPE(d0, d1, ...). On error: NULL and nb_last_error(). */
nb_tensor *nb_empty(int ndim, const int64_t *shape); /* uninitialised */
nb_tensor *nb_zeros(int ndim, const int64_t *shape);
nb_tensor *nb_ones(int ndim, const int64_t *shape);
nb_tensor *nb_full(int ndim, const int64_t *shape, nb_real value);
nb_tensor *nb_from_array(const nb_real *values, int ndim, const int64_t *shape); /* copies */
/* Integer data (labels, token ids, indices), as torch.tensor(..., dtype=torch.long):
 * stored as nb_real, exact; a value beyond 2^24 (float32) or 2^53 (float64) in
 * magnitude is an error instead of a rounded index. */
nb_tensor *nb_from_int64(const int64_t *values, int ndim, const int64_t *shape);
nb_tensor *nb_from_int32(const int32_t *values, int ndim, const int64_t *shape);
nb_tensor *nb_scalar(nb_real value);                         /* rank 0 */
nb_tensor *nb_arange(double start, double end, double step); /* [start, end) like torch.arange */
nb_tensor *nb_linspace(double start, double end, int64_t steps);
/* Random tensors from g, or from the default generator when g is NULL. */
nb_tensor *nb_rand(nb_generator *g, int ndim, const int64_t *shape);  /* U[0,1) */
nb_tensor *nb_randn(nb_generator *g, int ndim, const int64_t *shape); /* N(0,1) */
/* In-place fills, for any tensor (used by initialisers). Return t. */
nb_tensor *nb_fill_(nb_tensor *t, nb_real value);
nb_tensor *nb_uniform_(nb_tensor *t, double low, double high, nb_generator *g);
nb_tensor *nb_normal_(nb_tensor *t, double mean, double std, nb_generator *g);
/* Copy src's values into dst (same numel). Returns dst, NULL on error. */
nb_tensor *nb_copy_(nb_tensor *dst, const nb_tensor *src);

/* A persistent copy of t (detached from any graph). */
nb_tensor *nb_keep(const nb_tensor *t);
/* A persistent copy that keeps requires_grad: the usual way to make a parameter
 * out of an initialised tensor. */
nb_tensor *nb_clone(const nb_tensor *t);
/* Free a persistent tensor and its gradient. NULL, step tensors and tensors
 * that belong to another object (a loader's batches) are ignored. */
void nb_free(nb_tensor *t);

/* Reading. */
nb_real nb_item(const nb_tensor *t);          /* the value of a one-element tensor */
int64_t nb_size(const nb_tensor *t, int dim); /* negative dims count from the end */
bool nb_same_shape(const nb_tensor *a, const nb_tensor *b);
/* "[2,3]": written into buf (at least 8 + 21 * NB_MAX_DIMS bytes), returned. */
char *nb_shape_str(const nb_tensor *t, char *buf, size_t size);

/* The end of a step: free every step tensor and graph node made since the last
 * nb_step_end(). Memory is reused: a training loop runs in constant memory. */
void nb_step_end(void);
/* Bytes the step arena holds now (for tests and benchmarks). */
size_t nb_step_arena_bytes(void);
/* Validate an op's input: NULL passes a pending error on (or records
 * "<op>: argument <i> is NULL"); a step tensor from a finished step is an error.
 * Returns true when t is usable. */
bool nb_check_input(const char *op, int i, const nb_tensor *t);

/* Printing, like torch's repr with the shape:
 *   tensor([[1.0000, 2.0000],
 *           [3.0000, 4.0000]], shape=[2,2])                                      */
void nb_print(const nb_tensor *t);
void nb_fprint(FILE *f, const nb_tensor *t);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
