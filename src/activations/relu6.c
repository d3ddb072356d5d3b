/* activations/relu6.c — min(max(0, x), 6) (torch.nn.ReLU6).
 * PyTorch computes it as hardtanh(x, 0, 6) (aten/src/ATen/native/Activation.cpp)
 * and so differentiates it with hardtanh_backward: the gradient passes only
 * strictly inside (0, 6); relu6'(0) = relu6'(6) = 0. */
#include "activations/activation.h"

static inline nb_real relu6_f(nb_real x, const nb_real *p)
{
    (void)p;
    nb_real y = nb_act_sel(x < 0, 0, x);
    return nb_act_sel(y > 6, 6, y);
}
static inline nb_real relu6_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    (void)p;
    return nb_act_sel((x > 0) & (x < 6), dy, 0);
}
NB_DEFINE_POINTWISE(relu6, relu6_f, relu6_b, 0);

nb_tensor *nb_relu6(nb_tensor *x) { return nb_pointwise(&nb_pw_relu6, x, NULL); }

NB_POINTWISE_ACTIVATION(relu6, .class_name = "ReLU6", .n_kinks = 2, .kinks = {0, 6});
