/* tests/gen_act_ref.c — the float64 reference of tests/test_act_ulp.c: linked
 * against nabla64, it writes the forward values of every registry entry on a
 * fixed grid of float-representable points to the file argv[1].
 *
 * Grid: 20001 points from -1000 to 1000 (step 0.1), 40001 from -10 to 10
 * (step 5e-4), and points where formulas switch branches; each rounded to
 * float so that the float32 library sees exactly the same inputs. They are
 * applied as a [n/4, 4] tensor (the non-pointwise entries work on rows of 4).
 *
 * With each value y_i goes its condition term
 *   cond_i = sum_j |d y_i / d x_j| |x_j|
 * (how much y_i moves when every input moves by a relative 1), by central
 * differences on relative perturbations of 2^-20 of one column at a time:
 * the rows are independent, so 8 evaluations give every term. test_act_ulp
 * allows the float32 result an error of FLT_EPSILON * cond_i beyond its
 * ulps: what rounding the inputs by one float ulp could cause.
 *
 * File (native byte order, written and read on the same machine):
 *   char magic[8] = "NBACTREF"; uint64 n; uint64 entries; double x[n];
 *   entries times: char name[32]; uint64 m; double y[m]; double cond[m]    */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nabla/nabla.h"

_Static_assert(sizeof(nb_real) == sizeof(double), "gen_act_ref links against nabla64");

static const double special[] = {
    0,     1e-3, -1e-3, 1e-30, -1e-30, 3,     -3,     6, -6, 20,       -20,       30, -30, 40,   -40,   88.7,
    -88.7, 104,  -104,  1e-8,  -1e-8,  0.625, -0.625, 4, -4, 0.921875, -0.921875, 18, -18, 1000, -1000, 1};

static int64_t grid(double *x)
{
    int64_t n = 0;
    for (int i = 0; i <= 20000; i++)
        x[n++] = (float)(-1000 + 0.1 * i);
    for (int i = 0; i <= 40000; i++)
        x[n++] = (float)(-10 + 5e-4 * i);
    for (size_t k = 0; k < sizeof special / sizeof special[0]; k++)
        x[n++] = (float)special[k];
    while (n % 4)
        x[n++] = 0;
    return n;
}

enum { MAXN = 70000 };
#define DELTA 0x1p-20

/* y = a(x) for the [n/4, 4] tensor t holding x; cond as above. Returns m. */
static int64_t evaluate(const nb_activation *a, nb_tensor *t, const double *x, double *y, double *cond)
{
    nb_tensor *out = nb_activation_apply(a, t);
    if (!out)
        return -1;
    int64_t n = t->numel, m = out->numel;
    memcpy(y, out->data, (size_t)m * sizeof *y);
    memset(cond, 0, (size_t)m * sizeof *cond);
    nb_step_end();
    static double up[MAXN];
    for (int j = 0; j < 4; j++) {
        for (int s = 0; s < 2; s++) {
            for (int64_t i = j; i < n; i += 4)
                t->data[i] = x[i] * (s ? 1 - DELTA : 1 + DELTA);
            out = nb_activation_apply(a, t);
            if (!out)
                return -1;
            for (int64_t i = 0; i < m; i++)
                if (s)
                    cond[i] += fabs(up[i] - out->data[i]) / (2 * DELTA);
                else
                    up[i] = out->data[i];
            nb_step_end();
        }
        for (int64_t i = j; i < n; i += 4)
            t->data[i] = x[i];
    }
    return m;
}

static int write_all(FILE *f, const void *p, size_t size, size_t count)
{
    return fwrite(p, size, count, f) == count ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTPUT\n", argv[0]);
        return 2;
    }
    static double x[MAXN], y[MAXN], cond[MAXN];
    int64_t n = grid(x);
    nb_tensor *t = nb_empty(NB_SHAPE(n / 4, 4));
    FILE *f = fopen(argv[1], "wb");
    if (!t || !f) {
        fprintf(stderr, "gen_act_ref: cannot open %s or allocate\n", argv[1]);
        return 1;
    }
    for (int64_t i = 0; i < n; i++)
        t->data[i] = x[i];
    uint64_t hdr[2] = {(uint64_t)n, (uint64_t)nb_activation_count()};
    int err = write_all(f, "NBACTREF", 1, 8) | write_all(f, hdr, sizeof hdr[0], 2) |
              write_all(f, x, sizeof x[0], (size_t)n);
    for (int i = 0; i < nb_activation_count() && !err; i++) {
        const nb_activation *a = nb_activation_at(i);
        int64_t m = evaluate(a, t, x, y, cond);
        if (m < 0) {
            fprintf(stderr, "gen_act_ref: %s: %s\n", a->name, nb_last_error_message());
            err = -1;
            break;
        }
        char name[32] = {0};
        strncpy(name, a->name, sizeof name - 1);
        uint64_t mu = (uint64_t)m;
        err = write_all(f, name, 1, sizeof name) | write_all(f, &mu, sizeof mu, 1) |
              write_all(f, y, sizeof y[0], (size_t)m) | write_all(f, cond, sizeof cond[0], (size_t)m);
    }
    err |= fclose(f);
    nb_free(t);
    if (err) {
        fprintf(stderr, "gen_act_ref: writing %s failed\n", argv[1]);
        remove(argv[1]);
        return 1;
    }
    return 0;
}
