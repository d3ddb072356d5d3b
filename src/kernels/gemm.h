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

/* C[M,N] = A B + beta C with row k of B at B + boff[k] (B[k][j] = B[boff[k] + j]),
 * A [M,K] row-major (row stride lda): an operand whose rows are not evenly
 * spaced, such as a convolution's receptive fields read in the padded image
 * (implicit im2col). Each element of C gets the operations nb_gemm(false,
 * false, ...) would give it with those rows copied into a matrix: the same
 * results. Only where nb_gemm_b_rows_ok(M, N, K): a kernel with a row-offset
 * form, and a shape for which nb_gemm's tiles do the same operations (B read
 * in place by the tile form, or packed for the AVX2 kernel, which has none:
 * the same FMAs either way), so the same results hold for any N' that the
 * caller computes instead of N: a padded row. One thread. */
bool nb_gemm_b_rows_ok(int64_t M, int64_t N, int64_t K);
void nb_gemm_b_rows(int64_t M, int64_t N, int64_t K, const nb_real *A, int64_t lda, const nb_real *B,
                    const int64_t *boff, nb_real beta, nb_real *C, int64_t ldc);

#endif
