/* ops/conv2d.c — torch.nn.functional.conv2d (groups = 1) lowered to GEMM.
 *
 * For image n, im2col lays the receptive fields out as columns:
 *   cols[(c,p,q), (i,j)] = x[n, c, i s0 - p0 + p d0, j s1 - p1 + q d1]   (0 outside)
 * a [C kh kw, Ho Wo] matrix, and the convolution is one product
 *   forward:   Y_n = W cols_n + b            W viewed [O, C kh kw], Y_n [O, Ho Wo]
 *   backward:  dW += sum_n dY_n cols_n^T      one GEMM per image, summed per group
 *              dcols_n = W^T dY_n, then dX_n += col2im(dcols_n)   (scatter-add)
 *              db[o] += sum_{n,i,j} dY[n,o,i,j]
 * (PyTorch documents the shapes and the output size in torch.nn.Conv2d.)
 *
 * Threads: images are independent in the forward pass and in dX, so they are
 * split over tasks, each GEMM running on one thread with its columns in a
 * scratch slot that stays in cache. dW sums over images: the backward pass
 * cuts the batch into groups of GROUP images (a constant, not the thread
 * count), recomputes each image's columns, accumulates the group's dW in
 * image order into its own buffer, and finally adds the groups' buffers in
 * group order. So every result is bit-identical for any thread count, and
 * nothing of the size of the column matrices outlives the forward pass.
 *
 * dW's product reads its columns transposed, pixel by pixel (colsT [Ho Wo,
 * kh kw C], one receptive field per row, channels last): both operands of
 * dY_n cols_n^T have the pixels contiguous, so the GEMM would transpose
 * both while packing; with colsT it reads B in place and transposes only the
 * small dY_n. colsT comes from a channels-last copy of the image, in which a
 * receptive field's row of kw pixels is kw C contiguous values. Its column
 * order (p, q, c) is folded back into W's (c, p, q) when the groups' partial
 * sums are added, which keeps every sum in the order it had before. With
 * few channels (kw C < 16: the first layer of an image network) the runs are
 * too short to pay, and dW uses cols_n as the forward pass does; or, at
 * stride 1 with AVX-512 or AVX2, ops/conv2d_dw.c's dot products over the
 * padded image.
 *
 * The forward pass with stride 1 skips im2col (implicit GEMM): in the image
 * padded to [C, Hp, Wp], row (c,p,q) of cols_n is the run of Ho Wp values
 * from c Hp Wp + p d0 Wp + q d1, if each output row is computed Wp wide (its
 * last Wp - Wo columns are dropped). nb_gemm_b_rows reads those runs in place,
 * with the same operations per element as the GEMM over cols_n, for
 * (kw - 1) d1 / Wo more columns (1/7 for a 3x3 kernel on 14x14) instead of
 * copying kh kw values per output.
 *
 * nb_conv2d_relu is relu(conv2d(x)) as one op, for a Conv2d followed by a
 * ReLU in a Sequential: each image's output gets the ReLU while it is in
 * cache, and the backward pass masks each image's dY by y > 0 in cache, so
 * the [N, O, Ho, Wo] pre-activation is neither stored nor read again. The
 * same values and gradients, bit for bit, as the two ops (the ReLU's
 * mathematics is activations/activation.h's, and its gradient is formed as
 * the separate ReLU forms it: 0 + mask dY, into a zeroed buffer).
 * nb_conv2d_relu_max_pool2d goes on to max-pool each image's rectified
 * output in the slot (ops/pool2d.c's planes), so only the pooled tensor and
 * its positions are stored; its backward scatters each image's pooled dY,
 * masked where the pooled value is not positive (it is the rectified value
 * at the position it came from), into a zeroed [O, Ho Wo] in cache: the
 * separate ops' sums, bit for bit. */
#include <stdio.h>
#include <string.h>
#include "kernels/gemm.h"
#include "kernels/lanesum.h"
#include "nabla/threads.h"
#include "kernels/simd.h"
#include "ops/conv2d.h"
#include "ops/conv2d_dw.h"
#include "ops/pool2d.h"
#include "activations/activation.h"

#ifdef NB_X86_SIMD
#include <immintrin.h>
#endif

/* Sizes of one convolution. CK = C kh kw (rows of cols), HW = Ho Wo,
 * Hp, Wp the padded image's. */
typedef struct geom {
    int64_t N, C, H, W, O, kh, kw, Ho, Wo;
    int64_t s[2], p[2], d[2];
    int64_t CK, HW, Hp, Wp;
    bool relu; /* nb_conv2d_relu: y = relu(conv2d(x)) */
    bool pool; /* ... then max_pool2d: pq over one image's O planes [Ho, Wo] */
    nb_pool2d pq;
    int64_t QW; /* with pool: outputs per image, O Hq Wq; pq.idx holds all N images' positions */
} geom;

