/* activations/tanh.c — the hyperbolic tangent (torch.nn.Tanh):
 *   y = tanh x,  dy/dx = 1 - y^2
 * Backward from the output, as PyTorch's tanh_backward(grad, result). */
#include "activations/activation.h"

static inline nb_real tanh_f(nb_real x, const nb_real *p)
{
    (void)p;
    return nb_vtanh(x);
}
static inline nb_real tanh_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)x;
    (void)p;
    return dy * (1 - y * y);
}
NB_DEFINE_POINTWISE_FMA(tanh, tanh_f, tanh_b, 0);

nb_tensor *nb_tanh(nb_tensor *x) { return nb_pointwise(&nb_pw_tanh, x, NULL); }

NB_POINTWISE_ACTIVATION(tanh, .class_name = "Tanh", .n_kinks = 0);
