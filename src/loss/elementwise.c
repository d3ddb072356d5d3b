/* loss/elementwise.c — running an elementwise loss: checks, the per-element
 * losses split over the thread pool, the reduction, the node, and the generic
 * backward into input and target. */
#include "nabla/threads.h"
#include "loss/loss.h"

enum { GRAIN = 1 << 14 };

typedef struct job {
    const nb_elem_loss *el;
    nb_real *l, *d;
    int which;
    const nb_real *x, *t, *w, *dy, *p;
    bool per_item;
    nb_real g;
} job;

static void forward_range(void *c, int64_t b, int64_t e)
{
    job *j = c;
    j->el->forward(j->l + b, j->x + b, j->t + b, j->w ? j->w + b : NULL, e - b, j->p);
}

static void backward_range(void *c, int64_t b, int64_t e)
{
    job *j = c;
    j->el->backward(j->d + b, j->which, j->x + b, j->t + b, j->w ? j->w + b : NULL,
                    j->per_item ? j->dy + b : j->dy, j->per_item, j->g, e - b, j->p);
}

nb_tensor *nb_elem_loss_apply(const nb_elem_loss *el, nb_tensor *x, nb_tensor *t, const nb_real *w,
                              nb_reduction reduction, const nb_real *p)
{
    const char *op = el->op.name;
    if (!nb_check_input(op, 1, x) || !nb_check_input(op, 2, t))
        return NULL;
    if (!nb_check_reduction(op, reduction))
        return NULL;
    if (!nb_same_shape(x, t))
        return nb_error(NB_ERR_SHAPE, "%s: input %s and target %s: shapes differ", op, nb_shape_fmt(x),
                        nb_shape_fmt(t));
    bool none = reduction == NB_NONE;
    nb_tensor *y = nb_tensor_alloc(op, none ? x->ndim : 0, x->shape, false);
    nb_real *l = none ? (y ? y->data : NULL) : nb_step_alloc((size_t)(x->numel ? x->numel : 1) * sizeof *l);
    if (!y || !l)
        return NULL;
    job j = {.el = el, .l = l, .x = x->data, .t = t->data, .w = w, .p = p};
    nb_parallel_for(x->numel, GRAIN, forward_range, &j);
    if (!none) {
        double s = nb_loss_sum(l, x->numel);
        y->data[0] = (nb_real)(reduction == NB_SUM ? s : s / (double)x->numel);
    }
    nb_node *n = nb_record_saved(&el->op, y, 2, (nb_tensor *[]){x, t}, sizeof(nb_elem_loss_saved));
    if (n) {
        nb_elem_loss_saved *s = n->saved;
        for (int k = 0; k < el->n_params; k++)
            s->p[k] = p[k];
        s->reduction = reduction;
        s->w = w;
    }
    return y;
}

void nb_elem_loss_backward(nb_node *n)
{
    const nb_elem_loss *el = (const nb_elem_loss *)n->op;
    const nb_elem_loss_saved *s = n->saved;
    nb_tensor *x = n->in[0], *t = n->in[1];
    nb_reduction r = s->reduction;
    const nb_real *dy = n->out->grad;
    job j = {.el = el,
             .x = x->data,
             .t = t->data,
             .w = s->w,
             .dy = dy,
             .p = s->p,
             .per_item = r == NB_NONE,
             .g = r == NB_MEAN ? (nb_real)((double)dy[0] / (double)x->numel) : dy[0]};
    for (int which = 0; which < 2; which++) {
        j.d = nb_input_grad(n, which);
        j.which = which;
        if (j.d)
            nb_parallel_for(x->numel, GRAIN, backward_range, &j);
    }
}
