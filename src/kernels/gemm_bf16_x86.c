/* kernels/gemm_bf16_x86.c — the AVX512_BF16 bfloat16 micro-kernel (12 x 32,
 * vdpbf16ps) and the packing conversions (vcvtne2ps2bf16), and the AVX2
 * micro-kernel (4 x 16, FMAs) for CPUs without AVX512_BF16, for
 * gemm_bf16.c, which picks them at run time with __builtin_cpu_supports.
 *
 * The register tile is the float32 AVX-512 kernel's (gemm_x86.c): 12 rows of
 * two zmm accumulators; a k-pair loads two zmm of B (32 columns x 2 k) and
 * broadcasts one 32-bit pair of A per row, and each vdpbf16ps does the work
 * of two FMAs (16 lanes x 2 products). On Zen 4, whose 512-bit units are two
 * 256-bit halves, that doubles the multiply-adds per instruction, not the
 * instructions per cycle. */
#include "kernels/gemm_bf16.h"
#include "kernels/simd.h"

#ifdef NB_GEMM_BF16_X86
#include <immintrin.h>

#define BF16_MR 12
#define BF16_NR 32
#define BF16_TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma")))

/* The transposing panel (gemm_bf16.h, nb_bf16_crows_fn) 16 rows by 16 pairs
 * at a time: each row's 32 floats converted into 16 pairs (vcvtne2ps2bf16
 * puts its second operand's conversions in the low half, so the pairs come
 * out in k order), then the 16 x 16 block of 32-bit pairs transposed (the
 * usual network: unpack 32-bit, unpack 64-bit, two stages of 128-bit lane
 * shuffles) and stored as 16 rows of the panel. */
BF16_TGT static void transpose16(__m512i r[16])
{
    __m512i t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) { /* u[4i + q], 128-bit lane L: element 4L + q of rows 4i..4i+3 */
        u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int q = 0; q < 4; q++) { /* the 4 x 4 transpose of u[q], u[4+q], u[8+q], u[12+q]'s lanes */
        __m512i s0 = _mm512_shuffle_i32x4(u[q], u[4 + q], 0x44),
                s1 = _mm512_shuffle_i32x4(u[q], u[4 + q], 0xEE);
        __m512i s2 = _mm512_shuffle_i32x4(u[8 + q], u[12 + q], 0x44);
        __m512i s3 = _mm512_shuffle_i32x4(u[8 + q], u[12 + q], 0xEE);
        r[q] = _mm512_shuffle_i32x4(s0, s2, 0x88);
        r[4 + q] = _mm512_shuffle_i32x4(s0, s2, 0xDD);
        r[8 + q] = _mm512_shuffle_i32x4(s1, s3, 0x88);
        r[12 + q] = _mm512_shuffle_i32x4(s1, s3, 0xDD);
    }
}

BF16_TGT static void crows_avx512bf16(const float *src, int64_t ld, int rows, int w, int64_t kc,
                                      uint16_t *tmp, uint32_t *dst)
{
    (void)tmp;
    const int64_t kp = (kc + 1) / 2;
    for (int g = 0; g < w; g += 16) {
        __mmask16 cols = (__mmask16)(w - g >= 16 ? 0xFFFF : (1u << (w - g)) - 1);
        for (int64_t p0 = 0; p0 < kp; p0 += 16) {
            int64_t k0 = 2 * p0, kn = kc - k0;
            __mmask16 lo = (__mmask16)(kn >= 16 ? 0xFFFF : (1u << kn) - 1);
            __mmask16 hi = (__mmask16)(kn >= 32 ? 0xFFFF : kn > 16 ? (1u << (kn - 16)) - 1 : 0);
            __m512i r[16];
            for (int i = 0; i < 16; i++) {
                if (g + i >= rows) {
                    r[i] = _mm512_setzero_si512();
                    continue;
                }
                const float *s = src + (g + i) * ld + k0;
                r[i] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, s + 16),
                                                    _mm512_maskz_loadu_ps(lo, s));
            }
            transpose16(r);
            for (int64_t p = 0; p < 16 && p0 + p < kp; p++)
                _mm512_mask_storeu_epi32(dst + (p0 + p) * w + g, cols, r[p]);
        }
    }
}

