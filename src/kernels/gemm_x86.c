/* kernels/gemm_x86.c — float32 GEMM micro-kernels for x86-64 (AVX2+FMA, AVX-512).
 *
 * Compiled with per-function target attributes so the default build runs on
 * any x86-64; gemm.c picks one at run time with __builtin_cpu_supports.
 * Register tiling follows the BLIS/OpenBLAS Haswell-style sgemm kernels
 * (broadcast one element of the A panel, multiply by NR-wide vectors of the
 * B panel, accumulate an MR x NR tile held entirely in registers; see Van Zee
 * & van de Geijn, "BLIS: A Framework for Rapidly Instantiating BLAS
 * Functionality", and OpenBLAS kernel/x86_64/sgemm_kernel_*_haswell.S). The
 * code itself is written from scratch with intrinsics. */
#include "kernels/gemm_kernels.h"
#include "kernels/simd.h"

#ifdef NB_GEMM_X86
#include <immintrin.h>

/* ---- AVX2 + FMA: 6 x 16 (12 ymm accumulators) --------------------------- */

#define AVX2_MR 6
#define AVX2_NR 16

__attribute__((target("avx2,fma"))) static inline void avx2_store(float *c, __m256 acc, __m256 va, __m256 vb,
                                                                  int beta0)
{
    __m256 t = _mm256_mul_ps(acc, va);
    if (!beta0)
        t = _mm256_fmadd_ps(_mm256_loadu_ps(c), vb, t);
    _mm256_storeu_ps(c, t);
}

__attribute__((target("avx2,fma"))) static void ukernel_avx2_6x16(int64_t kc, const float *restrict a,
                                                                  const float *restrict b, float *restrict c,
                                                                  int64_t ldc, float alpha, float beta)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    for (int r = 0; r < AVX2_MR; r++)
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
#define AVX2_STEP(k)                                                                                         \
    do {                                                                                                     \
        __m256 b0 = _mm256_load_ps(b + (k)*16);                                                              \
        __m256 b1 = _mm256_load_ps(b + (k)*16 + 8);                                                          \
        __m256 a0 = _mm256_broadcast_ss(a + (k)*6 + 0);                                                      \
        __m256 a1 = _mm256_broadcast_ss(a + (k)*6 + 1);                                                      \
        c00 = _mm256_fmadd_ps(a0, b0, c00);                                                                  \
        c01 = _mm256_fmadd_ps(a0, b1, c01);                                                                  \
        c10 = _mm256_fmadd_ps(a1, b0, c10);                                                                  \
        c11 = _mm256_fmadd_ps(a1, b1, c11);                                                                  \
        a0 = _mm256_broadcast_ss(a + (k)*6 + 2);                                                             \
        a1 = _mm256_broadcast_ss(a + (k)*6 + 3);                                                             \
        c20 = _mm256_fmadd_ps(a0, b0, c20);                                                                  \
        c21 = _mm256_fmadd_ps(a0, b1, c21);                                                                  \
        c30 = _mm256_fmadd_ps(a1, b0, c30);                                                                  \
        c31 = _mm256_fmadd_ps(a1, b1, c31);                                                                  \
        a0 = _mm256_broadcast_ss(a + (k)*6 + 4);                                                             \
        a1 = _mm256_broadcast_ss(a + (k)*6 + 5);                                                             \
        c40 = _mm256_fmadd_ps(a0, b0, c40);                                                                  \
        c41 = _mm256_fmadd_ps(a0, b1, c41);                                                                  \
        c50 = _mm256_fmadd_ps(a1, b0, c50);                                                                  \
        c51 = _mm256_fmadd_ps(a1, b1, c51);                                                                  \
    } while (0)
    int64_t k = 0;
    for (; k + 4 <= kc; k += 4) {
        _mm_prefetch((const char *)(a + 6 * 16), _MM_HINT_T0);
        AVX2_STEP(0);
        AVX2_STEP(1);
        AVX2_STEP(2);
        AVX2_STEP(3);
        a += 4 * 6;
        b += 4 * 16;
    }
    for (; k < kc; k++) {
        AVX2_STEP(0);
        a += 6;
        b += 16;
    }
