/* activations/relu.c — the rectifier (torch.nn.ReLU); its mathematics,
 * nb_act_relu_value and nb_act_relu_grad, is in activations/activation.h, shared
 * with the convolution fused with a ReLU (ops/conv2d.c). */
#include "activations/activation.h"

static inline nb_real relu_f(nb_real x, const nb_real *p)
{
    (void)p;
    return nb_act_relu_value(x);
}
static inline nb_real relu_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)x;
    (void)p;
    return nb_act_relu_grad(y, dy);
}
NB_DEFINE_POINTWISE(relu, relu_f, relu_b, 0);

nb_tensor *nb_relu(nb_tensor *x) { return nb_pointwise(&nb_pw_relu, x, NULL); }

NB_POINTWISE_ACTIVATION(relu, .class_name = "ReLU", .n_kinks = 1, .kinks = {0});
