/* loss/nll.c — negative log-likelihood over class indices
 * (torch.nn.functional.nll_loss, aten/src/ATen/native/LossNLL.cpp), with w the
 * class weights (ones without):
 *   loss_i = -w[y_i] lp[i, y_i];   ∂loss_i/∂lp[i, c] = -w[y_i] [c = y_i]
 * an ignored row is 0; mean divides by Σ w[y_i] over the rows not ignored. */
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
    nb_real g = s->reduction == NB_MEAN ? (nb_real)((double)dy[0] / s->ct.divisor) : dy[0];
    for (int64_t i = 0; i < s->ct.n; i++) {
        int64_t y = s->ct.y[i];
        if (y >= 0)
            dx[i * s->ct.c + y] -= (s->reduction == NB_NONE ? dy[i] : g) * nb_class_weight(&s->ct, y);
    }
}

static const nb_op op_nll = {"nll_loss", nll_backward};

nb_tensor *nb_nll_loss(nb_tensor *log_probs, nb_tensor *target, nb_nll_loss_opts opts)
{
    const char *op = op_nll.name;
    nb_reduction reduction = opts.reduction;
    if (!nb_check_input(op, 1, log_probs) || !nb_check_input(op, 2, target))
        return NULL;
    if (!nb_opts_made(op, opts.nb_tag, "nll_loss") || !nb_check_reduction(op, reduction))
        return NULL;
    saved *s = nb_step_alloc(sizeof *s);
    if (!s || !nb_class_target_read(op, log_probs, target, opts.weight, opts.ignore_index, &s->ct))
        return NULL;
    s->reduction = reduction;
    nb_real *l = nb_step_alloc((size_t)s->ct.n * sizeof *l + 1);
    if (!l)
        return NULL;
    for (int64_t i = 0; i < s->ct.n; i++)
        l[i] = s->ct.y[i] < 0
                   ? 0
                   : -nb_class_weight(&s->ct, s->ct.y[i]) * log_probs->data[i * s->ct.c + s->ct.y[i]];
    nb_tensor *y = nb_class_loss_output(op, &s->ct, l, reduction);
    nb_node *n = nb_record(&op_nll, y, 1, &log_probs);
    if (n)
        n->saved = s;
    return y;
}

nb_nll_loss_opts nb_nll_loss_defaults(void) { return NB_NLL_LOSS_OPTS(); }
