/* loss/nll.c — negative log-likelihood over class indices
 * (torch.nn.functional.nll_loss, ignore_index -100):
 *   loss_i = -lp[i, y_i];   ∂loss_i/∂lp[i, c] = -[c = y_i]
 * mean divides by the rows not ignored. */
#include "loss/loss.h"

typedef struct saved {
    nb_class_target ct;
    nb_reduction reduction;
} saved;

static void nll_backward(nb_node *n)
{
    nb_real *dx = nb_input_grad(n, 0);
    if (!dx)
        return;
    const saved *s = n->saved;
    const nb_real *dy = n->out->grad;
    nb_real g = s->reduction == NB_MEAN ? (nb_real)((double)dy[0] / (double)s->ct.counted) : dy[0];
    for (int64_t i = 0; i < s->ct.n; i++)
        if (s->ct.y[i] >= 0)
            dx[i * s->ct.c + s->ct.y[i]] -= s->reduction == NB_NONE ? dy[i] : g;
}

static const nb_op op_nll = {"nll_loss", nll_backward};

nb_tensor *nb_nll_loss(nb_tensor *log_probs, nb_tensor *target, nb_reduction reduction)
{
    const char *op = op_nll.name;
    if (!nb_check_input(op, 1, log_probs) || !nb_check_input(op, 2, target))
        return NULL;
    if (!nb_check_reduction(op, reduction))
        return NULL;
    saved *s = nb_step_alloc(sizeof *s);
    if (!s || !nb_class_target_read(op, log_probs, target, -100, &s->ct))
        return NULL;
    s->reduction = reduction;
    nb_real *l = nb_step_alloc((size_t)s->ct.n * sizeof *l + 1);
    if (!l)
        return NULL;
    for (int64_t i = 0; i < s->ct.n; i++)
        l[i] = s->ct.y[i] < 0 ? 0 : -log_probs->data[i * s->ct.c + s->ct.y[i]];
    nb_tensor *y = nb_class_loss_output(op, &s->ct, l, reduction);
    nb_node *n = nb_record(&op_nll, y, 1, &log_probs);
    if (n)
        n->saved = s;
    return y;
}
