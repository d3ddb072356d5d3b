/* optim/sgd.c — torch.optim.SGD (torch/optim/sgd.py, _single_tensor_sgd):
 *   g ← ∇θ (−∇θ if maximize);  g ← g + λ θ            (weight_decay λ ≠ 0)
 *   momentum μ ≠ 0:  b ← g at the parameter's first step, else μ b + (1 − τ) g
 *                    g ← g + μ b (nesterov), else g ← b
 *   θ ← θ − γ g
 * One fused pass over (θ, ∇θ, b) per parameter. */
#include "optim/optim.h"

typedef struct job {
    nb_real *restrict p, *restrict b;
    const nb_real *restrict g;
    nb_real sign, wd, mu, damp1, neg_lr; /* damp1 = 1 - dampening */
    bool decay, momentum, first, nesterov;
} job;

NB_VECTORIZE static void update(const job *j, int64_t lo, int64_t hi)
{
    /* scalars in locals so the invariant branches unswitch and each variant
     * vectorizes (see adam.c) */
    nb_real *restrict p = j->p, *restrict b = j->b;
    const nb_real *restrict gr = j->g;
    const nb_real sign = j->sign, wd = j->wd, mu = j->mu, damp1 = j->damp1, neg_lr = j->neg_lr;
    const bool decay = j->decay, momentum = j->momentum, first = j->first, nesterov = j->nesterov;
    for (int64_t i = lo; i < hi; i++) {
        nb_real g = sign * gr[i];
        if (decay)
            g = g + wd * p[i];
        if (momentum) {
            nb_real bi = first ? g : b[i] * mu + damp1 * g;
            b[i] = bi;
            g = nesterov ? g + mu * bi : bi;
        }
        p[i] = p[i] + neg_lr * g;
    }
}

static void range(void *c, int64_t b, int64_t e) { update(c, b, e); }

static void sgd_update(const nb_optim_opts *s, nb_tensor *p, nb_real *const *slot, double step)
{
    job j = {.p = p->data,
             .b = s->momentum != 0 ? slot[0] : NULL,
             .g = p->grad,
             .sign = s->maximize ? -1 : 1,
             .wd = (nb_real)s->weight_decay,
             .mu = (nb_real)s->momentum,
             .damp1 = (nb_real)(1 - s->dampening),
             .neg_lr = (nb_real)-s->lr,
             .decay = s->weight_decay != 0,
             .momentum = s->momentum != 0,
             .first = step == 1,
             .nesterov = s->nesterov};
    nb_parallel_for(p->numel, NB_OPTIM_GRAIN, range, &j);
}

static int slots(const nb_optim_opts *s, const char **names)
{
    names[0] = "momentum_buffer";
    return s->momentum != 0;
}

static bool check(const char *op, const nb_optim_opts *s)
{
    if (!nb_optim_check(s->momentum >= 0, op, "momentum", s->momentum, "must be >= 0"))
        return false;
    if (s->nesterov && (s->momentum <= 0 || s->dampening != 0)) {
        nb_error(NB_ERR_ARG,
                 "%s: nesterov momentum requires a momentum and zero dampening "
                 "(momentum %g, dampening %g)",
                 op, s->momentum, s->dampening);
        return false;
    }
    return true;
}

static const nb_optim_algo sgd = {"sgd", sgd_update, slots, check, NULL};

nb_optim_opts nb_sgd_defaults(void) { return NB_SGD_OPTS(); }

nb_optim *nb_sgd(nb_tensor *const *params, int n_params, nb_optim_opts opts)
{
    return nb_optim_make(&sgd, NB_SGD, params, n_params, opts);
}
