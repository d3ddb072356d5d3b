/* ops/conv2d.c — torch.nn.functional.conv2d (groups = 1) lowered to GEMM.
 *
 * For image n, im2col lays the receptive fields out as columns:
 *   cols[(c,p,q), (i,j)] = x[n, c, i s0 - p0 + p d0, j s1 - p1 + q d1]   (0 outside)
 * a [C kh kw, Ho Wo] matrix, and the convolution is one product
 *   forward:   Y_n = W cols_n + b            W viewed [O, C kh kw], Y_n [O, Ho Wo]
 *   backward:  dW += sum_n dY_n cols_n^T      one GEMM over all images' columns
 *              dcols_n = W^T dY_n, then dX_n += col2im(dcols_n)   (scatter-add)
 *              db[o] += sum_{n,i,j} dY[n,o,i,j]
 * (PyTorch documents the shapes and the output size in torch.nn.Conv2d.)
 *
 * Threads: images are independent in the forward pass and in dX, so they are
 * split over tasks, each GEMM running on one thread. dW sums over images, so
 * it is a single GEMM whose K dimension runs over every image's columns: when
 * the weight needs a gradient the forward pass writes cols of all images side
 * by side into one [C kh kw, N Ho Wo] matrix kept for the backward pass, and
 * dY is transposed into [O, N Ho Wo]. nb_gemm never splits K, so every result
 * is bit-identical for any thread count. */
#include <string.h>
#include "activations/lanesum.h"
#include "internal.h"
#include "kernels/gemm.h"
#include "kernels/parallel.h"

/* Sizes of one convolution. CK = C kh kw (rows of cols), HW = Ho Wo. */
typedef struct geom {
    int64_t N, C, H, W, O, kh, kw, Ho, Wo;
    int64_t s[2], p[2], d[2];
    int64_t CK, HW;
} geom;

/* cols (row stride ld) = im2col of one image x [C,H,W]. Each row (c,p,q) is
 * the image shifted by (p d0 - p0, q d1 - p1) and subsampled by the stride;
 * along a row of the output the valid columns are one contiguous range. */
static void im2col(const geom *g, const nb_real *restrict x, nb_real *restrict cols, int64_t ld)
{
    const int64_t H = g->H, W = g->W, Ho = g->Ho, Wo = g->Wo, sh = g->s[0], sw = g->s[1];
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t p = 0; p < g->kh; p++)
            for (int64_t q = 0; q < g->kw; q++) {
                nb_real *row = cols + ((c * g->kh + p) * g->kw + q) * ld;
                int64_t hoff = p * g->d[0] - g->p[0], woff = q * g->d[1] - g->p[1];
                /* ow in [lo, hi) reads iw = ow sw + woff inside [0, W) */
                int64_t lo = woff >= 0 ? 0 : (-woff + sw - 1) / sw;
                int64_t hi = W - woff <= 0 ? 0 : (W - 1 - woff) / sw + 1;
                lo = lo < Wo ? lo : Wo;
                hi = hi < Wo ? hi : Wo;
                hi = hi > lo ? hi : lo;
                for (int64_t oh = 0; oh < Ho; oh++) {
                    nb_real *dst = row + oh * Wo;
                    int64_t ih = oh * sh + hoff;
                    if (ih < 0 || ih >= H) {
                        memset(dst, 0, (size_t)Wo * sizeof *dst);
                        continue;
                    }
                    const nb_real *src = x + (c * H + ih) * W;
                    for (int64_t ow = 0; ow < lo; ow++)
                        dst[ow] = 0;
                    if (sw == 1)
                        memcpy(dst + lo, src + lo + woff, (size_t)(hi - lo) * sizeof *dst);
                    else
                        for (int64_t ow = lo; ow < hi; ow++)
                            dst[ow] = src[ow * sw + woff];
                    for (int64_t ow = hi; ow < Wo; ow++)
                        dst[ow] = 0;
                }
            }
}

/* dx [C,H,W] += col2im(dcols): the transpose of im2col, the same traversal
 * adding instead of reading (in a fixed order). */
static void col2im(const geom *g, const nb_real *restrict dcols, int64_t ld, nb_real *restrict dx)
{
    const int64_t H = g->H, W = g->W, Ho = g->Ho, Wo = g->Wo, sh = g->s[0], sw = g->s[1];
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t p = 0; p < g->kh; p++)
            for (int64_t q = 0; q < g->kw; q++) {
                const nb_real *row = dcols + ((c * g->kh + p) * g->kw + q) * ld;
                int64_t hoff = p * g->d[0] - g->p[0], woff = q * g->d[1] - g->p[1];
                int64_t lo = woff >= 0 ? 0 : (-woff + sw - 1) / sw;
                int64_t hi = W - woff <= 0 ? 0 : (W - 1 - woff) / sw + 1;
                lo = lo < Wo ? lo : Wo;
                hi = hi < Wo ? hi : Wo;
                for (int64_t oh = 0; oh < Ho; oh++) {
                    int64_t ih = oh * sh + hoff;
                    if (ih < 0 || ih >= H)
                        continue;
                    const nb_real *src = row + oh * Wo;
                    nb_real *dst = dx + (c * H + ih) * W;
                    if (sw == 1)
                        for (int64_t ow = lo; ow < hi; ow++)
                            dst[ow + woff] += src[ow];
                    else
                        for (int64_t ow = lo; ow < hi; ow++)
                            dst[ow * sw + woff] += src[ow];
                }
            }
}

