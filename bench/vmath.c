/* bench/vmath.c — ns per element of the float32 functions of kernels/vmath.h
 * against one libm float call per element, over 4M floats.
 *
 * Both loops live in functions compiled with target_clones, so the vmath loop
 * runs the widest vector code the machine has (the libm loop stays one scalar
 * call per element: glibc's vector variants are only declared under
 * -ffast-math). Prints a Markdown table. Usage: vmath [--n 4194304] [--reps 7] */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"
#include "kernels/vmath.h"

#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

static float sigmoid_libm(float x)
{
    float e = expf(-fabsf(x));
    return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}
static float softplus_libm(float x) { return (x > 0.0f ? x : 0.0f) + log1pf(expf(-fabsf(x))); }

enum {
    LIBM_EXP,
    LIBM_EXPM1,
    LIBM_LOG,
    LIBM_LOG1P,
    LIBM_TANH,
    LIBM_ERF,
    LIBM_SIGMOID,
    LIBM_SOFTPLUS,
    NB_EXP,
    NB_EXPM1,
    NB_LOG,
    NB_LOG1P,
    NB_TANH,
    NB_ERF,
    NB_SIGMOID,
    NB_SOFTPLUS
};

#define LOOP(f)                                                                                              \
    for (size_t i = 0; i < n; i++)                                                                           \
        y[i] = f(x[i]);                                                                                      \
    break

/* One dispatching function: GCC 12 mis-names the default clone of several
 * target_clones functions whose addresses are taken in one table. */
CLONES static void run_kernel(int k, const float *restrict x, float *restrict y, size_t n)
{
    switch (k) {
    case LIBM_EXP: LOOP(expf);
    case LIBM_EXPM1: LOOP(expm1f);
    case LIBM_LOG: LOOP(logf);
    case LIBM_LOG1P: LOOP(log1pf);
    case LIBM_TANH: LOOP(tanhf);
    case LIBM_ERF: LOOP(erff);
    case LIBM_SIGMOID: LOOP(sigmoid_libm);
    case LIBM_SOFTPLUS: LOOP(softplus_libm);
    case NB_EXP: LOOP(nb_vexpf);
    case NB_EXPM1: LOOP(nb_vexpm1f);
    case NB_LOG: LOOP(nb_vlogf);
    case NB_LOG1P: LOOP(nb_vlog1pf);
    case NB_TANH: LOOP(nb_vtanhf);
    case NB_ERF: LOOP(nb_verff);
    case NB_SIGMOID: LOOP(nb_vsigmoidf);
    default: LOOP(nb_vsoftplusf);
    }
}

/* best of reps, ns per element */
static double time_kernel(int k, const float *x, float *y, size_t n, int reps)
{
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        run_kernel(k, x, y, n);
        double t = bench_now() - t0;
        if (t < best)
            best = t;
    }
    return best * 1e9 / (double)n;
}

int main(int argc, char **argv)
{
    int n_arg = 1 << 22, reps = 7;
    const ex_arg flags[] = {
        {"n", EX_INT, &n_arg, "floats per call (65536: in L2, compute-bound figures)"},
        {"reps", EX_INT, &reps, "timings per figure (the best is printed)"},
    };
    bench_parse(argc, argv, flags, EX_COUNT(flags), "kernels/vmath.h's float32 functions against libm");
    bench_check_flag(n_arg >= 1 && reps >= 1, argv[0], "--n and --reps must be at least 1");
    size_t n = (size_t)n_arg;
    float *xs = malloc(n * sizeof *xs), *xp = malloc(n * sizeof *xp);
    float *y = malloc(n * sizeof *y);
    if (!xs || !xp || !y)
        return 1;
    uint64_t s = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        double u = (double)(s >> 11) * 0x1p-53; /* [0, 1) */
        xs[i] = (float)(-10.0 + 20.0 * u);      /* signed args: [-10, 10) */
        xp[i] = (float)exp(-7.0 + 12.0 * u);    /* positive args: [1e-3, 160) */
    }
    static const char *const names[] = {"exp", "expm1", "log", "log1p", "tanh", "erf", "sigmoid", "softplus"};
    printf("n = %zu floats, best of %d runs, single thread\n\n", n, reps);
    printf("| function | args | libm (ns/elem) | nabla vmath (ns/elem) | speed-up |\n");
    printf("|---|---|---:|---:|---:|\n");
    for (int r = 0; r < 8; r++) {
        int positive = r == 2 || r == 3; /* log, log1p */
        const float *x = positive ? xp : xs;
        double tl = time_kernel(LIBM_EXP + r, x, y, n, reps);
        double tn = time_kernel(NB_EXP + r, x, y, n, reps);
        printf("| %s | %s | %.2f | %.3f | %.1fx |\n", names[r], positive ? "[1e-3,160)" : "[-10,10)", tl, tn,
               tl / tn);
    }
    free(xs);
    free(xp);
    free(y);
    return 0;
}
