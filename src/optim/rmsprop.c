/* optim/rmsprop.c — torch.optim.RMSprop (torch/optim/rmsprop.py,
 * _single_tensor_rmsprop):
 *   g ← ∇θ (−∇θ if maximize);   g ← g + λ θ   (weight_decay λ ≠ 0)
 *   v ← α v + (1 − α) g²
 *   centered: ḡ ← lerp(ḡ, g, 1 − α),  a ← √(v − ḡ²) + ε;   else a ← √v + ε
 *   momentum μ > 0: b ← μ b + g / a,  θ ← θ − γ b;   else θ ← θ − γ g / a
 * All buffers start at zero. */
#include "optim/optim.h"

typedef struct job {
    nb_real *restrict p, *restrict v, *restrict b, *restrict gavg;
    const nb_real *restrict g;
    nb_real sign, wd, alpha, alpha1, eps, mu, neg_lr; /* alpha1 = 1 - alpha */
    bool decay, centered, momentum;
} job;

/* The pass, with `centered` a constant in each caller: the other invariant
 * branches are then few enough for GCC to unswitch them all. */
static inline void update(const job *j, int64_t lo, int64_t hi, const bool centered)
{
    /* scalars in locals so the invariant branches unswitch and each variant
     * vectorizes (see adam.c) */
    nb_real *restrict p = j->p, *restrict v = j->v, *restrict b = j->b, *restrict ga = j->gavg;
    const nb_real *restrict gr = j->g;
    const nb_real sign = j->sign, wd = j->wd, alpha = j->alpha, alpha1 = j->alpha1, eps = j->eps, mu = j->mu,
                  neg_lr = j->neg_lr;
    const bool decay = j->decay, momentum = j->momentum, lerp_low = alpha1 < (nb_real)0.5;
    for (int64_t i = lo; i < hi; i++) {
        nb_real g = sign * gr[i];
        if (decay)
            g = g + wd * p[i];
        nb_real vi = v[i] * alpha + alpha1 * g * g, a;
        v[i] = vi;
        if (centered) {
            nb_real gi = lerp_low ? ga[i] + alpha1 * (g - ga[i]) : g - (g - ga[i]) * (1 - alpha1);
            ga[i] = gi;
            a = nb_sqrt_real(vi - gi * gi) + eps;
        } else {
            a = nb_sqrt_real(vi) + eps;
        }
        if (momentum) {
            nb_real bi = b[i] * mu + g / a;
            b[i] = bi;
            p[i] = p[i] + neg_lr * bi;
        } else {
            p[i] = p[i] + neg_lr * g / a;
        }
    }
}

NB_VECTORIZE static void update_plain(const job *j, int64_t lo, int64_t hi) { update(j, lo, hi, false); }

NB_VECTORIZE static void update_centered(const job *j, int64_t lo, int64_t hi) { update(j, lo, hi, true); }

static void range(void *c, int64_t b, int64_t e)
{
    const job *j = c;
    if (j->centered)
        update_centered(j, b, e);
    else
        update_plain(j, b, e);
}

static void rmsprop_update(const nb_optim_opts *r, nb_tensor *p, nb_real *const *slot, double step)
{
    (void)step;
    bool momentum = r->momentum > 0;
    job j = {.p = p->data,
             .v = slot[0],
             .b = momentum ? slot[1] : NULL,
             .gavg = r->centered ? slot[momentum ? 2 : 1] : NULL,
             .g = p->grad,
             .sign = r->maximize ? -1 : 1,
             .wd = (nb_real)r->weight_decay,
             .alpha = (nb_real)r->alpha,
             .alpha1 = (nb_real)(1 - r->alpha),
             .eps = (nb_real)r->eps,
             .mu = (nb_real)r->momentum,
             .neg_lr = (nb_real)-r->lr,
             .decay = r->weight_decay != 0,
             .centered = r->centered,
             .momentum = momentum};
    nb_parallel_for(p->numel, NB_OPTIM_GRAIN, range, &j);
}

static int slots(const nb_optim_opts *r, const char **names)
{
    int n = 0;
    names[n++] = "square_avg";
    if (r->momentum > 0)
        names[n++] = "momentum_buffer";
    if (r->centered)
        names[n++] = "grad_avg";
    return n;
}

static bool check(const char *op, const nb_optim_opts *r)
{
    return nb_optim_check(r->eps >= 0, op, "eps", r->eps, "must be >= 0") &&
           nb_optim_check(r->momentum >= 0, op, "momentum", r->momentum, "must be >= 0") &&
           nb_optim_check(r->alpha >= 0, op, "alpha", r->alpha, "must be >= 0");
}

static const nb_optim_algo rmsprop = {"rmsprop", rmsprop_update, slots, check, NULL};

nb_optim_opts nb_rmsprop_defaults(void) { return NB_RMSPROP_OPTS(); }

nb_optim *nb_rmsprop(nb_tensor *const *params, int n_params, nb_optim_opts opts)
{
    return nb_optim_make(&rmsprop, NB_RMSPROP, params, n_params, opts);
}
