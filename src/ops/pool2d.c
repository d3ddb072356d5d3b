/* ops/pool2d.c — torch.nn.functional.max_pool2d and avg_pool2d over x [N,C,H,W]
 * (or [C,H,W]), square windows, ceil_mode = false. Window (i,j) covers rows
 * [i s - p, i s - p + k) and columns [j s - p, j s - p + k), clipped to the
 * image; Ho = floor((H + 2p - k) / s) + 1 (PyTorch docs, torch.nn.MaxPool2d).
 *
 *   max:  y[i,j] = x[a*],  a* = the position of the maximum in the clipped
 *         window (padding is -inf), scanning rows then columns and keeping the
 *         first on ties; a NaN replaces the running maximum, so the last NaN of
 *         a window wins — the rule of PyTorch's CPU kernel (cpu_max_pool,
 *         aten/src/ATen/native/cpu/MaxPoolKernel.cpp: val > max || isnan(val)).
 *         backward: dx[a*] += dy[i,j]; the positions are kept from the forward.
 *   avg:  y[i,j] = sum of the clipped window / k^2 (count_include_pad: padded
 *         zeros count; with ceil_mode false every window is k x k before
 *         clipping). backward: dx[a] += dy[i,j] / k^2 over the clipped window.
 *
 * Planes (n,c) are independent and split over threads; within a plane every
 * sum runs in a fixed order, so results do not depend on the thread count. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "ops/pool2d.h"
#include "nabla/threads.h"
#include "kernels/simd.h"

#ifdef NB_X86_SIMD
#include <immintrin.h>
#endif

enum { GRAIN = 1 << 14 }; /* window elements per task */

typedef nb_pool2d pool;

/* The clipped window of output (i,j): rows [h0,h1), columns [w0,w1). */
static inline void window(const pool *q, int64_t i, int64_t j, int64_t *h0, int64_t *h1, int64_t *w0,
                          int64_t *w1)
{
    int64_t hs = i * q->s - q->p, ws = j * q->s - q->p;
    *h1 = hs + q->k < q->H ? hs + q->k : q->H;
    *w1 = ws + q->k < q->W ? ws + q->k : q->W;
    *h0 = hs > 0 ? hs : 0;
    *w0 = ws > 0 ? ws : 0;
}

#ifdef NABLA_F64
typedef uint64_t real_bits;
#else
typedef uint32_t real_bits;
#endif

/* The running maximum of a window starting at its first element: the same
 * result as PyTorch's start at -inf (a first NaN or -inf is kept either way).
 * Selects through integer masks: GCC compiles a float ?: into a branch, which
 * random data mispredicts every other element (2-4x slower). */
static inline void max_step(nb_real v, int32_t at, nb_real *m, int32_t *a)
{
    int32_t take = -(int32_t)((v > *m) | (v != v));
    real_bits vb, mb;
    memcpy(&vb, &v, sizeof vb);
    memcpy(&mb, m, sizeof mb);
    mb = (vb & (real_bits)take) | (mb & ~(real_bits)take);
    memcpy(m, &mb, sizeof mb);
    *a = (at & take) | (*a & ~take);
}

/* One output row of a 2x2, stride-2 window (the usual CNN pooling) from input
 * rows r0 and r1 = r0 + W (offsets o0, o0 + W in the plane). */
NB_VECTORIZE static void max2x2_row(const nb_real *restrict r0, const nb_real *restrict r1, int64_t n,
                                    int32_t o0, int32_t W, nb_real *restrict y, int32_t *restrict idx)
{
    for (int64_t j = 0; j < n; j++) {
        nb_real m = r0[2 * j];
        int32_t a = o0 + 2 * (int32_t)j;
        max_step(r0[2 * j + 1], a + 1, &m, &a);
        max_step(r1[2 * j], o0 + W + 2 * (int32_t)j, &m, &a);
        max_step(r1[2 * j + 1], o0 + W + 2 * (int32_t)j + 1, &m, &a);
        y[j] = m;
        idx[j] = a;
    }
}

#ifdef NB_X86_SIMD
/* The same for 16 outputs at a time: the 32 inputs of each row split into
 * their even and odd columns (one permute each), then the scan above with
 * the four candidates as vectors and the select as a mask, so the value,
 * the position and the NaN rule are those of max2x2_row. Rows of 7 or 14
 * outputs (28x28 and 14x14 images) are one masked step: the scalar loop ran
 * 4-10x slower on them, being too short to vectorize. */
