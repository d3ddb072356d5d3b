/* activations/gelu.c — exact GELU (torch.nn.GELU(approximate='none'),
 * Hendrycks & Gimpel 2016): x times the standard normal CDF,
 *   y = x Phi(x) = x/2 (1 + erf(x / sqrt 2))
 *   dy/dx = Phi(x) + x phi(x),  phi(x) = e^(-x^2/2) / sqrt(2 pi)
 * as GeluKernelImpl / GeluBackwardKernelImpl in
 * aten/src/ATen/native/cpu/Activation.cpp. For x -> -inf both tend to 0
 * (erf -> -1, e^(-x^2/2) -> 0): gelu(-1000) = -0, gelu'(-1000) = 0. */
#include "activations/activation.h"

#define INV_SQRT2 0.70710678118654752440     /* 1/sqrt(2) */
#define INV_SQRT2PI 0.39894228040143267794   /* 1/sqrt(2 pi) */

static inline nb_real gelu_f(nb_real x, const nb_real *p)
{
    (void)p;
    return (nb_real)0.5 * x * (1 + nb_verf(x * (nb_real)INV_SQRT2));
}
static inline nb_real gelu_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y; (void)p;
    nb_real cdf = (nb_real)0.5 * (1 + nb_verf(x * (nb_real)INV_SQRT2));
    nb_real pdf = (nb_real)INV_SQRT2PI * nb_vexp((nb_real)-0.5 * (x * x));
    return dy * (cdf + x * pdf);
}
NB_DEFINE_POINTWISE(gelu, gelu_f, gelu_b, 0);

nb_tensor *nb_gelu(nb_tensor *x) { return nb_pointwise(&nb_pw_gelu, x, NULL); }

static nb_tensor *apply(nb_tensor *x, const nb_real *p, nb_tensor *w)
{
    (void)p; (void)w;
    return nb_gelu(x);
}
const nb_activation nb_act_gelu = {.name = "gelu", .apply = apply, .pointwise = true};
