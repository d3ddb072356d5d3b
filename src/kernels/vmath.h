/* kernels/vmath.h — vector-friendly elementary functions on nb_real.
 *
 * Every function here is `static inline` and branch-free: special cases are
 * handled by clamping the argument and by selects written as bit blends
 * (nb__sel, see below), bit casts go through memcpy, integer work is done on
 * 32-bit lanes. A loop
 *     for (i = 0; i < n; i++) y[i] = nb_vtanh(x[i]);
 * compiled at -O2/-O3 (GCC >= 12) inside a function marked NB_VECTORIZE
 * (kernels/simd.h:
 *     __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))))
 * or target("avx2,fma") is auto-vectorized (8 or 16 lanes). No libm call is
 * made in the float32 build. Do not compile with -ffast-math: NaN/inf
 * handling relies on IEEE comparisons and the "x + 0x1.8p23 - 0x1.8p23"
 * rounding trick, which -ffast-math folds away.
 *
 * No fmaf() is used on purpose: the code is accurate with separately rounded
 * multiply and add, so the "default", "arch=x86-64-v3" (AVX2) and
 * "arch=x86-64-v4" (AVX-512) clones (and
 * -march=native builds, since the project compiles in ISO C11 mode where GCC
 * does not contract a*b+c) return bit-identical results. Exception: the
 * transcendental activation loops are compiled with NB_VECTORIZE_FMA
 * (kernels/simd.h), which lets GCC contract a*b+c into fused multiply-adds in
 * their x86-64-v3 and v4 clones; there these functions round differently (by
 * a bit, not beyond the activations' bounds in tests/test_act_ulp.c) from
 * the default clone. The bounds below are for separate roundings.
 *
 * Float64 build (NABLA_F64): each function calls the libm double function;
 * that build is the reference for gradient checks and wants full accuracy.
 *
 * Error bounds (float32): maximum distance, counted in floats, from the
 * double libm result rounded to float. Exhaustive over all 2^32 inputs for
 * exp, expm1, log, log1p, tanh, erf, sigmoid; softplus over the ~50M points
 * of tests/test_vmath.c (every 97th bit pattern + dense active range):
 *   nb_vexp 1, nb_vexpm1 1, nb_vlog 1, nb_vlog1p 1, nb_vtanh 1, nb_verf 1,
 *   nb_vsigmoid 2, nb_vsoftplus 2.
 * tests/test_vmath.c asserts exactly these bounds. nb_vncdf (gelu's normal
 * CDF) is checked through gelu by tests/test_act_ulp.c; its measured error
 * is given at its definition (<= 3 ulp for x >= -1.5, more in the left tail).
 *
 * Performance note: without FMA these loops are bound by the latency of
 * their dependent chains (a Horner chain of n terms is 2n dependent
 * operations) as much as by throughput; prefer short chains (see nb_vncdff).
 * With FMA contraction (the activation loops' AVX2/AVX-512 clones) they are
 * throughput-bound: Estrin's scheme for the degree-9 log1p polynomial, tried,
 * was no faster there.
 *
 * Sources of technique and coefficients:
 *  - exp, log, tanh: Cody-Waite reduction and the minimax coefficients of
 *    Stephen L. Moshier's Cephes library (single/expf.c, logf.c, tanhf.c).
 *  - log mantissa split at sqrt(1/2) through one integer subtraction, as in
 *    musl's logf.
 *  - expm1: reduction as in FreeBSD's s_expm1f.c (2^k*(expm1(r)+1)-1); the
 *    polynomial for (expm1(r)-r-r^2/2)/r^3 was fitted for this file
 *    (Chebyshev interpolation in mpmath on [-0.36, 0.36], rel. err 2^-23.4).
 *  - log1p: Goldberg's correction term (u = 1+x, log(u) + (x-(u-1))/u).
 *  - erf: the two minimax polynomials of ARM optimized-routines math/erff.c
 *    (MIT): x + x*A(x^2) below 0.921875, 1 - exp(-B(|x|)) up to 4.
 *  - log1p on [0, 1] (softplus) and -log(erfc(t/sqrt 2)) (normal CDF):
 *    Chebyshev interpolation in mpmath, fitted for this file.
 */
#ifndef NABLA_KERNELS_VMATH_H
#define NABLA_KERNELS_VMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nabla/config.h"

/* ---- bit casts -------------------------------------------------------- */