bool nb_conv2d_resolve_opts(nb_conv2d_opts opts, int64_t *s, int64_t *d, int64_t *p)
{
    const int64_t big = (int64_t)1 << 30;
    if (!nb_opts_made("conv2d", opts.nb_tag, "conv2d"))
        return false;
    for (int k = 0; k < 2; k++) {
        int64_t sk = opts.stride[k], dk = opts.dilation[k], pk = opts.padding[k];
        if (sk < 1 || sk > big || dk < 1 || dk > big || pk < 0 || pk > big) {
            nb_error(NB_ERR_ARG,
                     "conv2d: stride (%lld,%lld) and dilation (%lld,%lld) must be positive and "
                     "padding (%lld,%lld) non-negative (each at most 2^30)",
                     (long long)opts.stride[0], (long long)opts.stride[1], (long long)opts.dilation[0],
                     (long long)opts.dilation[1], (long long)opts.padding[0], (long long)opts.padding[1]);
            return false;
        }
        if (s)
            s[k] = sk, d[k] = dk, p[k] = pk;
    }
    return true;
}

/* The output columns [lo, hi) of kernel column offset woff = q d1 - p1 whose
 * input column iw = ow s1 + woff lies inside [0, W): one contiguous range. */
static inline void valid_cols(const geom *g, int64_t woff, int64_t *lo, int64_t *hi)
{
    int64_t sw = g->s[1];
    int64_t a = woff >= 0 ? 0 : (-woff + sw - 1) / sw;
    int64_t b = g->W - woff <= 0 ? 0 : (g->W - 1 - woff) / sw + 1;
    a = a < g->Wo ? a : g->Wo;
    b = b < g->Wo ? b : g->Wo;
    *lo = a;
    *hi = b > a ? b : a;
}

/* One row (c,p,q) of im2col and of col2im, over every output pixel (oh, ow):
 * with ih = oh s0 + hoff and the input plane x_c [H, W] of channel c,
 *   gather:   cols_row[oh Wo + ow] = x_c[ih, ow s1 + woff]  if 0 <= ih < H and lo <= ow < hi, else 0
 *   scatter:  dx_c[ih, ow s1 + woff] += dcols_row[oh Wo + ow]  for the same (oh, ow)
 * Rows of a small image are short (7-28 values): the portable forms are
 * loops, not memcpy and memset calls (GCC would make calls: 9% of the CNN's
 * epoch); the AVX-512 gather does s1 = 1 in masked steps of 16 lanes (one
 * step for most rows), and col2im has an AVX-512 form of its own below. */
typedef void (*plane_fn)(const geom *g, nb_real *cols_row, nb_real *x_c, int64_t hoff, int64_t woff,
                         int64_t lo, int64_t hi);

NB_VECTORIZE __attribute__((optimize("no-tree-loop-distribute-patterns"))) static void
gather_plane(const geom *g, nb_real *restrict row, nb_real *restrict x, int64_t hoff, int64_t woff,
             int64_t lo, int64_t hi)
{
    const int64_t Wo = g->Wo, sw = g->s[1];
    for (int64_t oh = 0; oh < g->Ho; oh++) {
        nb_real *restrict dst = row + oh * Wo;
        int64_t ih = oh * g->s[0] + hoff, a = lo, b = hi;
        if (ih < 0 || ih >= g->H)
            a = b = 0;
        const nb_real *restrict src = x + (a < b ? ih : 0) * g->W;
        for (int64_t ow = 0; ow < a; ow++)
            dst[ow] = 0;
        for (int64_t ow = a; ow < b; ow++)
            dst[ow] = src[ow * sw + woff];
        for (int64_t ow = b; ow < Wo; ow++)
            dst[ow] = 0;
    }
}

NB_VECTORIZE static void scatter_plane(const geom *g, nb_real *restrict row, nb_real *restrict x,
                                       int64_t hoff, int64_t woff, int64_t lo, int64_t hi)
{
    const int64_t sw = g->s[1];
    for (int64_t oh = 0; oh < g->Ho; oh++) {
        int64_t ih = oh * g->s[0] + hoff;
        if (ih < 0 || ih >= g->H)
            continue;
        const nb_real *restrict src = row + oh * g->Wo;
        nb_real *restrict dst = x + ih * g->W;
        for (int64_t ow = lo; ow < hi; ow++)
            dst[ow * sw + woff] += src[ow];
    }
}

#ifdef NB_X86_SIMD
/* Lanes i < 16 with a <= i < b. */
static inline __mmask16 lanes(int64_t a, int64_t b)
{
    a = a < 0 ? 0 : a;
    b = b > 16 ? 16 : b;
    return b <= a ? 0 : (__mmask16)(((1u << b) - 1) & ~((1u << a) - 1));
}

