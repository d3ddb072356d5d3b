/* tests/test_vmath.c — accuracy of the float32 elementary functions of
 * src/kernels/vmath.h against the double libm function rounded to float.
 *
 * Error unit: the distance between the ordered integer representations of the
 * two floats (0 = same float, 1 = neighbours, across zero and into the
 * subnormals alike), so "ulp" here is an integer count of floats. Both NaN
 * counts as 0, exactly one NaN as a failure.
 *
 * For each function: (a) every 97th float bit pattern over the whole range,
 * (b) a dense sweep (~6M points) of the range where the function is not
 * trivially constant, (c) special values with exact expectations. The sweeps
 * run through a loop compiled with target_clones (vectorized) and a sample of
 * points is recomputed through a non-inlined scalar call to check that both
 * give bit-identical results. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernels/vmath.h"

enum { F_EXP, F_EXPM1, F_LOG, F_LOG1P, F_TANH, F_ERF, F_SIGMOID, F_SOFTPLUS };

static const char *const names[] = {"exp", "expm1", "log", "log1p", "tanh", "erf", "sigmoid", "softplus"};

/* ---- reference (double libm, then rounded to float) ------------------- */

static double sigmoid_d(double x)
{
    double e = exp(-fabs(x));
    return (x >= 0.0 ? 1.0 : e) / (1.0 + e);
}
static double softplus_d(double x) { return (x > 0.0 ? x : 0.0) + log1p(exp(-fabs(x))); }

static float ref(int fn, float xf)
{
    double x = xf;
    switch (fn) {
    case F_EXP: return (float)exp(x);
    case F_EXPM1: return (float)expm1(x);
    case F_LOG: return (float)log(x);
    case F_LOG1P: return (float)log1p(x);
    case F_TANH: return (float)tanh(x);
    case F_ERF: return (float)erf(x);
    case F_SIGMOID: return (float)sigmoid_d(x);
    default: return (float)softplus_d(x);
    }
}

/* ---- the functions under test: vectorized batch and scalar call -------- */

#define BATCH_LOOP(F)                                                                                        \
    for (size_t i = 0; i < n; i++)                                                                           \
    y[i] = F(x[i])

__attribute__((target_clones("avx512f", "avx2", "default"))) static void
apply_vec(int fn, const float *restrict x, float *restrict y, size_t n)
{
    switch (fn) {
    case F_EXP: BATCH_LOOP(nb_vexpf); break;
    case F_EXPM1: BATCH_LOOP(nb_vexpm1f); break;
    case F_LOG: BATCH_LOOP(nb_vlogf); break;
    case F_LOG1P: BATCH_LOOP(nb_vlog1pf); break;
    case F_TANH: BATCH_LOOP(nb_vtanhf); break;
    case F_ERF: BATCH_LOOP(nb_verff); break;
    case F_SIGMOID: BATCH_LOOP(nb_vsigmoidf); break;
    default: BATCH_LOOP(nb_vsoftplusf); break;
    }
}

__attribute__((noinline)) static float apply_scalar(int fn, float x)
{
    switch (fn) {
    case F_EXP: return nb_vexpf(x);
    case F_EXPM1: return nb_vexpm1f(x);
    case F_LOG: return nb_vlogf(x);
    case F_LOG1P: return nb_vlog1pf(x);
    case F_TANH: return nb_vtanhf(x);
    case F_ERF: return nb_verff(x);
    case F_SIGMOID: return nb_vsigmoidf(x);
    default: return nb_vsoftplusf(x);
    }
}

/* ---- ulp distance ------------------------------------------------------ */

static int64_t ordered(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? -(int64_t)(u & 0x7fffffffu) : (int64_t)u;
}

static int64_t ulp_dist(float a, float b)
{
    if (isnan(a) || isnan(b))
        return (isnan(a) && isnan(b)) ? 0 : INT64_MAX;
    int64_t d = ordered(a) - ordered(b);
    return d < 0 ? -d : d;
}

/* ---- sweeps ------------------------------------------------------------ */

typedef struct {
    int64_t max_ulp;
    float worst_x, worst_got, worst_want;
    uint64_t count, mismatched_scalar;
} stats;

#define NB_BUF 4096

static void check_batch(int fn, const float *x, size_t n, stats *st)
{
    float y[NB_BUF];
    apply_vec(fn, x, y, n);
    for (size_t i = 0; i < n; i++) {
        float want = ref(fn, x[i]);
        int64_t d = ulp_dist(y[i], want);
        if (d > st->max_ulp) {
            st->max_ulp = d;
            st->worst_x = x[i];
            st->worst_got = y[i];
            st->worst_want = want;
        }
        /* scalar vs vectorized: bit-identical (sampled) */
        if (i % 61 == 0) {
            float s = apply_scalar(fn, x[i]);
            if (memcmp(&s, &y[i], sizeof s) != 0 && !(isnan(s) && isnan(y[i])))
                st->mismatched_scalar++;
        }
    }
    st->count += n;
}

