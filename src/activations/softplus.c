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
    return dy * nb_act_sel(t > p[1], 1, nb_vsigmoid(t));   /* one unmasked load of dy (see elu.c) */
}
NB_DEFINE_POINTWISE_FMA(softplus, softplus_f, softplus_b, 2);

nb_tensor *nb_softplus(nb_tensor *x, nb_real beta, nb_real threshold)
{
    if (!nb_check_input("softplus", 1, x))
        return NULL;
    if (beta == 0)
        return nb_error(NB_ERR_ARG, "softplus: %s: beta is 0 (it divides)", nb_shape_fmt(x));
    return nb_pointwise(&nb_pw_softplus, x, (nb_real[]){beta, threshold});
}

static nb_tensor *apply(nb_tensor *x, const nb_real *p, nb_tensor *w)
{
    (void)w;
    return nb_softplus(x, p[0], p[1]);
}
const nb_activation nb_act_softplus = {.name = "softplus",
                                       .n_params = 2,
                                       .param_names = {"beta", "threshold"},
                                       .defaults = {1, 20},
                                       .apply = apply,
                                       .n_kinks = 1,
                                       .kinks = {20},
                                       .pointwise = true};
