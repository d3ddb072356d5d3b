/* activations/relu.c — the rectifier (torch.nn.ReLU):
 *   y = max(0, x),  dy/dx = 1 where y > 0, else 0 (so relu'(0) = 0)
 * The backward tests the output, as PyTorch's threshold_backward(grad,
 * result, 0) in derivatives.yaml. NaN propagates (x < 0 is false for NaN). */
#include "activations/activation.h"

static inline nb_real relu_f(nb_real x, const nb_real *p)
{
    (void)p;
    return nb_act_sel(x < 0, 0, x);
}
static inline nb_real relu_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)x;
    (void)p;
    return nb_act_sel(y > 0, dy, 0);
}
NB_DEFINE_POINTWISE(relu, relu_f, relu_b, 0);

nb_tensor *nb_relu(nb_tensor *x) { return nb_pointwise(&nb_pw_relu, x, NULL); }

NB_POINTWISE_ACTIVATION(relu, .class_name = "ReLU", .n_kinks = 1, .kinks = {0});