__attribute__((target("avx512f"))) static void gather_plane_avx512(const geom *g, float *restrict row,
                                                                   float *restrict x, int64_t hoff,
                                                                   int64_t woff, int64_t lo, int64_t hi)
{
    const int64_t Wo = g->Wo;
    for (int64_t oh = 0; oh < g->Ho; oh++) {
        int64_t ih = oh * g->s[0] + hoff;
        bool inside = ih >= 0 && ih < g->H;
        const float *src = x + (inside ? ih : 0) * g->W + woff;
        for (int64_t o = 0; o < Wo; o += 16) {
            __m512 v = _mm512_maskz_loadu_ps(inside ? lanes(lo - o, hi - o) : 0, src + o);
            _mm512_mask_storeu_ps(row + oh * Wo + o, lanes(0, Wo - o), v);
        }
    }
}

/* col2im for s1 = 1 the other way round: each 16 values of an input row
 * dx_c[ih, :] are loaded once, receive their terms from every (p, q) in the
 * order the portable form adds them (so the same sums), and are stored once.
 * Adding row by row instead, each masked store was followed by a load
 * overlapping it at another offset (the next q), which the store buffer cannot
 * forward: that form ran slower than the scalar loop. */
__attribute__((target("avx512f"))) static void col2im_avx512(const geom *g, const float *restrict dcols,
                                                             int64_t ld, float *restrict dx)
{
    const int64_t Wo = g->Wo, W = g->W;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t ih = 0; ih < g->H; ih++) {
            float *row = dx + (c * g->H + ih) * W;
            for (int64_t i0 = 0; i0 < W; i0 += 16) {
                __mmask16 kw = lanes(0, W - i0);
                __m512 acc = _mm512_maskz_loadu_ps(kw, row + i0);
                for (int64_t p = 0; p < g->kh; p++) {
                    int64_t t = ih - (p * g->d[0] - g->p[0]), oh = t / g->s[0];
                    if (t < 0 || t % g->s[0] || oh >= g->Ho)
                        continue;
                    for (int64_t q = 0; q < g->kw; q++) {
                        int64_t woff = q * g->d[1] - g->p[1]; /* ow = iw - woff */
                        const float *src = dcols + ((c * g->kh + p) * g->kw + q) * ld + oh * Wo - woff + i0;
                        __mmask16 k = kw & lanes(woff - i0, woff + Wo - i0);
                        acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(k, src));
                    }
                }
                _mm512_mask_storeu_ps(row + i0, kw, acc);
            }
        }
}
#endif

/* The traversal shared by im2col and col2im: fn on each row (c,p,q) of
 * cols (row stride ld) and its input plane. */
static void each_row(const geom *g, nb_real *cols, int64_t ld, nb_real *x, plane_fn fn)
{
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t p = 0; p < g->kh; p++)
            for (int64_t q = 0; q < g->kw; q++) {
                int64_t hoff = p * g->d[0] - g->p[0], woff = q * g->d[1] - g->p[1], lo, hi;
                valid_cols(g, woff, &lo, &hi);
                fn(g, cols + ((c * g->kh + p) * g->kw + q) * ld, x + c * g->H * g->W, hoff, woff, lo, hi);
            }
}

#ifdef NB_X86_SIMD
static bool plane_avx512(const geom *g) { return g->s[1] == 1 && nb_cpu_avx512(); }
#endif

/* cols (row stride ld) = im2col of one image x [C,H,W]: each row (c,p,q) is
 * the image shifted by (p d0 - p0, q d1 - p1) and subsampled by the stride. */
static void im2col(const geom *g, const nb_real *x, nb_real *cols, int64_t ld)
{
    plane_fn fn = gather_plane;
#ifdef NB_X86_SIMD
    if (plane_avx512(g))
        fn = gather_plane_avx512;
#endif
    each_row(g, cols, ld, (nb_real *)x, fn); /* gather only reads x */
}

/* dx [C,H,W] += col2im(dcols): the transpose of im2col, the same traversal
 * adding instead of reading (in a fixed order). */
static void col2im(const geom *g, const nb_real *dcols, int64_t ld, nb_real *dx)
{
#ifdef NB_X86_SIMD
    if (plane_avx512(g)) {
        col2im_avx512(g, dcols, ld, dx);
        return;
    }
#endif
    each_row(g, (nb_real *)dcols, ld, dx, scatter_plane); /* scatter only reads dcols */
}

/* dW from colsT (true) or from cols (false): see the top of the file. */
static bool dw_channels_last(const geom *g) { return g->kw * g->C >= 16; }

/* Values of one image's channels-last copy: [(H + 2 p0) (W + 2 p1), C]. */
static int64_t hwc_size(const geom *g) { return g->Hp * g->Wp * g->C; }

/* xt = x [C,H,W] channels last with a zero border of the padding:
 * xt[((h + p0) Wp + w + p1) C + c] = x[c, h, w]. */
