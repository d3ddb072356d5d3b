/* loss/bce.c — binary cross-entropy on probabilities and on logits, as
 * torch.nn.functional.binary_cross_entropy(_with_logits).
 *
 * bce (aten/src/ATen/native/Loss.cpp, binary_cross_entropy_out_cpu and its
 * backward): with L1 = max(log p, -100), L0 = max(log1p(-p), -100),
 *   f = -(t L1 + (1 - t) L0)
 *   ∂f/∂p = (p - t) / max(p (1 - p), 1e-12)      (PyTorch's EPSILON; the clamp
 *           keeps the gradient finite at p = 0 or 1)
 *   ∂f/∂t = L0 - L1                               (f is linear in t)
 *
 * bce_with_logits (same file): with sp(z) = log(1 + e^z) computed stably as
 * max(z, 0) + log1p(e^-|z|), σ the sigmoid and w = pos_weight,
 *   f = (1 - t) x + (1 + (w - 1) t) sp(-x)        (= -w t log σ(x) - (1-t) log σ(-x))
 *   ∂f/∂x = (1 - t) - (1 + (w - 1) t) σ(-x)       (= σ(x) - t for w = 1)
 *   ∂f/∂t = -x + (w - 1) sp(-x)                   (= -x for w = 1) */
#include "kernels/vmath.h"
#include "loss/loss.h"

static inline nb_real log_clamped(nb_real v) { return v < -100 ? -100 : v; }

static inline nb_real bce_f(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    (void)w;
    (void)p;
    return (t - 1) * log_clamped(nb_vlog1p(-x)) - t * log_clamped(nb_vlog(x));
}
static inline nb_real bce_dx(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    (void)w;
    (void)p;
    nb_real v = (1 - x) * x;
    return (x - t) / (v > (nb_real)1e-12 ? v : (nb_real)1e-12);
}
static inline nb_real bce_dt(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    (void)t;
    (void)w;
    (void)p;
    return log_clamped(nb_vlog1p(-x)) - log_clamped(nb_vlog(x));
}
NB_DEFINE_ELEM_LOSS(binary_cross_entropy, bce_f, bce_dx, bce_dt, 0, 0);

static inline nb_real bcel_f(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    (void)w;
    (void)p;
    return (1 - t) * x + nb_vsoftplus(-x);
}
static inline nb_real bcel_dx(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    (void)w;
    (void)p;
    return nb_vsigmoid(x) - t;
}
static inline nb_real bcel_dt(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    (void)t;
    (void)w;
    (void)p;
    return -x;
}
NB_DEFINE_ELEM_LOSS(binary_cross_entropy_with_logits, bcel_f, bcel_dx, bcel_dt, 0, 0);

static inline nb_real bcew_f(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    (void)p;
    return (1 - t) * x + (1 + (w - 1) * t) * nb_vsoftplus(-x);
}
static inline nb_real bcew_dx(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    (void)p;
    return (1 - t) - (1 + (w - 1) * t) * nb_vsigmoid(-x);
}
static inline nb_real bcew_dt(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    (void)t;
    (void)p;
    return -x + (w - 1) * nb_vsoftplus(-x);
}
NB_DEFINE_ELEM_LOSS(binary_cross_entropy_with_logits_pw, bcew_f, bcew_dx, bcew_dt, 1, 0);

/* PyTorch checks both ranges ("all elements of input should be between 0 and 1"). */
static bool in_unit_interval(const char *what, const nb_tensor *v)
{
    for (int64_t i = 0; i < v->numel; i++)
        if (!(v->data[i] >= 0 && v->data[i] <= 1)) {
            nb_error(NB_ERR_ARG, "binary_cross_entropy: %s%s[%lld] = %g is outside [0, 1]", what,
                     nb_shape_fmt(v), (long long)i, (double)v->data[i]);
            return false;
        }
    return true;
}

nb_tensor *nb_bce_loss(nb_tensor *probs, nb_tensor *target, nb_reduction reduction)
{
    const char *op = "binary_cross_entropy";
    if (!nb_check_input(op, 1, probs) || !nb_check_input(op, 2, target))
        return NULL;
    if (!in_unit_interval("input ", probs) || !in_unit_interval("target ", target))
        return NULL;
    return nb_elem_loss_apply(&nb_el_binary_cross_entropy, probs, target, NULL, reduction, NULL);
}

nb_tensor *nb_bce_with_logits(nb_tensor *logits, nb_tensor *target, nb_reduction reduction,
                              nb_tensor *pos_weight)
{
    const char *op = "binary_cross_entropy_with_logits";
    if (!pos_weight)
        return nb_elem_loss_apply(&nb_el_binary_cross_entropy_with_logits, logits, target, NULL, reduction,
                                  NULL);
    if (!nb_check_input(op, 1, logits) || !nb_check_input(op, 4, pos_weight))
        return NULL;
    int64_t c = logits->ndim ? logits->shape[logits->ndim - 1] : 1;
    if (pos_weight->numel != 1 && !(pos_weight->ndim == 1 && pos_weight->shape[0] == c))
        return nb_error(NB_ERR_SHAPE,
                        "%s: pos_weight %s does not fit logits %s: expected one element or [%lld]", op,
                        nb_shape_fmt(pos_weight), nb_shape_fmt(logits), (long long)c);
    /* pos_weight repeated along the rows: the kernels read one weight per element */
    nb_real *w = nb_step_alloc((size_t)(logits->numel ? logits->numel : 1) * sizeof *w);
    if (!w)
        return NULL;
    for (int64_t i = 0, k = 0; i < logits->numel; i++, k = k + 1 == pos_weight->numel ? 0 : k + 1)
        w[i] = pos_weight->data[k];
    return nb_elem_loss_apply(&nb_el_binary_cross_entropy_with_logits_pw, logits, target, w, reduction, NULL);
}
