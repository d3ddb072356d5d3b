/* activations/mish.c — Mish (torch.nn.Mish; Misra 2019):
 *   y = x t,  t = tanh(softplus(x)) = tanh(log(1 + e^x))
 *   dy/dx = t + x sigmoid(x) (1 - t^2)
 * (mish_backward_kernel in aten/src/ATen/native/cpu/Activation.cpp).
 * With n = e^x, tanh(log(1+n)) = ((1+n)^2 - 1)/((1+n)^2 + 1), so
 *   t = w / (w + 2),  1 - t = q = 2 / (w + 2),  1 - t^2 = q (2 - q),
 *   w = n (n + 2),    sigmoid(x) = n / (1 + n)
 * One exponential, no cancellation (t ~ n for x << 0, so mish keeps its
 * relative accuracy down to x = -100 and below), and no inf/NaN anywhere:
 * x is clamped at 40 inside the exponential, where t = 1 and
 * x sigmoid(x) (1 - t^2) < 1e-32 hold to double precision. mish(-1000) = -0,
 * mish'(-1000) = 0. */
#include "activations/activation.h"

static inline nb_real mish_t(nb_real x, nb_real *n)
{
    *n = nb_vexp(nb_act_sel(x < 40, x, 40));
    nb_real w = *n * (*n + 2);
    return w / (w + 2);
}
static inline nb_real mish_f(nb_real x, const nb_real *p)
{
    (void)p;
    nb_real n;
    return x * mish_t(x, &n);
}
static inline nb_real mish_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    (void)p;
    nb_real n, t = mish_t(x, &n);
    nb_real q = 2 / (n * (n + 2) + 2);
    nb_real s = n / (1 + n);
    return dy * (t + x * s * (q * (2 - q)));
}
NB_DEFINE_POINTWISE_FMA(mish, mish_f, mish_b, 0);

nb_tensor *nb_mish(nb_tensor *x) { return nb_pointwise(&nb_pw_mish, x, NULL); }

NB_POINTWISE_ACTIVATION(mish, .class_name = "Mish", .n_kinks = 0);
