/* bench/peak.c — the machine's limits that the other benchmarks are read
 * against: peak float32 FMA throughput (AVX-512 and AVX2 register-only loops,
 * 1 and 2 threads), the bfloat16 dot product's (vdpbf16ps, where the CPU has
 * AVX512_BF16: the ceiling of matmul precision "medium"), and copy bandwidth
 * (memcpy of 64 MiB, 1 and 2 threads). Each the best of 3 runs (the first
 * may meet a core still raising its clock).
 * Usage: peak */
#include <nabla/nabla.h>
#include <pthread.h>
#include <string.h>
#include "bench.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define ITERS 20000000L

static double fma512(void) { return bench_fma512(ITERS); }
static double fma256(void) { return bench_fma256(ITERS); }

/* BENCH_FMA_ACC independent vdpbf16ps chains: each does 16 lanes x 2
 * products, twice an FMA's flops. */
__attribute__((target("avx512f,avx512bf16"))) static double dpbf16(void)
{
    __m512 acc[BENCH_FMA_ACC];
    __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80); /* the pair (1, 1) */
    for (int i = 0; i < BENCH_FMA_ACC; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < ITERS; it++)
        for (int i = 0; i < BENCH_FMA_ACC; i++)
            acc[i] = _mm512_dpbf16_ps(acc[i], a, a);
    float sink = 0;
    for (int i = 0; i < BENCH_FMA_ACC; i++)
        sink += _mm512_reduce_add_ps(acc[i]);
    return sink;
}

typedef struct job {
    double (*fn)(void);
    double sink;
} job;
static void *run(void *p)
{
    job *j = p;
    j->sink = j->fn();
    return NULL;
}

/* GFLOP/s of fn on `threads` threads at once (2 flops per lane per FMA),
 * the best of 3 runs. */
static double gflops(double (*fn)(void), int lanes, int threads)
{
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        pthread_t t[2];
        job j[2] = {{fn, 0}, {fn, 0}};
        double t0 = bench_now();
        for (int i = 1; i < threads; i++)
            pthread_create(&t[i], NULL, run, &j[i]);
        run(&j[0]);
        for (int i = 1; i < threads; i++)
            pthread_join(t[i], NULL);
        double g = threads * 2.0 * lanes * BENCH_FMA_ACC * ITERS / (bench_now() - t0) / 1e9;
        best = g > best ? g : best;
    }
    return best;
}
#endif

typedef struct cjob {
    char *dst;
    const char *src;
    size_t n;
} cjob;
static void *copy(void *p)
{
    cjob *c = p;
    memcpy(c->dst, c->src, c->n);
    return NULL;
}

static double copy_gbs(char *dst, const char *src, size_t n, int threads)
{
    double best = 0;
    for (int rep = 0; rep < 9; rep++) {
        pthread_t t[2];
        cjob c[2] = {{dst, src, n / (size_t)threads}, {dst + n / 2, src + n / 2, n / 2}};
        double t0 = bench_now();
        if (threads == 2)
            pthread_create(&t[1], NULL, copy, &c[1]);
        copy(&c[0]);
        if (threads == 2)
            pthread_join(t[1], NULL);
        double gbs = 2.0 * (double)n / (bench_now() - t0) / 1e9; /* read + write */
        best = gbs > best ? gbs : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    bench_parse(argc, argv, NULL, 0, "the machine's measured FMA peak and copy bandwidth");
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    for (int th = 1; th <= 2; th++) {
        if (__builtin_cpu_supports("avx512f"))
            printf("peak FMA AVX-512: %6.1f GFLOP/s float32, %d thread%s\n", gflops(fma512, 16, th), th,
                   th > 1 ? "s" : "");
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
            printf("peak FMA AVX2:    %6.1f GFLOP/s float32, %d thread%s\n", gflops(fma256, 8, th), th,
                   th > 1 ? "s" : "");
        if (__builtin_cpu_supports("avx512bf16"))
            printf("peak vdpbf16ps:   %6.1f GFLOP/s bfloat16 products, float32 sums, %d thread%s\n",
                   gflops(dpbf16, 32, th), th, th > 1 ? "s" : "");
    }
#endif
    size_t n = (size_t)64 << 20;
    char *src = malloc(n), *dst = malloc(n);
    if (!src || !dst)
        return 1;
    memset(src, 1, n);
    memset(dst, 0, n);
    for (int th = 1; th <= 2; th++)
        printf("copy bandwidth:   %6.1f GB/s (memcpy of 64 MiB, read + write, best of 9), %d thread%s\n",
               copy_gbs(dst, src, n, th), th, th > 1 ? "s" : "");
    free(src);
    free(dst);
    return 0;
}
