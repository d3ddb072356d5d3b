/* kernels/gemm.h — single matrix product on raw row-major arrays. */
#ifndef NB_KERNELS_GEMM_H
#define NB_KERNELS_GEMM_H

#include <stdbool.h>
#include <stdint.h>
#include "nabla/config.h"

/* C[M,N] = alpha * op(A) op(B) + beta * C, all row-major. op(A) is [M,K]: A is
 * stored [M,K] with row stride lda, or [K,M] when trans_a. op(B) is [K,N]: B is
 * [K,N] with row stride ldb, or [N,K] when trans_b. beta == 0 ignores C's old
 * contents (NaN-safe). Uses the thread pool; each element of C is computed by
 * the same sequence of operations for any thread count (bit-identical). */
void nb_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, nb_real alpha, const nb_real *A,
             int64_t lda, const nb_real *B, int64_t ldb, nb_real beta, nb_real *C, int64_t ldc);

#endif