/* dst[i] = bf16(r0[i]) | bf16(r1[i]) << 16, 16 at a time: convert both rows
 * into one zmm (r0 low, r1 high), then interleave the halves' words. */
BF16_TGT static void pairs_avx512bf16(const float *r0, const float *r1, int64_t n, uint32_t *dst)
{
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7,
                                         22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = (__mmask16)(n - i >= 16 ? 0xFFFF : (1u << (n - i)) - 1);
        __m512 x0 = _mm512_maskz_loadu_ps(m, r0 + i);
        __m512 x1 = r1 ? _mm512_maskz_loadu_ps(m, r1 + i) : _mm512_setzero_ps();
        __m512i v = _mm512_permutexvar_epi16(idx, (__m512i)_mm512_cvtne2ps_pbh(x1, x0));
        _mm512_mask_storeu_epi32(dst + i, m, v);
    }
}

#define B_DECL(r) __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = _mm512_setzero_ps();
#define B_DOT(r)                                                                                             \
    {                                                                                                        \
        __m512bh ar = (__m512bh)_mm512_set1_epi32((int)a[r]);                                                \
        c##r##0 = _mm512_dpbf16_ps(c##r##0, ar, b0);                                                         \
        c##r##1 = _mm512_dpbf16_ps(c##r##1, ar, b1);                                                         \
    }
/* Row r of the tile (r < mm): alpha == 1 skips the multiply (exact), beta
 * == 0 does not read C, columns masked to nn. */
#define B_STORE(r)                                                                                           \
    {                                                                                                        \
        float *cr = c + (r)*ldc;                                                                             \
        __m512 t0 = one ? c##r##0 : _mm512_mul_ps(c##r##0, va);                                              \
        __m512 t1 = one ? c##r##1 : _mm512_mul_ps(c##r##1, va);                                              \
        if (!beta0) {                                                                                        \
            t0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, cr), vb, t0);                                     \
            t1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, cr + 16), vb, t1);                                \
        }                                                                                                    \
        _mm512_mask_storeu_ps(cr, m0, t0);                                                                   \
        _mm512_mask_storeu_ps(cr + 16, m1, t1);                                                              \
    }
/* kernel_R: the tile's first R rows only (a still steps by BF16_MR), so an
 * edge of 4 rows (M = 16) costs 4 rows of vdpbf16ps, not 12. */
#define B_KERNEL(R)                                                                                          \
    BF16_TGT static void kernel_##R(int64_t kp, const uint32_t *restrict a, const uint32_t *restrict b,      \
                                    float *restrict c, int64_t ldc, float alpha, float beta, int nn)         \
    {                                                                                                        \
        ROWS##R(B_DECL) for (int64_t p = 0; p < kp; p++, a += BF16_MR, b += BF16_NR)                         \
        {                                                                                                    \
            __m512bh b0 = (__m512bh)_mm512_load_si512(b);                                                    \
            __m512bh b1 = (__m512bh)_mm512_load_si512(b + 16);                                               \
            ROWS##R(B_DOT)                                                                                   \
        }                                                                                                    \
        __mmask16 m0 = (__mmask16)(nn >= 16 ? 0xFFFF : (1u << nn) - 1);                                      \
        __mmask16 m1 = (__mmask16)(nn >= 32 ? 0xFFFF : nn > 16 ? (1u << (nn - 16)) - 1 : 0);                 \
        __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);                                        \
        int beta0 = beta == 0, one = alpha == 1;                                                             \
        ROWS##R(B_STORE)                                                                                     \
    }
B_KERNEL(1)
B_KERNEL(2)
B_KERNEL(3)
B_KERNEL(4)
B_KERNEL(5)
B_KERNEL(6)
B_KERNEL(7)
B_KERNEL(8)
B_KERNEL(9)
B_KERNEL(10)
B_KERNEL(11)
B_KERNEL(12)