__attribute__((target("avx512f"))) static void max2x2_row_avx512(const float *restrict r0,
                                                                 const float *restrict r1, int64_t n,
                                                                 int32_t o0, int32_t W, float *restrict y,
                                                                 int32_t *restrict idx)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int64_t j = 0; j < n; j += 16) {
        int m = n - j < 16 ? (int)(n - j) : 16, e = 2 * m; /* outputs, inputs per row */
        __mmask16 ky = (__mmask16)((1u << m) - 1);
        __mmask16 klo = (__mmask16)(e >= 16 ? 0xFFFFu : (1u << e) - 1);
        __mmask16 khi = (__mmask16)(e > 16 ? (1u << (e - 16)) - 1 : 0);
        __m512 a0 = _mm512_maskz_loadu_ps(klo, r0 + 2 * j), a1 = _mm512_maskz_loadu_ps(khi, r0 + 2 * j + 16);
        __m512 b0 = _mm512_maskz_loadu_ps(klo, r1 + 2 * j), b1 = _mm512_maskz_loadu_ps(khi, r1 + 2 * j + 16);
        __m512 cand[3] = {_mm512_permutex2var_ps(a0, odd, a1), _mm512_permutex2var_ps(b0, even, b1),
                          _mm512_permutex2var_ps(b0, odd, b1)};
        const int32_t off[3] = {1, W, W + 1};
        __m512 mx = _mm512_permutex2var_ps(a0, even, a1);
        __m512i at = _mm512_setzero_si512();
        for (int c = 0; c < 3; c++) {
            __mmask16 take = _mm512_cmp_ps_mask(cand[c], mx, _CMP_GT_OQ) |
                             _mm512_cmp_ps_mask(cand[c], cand[c], _CMP_UNORD_Q);
            mx = _mm512_mask_mov_ps(mx, take, cand[c]);
            at = _mm512_mask_mov_epi32(at, take, _mm512_set1_epi32(off[c]));
        }
        __m512i base = _mm512_add_epi32(_mm512_set1_epi32(o0 + 2 * (int32_t)j), even);
        _mm512_mask_storeu_ps(y + j, ky, mx);
        _mm512_mask_storeu_epi32(idx + j, ky, _mm512_add_epi32(base, at));
    }
}

/* The same with AVX2, 8 outputs at a time: the 16 inputs of each row split
 * into even and odd columns (shuffle_ps takes them within each 128-bit half;
 * permute4x64 puts the halves' pairs in order), the masks as vectors, and a
 * masked step for the last 7 or fewer outputs. */
__attribute__((target("avx2"))) static void max2x2_row_avx2(const float *restrict r0,
                                                            const float *restrict r1, int64_t n, int32_t o0,
                                                            int32_t W, float *restrict y,
                                                            int32_t *restrict idx)
{
    const __m256i two_iota = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    const int32_t off[3] = {1, W, W + 1};
    for (int64_t j = 0; j < n; j += 8) {
        int64_t m = n - j < 8 ? n - j : 8; /* outputs; 2 m inputs per row */
        __m256i klo = nb_avx2_lanes(0, 2 * m), khi = nb_avx2_lanes(0, 2 * m - 8);
        __m256 a0 = _mm256_maskload_ps(r0 + 2 * j, klo), a1 = _mm256_maskload_ps(r0 + 2 * j + 8, khi);
        __m256 b0 = _mm256_maskload_ps(r1 + 2 * j, klo), b1 = _mm256_maskload_ps(r1 + 2 * j + 8, khi);
#define EVEN(u, v)                                                                                           \
    _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(u, v, 0x88)), 0xD8))
#define ODD(u, v)                                                                                            \
    _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(u, v, 0xDD)), 0xD8))
        __m256 cand[3] = {ODD(a0, a1), EVEN(b0, b1), ODD(b0, b1)};
        __m256 mx = EVEN(a0, a1);
#undef EVEN
#undef ODD
        __m256 at = _mm256_setzero_ps(); /* the offsets, as bits */
        for (int c = 0; c < 3; c++) {
            __m256 take = _mm256_or_ps(_mm256_cmp_ps(cand[c], mx, _CMP_GT_OQ),
                                       _mm256_cmp_ps(cand[c], cand[c], _CMP_UNORD_Q));
            mx = _mm256_blendv_ps(mx, cand[c], take);
            at = _mm256_blendv_ps(at, _mm256_castsi256_ps(_mm256_set1_epi32(off[c])), take);
        }
        __m256i base = _mm256_add_epi32(_mm256_set1_epi32(o0 + 2 * (int32_t)j), two_iota);
        nb_avx2_store_first(y + j, mx, m);
        nb_avx2_store_first((float *)(idx + j),
                            _mm256_castsi256_ps(_mm256_add_epi32(base, _mm256_castps_si256(at))), m);
    }
}
#endif