static inline uint32_t nb__f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
static inline float nb__u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* c ? a : b as a bit blend. Plain ternaries on computed floats are turned
 * into branches by GCC (jump threading, sinking) and then, under the default
 * -ftrapping-math, cannot be if-converted back (speculating an FP operation
 * might raise a flag), which blocks vectorization on AVX2 and SSE. A blend
 * keeps both operands live, so both are computed and the loop vectorizes.
 * c must be 0 or 1 (a comparison); combine comparisons with & and |. */
static inline float nb__sel(int c, float a, float b)
{
    uint32_t m = (uint32_t)0 - (uint32_t)c;
    return nb__u2f((nb__f2u(a) & m) | (nb__f2u(b) & ~m));
}

/* x with the sign bit of s ORed in (for odd functions whose magnitude was
 * computed on |x|; also restores -0). */
static inline float nb__orsignf(float x, float s) { return nb__u2f(nb__f2u(x) | (nb__f2u(s) & 0x80000000u)); }

#define NB__SHIFTER 0x1.8p23f /* adding it rounds |t| < 2^22 to an integer */
#define NB__LOG2E 0x1.715476p0f
#define NB__LN2HI 0x1.62e4p-1f    /* 15 significant bits: k*LN2HI exact, |k| <= 255 */
#define NB__LN2LO 0x1.7f7d1cp-20f /* ln2 - LN2HI */

/* ---- exp -------------------------------------------------------------- */

/* e^x = 2^k e^r, k = rint(x/ln2), r = x - k ln2 in [-ln2/2, ln2/2]
 * (two-constant Cody-Waite, exact first product). e^r = 1 + r + r^2 P(r),
 * P of degree 5 (Cephes expf coefficients). The scale 2^k is applied as two
 * normal factors 2^(k/2) 2^(k-k/2), so results in the subnormal range are
 * rounded once: gradual underflow is correct down to e^-103.97 = 2^-150.
 * x > 88.7228 -> +inf, x < -103.98 -> 0, NaN -> NaN.
 * Measured: <= 1 ulp on the whole range (incl. subnormal results). */
/* The shared core of nb_vexpf and nb__vexpnf: *k = rint(x / ln 2) and
 * e^r for r = x - k ln 2 (Cody-Waite, degree-7 Cephes polynomial), so that
 * e^x = e^r 2^k. */
static inline float nb__exp_core(float x, int32_t *k)
{
    float kf = x * NB__LOG2E + NB__SHIFTER;
    *k = (int32_t)(nb__f2u(kf) - 0x4B400000u);
    kf -= NB__SHIFTER;
    float r = x - kf * NB__LN2HI;
    r = r - kf * NB__LN2LO;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    return (p * (r * r) + r) + 1.0f;
}

static inline float nb_vexpf(float x)
{
    float xc = nb__sel(x > 89.0f, 89.0f, x); /* NaN fails both compares */
    xc = nb__sel(xc < -104.0f, -104.0f, xc);
    int32_t k; /* rint(x/ln2) in [-150, 129] */
    float y = nb__exp_core(xc, &k);
    int32_t k1 = k >> 1, k2 = k - k1; /* floor(k/2) in [-75, 64], k2 in [-75, 65] */
    float s1 = nb__u2f((uint32_t)(k1 + 127) << 23);
    float s2 = nb__u2f((uint32_t)(k2 + 127) << 23);
    return (y * s1) * s2;
}

/* e^x for x in [-87.33, 88.37] only, where the result is a normal float:
 * nb_vexpf without the clamps and the two-factor scale (one 2^k, k in
 * [-126, 127]); NaN -> NaN. For callers whose argument is known to be in
 * range (erf's -B(|x|) in [-16.6, -0.8], gelu's clamped -x^2/2): bit-identical
 * to nb_vexpf there, about a third fewer operations. */
static inline float nb__vexpnf(float x)
{
    int32_t k;
    float y = nb__exp_core(x, &k);
    return y * nb__u2f((uint32_t)(k + 127) << 23);
}

/* ---- expm1 ------------------------------------------------------------ */

/* e^x - 1 = 2^k (u + 1) - 1 = 2 (u t + (t - 1/2)), t = 2^(k-1),
 * u = e^r - 1 = r + r^2 (1/2 + r Q(r)), Q of degree 4 (fitted, see top).
 * For k = 0 this is u itself (no cancellation near 0); t = 2^(k-1) keeps
 * k = 128 (x in (88.38, 88.72]) finite. x < -18 gives -1, x > 88.7228 +inf.
 * Measured: <= 1 ulp. */
