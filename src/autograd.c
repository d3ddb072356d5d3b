/* autograd.c — recording nodes on the step's tape, backward in reverse tape
 * order, gradient buffers and grad mode.
 *
 * Nodes are appended to the tape as ops run, so the tape is already a
 * topological order: backward walks it once from the loss's node down to the
 * first, running a node only if its output received a gradient in this pass.
 * No sort, no visited set, each node's backward runs at most once per pass. */
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "nabla/threads.h"

/* Grad mode and the number of the running (or last) backward pass. */
static NB_TLS bool grad_disabled;
static NB_TLS uint64_t grad_pass;

nb_tensor *nb_requires_grad(nb_tensor *t, bool flag)
{
    if (!nb_check_input("requires_grad", 1, t))
        return NULL;
    if (t->node && !flag)
        return nb_error(NB_ERR_STATE,
                        "requires_grad: tensor of shape %s is the output of %s, not a leaf; use nb_detach()",
                        nb_shape_fmt(t), t->node->op->name);
    t->requires_grad = flag;
    return t;
}

bool nb_set_grad_enabled(bool enabled)
{
    bool prev = !grad_disabled;
    grad_disabled = !enabled;
    return prev;
}

bool nb_is_grad_enabled(void) { return !grad_disabled; }

void *nb_step_alloc(size_t bytes) { return nb_arena_alloc(bytes); }

nb_tensor *nb_op_output(int ndim, const int64_t *shape)
{
    return nb_tensor_alloc("op output", ndim, shape, false);
}

nb_tensor *nb_detach(nb_tensor *t)
{
    if (!nb_check_input("detach", 1, t))
        return NULL;
    return nb_tensor_view_of("detach", t, t->ndim, t->shape);
}

/* A node that could not be recorded (out of memory) leaves the step's graph
 * incomplete: its op still returned a result, so backward must refuse the
 * step rather than give partial gradients. */
static NB_TLS uint64_t broken_step;
static NB_TLS const char *broken_op;

static nb_node *record_failed(const nb_op *op)
{
    broken_step = nb_step_number();
    broken_op = op->name;
    return NULL;
}

nb_node *nb_record(const nb_op *op, nb_tensor *out, int n_in, nb_tensor *const *in)
{
    return nb_record_saved(op, out, n_in, in, 0);
}

nb_node *nb_record_saved(const nb_op *op, nb_tensor *out, int n_in, nb_tensor *const *in, size_t saved_size)
{
    if (grad_disabled || !out)
        return NULL;
    bool need = false;
    for (int i = 0; i < n_in; i++)
        need |= in[i] && in[i]->requires_grad;
    if (!need)
        return NULL;
    /* the node, then the op's saved state, in one allocation */
    enum {
        NODE = (sizeof(nb_node) + _Alignof(max_align_t) - 1) / _Alignof(max_align_t) * _Alignof(max_align_t)
    };
    if (saved_size > SIZE_MAX - NODE)
        return nb_error(NB_ERR_MEMORY, "%s: %zu bytes of saved state are too many", op->name, saved_size);
    nb_node *n = nb_arena_alloc(NODE + saved_size);
    if (!n)
        return record_failed(op);
    n->saved = saved_size ? memset((unsigned char *)n + NODE, 0, saved_size) : NULL;
    n->op = op;
    n->out = out;
    n->n_in = n_in;
    n->in = n_in <= NB_NODE_MAX_INPUTS ? n->in_inline : nb_arena_alloc((size_t)n_in * sizeof *n->in);
    if (!n->in)
        return record_failed(op);
    memcpy(n->in, in, (size_t)n_in * sizeof *in);
    if (!nb_tape_push(n, &n->index)) {
        nb_error(NB_ERR_MEMORY, "%s: out of memory growing the tape", op->name);
        return record_failed(op);
    }
    out->node = n;
    out->requires_grad = true;
    if (nb_is_anomaly_enabled())
        nb_anomaly_check_forward(n); /* the first NaN/inf of a step: backward will refuse it */
    return n;
}

/* The gradient buffer of t for the running pass. Leaves accumulate across
 * passes; a new buffer, or a non-leaf's buffer first touched in a pass, is
 * zeroed, or left to the caller when it passes `fresh` (set then). */
static nb_real *grad_buffer(nb_tensor *t, bool *fresh)
{
    size_t bytes = (size_t)t->numel * sizeof(nb_real);
    if (fresh)
        *fresh = false;
    if (!t->grad) {
        t->grad = t->persistent ? nb_aligned_alloc(bytes) : nb_arena_alloc(bytes);
        if (!t->grad) {
            nb_error(NB_ERR_MEMORY, "backward: out of memory for the gradient of a tensor of shape %s",
                     nb_shape_fmt(t));
            return NULL;
        }
        if (!t->persistent && nb_stale_guard_on())
            nb_stale_guard_track(t->grad, bytes);
    } else if (!t->node || t->grad_pass == grad_pass) {
        return t->grad; /* a leaf's, or already touched in this pass */
    }
    t->grad_pass = grad_pass;
    if (fresh)
        *fresh = true;
    else
        memset(t->grad, 0, bytes);
    return t->grad;
}

