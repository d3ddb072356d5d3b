/* optim/adagrad.c — torch.optim.Adagrad (torch/optim/adagrad.py,
 * _single_tensor_adagrad):
 *   t ← t + 1;   g ← ∇θ (−∇θ if maximize);   g ← g + λ θ   (weight_decay λ ≠ 0)
 *   γ̃ = γ / (1 + (t − 1) η)                                (lr_decay η)
 *   s ← s + g²     (s starts at initial_accumulator_value)
 *   θ ← θ − γ̃ g / (√s + ε) */
#include "optim/optim.h"

typedef struct job {
    nb_real *restrict p, *restrict s;
    const nb_real *restrict g;
    nb_real sign, wd, eps, neg_clr;
    bool decay;
} job;

NB_VECTORIZE static void update(const job *j, int64_t lo, int64_t hi)
{
    nb_real *restrict p = j->p, *restrict s = j->s;
    const nb_real *restrict gr = j->g;
    const nb_real sign = j->sign, wd = j->wd, eps = j->eps, neg_clr = j->neg_clr;
    const bool decay = j->decay;
    for (int64_t i = lo; i < hi; i++) {
        nb_real g = sign * gr[i];
        if (decay)
            g = g + wd * p[i];
        nb_real si = s[i] + g * g;
        s[i] = si;
        p[i] = p[i] + neg_clr * g / (nb_sqrt_real(si) + eps);
    }
}

static void range(void *c, int64_t b, int64_t e) { update(c, b, e); }

static void adagrad_update(const nb_optim *o, nb_tensor *p, nb_real *const *slot, double step)
{
    const nb_adagrad_opts *a = &o->opts.adagrad;
    job j = {.p = p->data,
             .s = slot[0],
             .g = p->grad,
             .sign = a->maximize ? -1 : 1,
             .wd = (nb_real)a->weight_decay,
             .eps = (nb_real)a->eps,
             .neg_clr = (nb_real) - (o->lr / (1 + (step - 1) * a->lr_decay)),
             .decay = a->weight_decay != 0};
    nb_parallel_for(p->numel, NB_OPTIM_GRAIN, range, &j);
}

nb_optim *nb_adagrad(nb_tensor *const *params, int n_params, nb_adagrad_opts a)
{
    const char *op = "adagrad";
    a.lr = nb_opt_default(a.lr, 1e-2);
    a.eps = nb_opt_default(a.eps, 1e-10);
    if (!nb_optim_check(a.eps >= 0, op, "eps", a.eps, "must be >= 0") ||
        !nb_optim_check(a.lr_decay >= 0, op, "lr_decay", a.lr_decay, "must be >= 0") ||
        !nb_optim_check(a.weight_decay >= 0, op, "weight_decay", a.weight_decay, "must be >= 0") ||
        !nb_optim_check(a.initial_accumulator_value >= 0, op, "initial_accumulator_value",
                        a.initial_accumulator_value, "must be >= 0"))
        return NULL;
    const char *slots[] = {"sum"};
    nb_optim *o = nb_optim_new(op, params, n_params, a.lr, 1, slots, adagrad_update);
    if (!o)
        return NULL;
    o->opts.adagrad = a;
    for (int i = 0; i < n_params; i++)
        nb_fill_(o->state[i * 2 + 1], (nb_real)a.initial_accumulator_value);
    return o;
}