static inline float nb_vexpm1f(float x)
{
    float xc = nb__sel(x > 89.0f, 89.0f, x);
    xc = nb__sel(xc < -18.0f, -18.0f, xc);
    float kf = xc * NB__LOG2E + NB__SHIFTER;
    int32_t k = (int32_t)(nb__f2u(kf) - 0x4B400000u); /* [-26, 129] */
    kf -= NB__SHIFTER;
    float r = xc - kf * NB__LN2HI;
    r = r - kf * NB__LN2LO;
    float q = 0x1.a109f6p-13f;
    q = q * r + 0x1.6d24c8p-10f;
    q = q * r + 0x1.1110f2p-7f;
    q = q * r + 0x1.555510p-5f;
    q = q * r + 0x1.555556p-3f;
    float u = r + (r * r) * (0.5f + r * q);
    float t = nb__u2f((uint32_t)(k - 1 + 127) << 23);
    float y = 2.0f * (u * t + (t - 0.5f));
    return nb__sel(fabsf(x) < 0x1p-24f, x, y); /* tiny (and -0, subnormal): x */
}

/* ---- log -------------------------------------------------------------- */

/* The core shared by log and log1p: log(u) + c for u = 2^e m, given
 * iu = bits(u) - bits(sqrt(1/2)) (so that m is in [sqrt(1/2), sqrt(2)) and
 * f = m - 1 is exact) and the exponent correction eadj (log's prescaling of
 * subnormals): e ln2 + f - f^2/2 + f^3 P(f), P of degree 8 (Cephes logf),
 * with c added to the low-order part. */
static inline float nb__log_core(uint32_t iu, int32_t eadj, float c)
{
    int32_t e = (int32_t)iu >> 23; /* arithmetic shift (GCC) */
    float f = nb__u2f((iu & 0x007fffffu) + 0x3f3504f3u) - 1.0f;
    float ef = (float)(e + eadj);
    float z = f * f;
    float p = 7.0376836292e-2f;
    p = p * f - 1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f - 1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f - 1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f - 2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    float y = p * f * z + (c + ef * NB__LN2LO); /* ln2 = LN2HI + LN2LO */
    y = y - 0.5f * z;
    return (f + y) + ef * NB__LN2HI;
}

/* log(x): the core with c = 0 (0 + ef LN2LO is ef LN2LO exactly: ef is never
 * -0). Subnormal x are prescaled by 2^23. log(0) = -inf, log(x<0) = NaN,
 * log(+inf) = +inf, NaN -> NaN. Measured: <= 1 ulp for all positive x. */
static inline float nb_vlogf(float x)
{
    int sub = x < 0x1p-126f;
    float xs = nb__sel(sub, x * 0x1p23f, x);
    float y = nb__log_core(nb__f2u(xs) - 0x3f3504f3u, -23 * sub, 0.0f);
    float special = nb__sel(x == 0.0f, -INFINITY, nb__sel(x < 0.0f, NAN, x));
    return nb__sel((x > 0.0f) & (x < INFINITY), y, special);
}

/* ---- log1p ------------------------------------------------------------ */

/* u = 1 + x (rounded), c = x - (u - 1) (or 1 - (u - x) when u >= 2: exact
 * rounding error of the sum), log1p(x) = log(u) + c/u: the core above
 * with c/u; for |x| < 2^-24, u = 1 and the result is c = x exactly.
 * log1p(-1) = -inf, x < -1 -> NaN, +inf -> +inf. Measured: <= 1 ulp. */
static inline float nb_vlog1pf(float x)
{
    float u = 1.0f + x;
    float c = nb__sel(u >= 2.0f, 1.0f - (u - x), x - (u - 1.0f));
    float y = nb__log_core(nb__f2u(u) - 0x3f3504f3u, 0, c / u);
    y = nb__orsignf(y, x); /* log1p(-0) = -0 */
    float special = nb__sel(x == -1.0f, -INFINITY, nb__sel(x < -1.0f, NAN, x));
    return nb__sel((x > -1.0f) & (x < INFINITY), y, special);
}

/* ---- tanh ------------------------------------------------------------- */

/* |x| < 0.625: x + x^3 P(x^2), P of degree 4 (Cephes tanhf);
 * else 1 - 2/(e^(2|x|) + 1) with the sign of x; |x| is clamped at 10
 * (tanh(10) rounds to 1), so tanh(+-inf) = tanh(+-1000) = +-1 exactly.
 * Tiny x returns x (x^3 underflows), NaN -> NaN. Measured: <= 1 ulp. */
static inline float nb_vtanhf(float x)
{
    float a = fabsf(x);
    float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    float small = (p * z) * x + x;
    float ac = nb__sel(a > 10.0f, 10.0f, a);
    float s = nb_vexpf(ac + ac);
    float big = 1.0f - 2.0f / (s + 1.0f);
    float r = nb__sel(a < 0.625f, small, big); /* NaN: big is NaN */
    return nb__orsignf(r, x);                  /* odd; keeps tanh(-0) = -0 */
}

