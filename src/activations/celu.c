/* activations/celu.c — torch.nn.CELU(alpha = 1) (Barron 2017):
 *   y = x for x > 0, else alpha (e^(x/alpha) - 1)
 *   dy/dx = 1 for x > 0, else e^(x/alpha)
 * PyTorch computes it as elu(x, alpha, scale = 1, input_scale = 1/alpha)
 * (aten/src/ATen/native/Activation.cpp) and refuses alpha = 0; so do we. The
 * exponentials take x/alpha only on the x <= 0 branch (0 otherwise), so the
 * branch not taken never overflows, whatever the sign of alpha. */
#include "activations/activation.h"

/* elu(x, alpha, scale = 1, input_scale = 1/alpha) of the family (activation.h):
 * the negative side's derivative coefficient alpha / alpha is exactly 1 */
static inline nb_real celu_f(nb_real x, const nb_real *p) { return nb_act_elu_f(x, 1, p[0], p[0]); }
static inline nb_real celu_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    return nb_act_elu_b(x, dy, 1, 1, p[0]);
}
static bool celu_check(const nb_tensor *x, const nb_real *p)
{
    if (p[0] == 0) {
        nb_error(NB_ERR_ARG, "celu: %s: alpha is 0 (it divides x)", nb_shape_fmt(x));
        return false;
    }
    return true;
}
NB_DEFINE_POINTWISE_FMA_CHECKED(celu, celu_f, celu_b, 1, celu_check);

nb_tensor *nb_celu(nb_tensor *x, nb_real alpha) { return nb_pointwise(&nb_pw_celu, x, &alpha); }

NB_POINTWISE_ACTIVATION(celu, .class_name = "CELU", .param_names = {"alpha"}, .defaults = {1}, .n_kinks = 1,
                        .kinks = {0});
