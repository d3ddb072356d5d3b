/* kernels/gemm_kernels.h — internal: GEMM micro-kernels and their blocking.
 *
 * A micro-kernel computes one MR x NR tile of C from packed panels:
 *   a: kc x MR, stored k-major (a[k*MR + r] = op(A)[i+r][p+k]),
 *   b: kc x NR, stored k-major (b[k*NR + c] = op(B)[p+k][j+c]),
 *   C[r*ldc + c] = alpha * sum_k a*b + beta * C   (beta == 0: C is not read).
 * Panels are 64-byte aligned; C is arbitrary. kc >= 1.
 *
 * A kernel may instead have a tile form (fn is then NULL), which the driver
 * uses for every tile: the same arithmetic, but b is any row-major block (b[k*ldb + c], so
 * the driver can pass an unpacked B and skip packing it when few A panels
 * would reuse the packed copy), and only the first mm rows and nn columns
 * are read from b and C and written to C, so edge tiles need no scratch tile.
 * Each element of C sees the same operations in either form, so results do
 * not depend on which one ran. The row-offset form (tile_off, optional) is
 * the tile form with row k of b at b + boff[k] instead of b + k ldb: B's rows
 * anywhere in memory (nb_gemm_b_rows). The rows-of-A form (tile_a,
 * optional) is the tile form with a not packed: a[r*lda + k], the rows of a
 * row-major op(A) read in place (for C of few columns, where packing A would
 * cost more than the few B panels that reuse it: gemm.c's DIRECT_A_COLS). */
#ifndef NB_KERNELS_GEMM_KERNELS_H
#define NB_KERNELS_GEMM_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "nabla/config.h"

typedef void (*nb_ukernel_fn)(int64_t kc, const nb_real *a, const nb_real *b, nb_real *c, int64_t ldc,
                              nb_real alpha, nb_real beta);

typedef void (*nb_ukernel_tile_fn)(int64_t kc, const nb_real *a, const nb_real *b, int64_t ldb, nb_real *c,
                                   int64_t ldc, nb_real alpha, nb_real beta, int mm, int nn);

typedef void (*nb_ukernel_tile_off_fn)(int64_t kc, const nb_real *a, const nb_real *b, const int64_t *boff,
                                       nb_real *c, int64_t ldc, nb_real alpha, nb_real beta, int mm, int nn);

typedef void (*nb_ukernel_tile_a_fn)(int64_t kc, const nb_real *a, int64_t lda, const nb_real *b, int64_t ldb,
                                     nb_real *c, int64_t ldc, nb_real alpha, nb_real beta, int mm, int nn);

typedef struct {
    const char *name;
    int mr, nr;                      /* register tile */
    int64_t kc, mc, nc;              /* cache blocks: kc (L1), mc (L2), nc (L3); mc % mr == 0, nc % nr == 0 */
    nb_ukernel_fn fn;                /* the packed form, or NULL when there is a tile form */
    nb_ukernel_tile_fn tile;         /* the tile form, or NULL */
    nb_ukernel_tile_off_fn tile_off; /* the row-offset form, or NULL */
    nb_ukernel_tile_a_fn tile_a;     /* the rows-of-A form, or NULL */
} nb_gemm_ukernel;

#if (defined(__x86_64__) || defined(__i386__)) && !defined(NABLA_F64) && defined(__GNUC__) &&                \
    !defined(NB_GEMM_NO_SIMD) /* -DNB_GEMM_NO_SIMD: the portable path only */
#define NB_GEMM_X86 1
extern const nb_gemm_ukernel nb_gemm_ukernel_avx2;
extern const nb_gemm_ukernel nb_gemm_ukernel_avx512;
#endif

/* Internal (tests, bench): selects the micro-kernel by name ("generic",
 * "avx2", "avx512"; NULL = best for this CPU). Returns 0, or -1 when it is not
 * available here (the selection is then unchanged). Not thread-safe against
 * concurrent nb_gemm calls. */
int nb_gemm_set_kernel(const char *name);
/* Name of the micro-kernel nb_gemm currently uses. */
const char *nb_gemm_kernel_name(void);

/* The calling thread's packing buffer, 64-byte aligned, at least `bytes`
 * long, reused (and overwritten) by the next product on this thread; NULL
 * when out of memory. For the bfloat16 driver (gemm_bf16.c). */
void *nb_gemm_scratch(size_t bytes);

/* A transpose: dst[k*w + r] = src[r*ld + k] for r < rows, k < kc (w is the
 * row stride of dst, at least rows), by 8 x 8 AVX2 and 4 x 4 SSE blocks
 * where x86 has them: the packing's transposes, and the copies of a
 * transposed problem's tile (C^T computed, C written). */
void nb_gemm_transpose_into(const nb_real *restrict src, int64_t ld, int rows, int64_t w, int64_t kc,
                            nb_real *restrict dst);

#endif
