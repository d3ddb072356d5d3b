/* bench/gemm.c — GFLOP/s of nb_gemm (float32) vs OpenBLAS cblas_sgemm, and
 * of nb_gemm with bfloat16 operands (matmul precision "medium", its ratio to
 * float32 nabla in the same run; its kernel is the best one of this CPU).
 *
 * Square sizes 128..2048 and the MLP linear-layer shapes (forward X W^T,
 * weight gradient dY^T X, input gradient dY W) for batch 128 and 32, each
 * with 1 and 2 threads. Each figure is the median of several timed repeats,
 * with its share of the FMA peak measured at the start (one core's peak
 * times the threads).
 * Usage: gemm [--kernel generic|avx2|avx512] (default: the best for this CPU)
 * Environment: NB_BENCH_FILTER (a substring of the shape names), NB_BENCH_THREADS
 * (1 or 2 only), NB_BENCH_NO_BLAS (skip OpenBLAS), NB_BENCH_BEST=1 (the best of
 * 300 short timings instead of the median of 7 long ones: for development on
 * a busy machine, where a timing of 40 ms is rarely left alone; the figures in
 * docs/performance.md are medians on a quiet machine). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_kernels.h"
#include "kernels/simd.h"
#include "nabla/threads.h"

#ifdef NB_BENCH_OPENBLAS
#include <cblas.h>
#include <strings.h>
#include <unistd.h>
void openblas_set_num_threads(int num_threads);
char *openblas_get_corename(void);

/* OpenBLAS picks its kernels from the CPU's family and model; on a model newer
 * than it knows (Debian 12's 0.3.21 on family 6 model 207, an Emerald Rapids
 * Xeon) it falls back to its Prescott (SSE3) kernels, a fifth of what the CPU
 * can do, and the comparison would flatter nabla. There, this program runs
 * itself again with OPENBLAS_CORETYPE naming OpenBLAS's own kernels for the
 * widest vectors the CPU has (SkylakeX for AVX-512, Haswell for AVX2), which
 * OpenBLAS reads when it loads, and says so. compare_torch.py does the same
 * for PyTorch. */
static void openblas_fix_core(char **argv)
{
#ifdef NB_X86_SIMD
    if (getenv("OPENBLAS_CORETYPE") || getenv("NB_BENCH_NO_BLAS") ||
        strcasecmp(openblas_get_corename(), "prescott") != 0)
        return;
    const char *core = nb_cpu_avx512() ? "SkylakeX" : nb_cpu_avx2() ? "Haswell" : NULL;
    if (!core)
        return;
    printf("OpenBLAS chose its Prescott kernels for this CPU: running again with OPENBLAS_CORETYPE=%s\n",
           core);
    fflush(stdout);
    setenv("OPENBLAS_CORETYPE", core, 1);
    execv("/proc/self/exe", argv);
    perror("execv /proc/self/exe"); /* not fatal: the figures below are Prescott's */
#else
    (void)argv;
#endif
}
#endif

/* Prints the load average (Linux): the figures mean little on a busy machine. */
static void print_load(const char *when)
{
    FILE *f = fopen("/proc/loadavg", "r");
    char buf[128];
    if (f && fgets(buf, sizeof buf, f))
        printf("load average %s: %s", when, buf);
    if (f)
        fclose(f);
}

typedef struct {
    const char *name;
    bool ta, tb;
    int64_t M, N, K;
} shape;

typedef struct {
    const shape *s;
    float *A, *B, *C;
    int64_t lda, ldb, ldc;
} problem;

static void run_nabla(const problem *p)
{
    const shape *s = p->s;
    nb_gemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, p->A, p->lda, p->B, p->ldb, 0.0f, p->C, p->ldc);
}

#ifdef NB_BENCH_OPENBLAS
static void run_openblas(const problem *p)
{
    const shape *s = p->s;
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans,
                (int)s->M, (int)s->N, (int)s->K, 1.0f, p->A, (int)p->lda, p->B, (int)p->ldb, 0.0f, p->C,
                (int)p->ldc);
}
#endif