void nb_max_pool2d_planes(void *ctx, int64_t b, int64_t e)
{
    const pool *q = ctx;
    const int64_t W = q->W, n = q->Ho * q->Wo;
    bool two = q->k == 2 && q->s == 2 && q->p == 0;
    int32_t *scratch = NULL, row[256];
    void (*row2x2)(const nb_real *, const nb_real *, int64_t, int32_t, int32_t, nb_real *, int32_t *) =
        max2x2_row;
#ifdef NB_X86_SIMD
    if (nb_cpu_avx512())
        row2x2 = max2x2_row_avx512;
    else if (nb_cpu_avx2())
        row2x2 = max2x2_row_avx2;
#endif
    if (two && !q->idx && q->Wo <= 256)
        scratch = row; /* inference: the positions are computed and dropped */
    for (int64_t pl = b; pl < e; pl++) {
        const nb_real *x = q->x + pl * q->H * W;
        nb_real *y = q->y + pl * n;
        int32_t *idx = q->idx ? q->idx + pl * n : NULL;
        if (two && (idx || scratch)) {
            for (int64_t i = 0; i < q->Ho; i++)
                row2x2(x + 2 * i * W, x + (2 * i + 1) * W, q->Wo, (int32_t)(2 * i * W), (int32_t)W,
                       y + i * q->Wo, idx ? idx + i * q->Wo : scratch);
            continue;
        }
        for (int64_t i = 0; i < q->Ho; i++)
            for (int64_t j = 0; j < q->Wo; j++) {
                int64_t h0, h1, w0, w1;
                window(q, i, j, &h0, &h1, &w0, &w1);
                int32_t a = (int32_t)(h0 * W + w0);
                nb_real m = x[a];
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = h == h0 ? w0 + 1 : w0; w < w1; w++)
                        max_step(x[h * W + w], (int32_t)(h * W + w), &m, &a);
                y[i * q->Wo + j] = m;
                if (idx)
                    idx[i * q->Wo + j] = a;
            }
    }
}

void nb_max_pool2d_backward_planes(void *ctx, int64_t b, int64_t e)
{
    const pool *q = ctx;
    int64_t n = q->Ho * q->Wo;
    for (int64_t pl = b; pl < e; pl++) {
        nb_real *dx = q->dx + pl * q->H * q->W;
        const nb_real *dy = q->dy + pl * n;
        const int32_t *idx = q->idx + pl * n;
        if (q->zero)
            memset(dx, 0, (size_t)(q->H * q->W) * sizeof *dx);
        for (int64_t o = 0; o < n; o++)
            dx[idx[o]] += dy[o];
    }
}

static void avg_forward(void *ctx, int64_t b, int64_t e)
{
    const pool *q = ctx;
    const nb_real inv = (nb_real)1 / (nb_real)(q->k * q->k);
    for (int64_t pl = b; pl < e; pl++) {
        const nb_real *x = q->x + pl * q->H * q->W;
        nb_real *y = q->y + pl * q->Ho * q->Wo;
        for (int64_t i = 0; i < q->Ho; i++)
            for (int64_t j = 0; j < q->Wo; j++) {
                int64_t h0, h1, w0, w1;
                window(q, i, j, &h0, &h1, &w0, &w1);
                nb_real sum = 0;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++)
                        sum += x[h * q->W + w];
                y[i * q->Wo + j] = sum * inv;
            }
    }
}

static void avg_backward_task(void *ctx, int64_t b, int64_t e)
{
    const pool *q = ctx;
    const nb_real inv = (nb_real)1 / (nb_real)(q->k * q->k);
    for (int64_t pl = b; pl < e; pl++) {
        nb_real *dx = q->dx + pl * q->H * q->W;
        const nb_real *dy = q->dy + pl * q->Ho * q->Wo;
        if (q->zero)
            memset(dx, 0, (size_t)(q->H * q->W) * sizeof *dx);
        for (int64_t i = 0; i < q->Ho; i++)
            for (int64_t j = 0; j < q->Wo; j++) {
                int64_t h0, h1, w0, w1;
                window(q, i, j, &h0, &h1, &w0, &w1);
                nb_real g = dy[i * q->Wo + j] * inv;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++)
                        dx[h * q->W + w] += g;
            }
    }
}