NB_VECTORIZE static void to_hwc(const geom *g, const nb_real *restrict x, nb_real *restrict xt)
{
    const int64_t C = g->C, H = g->H, W = g->W, Wp = g->Wp;
    memset(xt, 0, (size_t)hwc_size(g) * sizeof *xt);
    for (int64_t c = 0; c < C; c++)
        for (int64_t h = 0; h < H; h++) {
            const nb_real *restrict src = x + (c * H + h) * W;
            nb_real *restrict dst = xt + ((h + g->p[0]) * Wp + g->p[1]) * C + c;
            for (int64_t w = 0; w < W; w++)
                dst[w * C] = src[w];
        }
}

/* colsT [Ho Wo, kh kw C] from xt: row (oh, ow) is the receptive field of
 * that output pixel, colsT[(oh,ow), (p,q,c)] = xt[oh s0 + p d0, ow s1 + q d1, c]
 * (padded coordinates). Without dilation along W a kernel row is one run of
 * kw C values. The copies are loops, not memcpy calls: runs are 16-48 values. */
NB_VECTORIZE __attribute__((optimize("no-tree-loop-distribute-patterns"))) static void
im2col_t(const geom *g, const nb_real *restrict xt, nb_real *restrict ct)
{
    const int64_t C = g->C, Wp = g->Wp, kw = g->kw;
    const int64_t run = g->d[1] == 1 ? kw * C : C, runs = g->d[1] == 1 ? 1 : kw;
    for (int64_t oh = 0; oh < g->Ho; oh++)
        for (int64_t ow = 0; ow < g->Wo; ow++) {
            nb_real *restrict dst = ct + (oh * g->Wo + ow) * g->CK;
            for (int64_t p = 0; p < g->kh; p++) {
                const nb_real *row = xt + ((oh * g->s[0] + p * g->d[0]) * Wp + ow * g->s[1]) * C;
                for (int64_t r = 0; r < runs; r++) {
                    const nb_real *restrict src = row + r * g->d[1] * C;
                    nb_real *restrict d = dst + (p * kw + r) * C;
                    for (int64_t i = 0; i < run; i++)
                        d[i] = src[i];
                }
            }
        }
}

enum { GROUP = 8 }; /* images per dW partial sum in the backward pass */

/* Work for the thread pool: in the forward pass task t of `tasks` handles
 * images [t N / tasks, (t+1) N / tasks); in the backward pass task t is group
 * t. Each task has its own scratch slot of `slot` reals. */
typedef struct job {
    const geom *g;
    int64_t tasks, slot;
    const nb_real *x, *w, *b, *dy;
    nb_real *y, *slots, *dx, *dwg; /* dwg: one [O, CK] partial dW per group */
    bool zero_dx;                  /* dx is fresh: each image's part is zeroed before col2im */
    nb_real *dbs;                  /* [N, O]: sum of dY[n, o, :] of each image, for db */
    nb_real *dm;                   /* fused ReLU: one [O, Ho Wo] masked dY per group */
    const int64_t *boff;           /* implicit forward: row k of cols_n in the padded image */
} job;

/* The padded image of the implicit forward: [C, Hp, Wp] and the (kw - 1) d1
 * values its last row of B runs past them (rounded up to a vector). */
static int64_t padded_size(const geom *g) { return g->C * g->Hp * g->Wp + (g->kw - 1) * g->d[1] + 16; }

/* Whether dW comes from the padded image directly (ops/conv2d_dw.c): stride 1,
 * few channels (where the columns would be transposed while packing). */
static bool dw_direct(const geom *g)
{
    return !dw_channels_last(g) && g->s[0] == 1 && g->s[1] == 1 && nb_conv2d_dw_direct_ok();
}

/* Whether the forward pass is an implicit GEMM (see the top of the file). */
static bool implicit_forward(const geom *g)
{
    return g->s[0] == 1 && g->s[1] == 1 && 4 * g->Wp <= 5 * g->Wo && nb_gemm_b_rows_ok(g->O, g->HW, g->CK);
}

/* dst[r ldd + i] = src[r lds + i] for r < rows, i < n: rows of 7-28 values,
 * copied by loops rather than memcpy calls, by masked 16-lane steps with
 * AVX-512. */
NB_VECTORIZE __attribute__((optimize("no-tree-loop-distribute-patterns"))) static void
copy_rows_portable(nb_real *restrict dst, int64_t ldd, const nb_real *restrict src, int64_t lds, int64_t rows,
                   int64_t n)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < n; i++)
            dst[r * ldd + i] = src[r * lds + i];
}