/* Median GFLOP/s over `reps` timings, each of enough calls to last ~target s. */
static double measure(void (*fn)(const problem *), const problem *p, double target)
{
    const shape *s = p->s;
    double flops = 2.0 * (double)s->M * (double)s->N * (double)s->K;
    fn(p); /* warm-up: pool start, packing buffers, caches */
    double t0 = bench_now();
    fn(p);
    double one = bench_now() - t0;
    int calls = (int)(target / (one > 1e-7 ? one : 1e-7));
    if (calls < 1)
        calls = 1;
    if (calls > 100000)
        calls = 100000;
    enum { REPS = 7 };
    double g[REPS];
    if (getenv("NB_BENCH_BEST")) { /* the best of 300 short timings (a busy machine) */
        int calls_short = calls / 20 > 0 ? calls / 20 : 1;
        double best = 0;
        for (int r = 0; r < 300; r++) {
            t0 = bench_now();
            for (int c = 0; c < calls_short; c++)
                fn(p);
            double gf = flops * calls_short / (bench_now() - t0) * 1e-9;
            best = gf > best ? gf : best;
        }
        return best;
    }
    for (int r = 0; r < REPS; r++) {
        t0 = bench_now();
        for (int c = 0; c < calls; c++)
            fn(p);
        double dt = bench_now() - t0;
        g[r] = flops * calls / dt * 1e-9;
    }
    qsort(g, REPS, sizeof g[0], bench_cmp);
    return g[REPS / 2];
}

static float *rand_matrix(size_t n)
{
    float *m = aligned_alloc(64, ((n * sizeof(float)) + 63) & ~(size_t)63);
    if (!m) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        m[i] = (float)((double)rand() / RAND_MAX - 0.5);
    return m;
}

/* Percent of nt cores' FMA peak; 0 where no peak was measured (no AVX2/FMA). */
static double share(double gflops, double peak, int nt)
{
    return peak > 0 ? 100.0 * gflops / (peak * nt) : 0;
}