/* Bit patterns from lo to hi (inclusive, as uint32) by step. */
static void sweep_bits(int fn, uint64_t lo, uint64_t hi, uint64_t step, stats *st)
{
    float x[NB_BUF];
    size_t n = 0;
    for (uint64_t b = lo; b <= hi; b += step) {
        uint32_t u = (uint32_t)b;
        memcpy(&x[n], &u, sizeof u);
        if (++n == NB_BUF) {
            check_batch(fn, x, n, st);
            n = 0;
        }
    }
    if (n)
        check_batch(fn, x, n, st);
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Every float in [lo, hi] (same sign) at a stride that tests about npts. */
static void sweep_range(int fn, float lo, float hi, uint64_t npts, stats *st)
{
    uint32_t a = bits_of(lo), b = bits_of(hi);
    if (a > b) {
        uint32_t t = a;
        a = b;
        b = t;
    }
    uint64_t step = ((uint64_t)b - a) / npts + 1;
    sweep_bits(fn, a, b, step, st);
}

static void run_function(int fn, int64_t bound, float lo, float hi)
{
    stats st = {0};
    sweep_bits(fn, 0, 0xffffffffu, 97, &st); /* (a) whole range */
    /* (b) dense sweep of [lo, hi], each sign side separately */
    if (lo < 0.0f)
        sweep_range(fn, -0.0f, lo, 3000000, &st);
    if (hi > 0.0f)
        sweep_range(fn, 0.0f, hi, 3000000, &st);
    fprintf(stderr,
            "vmath %-8s max %lld ulp at x=%a (%.9g): got %.9g want %.9g"
            "  [%llu points, bound %lld]\n",
            names[fn], (long long)st.max_ulp, st.worst_x, st.worst_x, st.worst_got, st.worst_want,
            (unsigned long long)st.count, (long long)bound);
    cr_expect_eq(st.mismatched_scalar, 0, "%s: %llu scalar/vector mismatches", names[fn],
                 (unsigned long long)st.mismatched_scalar);
    cr_assert_leq(st.max_ulp, bound, "%s: max error %lld ulp at x=%a (bound %lld)", names[fn],
                  (long long)st.max_ulp, st.worst_x, (long long)bound);
}

/* ---- special values ------------------------------------------------------ */

static const float specials[] = {
    0.0f,     -0.0f,        INFINITY,      -INFINITY, NAN,        1000.0f, -1000.0f, 88.72f,
    -88.72f,  88.7228394f,  88.7228470f,   87.3f,     -87.3f,     103.97f, -103.97f, -103.972f,
    -104.0f,  FLT_TRUE_MIN, -FLT_TRUE_MIN, 0x1p-140f, -0x1p-140f, FLT_MIN, -FLT_MIN, 1e-3f,
    -1e-3f,   30.0f,        -30.0f,        1.0f,      -1.0f,      0.5f,    -0.5f,    2.0f,
    -2.0f,    1e-30f,       -1e-30f,       FLT_MAX,   -FLT_MAX,   0.625f,  -0.625f,  0.921875f,
    4.0f,     -4.0f,        80.0f,         -80.0f,    9.0f,       10.0f,   -17.5f,   -18.0f,
    0x1p-25f, 0x1p-24f,     -0.99999994f,  16.0f,     -16.0f,
};

static void check_specials(int fn, int64_t bound)
{
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
        float x = specials[i];
        float got = apply_scalar(fn, x), want = ref(fn, x);
        int64_t d = ulp_dist(got, want);
        cr_expect_leq(d, bound, "%s(%a) = %a, want %a (%lld ulp)", names[fn], x, got, want, (long long)d);
        /* signed zeros must match exactly */
        if (want == 0.0f)
            cr_expect(got == 0.0f && signbit(got) == signbit(want), "%s(%a) = %a, want %a", names[fn], x, got,
                      want);
    }
}

/* Bounds (ulp) documented in vmath.h (exhaustively verified offline for all
 * but softplus) and the dense-sweep ranges. */
Test(vmath, exp)
{
    run_function(F_EXP, 1, -104.0f, 89.0f);
    check_specials(F_EXP, 1);
    cr_assert_eq(nb_vexpf(-1000.0f), 0.0f);
    cr_assert_eq(nb_vexpf(1000.0f), INFINITY);
    cr_assert(isnan(nb_vexpf(NAN)));
    cr_assert_eq(nb_vexpf(-INFINITY), 0.0f);
    cr_assert_eq(nb_vexpf(0.0f), 1.0f);
    /* gradual underflow: exp(-103.28) ~ 1.4e-45 is the smallest subnormal */
    cr_assert_eq(nb_vexpf(-103.28f), FLT_TRUE_MIN);
}

Test(vmath, expm1)
{
    run_function(F_EXPM1, 1, -20.0f, 89.0f);
    check_specials(F_EXPM1, 1);
    cr_assert_eq(nb_vexpm1f(-1000.0f), -1.0f);
    cr_assert_eq(nb_vexpm1f(1000.0f), INFINITY);
    cr_assert(isnan(nb_vexpm1f(NAN)));
    cr_assert_eq(nb_vexpm1f(1e-30f), 1e-30f);
}