#ifdef NB_X86_SIMD
__attribute__((target("avx512f"))) static void copy_rows_avx512(float *restrict dst, int64_t ldd,
                                                                const float *restrict src, int64_t lds,
                                                                int64_t rows, int64_t n)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < n; i += 16) {
            __mmask16 k = lanes(0, n - i);
            _mm512_mask_storeu_ps(dst + r * ldd + i, k, _mm512_maskz_loadu_ps(k, src + r * lds + i));
        }
}
#endif

static void copy_rows(nb_real *dst, int64_t ldd, const nb_real *src, int64_t lds, int64_t rows, int64_t n)
{
#ifdef NB_X86_SIMD
    if (nb_cpu_avx512()) {
        copy_rows_avx512(dst, ldd, src, lds, rows, n);
        return;
    }
#endif
    copy_rows_portable(dst, ldd, src, lds, rows, n);
}

/* xp = x [C,H,W] in a zero border of the padding, then zeros to padded_size. */
static void pad_image(const geom *g, const nb_real *x, nb_real *xp)
{
    memset(xp, 0, (size_t)padded_size(g) * sizeof *xp);
    for (int64_t c = 0; c < g->C; c++)
        copy_rows(xp + (c * g->Hp + g->p[0]) * g->Wp + g->p[1], g->Wp, x + c * g->H * g->W, g->W, g->H, g->W);
}

/* y[o, :n] = b[o] for o < O: the C that a product with beta 1 adds the bias to. */
static void fill_bias(nb_real *y, const nb_real *b, int64_t O, int64_t n)
{
    for (int64_t o = 0; o < O; o++)
        for (int64_t i = 0; i < n; i++)
            y[o * n + i] = b[o];
}

/* y_n [O, Ho Wo] = W cols_n (+ b) through the padded image: yp [O, Ho Wp] is
 * the product with rows Wp wide, of which the first Wo columns are kept. */
static void forward_implicit(const job *j, const nb_real *x, nb_real *xp, nb_real *yn)
{
    const geom *g = j->g;
    const int64_t NP = g->Ho * g->Wp;
    nb_real *yp = xp + padded_size(g);
    pad_image(g, x, xp);
    if (j->b)
        fill_bias(yp, j->b, g->O, NP);
    nb_gemm_b_rows(g->O, NP, g->CK, j->w, g->CK, xp, j->boff, j->b ? 1 : 0, yp, NP);
    copy_rows(yn, g->Wo, yp, g->Wp, g->O * g->Ho, g->Wo); /* yp's rows of O are Ho Wp apart: Ho rows of Wp */
}

/* y = relu(y), one image's output while it is in cache. */
NB_VECTORIZE static void relu_in_place(nb_real *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = nb_act_relu_value(y[i]);
}

/* dm = 0 + relu'(y) dy: the gradient the separate ReLU would hand the
 * convolution (its fresh buffer is zeros it adds to). */
NB_VECTORIZE static void relu_mask(nb_real *restrict dm, const nb_real *restrict y,
                                   const nb_real *restrict dy, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dm[i] = (nb_real)0 + nb_act_relu_grad(y[i], dy[i]);
}

static void forward_task(void *ctx, int64_t t0, int64_t t1)
{
    const job *j = ctx;
    const geom *g = j->g;
    for (int64_t t = t0; t < t1; t++) {
        nb_real *cols = j->slots + t * j->slot;
        for (int64_t n = t * g->N / j->tasks; n < (t + 1) * g->N / j->tasks; n++) {
            /* pooled: the image's convolution in the slot's last O Ho Wo values */
            nb_real *yn = g->pool ? cols + j->slot - g->O * g->HW : j->y + n * g->O * g->HW;
            if (j->boff) {
                forward_implicit(j, j->x + n * g->C * g->H * g->W, cols, yn);
            } else {
                im2col(g, j->x + n * g->C * g->H * g->W, cols, g->HW);
                if (j->b)
                    fill_bias(yn, j->b, g->O, g->HW);
                nb_gemm(false, false, g->O, g->HW, g->CK, 1, j->w, g->CK, cols, g->HW, j->b ? 1 : 0, yn,
                        g->HW);
            }
            if (g->relu)
                relu_in_place(yn, g->O * g->HW);
            if (g->pool) {
                nb_pool2d q = g->pq;
                q.x = yn, q.y = j->y + n * g->QW, q.idx = q.idx ? q.idx + n * g->QW : NULL;
                nb_max_pool2d_planes(&q, 0, g->O);
            }
        }
    }
}

/* Group t: dW_t = sum over its images of dY_n cols_n^T (in order; columns in
 * (p, q, c) order when channels last), and dX_n += col2im(W^T dY_n). The slot
 * holds colsT_n and the image channels last (or cols_n), then dcols_n. */