int main(int argc, char **argv)
{
    const char *kernel = NULL;
    const ex_arg flags[] = {
        {"kernel", EX_STR, &kernel, "micro-kernel: generic, avx2 or avx512 (default: the best for this CPU)"},
    };
    ex_parse(argc, argv, flags, EX_COUNT(flags),
             "nb_gemm's GFLOP/s on square and layer shapes against OpenBLAS");
    if (kernel && nb_gemm_set_kernel(kernel) != 0) {
        fprintf(stderr, "kernel %s not available on this CPU\n", kernel);
        return 1;
    }
#ifdef NB_BENCH_OPENBLAS
    openblas_fix_core(argv);
    printf("OpenBLAS kernels: %s\n", openblas_get_corename());
#endif
    bench_print_machine();
    shape shapes[] = {
        {"square 128", false, false, 128, 128, 128},
        {"square 256", false, false, 256, 256, 256},
        {"square 512", false, false, 512, 512, 512},
        {"square 1024", false, false, 1024, 1024, 1024},
        {"square 2048", false, false, 2048, 2048, 2048},
        /* linear layer y = x W^T, W [out, in]: forward X·W^T, dW = dY^T·X, dX = dY·W */
        {"b128 fwd X[128,784]W^T[784,256]", false, true, 128, 256, 784},
        {"b128 dW dY^T[256,128]X[128,784]", true, false, 256, 784, 128},
        {"b128 dX dY[128,256]W[256,784]", false, false, 128, 784, 256},
        {"b128 fwd X[128,256]W^T[256,128]", false, true, 128, 128, 256},
        {"b128 dW dY^T[128,128]X[128,256]", true, false, 128, 256, 128},
        {"b128 dX dY[128,128]W[128,256]", false, false, 128, 256, 128},
        {"b128 fwd X[128,128]W^T[128,10]", false, true, 128, 10, 128},
        {"b128 dW dY^T[10,128]X[128,128]", true, false, 10, 128, 128},
        {"b128 dX dY[128,10]W[10,128]", false, false, 128, 128, 10},
        /* the LSTM recurrence of bench/lstm (batch 128, hidden 128): h W_hh^T per time step */
        {"lstm h[128,128]W_hh^T[128,512]", false, true, 128, 512, 128},
        {"b32 fwd X[32,784]W^T[784,256]", false, true, 32, 256, 784},
        {"b32 dW dY^T[256,32]X[32,784]", true, false, 256, 784, 32},
        {"b32 dX dY[32,256]W[256,784]", false, false, 32, 784, 256},
        {"b32 fwd X[32,256]W^T[256,128]", false, true, 32, 128, 256},
        {"b32 dW dY^T[128,32]X[32,256]", true, false, 128, 256, 32},
        {"b32 dX dY[32,128]W[128,256]", false, false, 32, 256, 128},
        /* char_gpt's model (bench/gpt: 32 x 64 tokens, width 96): the attention's
         * packed projections, the MLP's two layers, their dX */
        {"gpt qkv X[2048,96]W^T[96,288]", false, true, 2048, 288, 96},
        {"gpt fc X[2048,96]W^T[96,384]", false, true, 2048, 384, 96},
        {"gpt proj H[2048,384]W^T[384,96]", false, true, 2048, 96, 384},
        {"gpt dX dY[2048,384]W[384,96]", false, false, 2048, 96, 384},
        {"gpt dX dY[2048,288]W[288,96]", false, false, 2048, 96, 288},
    };
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    printf("nb_gemm float32, micro-kernel %s; bfloat16 (precision \"medium\") kernel %s; median of 7 "
           "timings; GFLOP/s\n",
           nb_gemm_kernel_name(), nb_gemm_bf16_kernel_name());
    /* the thin products (a dimension of 10) are read against it (issue 16) */
    double peak = bench_fma_peak_gflops();
    printf("FMA peak of one core, measured: %.1f GFLOP/s; \"peak\" = nabla / (threads x that); \"x f32\" = "
           "bf16 / nabla\n",
           peak);
#ifdef NB_BENCH_OPENBLAS
    printf("%-34s %3s %9s %9s %6s %5s %9s %6s\n", "shape (op(A)[M,K] op(B)[K,N])", "thr", "nabla", "openblas",
           "ratio", "peak", "bf16", "x f32");
#else
    printf("%-34s %3s %9s %5s %9s %6s  (OpenBLAS not found: no comparison)\n", "shape", "thr", "nabla",
           "peak", "bf16", "x f32");
#endif
    print_load("at start");
    srand(1);
    for (int i = 0; i < nshapes; i++) {
        const shape *s = &shapes[i];
        const char *filter = getenv("NB_BENCH_FILTER"); /* substring of the shape name */
        if (filter && !strstr(s->name, filter))
            continue;
        problem p = {.s = s};
        size_t asz = (size_t)(s->M * s->K), bsz = (size_t)(s->K * s->N);
        p.A = rand_matrix(asz);
        p.B = rand_matrix(bsz);
        p.C = rand_matrix((size_t)(s->M * s->N));
        p.lda = s->ta ? s->M : s->K;
        p.ldb = s->tb ? s->K : s->N;
        p.ldc = s->N;
        double target = s->M * s->N * s->K >= (int64_t)1 << 30 ? 0.15 : 0.04;
        const char *ntenv = getenv("NB_BENCH_THREADS"); /* only this thread count */
        for (int nt = 1; nt <= 2; nt++) {
            if (ntenv && atoi(ntenv) != nt)
                continue;
            nb_set_num_threads(nt);
            double gn = measure(run_nabla, &p, target);
            nb_set_float32_matmul_precision("medium");
            double gb = measure(run_nabla, &p, target);
            nb_set_float32_matmul_precision("highest");
#ifdef NB_BENCH_OPENBLAS
            openblas_set_num_threads(nt);
            double go = getenv("NB_BENCH_NO_BLAS") ? 1.0 : measure(run_openblas, &p, target);
            printf("%-34s %3d %9.1f %9.1f %5.0f%% %4.0f%% %9.1f %6.2f\n", s->name, nt, gn, go,
                   100.0 * gn / go, share(gn, peak, nt), gb, gb / gn);
#else
            printf("%-34s %3d %9.1f %4.0f%% %9.1f %6.2f\n", s->name, nt, gn, share(gn, peak, nt), gb,
                   gb / gn);
#endif
            fflush(stdout);
        }
        free(p.A);
        free(p.B);
        free(p.C);
    }
    print_load("at end");
    nb_set_num_threads(0);
    return 0;
}