Test(vmath, log)
{
    run_function(F_LOG, 1, 0.0f, FLT_MAX);
    check_specials(F_LOG, 1);
    cr_assert_eq(nb_vlogf(0.0f), -INFINITY);
    cr_assert_eq(nb_vlogf(-0.0f), -INFINITY);
    cr_assert(isnan(nb_vlogf(-1.0f)));
    cr_assert(isnan(nb_vlogf(-INFINITY)));
    cr_assert(isnan(nb_vlogf(NAN)));
    cr_assert_eq(nb_vlogf(INFINITY), INFINITY);
    cr_assert_eq(nb_vlogf(1.0f), 0.0f);
}

Test(vmath, log1p)
{
    run_function(F_LOG1P, 1, -1.0f, 1e6f);
    check_specials(F_LOG1P, 1);
    cr_assert_eq(nb_vlog1pf(-1.0f), -INFINITY);
    cr_assert(isnan(nb_vlog1pf(-2.0f)));
    cr_assert_eq(nb_vlog1pf(INFINITY), INFINITY);
    cr_assert_eq(nb_vlog1pf(1e-30f), 1e-30f);
}

Test(vmath, tanh)
{
    run_function(F_TANH, 1, -10.0f, 10.0f);
    check_specials(F_TANH, 1);
    cr_assert_eq(nb_vtanhf(1000.0f), 1.0f);
    cr_assert_eq(nb_vtanhf(-1000.0f), -1.0f);
    cr_assert_eq(nb_vtanhf(INFINITY), 1.0f);
    cr_assert_eq(nb_vtanhf(-INFINITY), -1.0f);
    cr_assert_eq(nb_vtanhf(1e-30f), 1e-30f);
    cr_assert_eq(nb_vtanhf(-1e-30f), -1e-30f);
    cr_assert(isnan(nb_vtanhf(NAN)));
}

Test(vmath, erf)
{
    run_function(F_ERF, 1, -4.5f, 4.5f);
    check_specials(F_ERF, 1);
    cr_assert_eq(nb_verff(1000.0f), 1.0f);
    cr_assert_eq(nb_verff(-1000.0f), -1.0f);
    cr_assert_eq(nb_verff(INFINITY), 1.0f);
    cr_assert_eq(nb_verff(-INFINITY), -1.0f);
    cr_assert(isnan(nb_verff(NAN)));
}

Test(vmath, sigmoid)
{
    run_function(F_SIGMOID, 2, -104.0f, 20.0f);
    check_specials(F_SIGMOID, 2);
    cr_assert_eq(nb_vsigmoidf(-1000.0f), 0.0f);
    cr_assert_eq(nb_vsigmoidf(1000.0f), 1.0f);
    cr_assert_eq(nb_vsigmoidf(-INFINITY), 0.0f);
    cr_assert_eq(nb_vsigmoidf(INFINITY), 1.0f);
    cr_assert_eq(nb_vsigmoidf(0.0f), 0.5f);
    cr_assert(isnan(nb_vsigmoidf(NAN)));
    /* tiny results are relatively accurate: sigmoid(-80) = 1.8048513878e-35 */
    cr_assert_leq(ulp_dist(nb_vsigmoidf(-80.0f), 1.80485139e-35f), 2);
}

Test(vmath, softplus)
{
    run_function(F_SOFTPLUS, 2, -104.0f, 20.0f);
    check_specials(F_SOFTPLUS, 2);
    cr_assert_eq(nb_vsoftplusf(1000.0f), 1000.0f);
    cr_assert_eq(nb_vsoftplusf(-1000.0f), 0.0f);
    cr_assert_eq(nb_vsoftplusf(INFINITY), INFINITY);
    cr_assert_eq(nb_vsoftplusf(-INFINITY), 0.0f);
    cr_assert(isnan(nb_vsoftplusf(NAN)));
    cr_assert_leq(ulp_dist(nb_vsoftplusf(-80.0f), 1.80485139e-35f), 2);
}

/* The nb_real names dispatch to the float versions in this (float32) build. */
Test(vmath, dispatch)
{
    cr_assert_eq(sizeof(nb_real), sizeof(float));
    cr_assert_eq(nb_vexp(1.5f), nb_vexpf(1.5f));
    cr_assert_eq(nb_vexpm1(1.5f), nb_vexpm1f(1.5f));
    cr_assert_eq(nb_vlog(1.5f), nb_vlogf(1.5f));
    cr_assert_eq(nb_vlog1p(1.5f), nb_vlog1pf(1.5f));
    cr_assert_eq(nb_vtanh(1.5f), nb_vtanhf(1.5f));
    cr_assert_eq(nb_verf(1.5f), nb_verff(1.5f));
    cr_assert_eq(nb_vsigmoid(1.5f), nb_vsigmoidf(1.5f));
    cr_assert_eq(nb_vsoftplus(1.5f), nb_vsoftplusf(1.5f));
}