/* ---- erf -------------------------------------------------------------- */

/* |x| < 0.921875: x + x A(x^2) (degree 5 in x^2); |x| < 4:
 * 1 - exp(-B(|x|)), B(a) = a + a (B0 + B1 a + ... + B6 a^6);
 * |x| >= 4: +-1 (erf(4) rounds to 1). Coefficients: ARM optimized-routines
 * erff_data.c. The argument of B is clamped at 4 so no inf/NaN arises there.
 * Measured: <= 1 ulp (no fma used). */
static inline float nb_verff(float x)
{
    float a = fabsf(x);
    float z = x * x;
    float p = -0x1.3a1a82p-11f;
    p = p * z + 0x1.473f48p-08f;
    p = p * z - 0x1.b68bd2p-06f;
    p = p * z + 0x1.ce1a46p-04f;
    p = p * z - 0x1.8126e0p-02f;
    p = p * z + 0x1.06eba6p-03f;
    float small = p * x + x;
    float ac = nb__sel(a > 4.0f, 4.0f, a);
    float q = 0x1.222900p-16f;
    q = q * ac - 0x1.91d2ccp-12f;
    q = q * ac + 0x1.fd1336p-9f;
    q = q * ac - 0x1.8d6300p-6f;
    q = q * ac + 0x1.b55cb0p-4f;
    q = q * ac + 0x1.450aa0p-1f;
    q = q * ac + 0x1.079d0cp-3f;
    q = q * ac + ac;
    float big = 1.0f - nb__vexpnf(-q); /* -q in [-16.6, -0.8] */
    big = nb__sel(a >= 4.0f, 1.0f, big);
    big = nb__orsignf(big, x);
    return nb__sel(a < 0.921875f, small, big); /* NaN: big is NaN */
}

/* ---- standard normal CDF (gelu) ---------------------------------------- */

/* Phi(x) = erfc(-x/sqrt 2)/2 through one exponential and one polynomial:
 * with t = |x| and B(t) = -log(erfc(t/sqrt 2)) (smooth, B(0) = 0, B ~ t^2/2
 * + log(t sqrt(pi/2)) for large t), Phi(-t) = e^-B(t)/2 and
 * Phi(t) = 1 - e^-B(t)/2. B: degree 11 (Chebyshev interpolation on
 * [0, 5.657] in mpmath, fitted for this file; |error| < 2.7e-8, constant term
 * dropped; coefficients of t^11 ... t^1 below). One formula for every x: no small-|x| branch, and no 1 + erf
 * cancellation for x < 0 (Phi(-5) = 2.9e-7 keeps its relative accuracy).
 * t is clamped at 5.65625 (Phi(5.65625) rounds to 1); below -5.65625 the
 * result is 0 (Phi < 7.8e-9 there). NaN -> NaN.
 * Measured over every float of [-6, 6] (x Phi(x) against double erfc): <= 3
 * ulp for x >= -1.5; for x < -1.5 the rounding of B (up to 16) dominates,
 * <= 7 ulp down to -2, 13 down to -3, 31 down to -4.5, 107 down to -5.5
 * (1 + erf(x/sqrt 2) lost every digit there: 5.6e6 ulp at -5.5). */
static inline float nb_vncdff(float x)
{
    float t = fabsf(x);
    float tc = nb__sel(t > 5.65625f, 5.65625f, t); /* NaN stays NaN */
    /* B(t)/t = E(t^2) + t O(t^2): two short chains instead of one Horner
     * chain of 11 (the loop is latency-bound: 20% faster, the tail error
     * below grows from 52 to 107 ulp) */
    float z = tc * tc;
    float e = -0x1.db6eeep-30f;
    e = e * z - 0x1.1ea734p-20f;
    e = e * z - 0x1.01dac8p-14f;
    e = e * z - 0x1.4316dap-17f;
    e = e * z + 0x1.29e1d8p-5f;
    e = e * z + 0x1.988478p-1f;
    float o = 0x1.14d74cp-24f;
    o = o * z + 0x1.588e68p-17f;
    o = o * z + 0x1.b4ed9ep-13f;
    o = o * z - 0x1.3bf732p-8f;
    o = o * z + 0x1.45f0b4p-2f;
    float b = o * tc + e;
    float h = 0.5f * nb__vexpnf(-(b * tc)); /* -B in [-16.6, 0] */
    float r = nb__sel(x >= 0.0f, 1.0f - h, h);
    return nb__sel(x < -5.65625f, 0.0f, r);
}