static void backward_task(void *ctx, int64_t t0, int64_t t1)
{
    const job *j = ctx;
    const geom *g = j->g;
    for (int64_t t = t0; t < t1; t++) {
        nb_real *cols = j->slots ? j->slots + t * j->slot : NULL; /* NULL: db only */
        nb_real *dm = j->dm ? j->dm + t * (g->O * g->HW + g->QW) : NULL;
        int64_t n0 = t * GROUP, n1 = n0 + GROUP < g->N ? n0 + GROUP : g->N;
        for (int64_t n = n0; n < n1; n++) {
            const nb_real *dyn = g->pool ? dm : j->dy + n * g->O * g->HW;
            if (g->pool) { /* fused ReLU and max-pool: their gradients, image by image */
                nb_real *dq = dm + g->O * g->HW; /* the pooled gradient where the ReLU passes it */
                relu_mask(dq, j->y + n * g->QW, j->dy + n * g->QW, g->QW);
                nb_pool2d q = g->pq;
                q.dx = dm, q.dy = dq, q.idx += n * g->QW, q.zero = true;
                nb_max_pool2d_backward_planes(&q, 0, g->O);
            } else if (dm) { /* fused ReLU: its gradient, image by image */
                relu_mask(dm, j->y + n * g->O * g->HW, dyn, g->O * g->HW);
                dyn = dm;
            }
            for (int64_t o = 0; o < g->O && j->dbs; o++)
                j->dbs[n * g->O + o] = nb_lane_sum(dyn + o * g->HW, g->HW);
            if (j->dwg && dw_channels_last(g)) {
                nb_real *xt = cols + g->CK * g->HW;
                to_hwc(g, j->x + n * g->C * g->H * g->W, xt);
                im2col_t(g, xt, cols);
                nb_gemm(false, false, g->O, g->CK, g->HW, 1, dyn, g->HW, cols, g->CK, n == n0 ? 0 : 1,
                        j->dwg + t * g->O * g->CK, g->CK);
            } else if (j->dwg && dw_direct(g)) {
                const nb_conv2d_dw_shape sh = {g->O,    g->C,  g->kh, g->kw, g->d[0],
                                               g->d[1], g->Ho, g->Wo, g->Hp, g->Wp};
                pad_image(g, j->x + n * g->C * g->H * g->W, cols);
                nb_conv2d_dw_direct(&sh, dyn, cols, j->dwg + t * g->O * g->CK, n != n0);
            } else if (j->dwg) {
                im2col(g, j->x + n * g->C * g->H * g->W, cols, g->HW);
                nb_gemm(false, true, g->O, g->CK, g->HW, 1, dyn, g->HW, cols, g->HW, n == n0 ? 0 : 1,
                        j->dwg + t * g->O * g->CK, g->CK);
            }
            if (j->dx) {
                nb_gemm(true, false, g->CK, g->HW, g->O, 1, j->w, g->CK, dyn, g->HW, 0, cols, g->HW);
                nb_real *dxn = j->dx + n * g->C * g->H * g->W;
                if (j->zero_dx)
                    memset(dxn, 0, (size_t)(g->C * g->H * g->W) * sizeof *dxn);
                col2im(g, cols, g->HW, dxn);
            }
        }
    }
}

static void conv2d_backward(nb_node *n)
{
    const geom *g = n->saved;
    const nb_real *dy = n->out->grad;
    bool fresh;
    nb_real *dx = nb_input_grad_fresh(n, 0, &fresh), *dw = nb_input_grad(n, 1);
    nb_real *db = n->n_in == 3 ? nb_input_grad(n, 2) : NULL;
    if ((!dx && !dw && !db) || g->N == 0)
        return;
    int64_t slot = dx || dw ? g->CK * g->HW + (dw && dw_channels_last(g) ? hwc_size(g) : 0) : 0;
    if (dw && dw_direct(g)) /* the padded image, and dcols when dX is wanted too */
        slot = dx && slot > padded_size(g) ? slot : padded_size(g);
    job j = {.g = g,
             .tasks = (g->N + GROUP - 1) / GROUP,
             .slot = slot,
             .x = n->in[0]->data,
             .w = n->in[1]->data,
             .y = g->relu ? n->out->data : NULL,
             .dy = dy,
             .dx = dx,
             .zero_dx = fresh};
    if (j.slot)
        j.slots = nb_step_alloc((size_t)(j.tasks * j.slot) * sizeof(nb_real));
    if (dw)
        j.dwg = nb_step_alloc((size_t)(j.tasks * g->O * g->CK) * sizeof(nb_real));
    if (db)
        j.dbs = nb_step_alloc((size_t)(g->N * g->O) * sizeof(nb_real));
    if (g->relu)
        j.dm = nb_step_alloc((size_t)(j.tasks * (g->O * g->HW + g->QW)) * sizeof(nb_real));
    if ((j.slot && !j.slots) || (dw && !j.dwg) || (db && !j.dbs) || (g->relu && !j.dm)) { /* out of memory */
        if (dx && fresh)
            memset(dx, 0, (size_t)(g->N * g->C * g->H * g->W) * sizeof *dx);
        return;
    }
    nb_parallel_for(j.tasks, 1, backward_task, &j);
    /* db[o] += the images' sums in image order (the lane sums ran in the tasks) */
    for (int64_t o = 0; o < g->O && db; o++) {
        nb_real acc = 0;
        for (int64_t i = 0; i < g->N; i++)
            acc += j.dbs[i * g->O + o];
        db[o] += acc;
    }
    /* dW[o, c, p, q] += group t's [o, (c, p, q)] (or [o, (p, q, c)]), group after group */
    const int64_t C = g->C, KK = g->kh * g->kw;
    for (int64_t t = 0; t < j.tasks && dw; t++) {
        if (!dw_channels_last(g)) {
            nb_accumulate(dw, j.dwg + t * g->O * g->CK, g->O * g->CK);
            continue;
        }
        for (int64_t o = 0; o < g->O; o++) {
            const nb_real *part = j.dwg + (t * g->O + o) * g->CK;
            nb_real *dwo = dw + o * g->CK;
            for (int64_t c = 0; c < C; c++)
                for (int64_t k = 0; k < KK; k++)
                    dwo[c * KK + k] += part[k * C + c];
        }
    }
}

