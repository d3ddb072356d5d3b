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

static void adagrad_update(const nb_optim_opts *a, nb_tensor *p, nb_real *const *slot, double step)
{
    job j = {.p = p->data,
             .s = slot[0],
             .g = p->grad,
             .sign = a->maximize ? -1 : 1,
             .wd = (nb_real)a->weight_decay,
             .eps = (nb_real)a->eps,
             .neg_clr = (nb_real) - (a->lr / (1 + (step - 1) * a->lr_decay)),
             .decay = a->weight_decay != 0};
    nb_parallel_for(p->numel, NB_OPTIM_GRAIN, range, &j);
}

static int slots(const nb_optim_opts *a, const char **names)
{
    (void)a;
    names[0] = "sum";
    return 1;
}

static bool check(const char *op, const nb_optim_opts *a)
{
    return nb_optim_check(a->eps >= 0, op, "eps", a->eps, "must be >= 0") &&
           nb_optim_check(a->lr_decay >= 0, op, "lr_decay", a->lr_decay, "must be >= 0") &&
           nb_optim_check(a->initial_accumulator_value >= 0, op, "initial_accumulator_value",
                          a->initial_accumulator_value, "must be >= 0");
}

/* the sum starts at initial_accumulator_value */
static void init_state(const nb_optim_opts *a, nb_tensor *const *slot, int n)
{
    (void)n;
    nb_fill_(slot[0], (nb_real)a->initial_accumulator_value);
}

static const nb_optim_algo adagrad = {"adagrad", adagrad_update, slots, check, init_state};

nb_optim_opts nb_adagrad_defaults(void) { return NB_ADAGRAD_OPTS(); }

nb_optim *nb_adagrad(nb_tensor *const *params, int n_params, nb_optim_opts opts)
{
    return nb_optim_make(&adagrad, NB_ADAGRAD, params, n_params, opts);
}
