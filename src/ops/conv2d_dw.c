/* ops/conv2d_dw.c — dW of a stride-1 convolution with few input channels
 * (the first layer of an image network: C = 1, kw C < 16), computed from the
 * padded image instead of as a GEMM over its columns.
 *
 * That GEMM, dY_n [O, Ho Wo] times cols_n^T [Ho Wo, C kh kw], has both
 * operands with the pixels contiguous and a tiny C kh kw (9 for a 3x3 kernel
 * on one channel): it is computed transposed and spends most of its time
 * transposing both operands into panels (the first convolution's dW was
 * about a tenth of the CNN's epoch, most of it packing). Here each
 * dW[o, (c,p,q)] is a dot product of dY[o] with the image shifted by
 * (p d0, q d1), taken for a block of up to 8 output channels and 3 kernel
 * columns at once: every 16 pixels of a row load 8 gradients and 3 shifted
 * image runs and issue 24 FMAs into 24 accumulators; masked loads end each
 * row, so no pixel outside [Ho, Wo] enters a sum. With AVX2 only (Zen 3),
 * blocks of 4 channels and 8 pixels, for its 16 registers. */
#include "ops/conv2d_dw.h"
#include "kernels/simd.h"

#ifdef NB_X86_SIMD
#include <immintrin.h>

enum { OB = 8, QB = 3 }; /* output channels x kernel columns per block */

/* dW of output channels [o, o + ob) x kernel columns [q0, q0 + qb) at (c, p):
 * dy points at dY[o], xr at xp[c, p d0, q0 d1], out at dw[o, (c, p, q0)]. */
__attribute__((always_inline, target("avx512f"))) static inline void
dw_block(const nb_conv2d_dw_shape *s, const int ob, const int qb, const float *dy, const float *xr,
         float *out, bool accumulate)
{
    const int64_t HW = s->Ho * s->Wo, CK = s->C * s->kh * s->kw;
    __m512 acc[OB][QB];
    for (int o = 0; o < ob; o++)
        for (int q = 0; q < qb; q++)
            acc[o][q] = _mm512_setzero_ps();
    for (int64_t i = 0; i < s->Ho; i++)
        for (int64_t j = 0; j < s->Wo; j += 16) {
            __mmask16 k = s->Wo - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (s->Wo - j)) - 1);
            __m512 xv[QB];
            for (int q = 0; q < qb; q++)
                xv[q] = _mm512_maskz_loadu_ps(k, xr + i * s->Wp + j + q * s->d1);
            for (int o = 0; o < ob; o++) {
                __m512 dv = _mm512_maskz_loadu_ps(k, dy + o * HW + i * s->Wo + j);
                for (int q = 0; q < qb; q++)
                    acc[o][q] = _mm512_fmadd_ps(dv, xv[q], acc[o][q]);
            }
        }
    for (int o = 0; o < ob; o++)
        for (int q = 0; q < qb; q++) {
            float v = _mm512_reduce_add_ps(acc[o][q]);
            out[o * CK + q] = accumulate ? out[o * CK + q] + v : v;
        }
}

/* A block with ob and qb known at compile time (the accumulators stay in
 * registers). */
#define DW_BLOCK(fn, o, q)                                                                                   \
    case o * 4 + q: fn(s, o, q, d, xr, out, accumulate); break;

__attribute__((target("avx512f"))) static void dw_avx512(const nb_conv2d_dw_shape *s, const float *dy,
                                                         const float *xp, float *dw, bool accumulate)
{
    const int64_t HW = s->Ho * s->Wo, CK = s->C * s->kh * s->kw;
    for (int64_t c = 0; c < s->C; c++)
        for (int64_t p = 0; p < s->kh; p++)
            for (int64_t o = 0; o < s->O;) {
                int n = s->O - o >= 8 ? 8 : s->O - o >= 4 ? 4 : s->O - o >= 2 ? 2 : 1;
                for (int64_t q0 = 0; q0 < s->kw; q0 += QB) {
                    int qb = s->kw - q0 < QB ? (int)(s->kw - q0) : QB;
                    const float *d = dy + o * HW;
                    const float *xr = xp + (c * s->Hp + p * s->d0) * s->Wp + q0 * s->d1;
                    float *out = dw + o * CK + (c * s->kh + p) * s->kw + q0;
                    switch (n * 4 + qb) {
                        DW_BLOCK(dw_block, 8, 3)
                        DW_BLOCK(dw_block, 8, 2)
                        DW_BLOCK(dw_block, 8, 1)
                        DW_BLOCK(dw_block, 4, 3)
                        DW_BLOCK(dw_block, 4, 2)
                        DW_BLOCK(dw_block, 4, 1)
                        DW_BLOCK(dw_block, 2, 3)
                        DW_BLOCK(dw_block, 2, 2)
                        DW_BLOCK(dw_block, 2, 1)
                        DW_BLOCK(dw_block, 1, 3)
                        DW_BLOCK(dw_block, 1, 2)
                        DW_BLOCK(dw_block, 1, 1)
                    }
                }
                o += n;
            }
}

