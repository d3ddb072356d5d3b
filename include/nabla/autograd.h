/* nabla/autograd.h — reverse-mode autodiff: recording, backward, no-grad mode,
 * and the interface for writing ops of your own. */
#ifndef NABLA_AUTOGRAD_H
#define NABLA_AUTOGRAD_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

/* Mark a leaf as needing a gradient (torch: t.requires_grad_(flag)). Returns t. */
nb_tensor *nb_requires_grad(nb_tensor *t, bool flag);

/* Backpropagate from a one-element tensor: adds d(loss)/d(leaf) into the .grad of
 * every leaf with requires_grad. Gradients accumulate across calls until zeroed.
 * Returns 0, or -1 with an error recorded. */
int nb_backward(nb_tensor *loss);
/* The same from any tensor, with an explicit d(out)/d(t) of t's shape. */
int nb_backward_grad(nb_tensor *t, const nb_tensor *grad);
/* nb_backward_grad (grad may be NULL for a one-element t) calling
 * hook(leaf, ctx) once for every leaf with requires_grad that is an input of
 * a node recorded up to t in this step, as soon as its .grad is final for
 * this pass: right after the
 * backward of the first node of the tape that takes it as an input, while
 * the nodes before it are still to run (torch:
 * Tensor.register_post_accumulate_grad_hook). The order is the order in which
 * backward completes the gradients. What data-parallel training
 * (nabla/dist.h) uses to start reducing gradients while backward goes on.
 * The hook must not record ops or end the step. */
typedef void (*nb_grad_ready_hook)(nb_tensor *leaf, void *ctx);
int nb_backward_hooked(nb_tensor *t, const nb_tensor *grad, nb_grad_ready_hook hook, void *ctx);
/* Set t->grad to zero (keeps the buffer). */
void nb_zero_grad(nb_tensor *t);

/* Grad mode. While disabled, ops record nothing (inference, optimizer updates).
 * Returns the previous setting. */
bool nb_set_grad_enabled(bool enabled);
bool nb_is_grad_enabled(void);

/* Anomaly mode (torch.autograd.set_detect_anomaly): when on, the first op of
 * a step whose forward output, or whose backward's gradient for an input,
 * holds NaN or infinity is an NB_ERR_STATE error naming the op, its input
 * shapes and the ops that made them; nb_backward then returns -1 for that
 * step instead of training on. Off by default; NABLA_DETECT_ANOMALY=1 in the
 * environment turns it on. It costs one pass over every output and gradient. */
void nb_set_detect_anomaly(bool enabled);
bool nb_is_anomaly_enabled(void);
/* NB_NO_GRAD { ... } runs the block with recording off (do not `return` or
 * `break` out of it: that would skip restoring the mode). */
#define NB_NO_GRAD                                                                                           \
    for (int nb__prev = nb_set_grad_enabled(false), nb__once = 1; nb__once;                                  \
         nb__once = 0, nb_set_grad_enabled(nb__prev))

/* A step tensor sharing t's data, outside any graph. */
nb_tensor *nb_detach(nb_tensor *t);

/* ---- Writing an op -------------------------------------------------------
 * An op computes its output eagerly into a tensor from nb_op_output(), then
 * calls nb_record() with a constant nb_op. If any input requires a gradient,
 * nb_record() returns a node. What the backward needs beyond the inputs and
 * the output (n->in[i], n->out) is the op's saved state: a struct with named
 * fields, allocated with the node by nb_record_saved() and filled after it. The backward
 * adds dL/d(input) into nb_input_grad(n, i) (NULL when input i needs none),
 * reading dL/d(output) from n->out->grad. */
#define NB_NODE_MAX_INPUTS 4
typedef struct nb_op {
    const char *name;
    void (*backward)(nb_node *n);
} nb_op;

struct nb_node {
    const nb_op *op;
    nb_tensor *out;
    nb_tensor **in; /* n_in inputs */
    int n_in;
    nb_tensor *in_inline[NB_NODE_MAX_INPUTS];
    void *saved;  /* the op's saved state (nb_record_saved), or NULL */
    size_t index; /* position in the step's tape */
};

/* A fresh step tensor for an op's result (uninitialised data). */
nb_tensor *nb_op_output(int ndim, const int64_t *shape);
/* 64-byte-aligned scratch memory that lives until nb_step_end(). */
void *nb_step_alloc(size_t bytes);
/* Record out = op(in...). Returns NULL when nothing needs a gradient. */
nb_node *nb_record(const nb_op *op, nb_tensor *out, int n_in, nb_tensor *const *in);
/* The same with saved_size zeroed bytes of saved state allocated with the
 * node, at n->saved (suitably aligned for any type):
 *     typedef struct { int64_t start; int dim; } slice_saved;
 *     nb_node *n = nb_record_saved(&op_slice, y, 1, &x, sizeof(slice_saved));
 *     if (n)
 *         *(slice_saved *)n->saved = (slice_saved){.start = start, .dim = d};  */
nb_node *nb_record_saved(const nb_op *op, nb_tensor *out, int n_in, nb_tensor *const *in, size_t saved_size);
/* Gradient buffer of input i, allocated zeroed on first use; NULL if not needed. */
nb_real *nb_input_grad(nb_node *n, int i);
/* An op validates each input with nb_check_input() (nabla/tensor.h). */

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