/* ---- sigmoid ---------------------------------------------------------- */

/* sigma(x) = 1/(1 + e^-x) for x >= 0, e^x/(1 + e^x) for x < 0: with
 * e = e^-|x| in (0, 1], sigma = (x >= 0 ? 1 : e) / (1 + e). No overflow, no
 * cancellation; tiny results (x < -87.3) inherit exp's gradual underflow.
 * sigmoid(-1000) = 0, sigmoid(1000) = 1, NaN -> NaN. Measured: <= 2 ulp. */
static inline float nb_vsigmoidf(float x)
{
    float e = nb_vexpf(-fabsf(x));
    float num = nb__sel(x >= 0.0f, 1.0f, e);
    return num / (1.0f + e);
}

/* ---- softplus --------------------------------------------------------- */

/* log1p(e) for e in [0, 1] only (the e = e^-|x| of softplus and logsigmoid):
 * e + e^2 P(e), P of degree 9 (Chebyshev interpolation of (log1p(e) - e)/e^2
 * on [0, 1], fitted for this file in mpmath; |error of P| < 5e-9, below the
 * float rounding of its coefficients). No argument reduction, no division:
 * log1p is analytic on [0, 1], far enough from its singularity at -1.
 * e + e^2 P keeps the relative accuracy for tiny e (gives e), and NaN -> NaN.
 * Measured: <= 1 ulp on [0, 1] (every float). */
static inline float nb__vlog1p01f(float e)
{
    float p = 0x1.6f3782p-9f;
    p = p * e - 0x1.198c0ap-6f;
    p = p * e + 0x1.93f282p-5f;
    p = p * e - 0x1.7659b4p-4f;
    p = p * e + 0x1.0aec5ep-3f;
    p = p * e - 0x1.4f2888p-3f;
    p = p * e + 0x1.98b6a0p-3f;
    p = p * e - 0x1.ffef04p-3f;
    p = p * e + 0x1.555514p-2f;
    p = p * e - 0.5f;
    return (e * e) * p + e;
}

/* log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large x (gives
 * x), and for x -> -inf log1p(e) = e (gives e^x). e^-|x| is in (0, 1], so
 * log1p is the short polynomial above, not the general nb_vlog1pf (its
 * reduction and its division cost as much as the exponential).
 * softplus(-inf) = 0, softplus(+inf) = +inf, NaN -> NaN. Measured: <= 2 ulp. */
static inline float nb_vsoftplusf(float x)
{
    float e = nb_vexpf(-fabsf(x));
    float m = nb__sel(x > 0.0f, x, 0.0f);
    return m + nb__vlog1p01f(e);
}

/* ---- nb_real dispatch ------------------------------------------------- */

#ifdef NABLA_F64
static inline double nb_vexp(double x) { return exp(x); }
static inline double nb_vexpn(double x) { return exp(x); }
static inline double nb_vexpm1(double x) { return expm1(x); }
static inline double nb_vlog(double x) { return log(x); }
static inline double nb_vlog1p(double x) { return log1p(x); }
static inline double nb_vtanh(double x) { return tanh(x); }
static inline double nb_verf(double x) { return erf(x); }
static inline double nb_vncdf(double x) { return 0.5 * erfc(-x * 0.70710678118654752440); }
static inline double nb_vsigmoid(double x)
{
    double e = exp(-fabs(x));
    return (x >= 0.0 ? 1.0 : e) / (1.0 + e);
}
static inline double nb_vsoftplus(double x) { return (x > 0.0 ? x : 0.0) + log1p(exp(-fabs(x))); }
#else
static inline float nb_vexp(float x) { return nb_vexpf(x); }
static inline float nb_vexpn(float x) { return nb__vexpnf(x); } /* x in [-87.33, 88.37] */
static inline float nb_vexpm1(float x) { return nb_vexpm1f(x); }
static inline float nb_vlog(float x) { return nb_vlogf(x); }
static inline float nb_vlog1p(float x) { return nb_vlog1pf(x); }
static inline float nb_vtanh(float x) { return nb_vtanhf(x); }
static inline float nb_verf(float x) { return nb_verff(x); }
static inline float nb_vncdf(float x) { return nb_vncdff(x); }
static inline float nb_vsigmoid(float x) { return nb_vsigmoidf(x); }
static inline float nb_vsoftplus(float x) { return nb_vsoftplusf(x); }
#endif

#endif /* NABLA_KERNELS_VMATH_H */
