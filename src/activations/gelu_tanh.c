/* activations/gelu_tanh.c — GELU with the tanh approximation
 * (torch.nn.GELU(approximate='tanh'), Hendrycks & Gimpel 2016):
 *   y = x/2 (1 + tanh u),  u = sqrt(2/pi) (x + 0.044715 x^3)
 * Since 1 + tanh u = 2 sigmoid(2u), we compute
 *   y = x sigmoid(2u)
 *   dy/dx = sigmoid(2u) + 2 x sigmoid(2u) sigmoid(-2u) u',
 *   u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2)
 * which is PyTorch's formula (GeluBackwardKernelImpl: (1 + tanh)/2 +
 * x/2 (1 - tanh^2) u', with 1 - tanh^2 u = 4 sigmoid(2u) sigmoid(-2u)) in
 * a form without the cancellation of 1 + tanh u for u << 0 (where PyTorch's
 * float result loses all its digits) and without overflow for any x.
 * u is evaluated as x (c1 + c3 x^2): fewer roundings than x + k x^3, which
 * matters because y's relative error is 2|u| times u's for x << 0. */
#include "activations/activation.h"

#define SQRT_2_OVER_PI 0.79788456080286535588
#define KAPPA 0.044715

static inline nb_real inner(nb_real x)
{
    return x * ((nb_real)SQRT_2_OVER_PI + (nb_real)(SQRT_2_OVER_PI * KAPPA) * (x * x));
}
static inline nb_real gelu_tanh_f(nb_real x, const nb_real *p)
{
    (void)p;
    nb_real u = inner(x);
    return x * nb_vsigmoid(u + u);
}
static inline nb_real gelu_tanh_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    (void)p;
    nb_real u = inner(x), s, sn;
    nb_act_sigmoid2(u + u, &s, &sn);
    /* |x| > 30: s sn = 0 in both precisions (2|u| > 1000) while x^2 u' could
     * overflow (inf * 0): the polynomial factor takes x clamped to [-30, 30]. */
    nb_real xc = nb_act_sel(x > 30, 30, nb_act_sel(x < -30, -30, x));
    nb_real du = (nb_real)SQRT_2_OVER_PI * (1 + (nb_real)(3 * KAPPA) * (xc * xc));
    return dy * (s + 2 * xc * (s * sn) * du);
}
NB_DEFINE_POINTWISE_FMA(gelu_tanh, gelu_tanh_f, gelu_tanh_b, 0);

nb_tensor *nb_gelu_tanh(nb_tensor *x) { return nb_pointwise(&nb_pw_gelu_tanh, x, NULL); }

NB_POINTWISE_ACTIVATION(gelu_tanh, .class_name = "GELU", .n_kinks = 0);