/* AVX2: blocks of 4 output channels x 3 kernel columns, 8 pixels a step: 12
 * accumulators, 3 image runs and a gradient fill the 16 ymm registers. Full
 * steps load plainly; the masked last step of a row reads only its lanes. */
enum { OB2 = 4 };

__attribute__((always_inline, target("avx2,fma"))) static inline void
dw_block_avx2(const nb_conv2d_dw_shape *s, const int ob, const int qb, const float *dy, const float *xr,
              float *out, bool accumulate)
{
    const int64_t HW = s->Ho * s->Wo, CK = s->C * s->kh * s->kw;
    __m256 acc[OB2][QB];
    for (int o = 0; o < ob; o++)
        for (int q = 0; q < qb; q++)
            acc[o][q] = _mm256_setzero_ps();
    for (int64_t i = 0; i < s->Ho; i++)
        for (int64_t j = 0; j < s->Wo; j += 8) {
            bool full = s->Wo - j >= 8;
            __m256i k = nb_avx2_lanes(0, s->Wo - j);
            __m256 xv[QB];
            for (int q = 0; q < qb; q++) {
                const float *xq = xr + i * s->Wp + j + q * s->d1;
                xv[q] = full ? _mm256_loadu_ps(xq) : _mm256_maskload_ps(xq, k);
            }
            for (int o = 0; o < ob; o++) {
                const float *d = dy + o * HW + i * s->Wo + j;
                __m256 dv = full ? _mm256_loadu_ps(d) : _mm256_maskload_ps(d, k);
                for (int q = 0; q < qb; q++)
                    acc[o][q] = _mm256_fmadd_ps(dv, xv[q], acc[o][q]);
            }
        }
    for (int o = 0; o < ob; o++)
        for (int q = 0; q < qb; q++) {
            __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc[o][q]), _mm256_extractf128_ps(acc[o][q], 1));
            h = _mm_add_ps(h, _mm_movehl_ps(h, h));
            float v = _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
            out[o * CK + q] = accumulate ? out[o * CK + q] + v : v;
        }
}

__attribute__((target("avx2,fma"))) static void dw_avx2(const nb_conv2d_dw_shape *s, const float *dy,
                                                        const float *xp, float *dw, bool accumulate)
{
    const int64_t HW = s->Ho * s->Wo, CK = s->C * s->kh * s->kw;
    for (int64_t c = 0; c < s->C; c++)
        for (int64_t p = 0; p < s->kh; p++)
            for (int64_t o = 0; o < s->O;) {
                int n = s->O - o >= 4 ? 4 : s->O - o >= 2 ? 2 : 1;
                for (int64_t q0 = 0; q0 < s->kw; q0 += QB) {
                    int qb = s->kw - q0 < QB ? (int)(s->kw - q0) : QB;
                    const float *d = dy + o * HW;
                    const float *xr = xp + (c * s->Hp + p * s->d0) * s->Wp + q0 * s->d1;
                    float *out = dw + o * CK + (c * s->kh + p) * s->kw + q0;
                    switch (n * 4 + qb) {
                        DW_BLOCK(dw_block_avx2, 4, 3)
                        DW_BLOCK(dw_block_avx2, 4, 2)
                        DW_BLOCK(dw_block_avx2, 4, 1)
                        DW_BLOCK(dw_block_avx2, 2, 3)
                        DW_BLOCK(dw_block_avx2, 2, 2)
                        DW_BLOCK(dw_block_avx2, 2, 1)
                        DW_BLOCK(dw_block_avx2, 1, 3)
                        DW_BLOCK(dw_block_avx2, 1, 2)
                        DW_BLOCK(dw_block_avx2, 1, 1)
                    }
                }
                o += n;
            }
}
#endif

bool nb_conv2d_dw_direct_ok(void)
{
#ifdef NB_X86_SIMD
    return nb_cpu_avx512() || nb_cpu_avx2();
#else
    return false;
#endif
}

void nb_conv2d_dw_direct(const nb_conv2d_dw_shape *s, const nb_real *dy, const nb_real *xp, nb_real *dw,
                         bool accumulate)
{
#ifdef NB_X86_SIMD
    if (nb_cpu_avx512())
        dw_avx512(s, dy, xp, dw, accumulate);
    else
        dw_avx2(s, dy, xp, dw, accumulate);
#else
    (void)s, (void)dy, (void)xp, (void)dw, (void)accumulate; /* nb_conv2d_dw_direct_ok() is false */
#endif
}