/* Work for the thread pool: task t of `tasks` handles images
 * [t N / tasks, (t+1) N / tasks) with its own scratch slot of CK x HW. */
typedef struct job {
    const geom *g;
    int64_t tasks;
    const nb_real *x, *w, *b, *dy;
    nb_real *y, *cols, *slots, *dx, *dyt;
} job;

static void images(const job *j, int64_t t, int64_t *n0, int64_t *n1)
{
    *n0 = t * j->g->N / j->tasks;
    *n1 = (t + 1) * j->g->N / j->tasks;
}

static void forward_task(void *ctx, int64_t t0, int64_t t1)
{
    const job *j = ctx;
    const geom *g = j->g;
    for (int64_t t = t0; t < t1; t++) {
        int64_t n0, n1;
        images(j, t, &n0, &n1);
        for (int64_t n = n0; n < n1; n++) {
            /* into the kept [CK, N HW] matrix, or a scratch slot in inference */
            nb_real *cols = j->cols ? j->cols + n * g->HW : j->slots + t * g->CK * g->HW;
            int64_t ld = j->cols ? g->N * g->HW : g->HW;
            im2col(g, j->x + n * g->C * g->H * g->W, cols, ld);
            nb_real *yn = j->y + n * g->O * g->HW;
            if (j->b)
                for (int64_t o = 0; o < g->O; o++)
                    for (int64_t i = 0; i < g->HW; i++)
                        yn[o * g->HW + i] = j->b[o];
            nb_gemm(false, false, g->O, g->HW, g->CK, 1, j->w, g->CK, cols, ld, j->b ? 1 : 0, yn, g->HW);
        }
    }
}

static void dx_task(void *ctx, int64_t t0, int64_t t1)
{
    const job *j = ctx;
    const geom *g = j->g;
    for (int64_t t = t0; t < t1; t++) {
        int64_t n0, n1;
        images(j, t, &n0, &n1);
        nb_real *dcols = j->slots + t * g->CK * g->HW;
        for (int64_t n = n0; n < n1; n++) {
            nb_gemm(true, false, g->CK, g->HW, g->O, 1, j->w, g->CK, j->dy + n * g->O * g->HW, g->HW, 0,
                    dcols, g->HW);
            col2im(g, dcols, g->HW, j->dx + n * g->C * g->H * g->W);
        }
    }
}

/* dyt [O, N HW] = dy [N, O, HW] regrouped by channel (rows of image n at column n HW). */
static void transpose_task(void *ctx, int64_t n0, int64_t n1)
{
    const job *j = ctx;
    const geom *g = j->g;
    for (int64_t n = n0; n < n1; n++)
        for (int64_t o = 0; o < g->O; o++)
            memcpy(j->dyt + o * g->N * g->HW + n * g->HW, j->dy + (n * g->O + o) * g->HW,
                   (size_t)g->HW * sizeof(nb_real));
}

/* Tasks for the image loops: a few per thread for balance, at most one per image. */
static int64_t task_count(const geom *g)
{
    int64_t t = 4 * (int64_t)nb_get_num_threads();
    return g->N < t ? (g->N > 0 ? g->N : 1) : t;
}

typedef struct saved {
    geom g;
    nb_real *cols;   /* [CK, N HW], or NULL when w needs no gradient */
} saved;

static void conv2d_backward(nb_node *n)
{
    const saved *s = n->saved;
    const geom *g = &s->g;
    nb_tensor *w = n->in[1];
    const nb_real *dy = n->out->grad;
    nb_real *dx = nb_input_grad(n, 0), *dw = nb_input_grad(n, 1);
    nb_real *db = n->n_in == 3 ? nb_input_grad(n, 2) : NULL;
    job j = {.g = g, .tasks = task_count(g), .w = w->data, .dy = dy, .dx = dx};
    int64_t NHW = g->N * g->HW;
    if (dw && s->cols && NHW > 0) {
        j.dyt = nb_step_alloc((size_t)(g->O * NHW) * sizeof(nb_real));
        if (!j.dyt)
            return;
        nb_parallel_for(g->N, 1 + (1 << 14) / (g->O * g->HW + 1), transpose_task, &j);
        nb_gemm(false, true, g->O, g->CK, NHW, 1, j.dyt, NHW, s->cols, NHW, 1, dw, g->CK);
    }
    if (db)
        for (int64_t o = 0; o < g->O; o++) {
            nb_real acc = 0;
            for (int64_t i = 0; i < g->N; i++)
                acc += nb_lane_sum(dy + (i * g->O + o) * g->HW, g->HW);
            db[o] += acc;
        }
    if (dx && g->N > 0) {
        j.slots = nb_step_alloc((size_t)(j.tasks * g->CK * g->HW) * sizeof(nb_real));
        if (!j.slots)
            return;
        nb_parallel_for(j.tasks, 1, dx_task, &j);
    }
}

