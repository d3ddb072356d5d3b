/* activations/sinusoid.c — y = sin x, dy/dx = cos x (periodic activation, as
 * in SIREN, Sitzmann et al. 2020). One libm sin/cos call per element (the
 * float versions in the float32 build): accurate for any argument. */
#include "activations/activation.h"

#ifdef NABLA_F64
#define SIN sin
#define COS cos
#else
#define SIN sinf
#define COS cosf
#endif

static inline nb_real sinusoid_f(nb_real x, const nb_real *p)
{
    (void)p;
    return SIN(x);
}
static inline nb_real sinusoid_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    (void)p;
    return dy * COS(x);
}
NB_DEFINE_POINTWISE(sinusoid, sinusoid_f, sinusoid_b, 0);

nb_tensor *nb_sinusoid(nb_tensor *x) { return nb_pointwise(&nb_pw_sinusoid, x, NULL); }

NB_POINTWISE_ACTIVATION(sinusoid, .n_kinks = 0);