#undef AVX2_STEP
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    int beta0 = beta == 0;
    avx2_store(c + 0 * ldc, c00, va, vb, beta0);
    avx2_store(c + 0 * ldc + 8, c01, va, vb, beta0);
    avx2_store(c + 1 * ldc, c10, va, vb, beta0);
    avx2_store(c + 1 * ldc + 8, c11, va, vb, beta0);
    avx2_store(c + 2 * ldc, c20, va, vb, beta0);
    avx2_store(c + 2 * ldc + 8, c21, va, vb, beta0);
    avx2_store(c + 3 * ldc, c30, va, vb, beta0);
    avx2_store(c + 3 * ldc + 8, c31, va, vb, beta0);
    avx2_store(c + 4 * ldc, c40, va, vb, beta0);
    avx2_store(c + 4 * ldc + 8, c41, va, vb, beta0);
    avx2_store(c + 5 * ldc, c50, va, vb, beta0);
    avx2_store(c + 5 * ldc + 8, c51, va, vb, beta0);
}

/* The tile forms (gemm_kernels.h), one function per row count R: the
 * row-offset form (nb_gemm_b_rows: the implicit-GEMM convolution; B's row k
 * read in place at b + boff[k], A packed) and the rows-of-A form (A's
 * element (r, k) read in place at a[r lda + k], B's row k at b + k ldb).
 * B's 16 lanes are masked to nn columns (loaded plainly when nn = 16), and
 * each element of C is given the packed kernel's operations in its order (an
 * FMA chain over k from zero, then avx2_store's alpha and beta), so results
 * do not depend on which form ran. Partial rows are written through
 * nb_avx2_store_first, not vmaskmovps (slow on AMD's Zen 1-3). */
#define Y_DECL(r) __m256 c##r##0 = _mm256_setzero_ps(), c##r##1 = _mm256_setzero_ps();
#define Y_FMA_OF(r, A_RK)                                                                                    \
    {                                                                                                        \
        __m256 ar = _mm256_broadcast_ss(&(A_RK));                                                            \
        c##r##0 = _mm256_fmadd_ps(ar, b0, c##r##0);                                                          \
        c##r##1 = _mm256_fmadd_ps(ar, b1, c##r##1);                                                          \
    }
