/* activations/softsign.c — torch.nn.Softsign:
 *   y = x / (1 + |x|),  dy/dx = 1 / (1 + |x|)^2
 * (PyTorch builds it from abs and div; autograd through them gives
 * 1/(1+|x|) - x sign(x)/(1+|x|)^2, the same, also at 0 where sign(0) = 0.)
 * f' is continuous at 0 (1 on both sides). */
#include "activations/activation.h"

static inline nb_real softsign_f(nb_real x, const nb_real *p)
{
    (void)p;
    return x / (1 + fabs(x));
}
static inline nb_real softsign_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    (void)p;
    nb_real d = 1 + fabs(x);
    return dy / (d * d);
}
NB_DEFINE_POINTWISE(softsign, softsign_f, softsign_b, 0);

nb_tensor *nb_softsign(nb_tensor *x) { return nb_pointwise(&nb_pw_softsign, x, NULL); }

NB_POINTWISE_ACTIVATION(softsign, .class_name = "Softsign", .n_kinks = 0);
