/* ops/pointwise.c — running a pointwise op: the output, the split over the
 * thread pool for large tensors, the node, and the generic backward. */
#include <string.h>
#include "ops/pointwise.h"
#include "nabla/threads.h"

enum { GRAIN = 1 << 14 }; /* elements per task: ~64 KB of float32 */

typedef struct job {
    const nb_pointwise_op *pw;
    nb_real *y, *dx;
    const nb_real *x, *yc, *dy, *p;
    bool zero; /* dx is fresh: each task zeroes its range first (in cache) */
} job;

static void forward_range(void *c, int64_t b, int64_t e)
{
    job *j = c;
    j->pw->forward(j->y + b, j->x + b, e - b, j->p);
}

static void backward_range(void *c, int64_t b, int64_t e)
{
    job *j = c;
    if (j->zero)
        memset(j->dx + b, 0, (size_t)(e - b) * sizeof *j->dx);
    j->pw->backward(j->dx + b, j->x + b, j->yc + b, j->dy + b, e - b, j->p);
}

nb_tensor *nb_pointwise(const nb_pointwise_op *pw, nb_tensor *x, const nb_real *p)
{
    if (!nb_check_input(pw->op.name, 1, x) || (pw->check && !pw->check(x, p)))
        return NULL;
    nb_tensor *y = nb_tensor_alloc(pw->op.name, x->ndim, x->shape, false);
    if (!y)
        return NULL;
    job j = {.pw = pw, .y = y->data, .x = x->data, .p = p};
    nb_parallel_for(x->numel, GRAIN, forward_range, &j);
    nb_node *n = nb_record_saved(&pw->op, y, 1, &x, (size_t)pw->n_params * sizeof(nb_real));
    if (n && pw->n_params) /* saved state: the n_params scalar parameters */
        memcpy(n->saved, p, (size_t)pw->n_params * sizeof *p);
    return y;
}

void nb_pointwise_backward(nb_node *n)
{
    const nb_pointwise_op *pw = (const nb_pointwise_op *)n->op;
    bool fresh;
    nb_real *dx = nb_input_grad_fresh(n, 0, &fresh);
    if (!dx)
        return;
    job j = {.pw = pw,
             .dx = dx,
             .x = n->in[0]->data,
             .yc = n->out->data,
             .dy = n->out->grad,
             .p = n->saved,
             .zero = fresh};
    nb_parallel_for(n->out->numel, GRAIN, backward_range, &j);
}