#define Y_FMA(r) Y_FMA_OF(r, a[r])            /* a packed: kc x MR */
#define Y_FMA_ROWS(r) Y_FMA_OF(r, a[(r)*lda]) /* a in place: rows lda apart */
#define Y_STORE(r)                                                                                           \
    if (full) {                                                                                              \
        avx2_store(c + (r)*ldc, c##r##0, va, vb, beta0);                                                     \
        avx2_store(c + (r)*ldc + 8, c##r##1, va, vb, beta0);                                                 \
    } else {                                                                                                 \
        float *cr = c + (r)*ldc;                                                                             \
        __m256 t0 = _mm256_mul_ps(c##r##0, va), t1 = _mm256_mul_ps(c##r##1, va);                             \
        if (!beta0) {                                                                                        \
            t0 = _mm256_fmadd_ps(_mm256_maskload_ps(cr, k0), vb, t0);                                        \
            t1 = _mm256_fmadd_ps(_mm256_maskload_ps(cr + 8, k1), vb, t1);                                    \
        }                                                                                                    \
        nb_avx2_store_first(cr, t0, nn);                                                                     \
        if (nn > 8)                                                                                          \
            nb_avx2_store_first(cr + 8, t1, nn - 8);                                                         \
    }
/* NAME_avx2_R: A's element (r, k) by FMA (Y_FMA: packed, a stepping by
 * ASTEP = MR; Y_FMA_ROWS: in place, ASTEP 1, lda after the variadic part's
 * other parameters), B's row k at BROW. */
#define Y_TILE(NAME, R, FMA, ASTEP, BROW, ...)                                                               \
    __attribute__((target("avx2,fma"))) static void NAME##_avx2_##R(                                         \
        int64_t kc, const float *restrict a, const float *restrict b, __VA_ARGS__, float *restrict c,        \
        int64_t ldc, float alpha, float beta, int nn)                                                        \
    {                                                                                                        \
        const bool full = nn == AVX2_NR;                                                                     \
        const __m256i k0 = nb_avx2_lanes(0, nn), k1 = nb_avx2_lanes(0, nn - 8);                              \
        ROWS##R(Y_DECL) for (int64_t k = 0; k < kc; k++)                                                     \
        {                                                                                                    \
            const float *bk = BROW;                                                                          \
            __m256 b0 = full ? _mm256_loadu_ps(bk) : _mm256_maskload_ps(bk, k0);                             \
            __m256 b1 = full ? _mm256_loadu_ps(bk + 8) : _mm256_maskload_ps(bk + 8, k1);                     \
            ROWS##R(FMA) a += ASTEP;                                                                         \
        }                                                                                                    \
        __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);                                        \
        int beta0 = beta == 0;                                                                               \
        ROWS##R(Y_STORE)                                                                                     \
    }
#define Y_TILES(NAME, FMA, ASTEP, BROW, ...)                                                                 \
    Y_TILE(NAME, 1, FMA, ASTEP, BROW, __VA_ARGS__)                                                           \
    Y_TILE(NAME, 2, FMA, ASTEP, BROW, __VA_ARGS__)                                                           \
    Y_TILE(NAME, 3, FMA, ASTEP, BROW, __VA_ARGS__)                                                           \
    Y_TILE(NAME, 4, FMA, ASTEP, BROW, __VA_ARGS__)                                                           \
    Y_TILE(NAME, 5, FMA, ASTEP, BROW, __VA_ARGS__)                                                           \
    Y_TILE(NAME, 6, FMA, ASTEP, BROW, __VA_ARGS__)
Y_TILES(tile_off, Y_FMA, AVX2_MR, b + boff[k], const int64_t *restrict boff)
Y_TILES(tile_a, Y_FMA_ROWS, 1, b + k * ldb, int64_t ldb, int64_t lda)

__attribute__((target("avx2,fma"))) static void ukernel_avx2_tile_off(int64_t kc, const float *restrict a,
                                                                      const float *restrict b,
                                                                      const int64_t *restrict boff,
                                                                      float *restrict c, int64_t ldc,
                                                                      float alpha, float beta, int mm, int nn)
{
    static void (*const tiles[AVX2_MR])(int64_t, const float *, const float *, const int64_t *, float *,
                                        int64_t, float, float, int) = {
        tile_off_avx2_1, tile_off_avx2_2, tile_off_avx2_3, tile_off_avx2_4, tile_off_avx2_5, tile_off_avx2_6};
    tiles[mm - 1](kc, a, b, boff, c, ldc, alpha, beta, nn);
}

__attribute__((target("avx2,fma"))) static void
ukernel_avx2_tile_a(int64_t kc, const float *restrict a, int64_t lda, const float *restrict b, int64_t ldb,
                    float *restrict c, int64_t ldc, float alpha, float beta, int mm, int nn)
{
    static void (*const tiles[AVX2_MR])(int64_t, const float *, const float *, int64_t, int64_t, float *,
                                        int64_t, float, float, int) = {
        tile_a_avx2_1, tile_a_avx2_2, tile_a_avx2_3, tile_a_avx2_4, tile_a_avx2_5, tile_a_avx2_6};
    tiles[mm - 1](kc, a, b, ldb, lda, c, ldc, alpha, beta, nn);
}

const nb_gemm_ukernel nb_gemm_ukernel_avx2 = {.name = "avx2",
                                              .mr = AVX2_MR,
                                              .nr = AVX2_NR,
                                              .kc = 320,
                                              .mc = 192,
                                              .nc = 4080,
                                              .fn = ukernel_avx2_6x16,
                                              .tile_off = ukernel_avx2_tile_off,
                                              .tile_a = ukernel_avx2_tile_a};

/* ---- AVX-512: MR x 32 (2 zmm per row) --------------------------------------
 * Zen 4 splits each 512-bit FMA into two 256-bit halves, so peak flops equal
 * AVX2's; the gain is half the instructions and loads per flop. */

#define AVX512_MR 12
#define AVX512_NR 32

#define AVX512_TGT __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,fma")))
#define Z_DECL(r) __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = _mm512_setzero_ps();
#define Z_FMA_OF(r, A_RK)                                                                                    \
    {                                                                                                        \
        __m512 ar = _mm512_set1_ps(A_RK);                                                                    \
        c##r##0 = _mm512_fmadd_ps(ar, b0, c##r##0);                                                          \
        c##r##1 = _mm512_fmadd_ps(ar, b1, c##r##1);                                                          \
    }
#define Z_FMA(r) Z_FMA_OF(r, a[r])            /* a packed: kc x MR */
#define Z_FMA_ROWS(r) Z_FMA_OF(r, a[(r)*lda]) /* a in place: rows lda apart */
/* Only the tile form (gemm_kernels.h), which serves full tiles too: b rows
 * ldb apart, masked to nn columns; only the mm rows of the tile computed and
 * written (one kernel per row count, so a 10-row edge costs 10 rows of FMAs,
 * not 12); a packed a still steps by AVX512_MR. alpha == 1 skips the multiply, which
 * is exact. */
#define Z_TILE_STORE(r)                                                                                      \
    {                                                                                                        \
        float *cr = c + (r)*ldc;                                                                             \
        __m512 t0 = one ? c##r##0 : _mm512_mul_ps(c##r##0, va);                                              \
        __m512 t1 = one ? c##r##1 : _mm512_mul_ps(c##r##1, va);                                              \
        if (!beta0) {                                                                                        \
            t0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, cr), vb, t0);                                     \
            t1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, cr + 16), vb, t1);                                \
        }                                                                                                    \
        if (full) {                                                                                          \
            _mm512_storeu_ps(cr, t0);                                                                        \
            _mm512_storeu_ps(cr + 16, t1);                                                                   \
        } else {                                                                                             \
            _mm512_mask_storeu_ps(cr, m0, t0);                                                               \
            _mm512_mask_storeu_ps(cr + 16, m1, t1);                                                          \
        }                                                                                                    \
    }