static const nb_op op_conv2d = {"conv2d", conv2d_backward};
static const nb_op op_conv2d_relu = {"conv2d_relu", conv2d_backward};
static const nb_op op_conv2d_relu_max_pool2d = {"conv2d_relu_max_pool2d", conv2d_backward};

/* "[N,C,H,W]" or "[C,H,W]" for messages. */
static const char *layout(const nb_tensor *x) { return x->ndim == 3 ? "[C,H,W]" : "[N,C,H,W]"; }

/* conv2d, then relu when asked, then max_pool2d(kernel, stride, padding) when
 * kernel > 0 (with relu). */
static nb_tensor *conv2d(nb_tensor *x, nb_tensor *w, nb_tensor *b, nb_conv2d_opts opts, bool relu, int kernel,
                         int stride, int padding)
{
    if (!nb_check_input("conv2d", 1, x) || !nb_check_input("conv2d", 2, w))
        return NULL;
    if (b && !nb_check_input("conv2d", 3, b))
        return NULL;
    if (x->ndim != 4 && x->ndim != 3)
        return nb_error(NB_ERR_SHAPE, "conv2d: input %s must be 4-D [N,C,H,W] (or 3-D [C,H,W])",
                        nb_shape_fmt(x));
    if (w->ndim != 4)
        return nb_error(NB_ERR_SHAPE, "conv2d: weight %s must be 4-D [out_channels,in_channels,kh,kw]",
                        nb_shape_fmt(w));
    geom g = {0};
    int off = x->ndim - 3;
    g.N = off ? x->shape[0] : 1;
    g.C = x->shape[off], g.H = x->shape[off + 1], g.W = x->shape[off + 2];
    g.O = w->shape[0], g.kh = w->shape[2], g.kw = w->shape[3];
    if (g.O < 1 || w->shape[1] < 1 || g.kh < 1 || g.kw < 1)
        return nb_error(NB_ERR_SHAPE, "conv2d: weight %s has an empty dimension", nb_shape_fmt(w));
    if (w->shape[1] != g.C)
        return nb_error(NB_ERR_SHAPE, "conv2d: input %s=%s has %lld channels but weight %s expects %lld",
                        layout(x), nb_shape_fmt(x), (long long)g.C, nb_shape_fmt(w), (long long)w->shape[1]);
    if (b && (b->ndim != 1 || b->shape[0] != g.O))
        return nb_error(NB_ERR_SHAPE, "conv2d: bias %s must be [%lld] for weight %s", nb_shape_fmt(b),
                        (long long)g.O, nb_shape_fmt(w));
    if (!nb_conv2d_resolve_opts(opts, g.s, g.d, g.p))
        return NULL;
    int64_t ekh = g.d[0] * (g.kh - 1) + 1, ekw = g.d[1] * (g.kw - 1) + 1; /* dilated kernel */
    g.Hp = g.H + 2 * g.p[0], g.Wp = g.W + 2 * g.p[1];
    if (g.Hp < ekh || g.Wp < ekw)
        return nb_error(NB_ERR_SHAPE,
                        "conv2d: input %s padded by (%lld,%lld) is smaller than the kernel (%lld,%lld) "
                        "dilated by (%lld,%lld)",
                        nb_shape_fmt(x), (long long)g.p[0], (long long)g.p[1], (long long)g.kh,
                        (long long)g.kw, (long long)g.d[0], (long long)g.d[1]);
    g.Ho = (g.Hp - ekh) / g.s[0] + 1;
    g.Wo = (g.Wp - ekw) / g.s[1] + 1;
    g.CK = g.C * g.kh * g.kw;
    g.HW = g.Ho * g.Wo;
    g.relu = relu;
    int64_t shape[4] = {g.N, g.O, g.Ho, g.Wo};
    if (kernel > 0) {
        char what[96];
        snprintf(what, sizeof what, "the convolution's output [%lld,%lld,%lld,%lld]", (long long)g.N,
                 (long long)g.O, (long long)g.Ho, (long long)g.Wo);
        if (!nb_pool2d_plan("max_pool2d", what, g.O, g.Ho, g.Wo, kernel, stride, padding, &g.pq))
            return NULL;
        g.pool = true;
        g.QW = g.O * g.pq.Ho * g.pq.Wo;
        shape[2] = g.pq.Ho, shape[3] = g.pq.Wo;
    }
    nb_tensor *y = nb_op_output(x->ndim, off ? shape : shape + 1);
    if (!y)
        return NULL;
    bool need = nb_is_grad_enabled() && (x->requires_grad || w->requires_grad || (b && b->requires_grad));
    if (g.pool && need && !(g.pq.idx = nb_step_alloc((size_t)(g.N * g.QW) * sizeof *g.pq.idx + 1)))
        return NULL;
    /* One scratch slot of columns per task: a few tasks per thread, for balance. */
    int64_t tasks = 4 * (int64_t)nb_get_num_threads();
    tasks = g.N < tasks ? (g.N > 0 ? g.N : 1) : tasks;
    job j = {.g = &g,
             .tasks = tasks,
             .slot = g.CK * g.HW,
             .x = x->data,
             .w = w->data,
             .b = b ? b->data : NULL,
             .y = y->data};
    /* the backward pass allocates one slot per GROUP images: check that size too */
    int64_t most = tasks > (g.N + GROUP - 1) / GROUP ? tasks : (g.N + GROUP - 1) / GROUP;
    int64_t cols_all = nb_shape_numel(3, (int64_t[]){g.CK, g.HW, most});
    int64_t hwc_all = nb_shape_numel(4, (int64_t[]){g.Hp, g.Wp, g.C, most});
    int64_t yp_all = nb_shape_numel(4, (int64_t[]){g.O, g.Ho, g.Wp, most});
    if (cols_all < 0 || hwc_all < 0 || yp_all < 0 ||
        cols_all > INT64_MAX / (int64_t)sizeof(nb_real) / 2 - hwc_all - yp_all - 64 * most)
        return nb_error(NB_ERR_MEMORY, "conv2d: the column matrices of input %s and weight %s are too large",
                        nb_shape_fmt(x), nb_shape_fmt(w));
    int64_t *boff = NULL;
    if (implicit_forward(&g)) {
        if (!(boff = nb_step_alloc((size_t)g.CK * sizeof *boff)))
            return NULL;
        for (int64_t c = 0; c < g.C; c++)
            for (int64_t p = 0; p < g.kh; p++)
                for (int64_t q = 0; q < g.kw; q++)
                    boff[(c * g.kh + p) * g.kw + q] = (c * g.Hp + p * g.d[0]) * g.Wp + q * g.d[1];
        j.boff = boff;
        j.slot = padded_size(&g) + g.O * g.Ho * g.Wp;
    }
    if (g.pool)
        j.slot += g.O * g.HW;
    geom *s = nb_step_alloc(sizeof *s);
    if (!s || !(j.slots = nb_step_alloc((size_t)(tasks * j.slot) * sizeof(nb_real))))
        return NULL;
    *s = g;
    nb_parallel_for(tasks, 1, forward_task, &j);
    const nb_op *op = g.pool ? &op_conv2d_relu_max_pool2d : relu ? &op_conv2d_relu : &op_conv2d;
    nb_node *n = nb_record(op, y, b ? 3 : 2, (nb_tensor *[]){x, w, b});
    if (n)
        n->saved = s;
    return y;
}

nb_tensor *nb_conv2d(nb_tensor *x, nb_tensor *w, nb_tensor *b, nb_conv2d_opts opts)
{
    return conv2d(x, w, b, opts, false, 0, 0, 0);
}

nb_tensor *nb_conv2d_relu(nb_tensor *x, nb_tensor *w, nb_tensor *b, nb_conv2d_opts opts)
{
    return conv2d(x, w, b, opts, true, 0, 0, 0);
}

nb_tensor *nb_conv2d_relu_max_pool2d(nb_tensor *x, nb_tensor *w, nb_tensor *b, nb_conv2d_opts opts,
                                     int kernel, int stride, int padding)
{
    if (kernel < 1) {
        nb_error(NB_ERR_ARG, "max_pool2d: kernel %d must be positive", kernel);
        return NULL;
    }
    return conv2d(x, w, b, opts, true, kernel, stride, padding);
}

nb_conv2d_opts nb_conv2d_defaults(void) { return NB_CONV2D_OPTS(); }
