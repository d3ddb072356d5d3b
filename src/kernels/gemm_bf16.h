/* kernels/gemm_bf16.h — internal: the internal precision of float32 matrix
 * products (torch.set_float32_matmul_precision's three settings) and the
 * bfloat16 GEMM that "medium" selects.
 *
 * bfloat16 products: op(A) and op(B) are rounded to bfloat16 (round to
 * nearest even, denormals to zero, NaN kept quiet: the rounding of
 * vcvtne2ps2bf16) while they are packed, and multiplied with float32
 * accumulation: each k-pair adds a[k+1] b[k+1], then a[k] b[k], to the
 * float32 sum, each addition rounded (vdpbf16ps; the products of two bfloat16
 * are exact in float32). The packed layout (both operands always packed):
 *   a: kp x MR 32-bit words, a[p*MR + r] = bf16(op(A)[i+r][2p]) | bf16(op(A)[i+r][2p+1]) << 16,
 *   b: kp x NR 32-bit words, b[p*NR + c] = bf16(op(B)[2p][j+c]) | bf16(op(B)[2p+1][j+c]) << 16,
 * an odd K padded with a zero. K is cut into blocks by K alone and every C
 * element sees the same operations whichever kernel, tile or thread count:
 * the AVX512_BF16 kernel and the portable one give the same results (up to
 * vdpbf16ps flushing denormal sums to zero). */
#ifndef NB_KERNELS_GEMM_BF16_H
#define NB_KERNELS_GEMM_BF16_H

#include <stdbool.h>
#include <stdint.h>
#include "nabla/config.h"

/* The settings, as torch names them: "highest" (float32), "high" (float32
 * here: nabla has no TensorFloat32 or bfloat16x3 products, and PyTorch then
 * computes "as if the precision is highest"), "medium" (bfloat16 operands). */
enum { NB_PRECISION_HIGHEST, NB_PRECISION_HIGH, NB_PRECISION_MEDIUM };

/* The current setting: what nb_gemm_set_precision set, else
 * NABLA_MATMUL_PRECISION (read once; a value other than highest, high and
 * medium, or medium in the float64 build, is said once on stderr and
 * "highest" used). */
int nb_gemm_precision(void);
void nb_gemm_set_precision(int precision);

#ifndef NABLA_F64
#define NB_GEMM_BF16 1

/* True when products go through nb_gemm_bf16 ("medium"). */
static inline bool nb_gemm_bf16_on(void) { return nb_gemm_precision() == NB_PRECISION_MEDIUM; }

/* nb_gemm and nb_gemm_b_rows (kernels/gemm.h) with bfloat16 operands; the
 * same arguments and contracts (threads, bit-identical for any thread count;
 * the row-offset form gives the results of nb_gemm_bf16 on the rows copied
 * into a matrix, for any N). */
void nb_gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                  int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
void nb_gemm_bf16_rows(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                       const int64_t *boff, float beta, float *C, int64_t ldc);

/* A bfloat16 micro-kernel (tile form): C[r*ldc + c] for r < mm, c < nn of an
 * MR x NR tile = alpha * sum + beta * C (fused; beta == 0: C not read; alpha
 * == 1: no multiply), the sum over kp k-pairs of the packed panels above. */
typedef void (*nb_bf16_kernel_fn)(int64_t kp, const uint32_t *a, const uint32_t *b, float *c, int64_t ldc,
                                  float alpha, float beta, int mm, int nn);
/* The packing's conversions into a panel of w words a k-pair: from rows of
 * c (a transpose), dst[p*w + c] = bf16(src[c ld + 2p]) | bf16(src[c ld + 2p
 * + 1]) << 16 for c < rows, 0 for rows <= c < w (tmp: w kp words of
 * scratch); and from two rows of k, dst[c] = bf16(r0[c]) | bf16(r1[c]) << 16
 * for c < n (r1 NULL: zeros). */
typedef void (*nb_bf16_crows_fn)(const float *src, int64_t ld, int rows, int w, int64_t kc, uint16_t *tmp,
                                 uint32_t *dst);
typedef void (*nb_bf16_pairs_fn)(const float *r0, const float *r1, int64_t n, uint32_t *dst);

typedef struct {
    const char *name;
    int mr, nr;
    int64_t mc, nc; /* cache blocks (the K block is common to all kernels: the same sums) */
    nb_bf16_kernel_fn fn;
    nb_bf16_crows_fn crows;
    nb_bf16_pairs_fn pairs;
} nb_bf16_ukernel;

/* The portable conversions, which kernels without their own use too. */
void nb_bf16_crows_generic(const float *src, int64_t ld, int rows, int w, int64_t kc, uint16_t *tmp,
                           uint32_t *dst);
void nb_bf16_pairs_generic(const float *r0, const float *r1, int64_t n, uint32_t *dst);

#if defined(__x86_64__) && defined(__GNUC__) && !defined(NB_GEMM_NO_SIMD)
#define NB_GEMM_BF16_X86 1
extern const nb_bf16_ukernel nb_bf16_ukernel_avx512bf16;
/* CPUs without AVX512_BF16 (Zen 3, Intel before Cooper Lake): the same
 * pairs, widened to float32 by shifts and masks, and two FMAs a pair in
 * vdpbf16ps's order (the products are exact, so each FMA rounds as the
 * portable kernel's addition does). */
extern const nb_bf16_ukernel nb_bf16_ukernel_avx2;
#endif

/* Internal (tests, bench): selects the bfloat16 kernel by name ("generic",
 * "avx512bf16", "avx2"; NULL = best for this CPU). Returns 0, or -1 when it is not
 * available here (the selection is then unchanged). */
int nb_gemm_bf16_set_kernel(const char *name);
const char *nb_gemm_bf16_kernel_name(void);
#endif

#endif
