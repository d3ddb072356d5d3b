/* activations/leaky_relu.c — torch.nn.LeakyReLU(negative_slope = 0.01):
 *   y = x for x > 0, else s x;  dy/dx = 1 for x > 0, else s
 * At 0 the derivative is s: PyTorch's leaky_relu_backward tests x > 0
 * (aten/src/ATen/native/cpu/Activation.cpp). */
#include "activations/activation.h"

static inline nb_real leaky_relu_f(nb_real x, const nb_real *p) { return nb_act_sel(x > 0, x, x * p[0]); }
static inline nb_real leaky_relu_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    return nb_act_sel(x > 0, dy, dy * p[0]);
}
NB_DEFINE_POINTWISE(leaky_relu, leaky_relu_f, leaky_relu_b, 1);

nb_tensor *nb_leaky_relu(nb_tensor *x, nb_real negative_slope)
{
    return nb_pointwise(&nb_pw_leaky_relu, x, &negative_slope);
}

NB_POINTWISE_ACTIVATION(leaky_relu, .class_name = "LeakyReLU", .param_names = {"negative_slope"},
                        .defaults = {0.01}, .n_kinks = 1, .kinks = {0});