bool nb_pool2d_plan(const char *name, const char *what, int64_t planes, int64_t H, int64_t W, int kernel,
                    int stride, int padding, nb_pool2d *q)
{
    if (kernel < 1 || stride < 0 || padding < 0) {
        nb_error(NB_ERR_ARG, "%s: kernel %d must be positive, stride %d and padding %d non-negative", name,
                 kernel, stride, padding);
        return false;
    }
    if (padding > kernel / 2) {
        nb_error(NB_ERR_ARG, "%s: padding %d must be at most half the kernel size %d", name, padding, kernel);
        return false;
    }
    *q = (nb_pool2d){
        .planes = planes, .H = H, .W = W, .k = kernel, .s = stride ? stride : kernel, .p = padding};
    if (H + 2 * q->p < q->k || W + 2 * q->p < q->k) {
        nb_error(NB_ERR_SHAPE, "%s: %s padded by %d is smaller than the kernel %d", name, what, padding,
                 kernel);
        return false;
    }
    if (H * W > INT32_MAX) { /* positions of the maxima are int32 offsets in a plane */
        nb_error(NB_ERR_SHAPE, "%s: %s has planes of more than 2^31 - 1 elements", name, what);
        return false;
    }
    q->Ho = (H + 2 * q->p - q->k) / q->s + 1;
    q->Wo = (W + 2 * q->p - q->k) / q->s + 1;
    return true;
}

typedef struct saved {
    pool q;
} saved;

static int64_t grain(const pool *q) { return GRAIN / (q->Ho * q->Wo * q->k * q->k + 1) + 1; }

static void pool_backward(nb_node *n)
{
    saved *s = n->saved;
    pool q = s->q;
    q.dx = nb_input_grad_fresh(n, 0, &q.zero);
    q.dy = n->out->grad;
    if (!q.dx)
        return;
    nb_parallel_for(q.planes, grain(&q), q.idx ? nb_max_pool2d_backward_planes : avg_backward_task, &q);
}

static const nb_op op_max_pool2d = {"max_pool2d", pool_backward};
static const nb_op op_avg_pool2d = {"avg_pool2d", pool_backward};

static nb_tensor *pool2d(const nb_op *op, nb_tensor *x, int kernel, int stride, int padding)
{
    const char *name = op->name;
    if (!nb_check_input(name, 1, x))
        return NULL;
    if (x->ndim != 4 && x->ndim != 3)
        return nb_error(NB_ERR_SHAPE, "%s: input %s must be 4-D [N,C,H,W] (or 3-D [C,H,W])", name,
                        nb_shape_fmt(x));
    int off = x->ndim - 3;
    pool q;
    char what[96];
    snprintf(what, sizeof what, "input %s", nb_shape_fmt(x));
    if (!nb_pool2d_plan(name, what, x->shape[0] * (off ? x->shape[1] : 1), x->shape[off + 1],
                        x->shape[off + 2], kernel, stride, padding, &q))
        return NULL;
    q.x = x->data;
    int64_t shape[NB_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[off + 1] = q.Ho, shape[off + 2] = q.Wo;
    nb_tensor *y = nb_op_output(x->ndim, shape);
    if (!y)
        return NULL;
    q.y = y->data;
    bool is_max = op == &op_max_pool2d;
    bool need = nb_is_grad_enabled() && x->requires_grad;
    if (is_max && need && !(q.idx = nb_step_alloc((size_t)(y->numel ? y->numel : 1) * sizeof *q.idx)))
        return NULL;
    saved *s = need ? nb_step_alloc(sizeof *s) : NULL;
    if (need && !s)
        return NULL;
    nb_parallel_for(q.planes, grain(&q), is_max ? nb_max_pool2d_planes : avg_forward, &q);
    nb_node *n = nb_record(op, y, 1, &x);
    if (n) {
        s->q = q;
        n->saved = s;
    }
    return y;
}

nb_tensor *nb_max_pool2d(nb_tensor *x, int kernel, int stride, int padding)
{
    return pool2d(&op_max_pool2d, x, kernel, stride, padding);
}

nb_tensor *nb_avg_pool2d(nb_tensor *x, int kernel, int stride, int padding)
{
    return pool2d(&op_avg_pool2d, x, kernel, stride, padding);
}
