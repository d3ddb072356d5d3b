/* activations/elu.c — torch.nn.ELU(alpha = 1) (Clevert et al. 2015):
 *   y = x for x > 0, else alpha (e^x - 1)
 *   dy/dx = 1 for x > 0, else alpha e^x
 * As PyTorch's elu_kernel / elu_backward_kernel (is_result = false) in
 * aten/src/ATen/native/cpu/Activation.cpp: the x <= 0 branch includes 0, and
 * e^x - 1 is expm1 (accurate near 0). The exponentials take min(x, 0), so the
 * branch not taken never overflows. With alpha = 1, f' is continuous at 0;
 * for other alphas 0 is a kink. */
#include "activations/activation.h"

/* elu(x, alpha, scale = 1, input_scale = 1) of the family (activation.h) */
static inline nb_real elu_f(nb_real x, const nb_real *p) { return nb_act_elu_f(x, 1, p[0], 1); }
static inline nb_real elu_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    return nb_act_elu_b(x, dy, 1, p[0], 1);
}
NB_DEFINE_POINTWISE_FMA(elu, elu_f, elu_b, 1);

nb_tensor *nb_elu(nb_tensor *x, nb_real alpha) { return nb_pointwise(&nb_pw_elu, x, &alpha); }

NB_POINTWISE_ACTIVATION(elu, .class_name = "ELU", .param_names = {"alpha"}, .defaults = {1}, .n_kinks = 1,
                        .kinks = {0});