/* NAME_R: the tile of R rows, A's element (r, k) by FMA (Z_FMA: packed,
 * a stepping by ASTEP = MR; Z_FMA_ROWS: rows of A read in place, ASTEP 1,
 * lda a parameter after ldb in the variadic part),
 * B's row k at BROW (b + k ldb in the tile form, b + boff[k] in the
 * row-offset form), the same FMAs in every form. */
#define Z_TILE(NAME, R, FMA, ASTEP, BROW, ...)                                                               \
    AVX512_TGT static void NAME##_##R(int64_t kc, const float *restrict a, const float *restrict b,          \
                                      __VA_ARGS__, float *restrict c, int64_t ldc, float alpha, float beta,  \
                                      __mmask16 m0, __mmask16 m1)                                            \
    {                                                                                                        \
        ROWS##R(Z_DECL) for (int64_t k = 0; k < kc; k++)                                                     \
        {                                                                                                    \
            const float *bk = BROW;                                                                          \
            __m512 b0 = _mm512_maskz_loadu_ps(m0, bk);                                                       \
            __m512 b1 = _mm512_maskz_loadu_ps(m1, bk + 16);                                                  \
            ROWS##R(FMA) a += ASTEP;                                                                         \
        }                                                                                                    \
        __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);                                        \
        int beta0 = beta == 0, one = alpha == 1, full = m1 == 0xFFFF;                                        \
        ROWS##R(Z_TILE_STORE)                                                                                \
    }
#define Z_TILES(NAME, FMA, ASTEP, BROW, ...)                                                                 \
    Z_TILE(NAME, 1, FMA, ASTEP, BROW, __VA_ARGS__)                                                           \
    Z_TILE(NAME, 2, FMA, ASTEP, BROW, __VA_ARGS__)                                                           \
    Z_TILE(NAME, 3, FMA, ASTEP, BROW, __VA_ARGS__)                                                           \
    Z_TILE(NAME, 4, FMA, ASTEP, BROW, __VA_ARGS__)                                                           \
    Z_TILE(NAME, 5, FMA, ASTEP, BROW, __VA_ARGS__)                                                           \
    Z_TILE(NAME, 6, FMA, ASTEP, BROW, __VA_ARGS__)                                                           \
    Z_TILE(NAME, 7, FMA, ASTEP, BROW, __VA_ARGS__)                                                           \
    Z_TILE(NAME, 8, FMA, ASTEP, BROW, __VA_ARGS__)                                                           \
    Z_TILE(NAME, 9, FMA, ASTEP, BROW, __VA_ARGS__)                                                           \
    Z_TILE(NAME, 10, FMA, ASTEP, BROW, __VA_ARGS__)                                                          \
    Z_TILE(NAME, 11, FMA, ASTEP, BROW, __VA_ARGS__)                                                          \
    Z_TILE(NAME, 12, FMA, ASTEP, BROW, __VA_ARGS__)