typedef void (*rows_fn)(int64_t, const uint32_t *, const uint32_t *, float *, int64_t, float, float, int);
static const rows_fn kernels[BF16_MR] = {kernel_1, kernel_2, kernel_3, kernel_4,  kernel_5,  kernel_6,
                                         kernel_7, kernel_8, kernel_9, kernel_10, kernel_11, kernel_12};

static void kernel_avx512bf16(int64_t kp, const uint32_t *a, const uint32_t *b, float *c, int64_t ldc,
                              float alpha, float beta, int mm, int nn)
{
    kernels[mm - 1](kp, a, b, c, ldc, alpha, beta, nn);
}

const nb_bf16_ukernel nb_bf16_ukernel_avx512bf16 = {
    "avx512bf16", BF16_MR, BF16_NR, 240, 4096, kernel_avx512bf16, crows_avx512bf16, pairs_avx512bf16,
};

/* ---- AVX2 + FMA: 4 x 16 (8 ymm accumulators) -----------------------------
 * A word's even-k half widened to float32 is the word shifted left by 16,
 * its odd-k half the word with the low 16 bits cleared: 4 widened B vectors,
 * 8 accumulators and 2 widened A values fit the 16 ymm registers. Each pair
 * adds the odd product, then the even one, by FMAs: the products of two
 * bfloat16 are exact in float32, so each FMA rounds once, as the portable
 * kernel's additions do. */
#define BA_MR 4
#define BA_NR 16
#define BA_TGT __attribute__((target("avx2,fma")))

BA_TGT static inline __m256 widen_even(__m256i w) { return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)); }

BA_TGT static inline __m256 widen_odd(__m256i w, __m256i hi)
{
    return _mm256_castsi256_ps(_mm256_and_si256(w, hi));
}

BA_TGT static void kernel_avx2(int64_t kp, const uint32_t *a, const uint32_t *b, float *c, int64_t ldc,
                               float alpha, float beta, int mm, int nn)
{
    const __m256i hi = _mm256_set1_epi32((int)0xFFFF0000u);
    __m256 acc[BA_MR][2];
    for (int r = 0; r < BA_MR; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (int64_t p = 0; p < kp; p++, a += BA_MR, b += BA_NR) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)b),
                w1 = _mm256_loadu_si256((const __m256i *)(b + 8));
        __m256 b0e = widen_even(w0), b0o = widen_odd(w0, hi), b1e = widen_even(w1), b1o = widen_odd(w1, hi);
        for (int r = 0; r < BA_MR; r++) {
            __m256i ar = _mm256_set1_epi32((int)a[r]);
            __m256 ae = widen_even(ar), ao = widen_odd(ar, hi);
            acc[r][0] = _mm256_fmadd_ps(ae, b0e, _mm256_fmadd_ps(ao, b0o, acc[r][0]));
            acc[r][1] = _mm256_fmadd_ps(ae, b1e, _mm256_fmadd_ps(ao, b1o, acc[r][1]));
        }
    }
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    const __m256i k0 = nb_avx2_lanes(0, nn), k1 = nb_avx2_lanes(0, nn - 8);
    for (int r = 0; r < mm; r++) {
        float *cr = c + r * ldc;
        __m256 t0 = alpha == 1 ? acc[r][0] : _mm256_mul_ps(acc[r][0], va);
        __m256 t1 = alpha == 1 ? acc[r][1] : _mm256_mul_ps(acc[r][1], va);
        if (beta != 0) {
            t0 = _mm256_fmadd_ps(_mm256_maskload_ps(cr, k0), vb, t0);
            t1 = _mm256_fmadd_ps(_mm256_maskload_ps(cr + 8, k1), vb, t1);
        }
        nb_avx2_store_first(cr, t0, nn);
        if (nn > 8)
            nb_avx2_store_first(cr + 8, t1, nn - 8);
    }
}

const nb_bf16_ukernel nb_bf16_ukernel_avx2 = {
    "avx2", BA_MR, BA_NR, 192, 4096, kernel_avx2, nb_bf16_crows_generic, nb_bf16_pairs_generic,
};

#endif /* NB_GEMM_BF16_X86 */
