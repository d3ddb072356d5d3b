/* activations/hardsigmoid.c — torch.nn.Hardsigmoid:
 *   y = relu6(x + 3) / 6 = min(max(x + 3, 0), 6) / 6
 *   dy/dx = 1/6 strictly inside (-3, 3), else 0 (0 at -3 and 3 too),
 * as hardsigmoid_kernel / hardsigmoid_backward_kernel in
 * aten/src/ATen/native/cpu/Activation.cpp (self > -3 && self < 3). */
#include "activations/activation.h"

static inline nb_real hardsigmoid_f(nb_real x, const nb_real *p)
{
    (void)p;
    nb_real a = x + 3;
    a = nb_act_sel(a < 0, 0, a);
    return nb_act_sel(a > 6, 6, a) / 6;
}
static inline nb_real hardsigmoid_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    (void)p;
    return nb_act_sel((x > -3) & (x < 3), dy * (nb_real)(1.0 / 6), 0);
}
NB_DEFINE_POINTWISE(hardsigmoid, hardsigmoid_f, hardsigmoid_b, 0);

nb_tensor *nb_hardsigmoid(nb_tensor *x) { return nb_pointwise(&nb_pw_hardsigmoid, x, NULL); }

NB_POINTWISE_ACTIVATION(hardsigmoid, .class_name = "Hardsigmoid", .n_kinks = 2, .kinks = {-3, 3});
