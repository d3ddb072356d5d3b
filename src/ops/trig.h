/* ops/trig.h — the mathematics of sin and cos, once, for the ops nb_sin and
 * nb_cos (ops/trig.c) and the sinusoid activation (activations/sinusoid.c):
 *   sin: y = sin x, dx = dy cos x;   cos: y = cos x, dx = -dy sin x.
 * One libm call per element (the float versions in the float32 build):
 * accurate for any argument. */
#ifndef NB_OPS_TRIG_H
#define NB_OPS_TRIG_H

#include <math.h>
#include "ops/pointwise.h"

#ifdef NABLA_F64
#define NB_SIN sin
#define NB_COS cos
#else
#define NB_SIN sinf
#define NB_COS cosf
#endif

static inline nb_real nb_sin_f(nb_real x, const nb_real *p)
{
    (void)p;
    return NB_SIN(x);
}
static inline nb_real nb_sin_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    (void)p;
    return dy * NB_COS(x);
}
static inline nb_real nb_cos_f(nb_real x, const nb_real *p)
{
    (void)p;
    return NB_COS(x);
}
static inline nb_real nb_cos_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    (void)p;
    return -dy * NB_SIN(x);
}

#endif
