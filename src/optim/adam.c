/* optim/adam.c — torch.optim.Adam and AdamW (torch/optim/adam.py,
 * _single_tensor_adam; AdamW is Adam with decoupled weight decay):
 *   g ← ∇θ (−∇θ if maximize);   t ← t + 1
 *   AdamW: θ ← θ (1 − γ λ)      Adam: g ← g + λ θ        (λ = weight_decay ≠ 0)
 *   m ← lerp(m, g, 1 − β1)  = m + (1 − β1)(g − m)
 *   v ← β2 v + (1 − β2) g²
 *   amsgrad: v̂ ← max(v̂, v), else v̂ = v
 *   θ ← θ − γ/(1 − β1^t) · m / (√v̂ / √(1 − β2^t) + ε)
 * The bias corrections are computed once per parameter in double, as the
 * Python scalars of PyTorch; the operations per element keep PyTorch's order
 * (lerp as at::lerp: weight < 0.5 ? m + w (g − m) : g − (g − m)(1 − w)). */
#include <math.h>
#include "optim/optim.h"

typedef struct job {
    nb_real *restrict p, *restrict m, *restrict v, *restrict vmax;
    const nb_real *restrict g;
    nb_real sign, wd, decay_scale, w1, b2, b2c, bc2_sqrt, eps, neg_step_size;
    bool decay, decoupled, amsgrad;
} job;

NB_VECTORIZE static void update(const job *j, int64_t lo, int64_t hi)
{
    /* scalars in locals: stores through p, m, v cannot then alias them, and the
     * loop-invariant branches are unswitched, so each variant vectorizes */
    nb_real *restrict p = j->p, *restrict m = j->m, *restrict v = j->v, *restrict vmax = j->vmax;
    const nb_real *restrict gr = j->g;
    const nb_real sign = j->sign, wd = j->wd, decay_scale = j->decay_scale, w1 = j->w1, b2 = j->b2,
                  b2c = j->b2c, bc2_sqrt = j->bc2_sqrt, eps = j->eps, neg_step_size = j->neg_step_size;
    const bool decay = j->decay, decoupled = j->decoupled, amsgrad = j->amsgrad, lerp_low = w1 < (nb_real)0.5;
    for (int64_t i = lo; i < hi; i++) {
        nb_real g = sign * gr[i], th = p[i];
        if (decoupled)
            th = th * decay_scale;
        else if (decay)
            g = g + wd * th;
        nb_real mi = lerp_low ? m[i] + w1 * (g - m[i]) : g - (g - m[i]) * (1 - w1);
        nb_real vi = v[i] * b2 + b2c * g * g, vh = vi;
        if (amsgrad) {
            vh = vmax[i] > vi ? vmax[i] : vi;
            vmax[i] = vh;
        }
        m[i] = mi;
        v[i] = vi;
        p[i] = th + neg_step_size * mi / (nb_sqrt_real(vh) / bc2_sqrt + eps);
    }
}

static void range(void *c, int64_t b, int64_t e) { update(c, b, e); }

/* one body for both: AdamW differs only in where the decay goes */
static void update_with(const nb_optim_opts *a, nb_tensor *p, nb_real *const *slot, double step,
                        bool decoupled)
{
    double b1 = a->betas[0], b2 = a->betas[1];
    double bc1 = 1 - pow(b1, step), bc2 = 1 - pow(b2, step);
    job j = {.p = p->data,
             .m = slot[0],
             .v = slot[1],
             .vmax = a->amsgrad ? slot[2] : NULL,
             .g = p->grad,
             .sign = a->maximize ? -1 : 1,
             .wd = (nb_real)a->weight_decay,
             .decay_scale = (nb_real)(1 - a->lr * a->weight_decay),
             .w1 = (nb_real)(1 - b1),
             .b2 = (nb_real)b2,
             .b2c = (nb_real)(1 - b2),
             .bc2_sqrt = (nb_real)sqrt(bc2),
             .eps = (nb_real)a->eps,
             .neg_step_size = (nb_real) - (a->lr / bc1),
             .decay = a->weight_decay != 0,
             .decoupled = decoupled && a->weight_decay != 0,
             .amsgrad = a->amsgrad};
    nb_parallel_for(p->numel, NB_OPTIM_GRAIN, range, &j);
}

static void adam_update(const nb_optim_opts *a, nb_tensor *p, nb_real *const *slot, double step)
{
    update_with(a, p, slot, step, false);
}

static void adamw_update(const nb_optim_opts *a, nb_tensor *p, nb_real *const *slot, double step)
{
    update_with(a, p, slot, step, true);
}

static int slots(const nb_optim_opts *a, const char **names)
{
    names[0] = "exp_avg", names[1] = "exp_avg_sq", names[2] = "max_exp_avg_sq";
    return a->amsgrad ? 3 : 2;
}

static bool check(const char *op, const nb_optim_opts *a)
{
    return nb_optim_check(a->eps >= 0, op, "eps", a->eps, "must be >= 0") &&
           nb_optim_check(a->betas[0] >= 0 && a->betas[0] < 1, op, "betas[0]", a->betas[0],
                          "must be in [0, 1)") &&
           nb_optim_check(a->betas[1] >= 0 && a->betas[1] < 1, op, "betas[1]", a->betas[1],
                          "must be in [0, 1)");
}

static const nb_optim_algo adam = {"adam", adam_update, slots, check, NULL};
static const nb_optim_algo adamw = {"adamw", adamw_update, slots, check, NULL};

nb_optim_opts nb_adam_defaults(void) { return NB_ADAM_OPTS(); }
nb_optim_opts nb_adamw_defaults(void) { return NB_ADAMW_OPTS(); }

nb_optim *nb_adam(nb_tensor *const *params, int n_params, nb_optim_opts opts)
{
    return nb_optim_make(&adam, NB_ADAM, params, n_params, opts);
}

nb_optim *nb_adamw(nb_tensor *const *params, int n_params, nb_optim_opts opts)
{
    return nb_optim_make(&adamw, NB_ADAMW, params, n_params, opts);
}
