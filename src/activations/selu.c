/* activations/selu.c — torch.nn.SELU (Klambauer et al. 2017, "Self-Normalizing
 * Neural Networks"):
 *   y = scale x for x > 0, else scale alpha (e^x - 1)
 *   dy/dx = scale for x > 0, else scale alpha e^x
 * with PyTorch's full-precision constants (SELU_ALPHA, SELU_SCALE in
 * aten/src/ATen/native/Activation.cpp), which it feeds to elu(x, alpha, scale):
 * the x <= 0 branch includes 0, so selu'(0) = scale alpha. 0 is a kink
 * (scale vs scale alpha). */
#include "activations/activation.h"

#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946

/* elu(x, SELU_ALPHA, SELU_SCALE, 1) of the family (activation.h), the
 * product scale alpha taken in full precision, then rounded */
static inline nb_real selu_f(nb_real x, const nb_real *p)
{
    (void)p;
    return nb_act_elu_f(x, (nb_real)SELU_SCALE, (nb_real)(SELU_SCALE * SELU_ALPHA), 1);
}
static inline nb_real selu_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    (void)p;
    return nb_act_elu_b(x, dy, (nb_real)SELU_SCALE, (nb_real)(SELU_SCALE * SELU_ALPHA), 1);
}
NB_DEFINE_POINTWISE_FMA(selu, selu_f, selu_b, 0);

nb_tensor *nb_selu(nb_tensor *x) { return nb_pointwise(&nb_pw_selu, x, NULL); }

NB_POINTWISE_ACTIVATION(selu, .class_name = "SELU", .n_kinks = 1, .kinks = {0});
