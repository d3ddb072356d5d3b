/* activations/gelu.c — exact GELU (torch.nn.GELU(approximate='none'),
 * Hendrycks & Gimpel 2016): x times the standard normal CDF,
 *   y = x Phi(x) = x/2 (1 + erf(x / sqrt 2)) = x/2 erfc(-x / sqrt 2)
 *   dy/dx = Phi(x) + x phi(x),  phi(x) = e^(-x^2/2) / sqrt(2 pi)
 * as GeluKernelImpl / GeluBackwardKernelImpl in
 * aten/src/ATen/native/cpu/Activation.cpp. Phi is nb_vncdf (kernels/vmath.h),
 * erfc(-x/sqrt 2)/2 without PyTorch's 1 + erf cancellation for x < 0: in
 * float32 one exponential and one polynomial instead of erf's two
 * polynomials and exponential. For x -> -inf both tend to 0 (Phi -> 0,
 * e^(-x^2/2) -> 0): gelu(-1000) = -0, gelu'(-1000) = 0. */
#include "activations/activation.h"

#define INV_SQRT2PI 0.39894228040143267794 /* 1/sqrt(2 pi) */
/* lowest argument of nb_vexpn: in float32 -87 (normal results only); in
 * float64 (libm exp) where e^h underflows to 0 anyway */
#ifdef NABLA_F64
#define H_MIN -745.0
#else
#define H_MIN -87.0f
#endif

static inline nb_real gelu_f(nb_real x, const nb_real *p)
{
    (void)p;
    return x * nb_vncdf(x);
}
static inline nb_real gelu_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)p;
    /* e^(-x^2/2) through the exponential without underflow handling: below
     * H_MIN (float32: |x| > 13.19) phi is below FLT_MIN / 2.5 and x phi is
     * taken as 0 */
    nb_real h = (nb_real)-0.5 * (x * x);
    int ok = h > H_MIN;
    nb_real pdf = (nb_real)INV_SQRT2PI * nb_vexpn(nb_act_sel(ok, h, H_MIN));
    /* Phi(x) = y/x, read back from the forward's output: one division
     * instead of a second exponential and polynomial (1 ulp more than
     * nb_vncdf itself). For |x| < 2^-100, Phi(x) rounds to 1/2 (and x = 0
     * or a subnormal y would not give it). */
    nb_real cdf = nb_act_sel(fabs(x) < (nb_real)0x1p-100, (nb_real)0.5, y / x);
    return dy * (cdf + x * nb_act_sel(ok, pdf, 0));
}
NB_DEFINE_POINTWISE_FMA(gelu, gelu_f, gelu_b, 0);

nb_tensor *nb_gelu(nb_tensor *x) { return nb_pointwise(&nb_pw_gelu, x, NULL); }

NB_POINTWISE_ACTIVATION(gelu, .class_name = "GELU", .n_kinks = 0);
