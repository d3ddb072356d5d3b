/* loss/regression.c — the regression losses of torch.nn.functional: mse_loss,
 * l1_loss, smooth_l1_loss and huber_loss, as functions of d = x - t, so that
 * ∂f/∂t = -∂f/∂x (PyTorch differentiates both arguments).
 * Smooth L1 and Huber follow aten/src/ATen/native/Loss.cpp and the backward
 * kernels of aten/src/ATen/native/cpu/PointwiseOpsKernel.cpp: at |d| = β (or δ)
 * the linear branch's slope is used (both branches agree there). */
#include "loss/loss.h"

/* mse: f = d², ∂f/∂x = 2d */
static inline nb_real mse_f(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    (void)w;
    (void)p;
    return (x - t) * (x - t);
}
static inline nb_real mse_dx(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    (void)w;
    (void)p;
    return 2 * (x - t);
}
static inline nb_real mse_dt(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    (void)w;
    (void)p;
    return 2 * (t - x);
}
NB_DEFINE_ELEM_LOSS(mse_loss, mse_f, mse_dx, mse_dt, 0, 0);

/* l1: f = |d|, ∂f/∂x = sign(d), 0 at d = 0 (PyTorch's sgn) */
static inline nb_real l1_f(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    (void)w;
    (void)p;
    nb_real d = x - t;
    return d < 0 ? -d : d;
}
static inline nb_real l1_dx(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    (void)w;
    (void)p;
    nb_real d = x - t;
    return (nb_real)((d > 0) - (d < 0));
}
static inline nb_real l1_dt(nb_real x, nb_real t, nb_real w, const nb_real *p) { return -l1_dx(x, t, w, p); }
NB_DEFINE_ELEM_LOSS(l1_loss, l1_f, l1_dx, l1_dt, 0, 0);

/* smooth_l1, β = p[0] > 0: f = 0.5 d²/β if |d| < β, else |d| - 0.5 β;
 * ∂f/∂x = d/β inside, sign(d) outside. */
static inline nb_real sl1_f(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    (void)w;
    nb_real d = x - t, z = d < 0 ? -d : d;
    return z < p[0] ? (nb_real)0.5 * d * d / p[0] : z - (nb_real)0.5 * p[0];
}
static inline nb_real sl1_dx(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    (void)w;
    nb_real d = x - t;
    return d <= -p[0] ? -1 : d >= p[0] ? 1 : d / p[0];
}
static inline nb_real sl1_dt(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    return -sl1_dx(x, t, w, p);
}
NB_DEFINE_ELEM_LOSS(smooth_l1_loss, sl1_f, sl1_dx, sl1_dt, 0, 1);

/* huber, δ = p[0] > 0: f = 0.5 d² if |d| < δ, else δ (|d| - 0.5 δ);
 * ∂f/∂x = d inside, δ sign(d) outside. (huber = δ · smooth_l1 with β = δ.) */
static inline nb_real huber_f(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    (void)w;
    nb_real d = x - t, z = d < 0 ? -d : d;
    return z < p[0] ? (nb_real)0.5 * d * d : p[0] * (z - (nb_real)0.5 * p[0]);
}
static inline nb_real huber_dx(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    (void)w;
    nb_real d = x - t;
    return d <= -p[0] ? -p[0] : d >= p[0] ? p[0] : d;
}
static inline nb_real huber_dt(nb_real x, nb_real t, nb_real w, const nb_real *p)
{
    return -huber_dx(x, t, w, p);
}
NB_DEFINE_ELEM_LOSS(huber_loss, huber_f, huber_dx, huber_dt, 0, 1);

nb_tensor *nb_mse_loss(nb_tensor *input, nb_tensor *target, nb_reduction reduction)
{
    return nb_elem_loss_apply(&nb_el_mse_loss, input, target, NULL, reduction, NULL);
}

nb_tensor *nb_l1_loss(nb_tensor *input, nb_tensor *target, nb_reduction reduction)
{
    return nb_elem_loss_apply(&nb_el_l1_loss, input, target, NULL, reduction, NULL);
}

/* β = 0 is L1 (PyTorch dispatches smooth_l1_loss to l1_loss then, Loss.cpp). */
nb_tensor *nb_smooth_l1_loss(nb_tensor *input, nb_tensor *target, nb_reduction reduction, nb_real beta)
{
    if (!(beta >= 0))
        return nb_error(NB_ERR_ARG, "smooth_l1_loss: beta %g must be >= 0", (double)beta);
    if (beta == 0)
        return nb_elem_loss_apply(&nb_el_l1_loss, input, target, NULL, reduction, NULL);
    return nb_elem_loss_apply(&nb_el_smooth_l1_loss, input, target, NULL, reduction, &beta);
}

nb_tensor *nb_huber_loss(nb_tensor *input, nb_tensor *target, nb_reduction reduction, nb_real delta)
{
    if (!(delta > 0))
        return nb_error(NB_ERR_ARG, "huber_loss: delta %g must be > 0", (double)delta);
    return nb_elem_loss_apply(&nb_el_huber_loss, input, target, NULL, reduction, &delta);
}
