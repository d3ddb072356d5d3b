/* activations/identity.c — y = x, dy/dx = 1 (torch.nn.Identity; a node of its
 * own, so that "no activation" is one more registry entry). */
#include "activations/activation.h"

static inline nb_real identity_f(nb_real x, const nb_real *p)
{
    (void)p;
    return x;
}
static inline nb_real identity_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)x;
    (void)y;
    (void)p;
    return dy;
}
NB_DEFINE_POINTWISE(identity, identity_f, identity_b, 0);

nb_tensor *nb_identity(nb_tensor *x) { return nb_pointwise(&nb_pw_identity, x, NULL); }

NB_POINTWISE_ACTIVATION(identity, .class_name = "Identity", .n_kinks = 0);
