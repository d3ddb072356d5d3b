/* activations/softplus.c — torch.nn.Softplus(beta = 1, threshold = 20):
 *   y = x where beta x > threshold, else log(1 + e^(beta x)) / beta
 *   dy/dx = 1 where beta x > threshold, else sigmoid(beta x)
 * as softplus_kernel / softplus_backward_kernel in
 * aten/src/ATen/native/cpu/Activation.cpp (whose e^(bx)/(e^(bx)+1) is the
 * sigmoid). log(1 + e^t) is nb_vsoftplus (max(t,0) + log1p(e^-|t|)): no
 * overflow, so softplus(1000) = 1000 whatever the threshold. The switch at
 * x = threshold/beta makes f jump by about e^-threshold/beta: registered as a
 * kink. beta = 0 is refused (it divides). */
#include "activations/activation.h"

static inline nb_real softplus_f(nb_real x, const nb_real *p)
{
    nb_real t = x * p[0];
    return nb_act_sel(t > p[1], x, nb_vsoftplus(t) / p[0]);
}
static inline nb_real softplus_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    nb_real t = x * p[0];
    return dy * nb_act_sel(t > p[1], 1, nb_vsigmoid(t)); /* one unmasked load of dy (see elu.c) */
}
static bool softplus_check(const nb_tensor *x, const nb_real *p)
{
    if (p[0] == 0) {
        nb_error(NB_ERR_ARG, "softplus: %s: beta is 0 (it divides)", nb_shape_fmt(x));
        return false;
    }
    return true;
}
NB_DEFINE_POINTWISE_FMA_CHECKED(softplus, softplus_f, softplus_b, 2, softplus_check);

nb_tensor *nb_softplus(nb_tensor *x, nb_real beta, nb_real threshold)
{
    return nb_pointwise(&nb_pw_softplus, x, (nb_real[]){beta, threshold});
}

NB_POINTWISE_ACTIVATION(softplus, .class_name = "Softplus", .param_names = {"beta", "threshold"},
                        .defaults = {1, 20}, .n_kinks = 1, .kinks = {20});
