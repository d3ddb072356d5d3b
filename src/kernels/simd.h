/* kernels/simd.h — NB_VECTORIZE: compile a loop for AVX-512, AVX2+FMA and
 * baseline x86-64, picked at load time (GCC function multi-versioning), so the
 * default build is fast on new CPUs and still runs on any x86-64. */
#ifndef NB_KERNELS_SIMD_H
#define NB_KERNELS_SIMD_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(NABLA_F64) && \
    !defined(__SANITIZE_ADDRESS__)
#define NB_VECTORIZE __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NB_VECTORIZE
#endif

#endif
