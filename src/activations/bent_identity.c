/* activations/bent_identity.c — the bent identity (not in PyTorch; listed
 * e.g. in Wikipedia's table of activation functions):
 *   y = (sqrt(x^2 + 1) - 1)/2 + x,  dy/dx = x / (2 sqrt(x^2 + 1)) + 1
 * Written without cancellation near 0 and without overflow of x^2:
 *   (sqrt(x^2 + 1) - 1)/2 = |x| c / 2,  c = |x| / (r + 1),  r = sqrt(x^2 + 1)
 * and for |x| > 1, with g = 1/|x|: c = 1 / (sqrt(1 + g^2) + g) and
 * x / r = sign(x) / sqrt(1 + g^2). */
#include "activations/activation.h"

/* For |x| > 1: sqrt(1 + 1/x^2) = r/|x|, else r = sqrt(x^2 + 1). */
static inline nb_real root(nb_real a, nb_real g, int big)
{
    return sqrt(nb_act_sel(big, 1 + g * g, a * a + 1));
}
static inline nb_real bent_identity_f(nb_real x, const nb_real *p)
{
    (void)p;
    nb_real a = fabs(x), g = 1 / a; /* g = inf at 0: only in the branch not taken */
    int big = a > 1;
    nb_real r = root(a, g, big);
    nb_real c = nb_act_sel(big, 1 / (r + g), a / (r + 1));
    return x + (nb_real)0.5 * (a * c);
}
static inline nb_real bent_identity_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    (void)p;
    nb_real a = fabs(x), g = 1 / a;
    int big = a > 1;
    nb_real num = nb_act_sel(big, nb_act_sel(x < 0, -1, 1), x);
    return dy * ((nb_real)0.5 * (num / root(a, g, big)) + 1);
}
NB_DEFINE_POINTWISE(bent_identity, bent_identity_f, bent_identity_b, 0);

nb_tensor *nb_bent_identity(nb_tensor *x) { return nb_pointwise(&nb_pw_bent_identity, x, NULL); }

NB_POINTWISE_ACTIVATION(bent_identity, .class_name = "BentIdentity", .n_kinks = 0);
