/* tests/test_act_ulp.c — every registry entry in float32 against the float64
 * library on a grid from -1000 to 1000 (dense in [-10, 10]), read from the
 * file tests/gen_act_ref.c wrote (ACT_REF_PATH, a compile definition).
 *
 * The criterion, for each output y32 with float64 reference r: y32 is within
 * 4 ulp of r rounded to float (ulp here: the distance between the ordered
 * integer representations of two floats), or
 *     |y32 - r| <= max(4 ulp(r) + FLT_EPSILON (cond + A s), FLT_MIN)
 * with
 *  - cond = sum_j |dy/dx_j| |x_j| from the reference file: the change an
 *    input rounding of one float ulp can cause. Where a function is
 *    ill-conditioned (gelu_tanh for x << 0 moves by 200 times the relative
 *    change of x at x = -10), float arithmetic inside it cannot keep every
 *    relative digit;
 *  - FLT_MIN: results in (or rounding into) the subnormal range have no
 *    relative precision to keep (silu(-104) = -7e-44 rounds to -0);
 *  - A s, s = max(1, |x|) (the largest |x| of the row for row-wise entries),
 *    only for the formulas in `cancelling` below, PyTorch's own, which
 *    subtract nearly equal numbers: A is 0 for every other entry.
 * NaN against NaN passes; NaN or inf against a finite reference fails.
 * For each activation the worst ulp distance is printed, with the number of
 * points beyond 4 ulp and the worst ratio of their error to the allowance. */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include "common.h"

TestSuite(act_ulp, .init = quiet, .fini = end_step);

static const struct {
    const char *name;
    double a;
} cancelling[] = {
    /* x/2 (1 + erf(x/sqrt 2)): 1 + erf cancels for x < -2 (measured 0.29) */
    {"gelu", 0.5},
    /* x - max - log(sum of exp): the log of a sum near 1 (measured 0.04) */
    {"log_softmax", 0.5},
};

static double cancel_allowance(const char *name)
{
    for (size_t i = 0; i < sizeof cancelling / sizeof cancelling[0]; i++)
        if (strcmp(cancelling[i].name, name) == 0)
            return cancelling[i].a;
    return 0;
}

/* Floats in the order of the reals: ordered integer keys. */
static int64_t key(float f)
{
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return i < 0 ? (int64_t)INT32_MIN - i : i;
}

static void read_exact(FILE *f, void *p, size_t size, size_t count)
{
    cr_assert_eq(fread(p, size, count, f), count, "%s is truncated", ACT_REF_PATH);
}

/* The error of one output is within the criterion above; *ratio gets its
 * error over the allowance when it is more than 4 ulp, else 0. */
static bool accept(float y, double r, double cond, double scale, double a, int64_t *ulps, double *ratio)
{
    *ratio = 0;
    if (isnan(r)) {
        *ulps = isnan(y) ? 0 : INT32_MAX;
        return isnan(y);
    }
    if (!isfinite(y)) {
        *ulps = INT32_MAX;
        return (double)y == r;
    }
    float rf = fabsf((float)r);
    *ulps = llabs(key(y) - key((float)r));
    if (*ulps <= 4)
        return true;
    double err = fabs((double)y - r);
    double allow = 4 * ((double)nextafterf(rf, INFINITY) - rf) + FLT_EPSILON * (cond + a * scale);
    allow = allow > FLT_MIN ? allow : FLT_MIN;
    *ratio = err / allow;
    return err <= allow;
}

