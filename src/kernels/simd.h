/* kernels/simd.h — NB_VECTORIZE: compile a loop for AVX-512, AVX2+FMA and
 * baseline x86-64, picked at load time (GCC function multi-versioning), so the
 * default build is fast on new CPUs and still runs on any x86-64; the one
 * AVX-512 test of hand-written paths; the flush-to-zero mode; the pause of a
 * spinning wait. */
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
 * file may carry a hand-written AVX-512 path (a target attribute, chosen at
 * run time with __builtin_cpu_supports) beside its portable loop. */
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

#endif
