/* activations/silu.c — SiLU (torch.nn.SiLU; Elfwing et al. 2017, the swish of
 * Ramachandran et al. with beta = 1):
 *   y = x sigmoid(x)
 *   dy/dx = sigmoid(x) (1 + x (1 - sigmoid(x)))
 * as silu_backward_kernel in aten/src/ATen/native/cpu/Activation.cpp, with
 * 1 - sigmoid(x) = sigmoid(-x) computed directly (nb_act_sigmoid2): accurate
 * for large x, and no e^-x overflow (PyTorch's x / (1 + e^-x)) for x << 0. */
#include "activations/activation.h"

static inline nb_real silu_f(nb_real x, const nb_real *p)
{
    (void)p;
    return x * nb_vsigmoid(x);
}
static inline nb_real silu_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    (void)p;
    nb_real s, sn;
    nb_act_sigmoid2(x, &s, &sn);
    return dy * (s * (1 + x * sn));
}
NB_DEFINE_POINTWISE_FMA(silu, silu_f, silu_b, 0);

nb_tensor *nb_silu(nb_tensor *x) { return nb_pointwise(&nb_pw_silu, x, NULL); }

NB_POINTWISE_ACTIVATION(silu, .class_name = "SiLU", .n_kinks = 0);
