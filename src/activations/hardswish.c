/* activations/hardswish.c — torch.nn.Hardswish (Howard et al. 2019,
 * "Searching for MobileNetV3"):
 *   y = x relu6(x + 3) / 6
 *   dy/dx = 0 for x <= -3, x/3 + 1/2 for -3 < x < 3, 1 for x >= 3
 * At the kinks the outer pieces win: 0 at -3 and 1 at 3, the derivatives of
 * the constant and identity pieces, as in PyTorch's hardswish_backward
 * kernels (aten/src/ATen/native/cpu/Activation.cpp, scalar and vectorized,
 * and cuda/ActivationHardswishKernel.cu) since pytorch/pytorch#148049 (2025),
 * which fixed issue #147801. Older PyTorch closed the middle piece (-1/2 at
 * -3, 3/2 at 3) in its scalar path only, so torch 1.13 on a CPU gives 1 or
 * 3/2 at 3 depending on where the element falls in a vector of 16. */
#include "activations/activation.h"

static inline nb_real hardswish_f(nb_real x, const nb_real *p)
{
    (void)p;
    nb_real a = x + 3;
    a = nb_act_sel(a < 0, 0, a);
    return x * nb_act_sel(a > 6, 6, a) / 6;
}
static inline nb_real hardswish_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    (void)p;
    nb_real mid = dy * (x / 3 + (nb_real)0.5);
    return nb_act_sel(x <= -3, 0, nb_act_sel(x < 3, mid, dy));
}
NB_DEFINE_POINTWISE(hardswish, hardswish_f, hardswish_b, 0);

nb_tensor *nb_hardswish(nb_tensor *x) { return nb_pointwise(&nb_pw_hardswish, x, NULL); }

NB_POINTWISE_ACTIVATION(hardswish, .class_name = "Hardswish", .n_kinks = 2, .kinks = {-3, 3});