nb_real *nb_input_grad(nb_node *n, int i)
{
    nb_tensor *t = n->in[i];
    return t && t->requires_grad ? grad_buffer(t, NULL) : NULL;
}

nb_real *nb_input_grad_fresh(nb_node *n, int i, bool *fresh)
{
    nb_tensor *t = n->in[i];
    *fresh = false;
    return t && t->requires_grad ? grad_buffer(t, fresh) : NULL;
}

/* Zeroing a large gradient on one thread leaves the others idle between
 * steps: blocks of this many elements go to the thread pool. */
enum { ZERO_GRAIN = 1 << 15 };

static void zero_range(void *ctx, int64_t b, int64_t e)
{
    memset((nb_real *)ctx + b, 0, (size_t)(e - b) * sizeof(nb_real));
}

void nb_zero_grad(nb_tensor *t)
{
    if (t && t->grad)
        nb_parallel_for(t->numel, ZERO_GRAIN, zero_range, t->grad);
}

/* The first node (lowest tape position, up to `last`) that takes each leaf as
 * an input: once backward has passed it, nothing else adds to the leaf's
 * gradient in this pass. */
static void mark_first_uses(size_t last)
{
    for (size_t k = 0; k <= last; k++) {
        nb_node *n = nb_tape_at(k);
        for (int i = 0; i < n->n_in; i++) {
            nb_tensor *leaf = n->in[i];
            if (leaf && !leaf->node && leaf->requires_grad && leaf->hook_pass != grad_pass) {
                leaf->hook_pass = grad_pass;
                leaf->hook_at = k;
            }
        }
    }
}

/* The hooks of the leaves whose first consumer is node n (each once). */
static void fire_hooks(nb_node *n, nb_grad_ready_hook hook, void *ctx)
{
    for (int i = 0; i < n->n_in; i++) {
        nb_tensor *leaf = n->in[i];
        if (leaf && !leaf->node && leaf->hook_pass == grad_pass && leaf->hook_at == n->index) {
            leaf->hook_at = SIZE_MAX;
            hook(leaf, ctx);
        }
    }
}

int nb_backward_grad(nb_tensor *t, const nb_tensor *grad) { return nb_backward_hooked(t, grad, NULL, NULL); }

int nb_backward_hooked(nb_tensor *t, const nb_tensor *grad, nb_grad_ready_hook hook, void *ctx)
{
    if (!nb_check_input("backward", 1, t))
        return -1;
    if (!t->requires_grad) {
        nb_error(NB_ERR_STATE,
                 "backward: tensor of shape %s does not require grad (no input of its graph has "
                 "requires_grad set, or it was made in no-grad mode)",
                 nb_shape_fmt(t));
        return -1;
    }
    if (!grad && t->numel != 1) {
        nb_error(NB_ERR_SHAPE,
                 "backward: output of shape %s is not a scalar; pass its gradient with nb_backward_grad()",
                 nb_shape_fmt(t));
        return -1;
    }
    if (grad) {
        if (!nb_check_input("backward", 2, grad))
            return -1;
        if (!nb_same_shape(t, grad)) {
            nb_error(NB_ERR_SHAPE, "backward: gradient of shape %s does not match output of shape %s",
                     nb_shape_fmt(grad), nb_shape_fmt(t));
            return -1;
        }
    }
    if (nb_anomaly_refuse_backward())
        return -1;
    if (broken_step == nb_step_number()) {
        nb_error(NB_ERR_MEMORY,
                 "backward: not run: %s could not be recorded in this step (out of memory), so "
                 "the gradients would be incomplete",
                 broken_op);
        return -1;
    }
    uint64_t errors = nb_error_count();
    nb_step_note_backward();
    grad_pass++;
    nb_real *g = grad_buffer(t, NULL);
    if (!g)
        return -1;
    if (grad)
        nb_accumulate(g, grad->data, t->numel);
    else
        g[0] += 1;
    if (!t->node) {
        if (hook)
            hook(t, ctx);
        return 0;
    }
    if (hook)
        mark_first_uses(t->node->index);
    for (size_t k = t->node->index + 1; k-- > 0;) {
        nb_node *n = nb_tape_at(k);
        if (n->out->grad && n->out->grad_pass == grad_pass) {
            n->op->backward(n);
            if (nb_is_anomaly_enabled() && !nb_anomaly_check_backward(n))
                return -1;
        }
        if (hook)
            fire_hooks(n, hook, ctx);
    }
    return nb_error_count() == errors ? 0 : -1;
}

int nb_backward(nb_tensor *loss) { return nb_backward_grad(loss, NULL); }