static const nb_op op_conv2d = {"conv2d", conv2d_backward};

/* "[N,C,H,W]" or "[C,H,W]" for messages. */
static const char *layout(const nb_tensor *x)
{
    return x->ndim == 3 ? "[C,H,W]" : "[N,C,H,W]";
}

nb_tensor *nb_conv2d(nb_tensor *x, nb_tensor *w, nb_tensor *b, nb_conv2d_opts opts)
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
                        layout(x), nb_shape_fmt(x), (long long)g.C, nb_shape_fmt(w),
                        (long long)w->shape[1]);
    if (b && (b->ndim != 1 || b->shape[0] != g.O))
        return nb_error(NB_ERR_SHAPE, "conv2d: bias %s must be [%lld] for weight %s", nb_shape_fmt(b),
                        (long long)g.O, nb_shape_fmt(w));
    const int64_t big = (int64_t)1 << 30;
    for (int k = 0; k < 2; k++) {
        g.s[k] = opts.stride[k] ? opts.stride[k] : 1;
        g.d[k] = opts.dilation[k] ? opts.dilation[k] : 1;
        g.p[k] = opts.padding[k];
        if (g.s[k] < 1 || g.s[k] > big || g.d[k] < 1 || g.d[k] > big || g.p[k] < 0 || g.p[k] > big)
            return nb_error(NB_ERR_ARG,
                            "conv2d: stride (%lld,%lld) and dilation (%lld,%lld) must be positive and "
                            "padding (%lld,%lld) non-negative (each at most 2^30)",
                            (long long)opts.stride[0], (long long)opts.stride[1],
                            (long long)opts.dilation[0], (long long)opts.dilation[1],
                            (long long)opts.padding[0], (long long)opts.padding[1]);
    }
    int64_t ekh = g.d[0] * (g.kh - 1) + 1, ekw = g.d[1] * (g.kw - 1) + 1;   /* dilated kernel */
    if (g.H + 2 * g.p[0] < ekh || g.W + 2 * g.p[1] < ekw)
        return nb_error(NB_ERR_SHAPE,
                        "conv2d: input %s padded by (%lld,%lld) is smaller than the kernel (%lld,%lld) "
                        "dilated by (%lld,%lld)",
                        nb_shape_fmt(x), (long long)g.p[0], (long long)g.p[1], (long long)g.kh,
                        (long long)g.kw, (long long)g.d[0], (long long)g.d[1]);
    g.Ho = (g.H + 2 * g.p[0] - ekh) / g.s[0] + 1;
    g.Wo = (g.W + 2 * g.p[1] - ekw) / g.s[1] + 1;
    g.CK = g.C * g.kh * g.kw;
    g.HW = g.Ho * g.Wo;
    int64_t shape[4] = {g.N, g.O, g.Ho, g.Wo};
    nb_tensor *y = nb_op_output(x->ndim, off ? shape : shape + 1);
    if (!y)
        return NULL;
    /* cols of every image, kept for dW; or one scratch slot per task. */
    bool keep = nb_is_grad_enabled() && w->requires_grad;
    job j = {.g = &g, .tasks = task_count(&g), .x = x->data, .w = w->data, .b = b ? b->data : NULL,
             .y = y->data};
    int64_t cols_numel = nb_shape_numel(3, (int64_t[]){g.CK, keep ? g.N : j.tasks, g.HW});
    if (cols_numel < 0)
        return nb_error(NB_ERR_MEMORY, "conv2d: the column matrix of input %s and weight %s is too large",
                        nb_shape_fmt(x), nb_shape_fmt(w));
    nb_real *buf = nb_step_alloc((size_t)(cols_numel ? cols_numel : 1) * sizeof(nb_real));
    if (!buf)
        return NULL;
    if (keep)
        j.cols = buf;
    else
        j.slots = buf;
    saved *s = nb_step_alloc(sizeof *s);
    if (!s)
        return NULL;
    *s = (saved){.g = g, .cols = j.cols};
    nb_parallel_for(j.tasks, 1, forward_task, &j);
    nb_node *n = nb_record(&op_conv2d, y, b ? 3 : 2, (nb_tensor *[]){x, w, b});
    if (n)
        n->saved = s;
    return y;
}
