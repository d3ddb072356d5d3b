/* activations/sigmoid.c — the logistic sigmoid (torch.nn.Sigmoid):
 *   y = 1 / (1 + e^-x),  dy/dx = y (1 - y)
 * Forward: nb_vsigmoid, which divides by 1 + e^-|x| and never overflows
 * (sigmoid(-1000) = 0, sigmoid(1000) = 1). Backward from the output, as
 * PyTorch's sigmoid_backward(grad, result) in derivatives.yaml. */
#include "activations/activation.h"

static inline nb_real sigmoid_f(nb_real x, const nb_real *p)
{
    (void)p;
    return nb_vsigmoid(x);
}
static inline nb_real sigmoid_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)x;
    (void)p;
    return dy * (y * (1 - y));
}
NB_DEFINE_POINTWISE_FMA(sigmoid, sigmoid_f, sigmoid_b, 0);

nb_tensor *nb_sigmoid(nb_tensor *x) { return nb_pointwise(&nb_pw_sigmoid, x, NULL); }

NB_POINTWISE_ACTIVATION(sigmoid, .class_name = "Sigmoid", .n_kinks = 0);
