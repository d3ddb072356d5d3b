/* kernels/simd.h — NB_VECTORIZE: compile a loop for AVX-512, AVX2+FMA and
 * baseline x86-64, picked at load time (GCC function multi-versioning), so the
 * default build is fast on new CPUs and still runs on any x86-64; the one
 * AVX-512 test and the one AVX2 test of hand-written paths, and AVX2's lane
 * masks; the rows of a micro-kernel's register tile (ROWSr); the
 * flush-to-zero mode; the pause of a spinning wait. */
#ifndef NB_KERNELS_SIMD_H
#define NB_KERNELS_SIMD_H

#include <stdbool.h>
#include <stdint.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(NABLA_F64) &&                \
    !defined(__SANITIZE_ADDRESS__)
#define NB_VECTORIZE __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
/* The same clones with a*b + c contracted to one fused multiply-add where the
 * target has one (the v4 and v3 clones; the default x86-64 clone has no FMA
 * and keeps separate roundings). The project compiles in ISO C11 mode, where
 * GCC does not contract (-ffp-contract=off); this turns contraction on for
 * the marked function only. For the transcendental activation loops (see
 * NB_DEFINE_POINTWISE_FMA in ops/pointwise.h): their dependent chains of
 * multiply-then-add are halved. The consequence: results differ in the last
 * bits between the FMA clones and the default clone (i.e. between machines
 * with and without AVX2/FMA), and stay identical on one machine whatever
 * the thread count or the position of an element in the array. */
#define NB_VECTORIZE_FMA NB_VECTORIZE __attribute__((optimize("fp-contract=fast")))
#else
#define NB_VECTORIZE
#define NB_VECTORIZE_FMA /* float64 (the libm reference), ASan, clang: no contraction */
#endif

/* NB_X86_SIMD: a float32 build for x86-64 with GCC-style intrinsics, where a
 * file may carry hand-written AVX-512 and AVX2 paths (target attributes,
 * chosen at run time by nb_cpu_avx512 and nb_cpu_avx2) beside its portable
 * loop. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(NABLA_F64)
#define NB_X86_SIMD 1
/* The AVX-512 the library's kernels use: F, VL, DQ and BW (feature names GCC
 * and clang both know). One test, so that the GEMM's choice, the
 * convolution's hand-written paths and nb_get_cpu_capability agree. */
static inline bool nb_cpu_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
}

/* AVX2 with FMA: the GEMM's AVX2 micro-kernel and the hand-written AVX2 paths
 * beside the AVX-512 ones (CPUs without AVX-512, as Zen 3). */
static inline bool nb_cpu_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

#include <immintrin.h>

/* The lanes i < 8 with a <= i < b, as the mask of AVX2's maskload (all bits
 * of a lane set): AVX2's form of AVX-512's __mmask16. A masked-off lane is
 * not read, so it may lie outside the array. */
__attribute__((target("avx2"))) static inline __m256i nb_avx2_lanes(int64_t a, int64_t b)
{
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    a = a < 0 ? 0 : a > 8 ? 8 : a;
    b = b < 0 ? 0 : b > 8 ? 8 : b;
    return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)a), iota),
                               _mm256_cmpgt_epi32(_mm256_set1_epi32((int)b), iota));
}

/* dst[i] = v[i] for i < n (all 8 when n >= 8, none when n <= 0): 4, 2 and
 * 1 lanes at a time rather than vmaskmovps, which AMD's Zen 1-3 run as a
 * long microcoded sequence (a 28-wide im2col with masked stores ran at half
 * the speed of the scalar loop). The three stores are ones GCC declares
 * through may-alias types (_mm_storeu_si32, not _mm_store_ss, for the last):
 * dst may hold int32 lanes. */
__attribute__((target("avx2"))) static inline void nb_avx2_store_first(float *dst, __m256 v, int64_t n)
{
    if (n >= 8) {
        _mm256_storeu_ps(dst, v);
        return;
    }
    if (n <= 0)
        return;
    __m128 h = _mm256_castps256_ps128(v);
    if (n & 4) {
        _mm_storeu_ps(dst, h);
        h = _mm256_extractf128_ps(v, 1);
        dst += 4;
    }
    if (n & 2) {
        _mm_storel_pi((__m64 *)(void *)dst, h);
        h = _mm_movehl_ps(h, h);
        dst += 2;
    }
    if (n & 1)
        _mm_storeu_si32(dst, _mm_castps_si128(h));
}
#endif

/* Sets the calling thread's flush-to-zero and denormals-are-zero modes (x86:
 * MXCSR's FTZ, bit 15, and DAZ, bit 6; AArch64: FPCR's FZ, bit 24, which does
 * both); false where this build knows no such mode. Intel SDM vol. 1, 10.2.3.3
 * and 10.2.3.4; Arm ARM, FPCR. */
#if defined(__x86_64__) || (defined(__i386__) && defined(__SSE__)) || defined(__aarch64__)
#define NB_CPU_CAN_FLUSH 1
#else
#define NB_CPU_CAN_FLUSH 0
#endif
static inline bool nb_cpu_flush_denormal(bool on)
{
#if defined(__x86_64__) || (defined(__i386__) && defined(__SSE__))
    unsigned csr = __builtin_ia32_stmxcsr();
    __builtin_ia32_ldmxcsr(on ? csr | 0x8040u : csr & ~0x8040u);
    return true;
#elif defined(__aarch64__)
    uint64_t fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    fpcr = on ? fpcr | ((uint64_t)1 << 24) : fpcr & ~((uint64_t)1 << 24);
    __asm__ __volatile__("msr fpcr, %0" : : "r"(fpcr));
    return true;
#else
    (void)on;
    return false;
#endif
}

/* Waiting on another thread: NB_CPU_RELAX() between polls, NB_SPIN_ITERS of
 * them (pause is ~50 ns on Zen 4/5: ~100 us) before sleeping or giving up. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NB_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define NB_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define NB_CPU_RELAX() ((void)0)
#endif
#define NB_SPIN_ITERS 2000

/* ROWSr(X): X(0) X(1) ... X(r - 1), the rows of a micro-kernel's register
 * tile (the GEMM kernels, float32 and bfloat16). */
#define ROWS1(X) X(0)
#define ROWS2(X) ROWS1(X) X(1)
#define ROWS3(X) ROWS2(X) X(2)
#define ROWS4(X) ROWS3(X) X(3)
#define ROWS5(X) ROWS4(X) X(4)
#define ROWS6(X) ROWS5(X) X(5)
#define ROWS7(X) ROWS6(X) X(6)
#define ROWS8(X) ROWS7(X) X(7)
#define ROWS9(X) ROWS8(X) X(8)
#define ROWS10(X) ROWS9(X) X(9)
#define ROWS11(X) ROWS10(X) X(10)
#define ROWS12(X) ROWS11(X) X(11)

#endif