Z_TILES(tile, Z_FMA, AVX512_MR, b + k * ldb, int64_t ldb)
Z_TILES(tile_off, Z_FMA, AVX512_MR, b + boff[k], const int64_t *restrict boff)
Z_TILES(tile_a, Z_FMA_ROWS, 1, b + k * ldb, int64_t ldb, int64_t lda)

typedef void (*z_tile_fn)(int64_t, const float *, const float *, int64_t, float *, int64_t, float, float,
                          __mmask16, __mmask16);
typedef void (*z_tile_off_fn)(int64_t, const float *, const float *, const int64_t *, float *, int64_t, float,
                              float, __mmask16, __mmask16);
static const z_tile_fn z_tiles[AVX512_MR] = {tile_1, tile_2, tile_3, tile_4,  tile_5,  tile_6,
                                             tile_7, tile_8, tile_9, tile_10, tile_11, tile_12};
typedef void (*z_tile_a_fn)(int64_t, const float *, const float *, int64_t, int64_t, float *, int64_t, float,
                            float, __mmask16, __mmask16);
static const z_tile_a_fn z_tiles_a[AVX512_MR] = {tile_a_1, tile_a_2,  tile_a_3,  tile_a_4,
                                                 tile_a_5, tile_a_6,  tile_a_7,  tile_a_8,
                                                 tile_a_9, tile_a_10, tile_a_11, tile_a_12};
static const z_tile_off_fn z_tiles_off[AVX512_MR] = {tile_off_1, tile_off_2,  tile_off_3,  tile_off_4,
                                                     tile_off_5, tile_off_6,  tile_off_7,  tile_off_8,
                                                     tile_off_9, tile_off_10, tile_off_11, tile_off_12};

/* The masks of the first nn of 32 columns. */
static inline void z_masks(int nn, __mmask16 *m0, __mmask16 *m1)
{
    *m0 = nn >= 16 ? 0xFFFF : (__mmask16)((1u << nn) - 1);
    *m1 = nn >= 32 ? 0xFFFF : nn > 16 ? (__mmask16)((1u << (nn - 16)) - 1) : 0;
}

AVX512_TGT
static void ukernel_avx512_tile(int64_t kc, const float *restrict a, const float *restrict b, int64_t ldb,
                                float *restrict c, int64_t ldc, float alpha, float beta, int mm, int nn)
{
    __mmask16 m0, m1;
    z_masks(nn, &m0, &m1);
    z_tiles[mm - 1](kc, a, b, ldb, c, ldc, alpha, beta, m0, m1);
}

AVX512_TGT
static void ukernel_avx512_tile_off(int64_t kc, const float *restrict a, const float *restrict b,
                                    const int64_t *restrict boff, float *restrict c, int64_t ldc, float alpha,
                                    float beta, int mm, int nn)
{
    __mmask16 m0, m1;
    z_masks(nn, &m0, &m1);
    z_tiles_off[mm - 1](kc, a, b, boff, c, ldc, alpha, beta, m0, m1);
}

AVX512_TGT
static void ukernel_avx512_tile_a(int64_t kc, const float *restrict a, int64_t lda, const float *restrict b,
                                  int64_t ldb, float *restrict c, int64_t ldc, float alpha, float beta,
                                  int mm, int nn)
{
    __mmask16 m0, m1;
    z_masks(nn, &m0, &m1);
    z_tiles_a[mm - 1](kc, a, b, ldb, lda, c, ldc, alpha, beta, m0, m1);
}

const nb_gemm_ukernel nb_gemm_ukernel_avx512 = {.name = "avx512",
                                                .mr = AVX512_MR,
                                                .nr = AVX512_NR,
                                                .kc = 256,
                                                .mc = 192,
                                                .nc = 4096,
                                                .tile = ukernel_avx512_tile,
                                                .tile_off = ukernel_avx512_tile_off,
                                                .tile_a = ukernel_avx512_tile_a};

#endif /* NB_GEMM_X86 */