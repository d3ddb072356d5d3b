/* ops/math.c — the pointwise ops of arithmetic: neg, scalar add and multiply,
 * pow with a scalar exponent, exp, log, sqrt, abs, clamp. Each is f and dy*f'. */
#include <math.h>
#include "kernels/vmath.h"
#include "ops/pointwise.h"

/* neg: y = -x, dx = -dy */
static inline nb_real neg_f(nb_real x, const nb_real *p)
{
    (void)p;
    return -x;
}
static inline nb_real neg_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)x;
    (void)y;
    (void)p;
    return -dy;
}
NB_DEFINE_POINTWISE(neg, neg_f, neg_b, 0);

/* add_scalar: y = x + s, dx = dy */
static inline nb_real adds_f(nb_real x, const nb_real *p) { return x + p[0]; }
static inline nb_real adds_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)x;
    (void)y;
    (void)p;
    return dy;
}
NB_DEFINE_POINTWISE(add_scalar, adds_f, adds_b, 1);

/* mul_scalar: y = x * s, dx = dy * s */
static inline nb_real muls_f(nb_real x, const nb_real *p) { return x * p[0]; }
static inline nb_real muls_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)x;
    (void)y;
    return dy * p[0];
}
NB_DEFINE_POINTWISE(mul_scalar, muls_f, muls_b, 1);

/* pow: y = x^e, dx = dy * e * x^(e-1); 0 when e == 0 (as PyTorch's pow_backward). */
static inline nb_real pow_f(nb_real x, const nb_real *p)
{
    return p[0] == 2 ? x * x : p[0] == 1 ? x : (nb_real)pow(x, p[0]);
}
static inline nb_real pow_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    nb_real e = p[0];
    return e == 0 ? 0 : e == 2 ? 2 * x * dy : e == 1 ? dy : dy * e * (nb_real)pow(x, e - 1);
}
NB_DEFINE_POINTWISE(pow, pow_f, pow_b, 1);

/* exp: y = e^x, dx = dy * y */
static inline nb_real exp_f(nb_real x, const nb_real *p)
{
    (void)p;
    return nb_vexp(x);
}
static inline nb_real exp_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)x;
    (void)p;
    return dy * y;
}
NB_DEFINE_POINTWISE(exp, exp_f, exp_b, 0);

/* log: y = ln x, dx = dy / x */
static inline nb_real log_f(nb_real x, const nb_real *p)
{
    (void)p;
    return nb_vlog(x);
}
static inline nb_real log_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    (void)p;
    return dy / x;
}
NB_DEFINE_POINTWISE(log, log_f, log_b, 0);

/* sqrt: y = √x, dx = dy / (2y) (PyTorch's formula: inf at 0) */
static inline nb_real sqrt_f(nb_real x, const nb_real *p)
{
    (void)p;
    return sqrt(x);
}
static inline nb_real sqrt_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)x;
    (void)p;
    return dy / (2 * y);
}
NB_DEFINE_POINTWISE(sqrt, sqrt_f, sqrt_b, 0);

/* abs: y = |x|, dx = dy * sign(x), sign(0) = 0 (PyTorch's choice) */
static inline nb_real abs_f(nb_real x, const nb_real *p)
{
    (void)p;
    return x < 0 ? -x : x;
}
static inline nb_real abs_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    (void)p;
    return x > 0 ? dy : x < 0 ? -dy : 0;
}
NB_DEFINE_POINTWISE(abs, abs_f, abs_b, 0);

/* clamp: y = min(max(x, lo), hi); dx = dy where lo <= x <= hi, else 0 (PyTorch) */
static inline nb_real clamp_f(nb_real x, const nb_real *p)
{
    nb_real y = x < p[0] ? p[0] : x;
    return y > p[1] ? p[1] : y;
}
static inline nb_real clamp_b(nb_real x, nb_real y, nb_real dy, const nb_real *p)
{
    (void)y;
    return x >= p[0] && x <= p[1] ? dy : 0;
}
NB_DEFINE_POINTWISE(clamp, clamp_f, clamp_b, 2);

nb_tensor *nb_neg(nb_tensor *x) { return nb_pointwise(&nb_pw_neg, x, NULL); }
nb_tensor *nb_add_scalar(nb_tensor *x, nb_real s) { return nb_pointwise(&nb_pw_add_scalar, x, &s); }
nb_tensor *nb_mul_scalar(nb_tensor *x, nb_real s) { return nb_pointwise(&nb_pw_mul_scalar, x, &s); }
nb_tensor *nb_pow(nb_tensor *x, nb_real e) { return nb_pointwise(&nb_pw_pow, x, &e); }
nb_tensor *nb_exp(nb_tensor *x) { return nb_pointwise(&nb_pw_exp, x, NULL); }
nb_tensor *nb_log(nb_tensor *x) { return nb_pointwise(&nb_pw_log, x, NULL); }
nb_tensor *nb_sqrt(nb_tensor *x) { return nb_pointwise(&nb_pw_sqrt, x, NULL); }
nb_tensor *nb_abs(nb_tensor *x) { return nb_pointwise(&nb_pw_abs, x, NULL); }

nb_tensor *nb_clamp(nb_tensor *x, nb_real lo, nb_real hi)
{
    if (lo > hi)
        return nb_error(NB_ERR_ARG, "clamp: min %g is greater than max %g", (double)lo, (double)hi);
    return nb_pointwise(&nb_pw_clamp, x, (nb_real[]){lo, hi});
}