Test(act_ulp, float32_within_a_few_ulp_of_float64_from_minus_1000_to_1000)
{
    FILE *f = fopen(ACT_REF_PATH, "rb");
    cr_assert_not_null(f, "cannot open %s", ACT_REF_PATH);
    char magic[8];
    uint64_t hdr[2];
    read_exact(f, magic, 1, 8);
    cr_assert(memcmp(magic, "NBACTREF", 8) == 0, "%s is not an activation reference", ACT_REF_PATH);
    read_exact(f, hdr, sizeof hdr[0], 2);
    int64_t n = (int64_t)hdr[0], rows = n / 4;
    cr_assert(n > 0 && n % 4 == 0 && n < 1000000, "bad grid size %lld", (long long)n);
    cr_assert_eq(hdr[1], (uint64_t)nb_activation_count(), "the reference has %llu entries",
                 (unsigned long long)hdr[1]);
    double *x = malloc((size_t)n * sizeof *x), *r = malloc((size_t)n * sizeof *r),
           *cond = malloc((size_t)n * sizeof *cond), *rowmax = malloc((size_t)rows * sizeof *rowmax);
    cr_assert(x && r && cond && rowmax);
    read_exact(f, x, sizeof *x, (size_t)n);
    nb_tensor *t = nb_empty(NB_SHAPE(rows, 4));
    for (int64_t i = 0; i < n; i++) {
        t->data[i] = (float)x[i];
        cr_assert_eq((double)t->data[i], x[i], "grid point %g is not a float", x[i]);
    }
    for (int64_t q = 0; q < rows; q++) {
        rowmax[q] = 1;
        for (int j = 0; j < 4; j++)
            rowmax[q] = fmax(rowmax[q], fabs(x[4 * q + j]));
    }
    int failures = 0;
    for (uint64_t e = 0; e < hdr[1]; e++) {
        char name[32];
        uint64_t m;
        read_exact(f, name, 1, sizeof name);
        name[sizeof name - 1] = '\0';
        read_exact(f, &m, sizeof m, 1);
        cr_assert(m > 0 && m <= (uint64_t)n && m % (uint64_t)rows == 0, "%s: %llu outputs", name,
                  (unsigned long long)m);
        read_exact(f, r, sizeof *r, (size_t)m);
        read_exact(f, cond, sizeof *cond, (size_t)m);
        const nb_activation *a = nb_activation_find(name);
        cr_assert_not_null(a, "%s is in the reference but not in the registry", name);
        nb_tensor *y = nb_activation_apply(a, t);
        cr_assert_not_null(y, "%s: %s", name, nb_last_error_message());
        cr_assert_eq((uint64_t)y->numel, m, "%s: %lld outputs, reference %llu", name, (long long)y->numel,
                     (unsigned long long)m);
        int64_t per_row = (int64_t)m / rows, worst = 0, worst_i = 0, beyond = 0, bad = 0, bad_i = 0;
        double worst_ratio = 0, ca = cancel_allowance(name);
        for (int64_t i = 0; i < (int64_t)m; i++) {
            double scale = a->pointwise ? fmax(1, fabs(x[i])) : rowmax[i / per_row], ratio;
            int64_t ulps;
            if (!accept(y->data[i], r[i], cond[i], scale, ca, &ulps, &ratio) && bad++ == 0)
                bad_i = i;
            if (ulps > worst)
                worst = ulps, worst_i = i;
            beyond += ulps > 4;
            worst_ratio = fmax(worst_ratio, ratio);
        }
        printf("%-14s worst %10lld ulp (x = %-10g float32 %-14.8g float64 %.10g); "
               "%6lld points beyond 4 ulp, worst at %.2f of the allowance\n",
               name, (long long)worst, x[worst_i / per_row * 4 + worst_i % per_row * 4 / per_row],
               (double)y->data[worst_i], r[worst_i], (long long)beyond, worst_ratio);
        cr_expect_eq(bad, 0,
                     "%s: %lld points outside the criterion, first at output %lld: "
                     "float32 %.9g, float64 %.17g",
                     name, (long long)bad, (long long)bad_i, (double)y->data[bad_i], r[bad_i]);
        failures += bad != 0;
        nb_step_end();
    }
    fclose(f);
    nb_free(t);
    free(x), free(r), free(cond), free(rowmax);
    cr_assert_eq(failures, 0);
}
