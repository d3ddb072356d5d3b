/* tests/test_conv.c — nb_conv2d, nb_max_pool2d, nb_avg_pool2d and their layers:
 * small cases by hand, every stride/padding/dilation/kernel shape against
 * naive direct loops written here (forward and, in float32, backward),
 * bit-identical results for 1 and 2 threads, error messages, gradchecks in
 * the float64 build, the convolution fused with a ReLU, and the layers in a
 * sequential model (names, summary, initialisation bounds, checkpoints). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "common.h"
#include "nn/layer.h"
#include "ops/conv2d.h"

TestSuite(conv, .init = quiet, .fini = end_step);

/* ---- naive references ---------------------------------------------------- */

typedef struct ccase {
    int64_t N, C, H, W, O, kh, kw;
    nb_conv2d_opts o;
    bool bias;
} ccase;

/* In this table (not in the API) a zero stride or dilation stands for 1. */
static int64_t opt(int64_t v, int64_t def) { return v ? v : def; }

static void out_size(const ccase *t, int64_t *Ho, int64_t *Wo)
{
    int64_t sh = opt(t->o.stride[0], 1), sw = opt(t->o.stride[1], 1);
    int64_t dh = opt(t->o.dilation[0], 1), dw = opt(t->o.dilation[1], 1);
    *Ho = (t->H + 2 * t->o.padding[0] - dh * (t->kh - 1) - 1) / sh + 1;
    *Wo = (t->W + 2 * t->o.padding[1] - dw * (t->kw - 1) - 1) / sw + 1;
}

/* The definition, one output at a time, in double. */
/* The library's options for a case: the table's zero stride or dilation is 1. */
static nb_conv2d_opts lib_opts(const ccase *t)
{
    return NB_CONV2D_OPTS(.stride = {opt(t->o.stride[0], 1), opt(t->o.stride[1], 1)},
                          .dilation = {opt(t->o.dilation[0], 1), opt(t->o.dilation[1], 1)},
                          .padding = {t->o.padding[0], t->o.padding[1]});
}

static double *naive_conv(const ccase *t, const nb_real *x, const nb_real *w, const nb_real *b)
{
    int64_t Ho, Wo;
    out_size(t, &Ho, &Wo);
    int64_t sh = opt(t->o.stride[0], 1), sw = opt(t->o.stride[1], 1);
    int64_t dh = opt(t->o.dilation[0], 1), dw = opt(t->o.dilation[1], 1);
    int64_t ph = t->o.padding[0], pw = t->o.padding[1];
    double *y = calloc((size_t)(t->N * t->O * Ho * Wo + 1), sizeof *y);
    for (int64_t n = 0; n < t->N; n++)
        for (int64_t o = 0; o < t->O; o++)
            for (int64_t i = 0; i < Ho; i++)
                for (int64_t j = 0; j < Wo; j++) {
                    double s = b ? b[o] : 0;
                    for (int64_t c = 0; c < t->C; c++)
                        for (int64_t p = 0; p < t->kh; p++)
                            for (int64_t q = 0; q < t->kw; q++) {
                                int64_t h = i * sh - ph + p * dh, v = j * sw - pw + q * dw;
                                if (h >= 0 && h < t->H && v >= 0 && v < t->W)
                                    s += (double)w[((o * t->C + c) * t->kh + p) * t->kw + q] *
                                         (double)x[((n * t->C + c) * t->H + h) * t->W + v];
                            }
                    y[((n * t->O + o) * Ho + i) * Wo + j] = s;
                }
    return y;
}

/* Gradients of sum(y * g) by the chain rule written out directly. */
static void naive_conv_grad(const ccase *t, const nb_real *x, const nb_real *w, const nb_real *g, double *dx,
                            double *dwt, double *db)
{
    int64_t Ho, Wo;
    out_size(t, &Ho, &Wo);
    int64_t sh = opt(t->o.stride[0], 1), sw = opt(t->o.stride[1], 1);
    int64_t dh = opt(t->o.dilation[0], 1), dw = opt(t->o.dilation[1], 1);
    int64_t ph = t->o.padding[0], pw = t->o.padding[1];
    for (int64_t n = 0; n < t->N; n++)
        for (int64_t o = 0; o < t->O; o++)
            for (int64_t i = 0; i < Ho; i++)
                for (int64_t j = 0; j < Wo; j++) {
                    double gy = g[((n * t->O + o) * Ho + i) * Wo + j];
                    db[o] += gy;
                    for (int64_t c = 0; c < t->C; c++)
                        for (int64_t p = 0; p < t->kh; p++)
                            for (int64_t q = 0; q < t->kw; q++) {
                                int64_t h = i * sh - ph + p * dh, v = j * sw - pw + q * dw;
                                if (h < 0 || h >= t->H || v < 0 || v >= t->W)
                                    continue;
                                int64_t xi = ((n * t->C + c) * t->H + h) * t->W + v;
                                int64_t wi = ((o * t->C + c) * t->kh + p) * t->kw + q;
                                dx[xi] += gy * w[wi];
                                dwt[wi] += gy * x[xi];
                            }
                }
}

static const ccase cases[] = {
    {1, 1, 5, 5, 1, 3, 3, {.padding = {0, 0}}, false},
    {2, 3, 7, 6, 4, 3, 3, {.padding = {0, 0}}, true},
    {2, 3, 7, 6, 4, 3, 3, {.padding = {1, 1}}, true},
    {3, 2, 9, 8, 5, 3, 2, {.stride = {2, 2}, .padding = {1, 0}}, true},     /* non-square kernel */
    {2, 2, 10, 9, 3, 2, 3, {.stride = {1, 3}, .padding = {0, 2}}, false},   /* non-square stride */
    {2, 3, 11, 10, 2, 3, 3, {.dilation = {2, 2}, .padding = {2, 1}}, true}, /* dilation */
    {1, 2, 9, 12, 3, 2, 2, {.stride = {3, 2}, .dilation = {3, 2}, .padding = {1, 2}}, true},
    {2, 4, 6, 6, 3, 1, 1, {.padding = {0, 0}}, true},                   /* 1x1 */
    {2, 3, 5, 5, 2, 5, 5, {.padding = {0, 0}}, true},                   /* kernel = image */
    {2, 1, 4, 4, 2, 3, 3, {.padding = {2, 2}}, true},                   /* padding > image/2 */
    {1, 2, 3, 4, 2, 4, 2, {.stride = {5, 5}, .padding = {1, 1}}, true}, /* stride > kernel */
    {4, 8, 14, 14, 16, 3, 3, {.padding = {1, 1}}, true},                /* blocked GEMM sizes */
    /* kw C >= 16: dW from the channels-last columns, with stride, dilation and padding */
    {2, 6, 9, 11, 4, 3, 3, {.stride = {2, 1}, .dilation = {1, 2}, .padding = {1, 2}}, true},
    {3, 16, 7, 8, 5, 2, 3, {.stride = {1, 2}, .padding = {0, 1}}, false},
    {2, 2, 5, 21, 3, 3, 3, {.padding = {1, 1}}, true}, /* rows of more than 16 lanes */
    /* stride 1 and large enough: the implicit-GEMM forward, with dilation and uneven kernels */
    {2, 4, 12, 20, 8, 3, 3, {.dilation = {2, 1}, .padding = {2, 1}}, true},
    {2, 3, 10, 24, 6, 3, 3, {.dilation = {1, 2}, .padding = {1, 2}}, false},
    {2, 5, 9, 30, 7, 2, 4, {.padding = {0, 1}}, true},
};
enum { NCASES = sizeof cases / sizeof cases[0] };

static void make(const ccase *t, nb_generator *g, nb_tensor **x, nb_tensor **w, nb_tensor **b)
{
    *x = nb_randn(g, NB_SHAPE(t->N, t->C, t->H, t->W));
    *w = nb_randn(g, NB_SHAPE(t->O, t->C, t->kh, t->kw));
    *b = t->bias ? nb_randn(g, NB_SHAPE(t->O)) : NULL;
}

/* ---- convolution ---------------------------------------------------------- */

Test(conv, by_hand)
{
    /* x = 1..9 in a 3x3 image, w = [[1,0],[0,-1]]: y[i,j] = x[i,j] - x[i+1,j+1] = -4 everywhere, + b */
    nb_tensor *x = nb_from_array((nb_real[]){1, 2, 3, 4, 5, 6, 7, 8, 9}, NB_SHAPE(1, 1, 3, 3));
    nb_tensor *w = nb_from_array((nb_real[]){1, 0, 0, -1}, NB_SHAPE(1, 1, 2, 2));
    nb_tensor *b = nb_from_array((nb_real[]){0.5}, NB_SHAPE(1));
    nb_tensor *y = nb_conv2d(x, w, b, NB_CONV2D_OPTS());
    assert_shape(y, 4, (int64_t[]){1, 1, 2, 2});
    assert_close_array(y->data, (double[]){-3.5, -3.5, -3.5, -3.5}, 4, TOL);
    /* padding 1, stride 2: outputs at (-1,-1), (-1,1), (1,-1), (1,1) of the padded image */
    y = nb_conv2d(x, w, NULL, NB_CONV2D_OPTS(.stride = {2, 2}, .padding = {1, 1}));
    assert_shape(y, 4, (int64_t[]){1, 1, 2, 2});
    assert_close_array(y->data, (double[]){-1, -3, -7, -4}, 4, TOL);
    /* dy = ones on the first case: dx = sum of w over the windows covering each pixel */
    nb_requires_grad(x, true), nb_requires_grad(w, true), nb_requires_grad(b, true);
    nb_tensor *s = nb_sum(nb_conv2d(x, w, b, NB_CONV2D_OPTS()));
    cr_assert_eq(nb_backward(s), 0);
    assert_close_array(x->grad, (double[]){1, 1, 0, 1, 0, -1, 0, -1, -1}, 9, TOL);
    /* dw[p,q] = sum of the pixels the tap touches: 1+2+4+5, 2+3+5+6, 4+5+7+8, 5+6+8+9 */
    assert_close_array(w->grad, (double[]){12, 16, 24, 28}, 4, TOL);
    assert_close_array(b->grad, (double[]){4}, 1, TOL);
    nb_free(x), nb_free(w), nb_free(b);
}

Test(conv, every_case_matches_a_naive_loop)
{
    nb_generator g;
    nb_generator_seed(&g, 11);
    for (int c = 0; c < NCASES; c++) {
        const ccase *t = &cases[c];
        nb_tensor *x, *w, *b;
        make(t, &g, &x, &w, &b);
        nb_tensor *y = nb_conv2d(x, w, b, lib_opts(t));
        cr_assert_not_null(y, "case %d: %s", c, nb_last_error_message());
        int64_t Ho, Wo;
        out_size(t, &Ho, &Wo);
        assert_shape(y, 4, (int64_t[]){t->N, t->O, Ho, Wo});
        double *want = naive_conv(t, x->data, w->data, b ? b->data : NULL);
        assert_close_array(y->data, want, y->numel, 20 * TOL);
        free(want);
        nb_free(x), nb_free(w), nb_free(b);
        nb_step_end();
    }
}

Test(conv, backward_of_every_case_matches_the_chain_rule)
{
    nb_generator g;
    nb_generator_seed(&g, 12);
    for (int c = 0; c < NCASES; c++) {
        const ccase *t = &cases[c];
        nb_tensor *x, *w, *b;
        make(t, &g, &x, &w, &b);
        nb_requires_grad(x, true), nb_requires_grad(w, true);
        if (b)
            nb_requires_grad(b, true);
        nb_tensor *y = nb_conv2d(x, w, b, lib_opts(t));
        nb_tensor *gy = nb_randn(&g, y->ndim, y->shape);
        cr_assert_eq(nb_backward_grad(y, gy), 0, "case %d: %s", c, nb_last_error_message());
        double *dx = calloc((size_t)x->numel, sizeof *dx), *dw = calloc((size_t)w->numel, sizeof *dw);
        double *db = calloc((size_t)t->O, sizeof *db);
        naive_conv_grad(t, x->data, w->data, gy->data, dx, dw, db);
        assert_close_array(x->grad, dx, x->numel, 20 * TOL);
        assert_close_array(w->grad, dw, w->numel, 50 * TOL);
        if (b)
            assert_close_array(b->grad, db, t->O, 50 * TOL);
        free(dx), free(dw), free(db);
        nb_free(x), nb_free(w), nb_free(b), nb_free(gy);
        nb_step_end();
    }
}

/* An input used by two convolutions: the second backward adds its dX to the
 * gradient the first wrote (not a fresh buffer), in every case. */
Test(conv, dx_adds_to_the_gradient_already_there)
{
    nb_generator g;
    nb_generator_seed(&g, 14);
    for (int c = 0; c < NCASES; c++) {
        const ccase *t = &cases[c];
        nb_tensor *x, *w, *b;
        make(t, &g, &x, &w, &b);
        nb_tensor *w2 = nb_randn(&g, w->ndim, w->shape);
        nb_requires_grad(x, true);
        nb_tensor *y = nb_add(nb_conv2d(x, w, b, lib_opts(t)), nb_conv2d(x, w2, b, lib_opts(t)));
        cr_assert_not_null(y, "case %d: %s", c, nb_last_error_message());
        nb_tensor *gy = nb_randn(&g, y->ndim, y->shape);
        cr_assert_eq(nb_backward_grad(y, gy), 0, "case %d: %s", c, nb_last_error_message());
        double *dx = calloc((size_t)x->numel, sizeof *dx), *dw = calloc((size_t)w->numel, sizeof *dw);
        double *db = calloc((size_t)t->O, sizeof *db);
        naive_conv_grad(t, x->data, w->data, gy->data, dx, dw, db);
        naive_conv_grad(t, x->data, w2->data, gy->data, dx, dw, db); /* adds to dx */
        assert_close_array(x->grad, dx, x->numel, 40 * TOL);
        free(dx), free(dw), free(db);
        nb_free(x), nb_free(w), nb_free(w2), nb_free(b), nb_free(gy);
        nb_step_end();
    }
}

Test(conv, unbatched_input_and_gradients_only_where_asked)
{
    nb_generator g;
    nb_generator_seed(&g, 13);
    nb_tensor *x = nb_randn(&g, NB_SHAPE(2, 6, 5)), *w = nb_randn(&g, NB_SHAPE(3, 2, 3, 3));
    nb_tensor *x4 = nb_from_array(x->data, NB_SHAPE(1, 2, 6, 5));
    nb_conv2d_opts o = NB_CONV2D_OPTS(.padding = {1, 1});
    nb_tensor *y3 = nb_conv2d(x, w, NULL, o), *y4 = nb_conv2d(x4, w, NULL, o);
    assert_shape(y3, 3, (int64_t[]){3, 6, 5});
    cr_assert_eq(memcmp(y3->data, y4->data, (size_t)y3->numel * sizeof(nb_real)), 0);
    /* only the weight needs a gradient; then only the input */
    nb_requires_grad(w, true);
    cr_assert_eq(nb_backward(nb_sum(nb_conv2d(x4, w, NULL, o))), 0);
    cr_assert_null(x4->grad);
    cr_assert_not_null(w->grad);
    nb_requires_grad(w, false), nb_requires_grad(x4, true);
    cr_assert_eq(nb_backward(nb_sum(nb_conv2d(x4, w, NULL, o))), 0);
    cr_assert_not_null(x4->grad);
    /* only the bias: db[o] = the sum of dY[n, o, :, :] over n, with the others' buffers untouched */
    nb_tensor *x2 = nb_randn(&g, NB_SHAPE(3, 2, 6, 5)),
              *b = nb_requires_grad(nb_randn(&g, NB_SHAPE(3)), true);
    nb_requires_grad(x4, false);
    nb_tensor *yb = nb_conv2d(x2, w, b, o);
    nb_tensor *gy = nb_randn(&g, yb->ndim, yb->shape);
    cr_assert_eq(nb_backward_grad(yb, gy), 0);
    cr_assert_null(x2->grad);
    for (int64_t c = 0; c < 3; c++) {
        double want = 0;
        for (int64_t n = 0; n < 3; n++)
            for (int64_t k = 0; k < 30; k++)
                want += gy->data[(n * 3 + c) * 30 + k];
        cr_assert_float_eq(b->grad[c], want, 10 * TOL, "db[%lld]", (long long)c);
    }
    nb_free(x2), nb_free(b), nb_free(gy);
    /* no grad mode records nothing */
    nb_tensor *y = NULL;
    NB_NO_GRAD { y = nb_conv2d(x4, w, NULL, o); }
    cr_assert_not(y->requires_grad);
    cr_assert_eq(memcmp(y->data, y4->data, (size_t)y->numel * sizeof(nb_real)), 0);
    nb_free(x), nb_free(w), nb_free(x4);
}

Test(conv, empty_batch)
{
    nb_tensor *x = nb_zeros(NB_SHAPE(0, 3, 8, 8)), *w = nb_ones(NB_SHAPE(4, 3, 3, 3));
    nb_requires_grad(w, true);
    nb_tensor *y = nb_conv2d(x, w, NULL, NB_CONV2D_OPTS());
    assert_shape(y, 4, (int64_t[]){0, 4, 6, 6});
    nb_free(x), nb_free(w);
}

Test(conv, errors)
{
    nb_tensor *x = nb_zeros(NB_SHAPE(8, 3, 28, 28)), *w = nb_zeros(NB_SHAPE(16, 1, 3, 3));
    cr_assert_null(nb_conv2d(x, w, NULL, NB_CONV2D_OPTS()));
    assert_error(NB_ERR_SHAPE,
                 "conv2d: input [N,C,H,W]=[8,3,28,28] has 3 channels but weight [16,1,3,3] expects 1");
    nb_clear_error();
    nb_tensor *w3 = nb_zeros(NB_SHAPE(16, 3, 3, 3)), *b = nb_zeros(NB_SHAPE(15));
    cr_assert_null(nb_conv2d(x, w3, b, NB_CONV2D_OPTS()));
    assert_error(NB_ERR_SHAPE, "conv2d: bias [15] must be [16] for weight [16,3,3,3]");
    nb_clear_error();
    nb_tensor *flat = nb_zeros(NB_SHAPE(8, 784));
    cr_assert_null(nb_conv2d(flat, w3, NULL, NB_CONV2D_OPTS()));
    assert_error(NB_ERR_SHAPE, "conv2d: input [8,784] must be 4-D [N,C,H,W] (or 3-D [C,H,W])");
    nb_clear_error();
    nb_tensor *w2 = nb_zeros(NB_SHAPE(16, 3));
    cr_assert_null(nb_conv2d(x, w2, NULL, NB_CONV2D_OPTS()));
    assert_error(NB_ERR_SHAPE, "conv2d: weight [16,3] must be 4-D [out_channels,in_channels,kh,kw]");
    nb_clear_error();
    cr_assert_null(nb_conv2d(x, w3, NULL, NB_CONV2D_OPTS(.stride = {-1, 1})));
    assert_error(NB_ERR_ARG, "conv2d: stride (-1,1) and dilation (1,1) must be positive");
    nb_clear_error();
    /* a literal 0 is 0: a zero stride or dilation is an error (PyTorch: "stride should not be zero") */
    cr_assert_null(nb_conv2d(x, w3, NULL, NB_CONV2D_OPTS(.stride = {2, 0})));
    assert_error(NB_ERR_ARG, "conv2d: stride (2,0) and dilation (1,1) must be positive");
    nb_clear_error();
    cr_assert_null(nb_conv2d(x, w3, NULL, (nb_conv2d_opts){.stride = {1, 1}, .dilation = {1, 1}}));
    assert_error(NB_ERR_ARG, "conv2d: options were not made by NB_CONV2D_OPTS() or nb_conv2d_defaults()");
    nb_clear_error();
    cr_assert_null(nb_conv2d(x, w3, NULL, NB_CONV2D_OPTS(.padding = {0, -2})));
    assert_error(NB_ERR_ARG, "padding (0,-2) non-negative");
    nb_clear_error();
    nb_tensor *tiny = nb_zeros(NB_SHAPE(1, 3, 2, 9));
    cr_assert_null(nb_conv2d(tiny, w3, NULL, NB_CONV2D_OPTS()));
    assert_error(NB_ERR_SHAPE,
                 "conv2d: input [1,3,2,9] padded by (0,0) is smaller than the kernel (3,3) dilated by (1,1)");
    nb_clear_error();
    cr_assert_null(nb_conv2d(x, NULL, NULL, NB_CONV2D_OPTS()));
    assert_error(NB_ERR_NULL, "conv2d: argument 2 is NULL");
    nb_clear_error();
    nb_free(x), nb_free(w), nb_free(w3), nb_free(b), nb_free(flat), nb_free(w2), nb_free(tiny);
}

/* ---- pooling -------------------------------------------------------------- */

/* Naive max/avg pool over one window at a time; argmax of the first maximum. */
static double *naive_pool(bool is_max, const nb_tensor *x, int k, int s, int p, int64_t *Ho, int64_t *Wo,
                          int64_t *arg)
{
    int64_t P = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    s = s ? s : k;
    *Ho = (H + 2 * p - k) / s + 1, *Wo = (W + 2 * p - k) / s + 1;
    double *y = calloc((size_t)(P * *Ho * *Wo + 1), sizeof *y);
    for (int64_t pl = 0; pl < P; pl++)
        for (int64_t i = 0; i < *Ho; i++)
            for (int64_t j = 0; j < *Wo; j++) {
                double acc = is_max ? -INFINITY : 0;
                int64_t a = -1;
                for (int64_t u = 0; u < k; u++)
                    for (int64_t v = 0; v < k; v++) {
                        int64_t h = i * s - p + u, w = j * s - p + v;
                        if (h < 0 || h >= H || w < 0 || w >= W)
                            continue;
                        double val = x->data[(pl * H + h) * W + w];
                        if (!is_max)
                            acc += val;
                        else if (a < 0 || val > acc)
                            acc = val, a = h * W + w;
                    }
                int64_t o = (pl * *Ho + i) * *Wo + j;
                y[o] = is_max ? acc : acc / (k * k);
                if (arg)
                    arg[o] = a;
            }
    return y;
}

typedef struct pcase {
    int64_t N, C, H, W;
    int k, s, p;
} pcase;

static const pcase pcases[] = {
    {2, 3, 8, 8, 2, 0, 0}, {1, 2, 7, 9, 3, 2, 1},  {2, 2, 9, 7, 3, 1, 1}, {1, 3, 10, 10, 4, 3, 2},
    {2, 1, 5, 6, 2, 1, 0}, {1, 2, 6, 5, 5, 1, 2},  {3, 2, 4, 4, 1, 1, 0}, {1, 1, 7, 7, 3, 4, 0},
    {2, 2, 7, 9, 2, 2, 0}, {1, 1, 4, 40, 2, 0, 0}, /* the 2x2 path: odd sizes, rows past 16 lanes */
};
enum { NPCASES = sizeof pcases / sizeof pcases[0] };

Test(conv, pools_by_hand)
{
    /* 4x4 with a tie in the top-left window (5 at (0,1) and (1,0)) */
    nb_tensor *x = nb_requires_grad(
        nb_from_array((nb_real[]){1, 5, 2, 0, 5, 3, 4, 8, 0, 1, 9, 9, -1, -2, 9, 7}, NB_SHAPE(1, 1, 4, 4)),
        true);
    nb_tensor *y = nb_max_pool2d(x, 2, 0, 0);
    assert_shape(y, 4, (int64_t[]){1, 1, 2, 2});
    assert_close_array(y->data, (double[]){5, 8, 1, 9}, 4, TOL);
    cr_assert_eq(nb_backward(nb_sum(y)), 0);
    /* ties go to the first in row-major order: (0,1), and (2,2) among the three 9s */
    assert_close_array(x->grad, (double[]){0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0}, 16, TOL);
    nb_zero_grad(x);
    y = nb_avg_pool2d(x, 2, 0, 0);
    assert_close_array(y->data, (double[]){3.5, 3.5, -0.5, 8.5}, 4, TOL);
    /* padding 1: the corner window holds x[0,0] and three zeros, divided by 4 */
    y = nb_avg_pool2d(x, 2, 2, 1);
    assert_shape(y, 4, (int64_t[]){1, 1, 3, 3});
    cr_assert_float_eq(y->data[0], 0.25, TOL);
    cr_assert_eq(nb_backward(nb_sum(y)), 0);
    for (int i = 0; i < 16; i++)
        cr_assert_float_eq(x->grad[i], 0.25, TOL);
    nb_free(x);
}

Test(conv, max_pool_nan_is_a_maximum)
{
    nb_tensor *x = nb_requires_grad(nb_from_array((nb_real[]){1, NAN, 3, NAN}, NB_SHAPE(1, 1, 2, 2)), true);
    nb_tensor *y = nb_max_pool2d(x, 2, 0, 0);
    cr_assert(isnan(y->data[0]));
    cr_assert_eq(nb_backward(nb_sum(y)), 0);
    /* PyTorch's CPU kernel: the last NaN of the window */
    assert_close_array(x->grad, (double[]){0, 0, 0, 1}, 4, TOL);
    nb_free(x);
}

/* The 2x2 stride-2 path (vectorized with AVX-512 and AVX2) against PyTorch's
 * scan rule written out: rows then columns, the first element starts, a
 * later one replaces it when greater or NaN. Rows of 1 to 18 outputs (every
 * partial last step of 16 and 8 lanes; 7 and 14 are 28x28 and 14x14
 * images') and odd widths and an odd height (dx of the column and row in no
 * window is 0); small integers make ties, and NaNs and infinities land at
 * every position of a window. */
static void ties_nans_and_infinities(int64_t W, nb_generator *gen)
{
    enum { P = 6, H = 7, Ho = 3 }; /* the last row in no window */
    const int64_t Wo = W / 2;
    nb_tensor *x = nb_requires_grad(nb_randn(gen, NB_SHAPE(2, 3, H, W)), true);
    for (int64_t i = 0; i < x->numel; i++) {
        x->data[i] = (nb_real)floor(2 * x->data[i]);
        if (i % 11 == 3)
            x->data[i] = NAN;
        else if (i % 13 == 5)
            x->data[i] = i % 2 ? INFINITY : -INFINITY;
    }
    nb_tensor *y = nb_max_pool2d(x, 2, 0, 0);
    cr_assert_not_null(y, "%s", nb_last_error_message());
    nb_tensor *gy = nb_randn(gen, y->ndim, y->shape);
    cr_assert_eq(nb_backward_grad(y, gy), 0);
    double *dx = calloc((size_t)(P * H * W), sizeof *dx);
    cr_assert_not_null(dx);
    for (int64_t pl = 0; pl < P; pl++)
        for (int64_t i = 0; i < Ho; i++)
            for (int64_t j = 0; j < Wo; j++) {
                int64_t at = pl * H * W + 2 * i * W + 2 * j;
                double m = x->data[at];
                int64_t a = at;
                for (int u = 0; u < 2; u++)
                    for (int v = u == 0; v < 2; v++) {
                        int64_t k = pl * H * W + (2 * i + u) * W + 2 * j + v;
                        if (x->data[k] > m || isnan(x->data[k]))
                            m = x->data[k], a = k;
                    }
                int64_t o = (pl * Ho + i) * Wo + j;
                if (isnan(m))
                    cr_assert(isnan(y->data[o]), "W %lld, output %lld: %g, want NaN", (long long)W,
                              (long long)o, y->data[o]);
                else
                    cr_assert_eq(y->data[o], m, "W %lld, output %lld: %g, want %g", (long long)W,
                                 (long long)o, y->data[o], m);
                dx[a] += gy->data[o];
            }
    assert_close_array(x->grad, dx, x->numel, TOL);
    free(dx);
    nb_free(gy);
    nb_free(x);
    nb_step_end();
}

Test(conv, max_pool_2x2_ties_nans_and_infinities)
{
    nb_generator g;
    nb_generator_seed(&g, 3);
    for (int64_t W = 2; W <= 37; W++)
        ties_nans_and_infinities(W, &g);
}

Test(conv, pools_match_naive_loops)
{
    nb_generator g;
    nb_generator_seed(&g, 14);
    for (int c = 0; c < NPCASES; c++) {
        const pcase *t = &pcases[c];
        nb_tensor *x = nb_requires_grad(nb_randn(&g, NB_SHAPE(t->N, t->C, t->H, t->W)), true);
        for (int m = 0; m < 2; m++) {
            nb_zero_grad(x);
            int64_t Ho, Wo, *arg = malloc(sizeof(int64_t) * (size_t)(t->N * t->C * t->H * t->W + 1));
            double *want = naive_pool(m == 0, x, t->k, t->s, t->p, &Ho, &Wo, arg);
            nb_tensor *y = m == 0 ? nb_max_pool2d(x, t->k, t->s, t->p) : nb_avg_pool2d(x, t->k, t->s, t->p);
            cr_assert_not_null(y, "case %d: %s", c, nb_last_error_message());
            assert_shape(y, 4, (int64_t[]){t->N, t->C, Ho, Wo});
            assert_close_array(y->data, want, y->numel, 10 * TOL);
            nb_tensor *gy = nb_randn(&g, y->ndim, y->shape);
            cr_assert_eq(nb_backward_grad(y, gy), 0);
            double *dx = calloc((size_t)x->numel, sizeof *dx);
            int64_t HW = t->H * t->W;
            for (int64_t o = 0; o < y->numel; o++) {
                int64_t pl = o / (Ho * Wo);
                if (m == 0) {
                    dx[pl * HW + arg[o]] += gy->data[o];
                    continue;
                }
                int64_t i = o % (Ho * Wo) / Wo, j = o % Wo, s = t->s ? t->s : t->k;
                for (int64_t u = 0; u < t->k; u++)
                    for (int64_t v = 0; v < t->k; v++) {
                        int64_t h = i * s - t->p + u, w = j * s - t->p + v;
                        if (h >= 0 && h < t->H && w >= 0 && w < t->W)
                            dx[pl * HW + h * t->W + w] += gy->data[o] / (t->k * t->k);
                    }
            }
            assert_close_array(x->grad, dx, x->numel, 10 * TOL);
            free(dx), free(want), free(arg);
            nb_free(gy);
            nb_step_end();
        }
        nb_free(x);
    }
}

Test(conv, pool_errors)
{
    nb_tensor *x = nb_zeros(NB_SHAPE(2, 3, 8, 8));
    cr_assert_null(nb_max_pool2d(x, 3, 1, 2));
    assert_error(NB_ERR_ARG, "max_pool2d: padding 2 must be at most half the kernel size 3");
    nb_clear_error();
    cr_assert_null(nb_avg_pool2d(x, 0, 1, 0));
    assert_error(NB_ERR_ARG, "avg_pool2d: kernel 0 must be positive, stride 1 and padding 0 non-negative");
    nb_clear_error();
    cr_assert_null(nb_max_pool2d(x, 9, 1, 0));
    assert_error(NB_ERR_SHAPE, "max_pool2d: input [2,3,8,8] padded by 0 is smaller than the kernel 9");
    nb_clear_error();
    nb_tensor *flat = nb_zeros(NB_SHAPE(2, 64));
    cr_assert_null(nb_avg_pool2d(flat, 2, 2, 0));
    assert_error(NB_ERR_SHAPE, "avg_pool2d: input [2,64] must be 4-D [N,C,H,W] (or 3-D [C,H,W])");
    nb_clear_error();
    nb_free(x), nb_free(flat);
}

/* ---- threads --------------------------------------------------------------- */

/* conv -> relu -> max pool -> conv -> avg pool, forward and every gradient,
 * with t threads; returns the output and gradients concatenated. */
static nb_real *pipeline(int threads, int64_t *count)
{
    nb_set_num_threads(threads);
    nb_generator g;
    nb_generator_seed(&g, 15);
    nb_tensor *x = nb_requires_grad(nb_randn(&g, NB_SHAPE(9, 3, 20, 18)), true);
    nb_tensor *w1 = nb_requires_grad(nb_randn(&g, NB_SHAPE(12, 3, 3, 3)), true);
    nb_tensor *b1 = nb_requires_grad(nb_randn(&g, NB_SHAPE(12)), true);
    nb_tensor *w2 = nb_requires_grad(nb_randn(&g, NB_SHAPE(20, 12, 3, 2)), true);
    nb_tensor *h = nb_relu(nb_conv2d(x, w1, b1, NB_CONV2D_OPTS(.padding = {1, 1})));
    h = nb_max_pool2d(h, 3, 2, 1);
    h = nb_conv2d(h, w2, NULL, NB_CONV2D_OPTS(.stride = {1, 2}, .dilation = {2, 1}));
    nb_tensor *y = nb_avg_pool2d(h, 2, 1, 1);
    cr_assert_not_null(y, "%s", nb_last_error_message());
    nb_tensor *gy = nb_randn(&g, y->ndim, y->shape);
    cr_assert_eq(nb_backward_grad(y, gy), 0);
    nb_tensor *parts[] = {x, w1, b1, w2};
    int64_t n = y->numel;
    for (int i = 0; i < 4; i++)
        n += parts[i]->numel;
    nb_real *out = malloc((size_t)n * sizeof *out), *p = out;
    memcpy(p, y->data, (size_t)y->numel * sizeof *p), p += y->numel;
    for (int i = 0; i < 4; i++) {
        memcpy(p, parts[i]->grad, (size_t)parts[i]->numel * sizeof *p), p += parts[i]->numel;
        nb_free(parts[i]);
    }
    nb_free(gy);
    nb_step_end();
    *count = n;
    return out;
}

Test(conv, one_and_two_threads_are_bit_identical)
{
    int64_t n1, n2;
    nb_real *a = pipeline(1, &n1), *b = pipeline(2, &n2);
    nb_set_num_threads(0);
    cr_assert_eq(n1, n2);
    cr_assert_eq(memcmp(a, b, (size_t)n1 * sizeof *a), 0);
    free(a), free(b);
}

/* ---- layers ---------------------------------------------------------------- */

Test(conv, layers_in_a_sequential)
{
    nb_manual_seed(3);
    nb_module *m = nb_sequential(7, nb_conv2d_layer(1, 4, 3, 1, 1), nb_act("relu"), nb_max_pool2d_layer(2, 0),
                                 nb_conv2d_layer(4, 6, 3, 2, 0), nb_avg_pool2d_layer(2, 2),
                                 nb_flatten_layer(1, -1), nb_linear(6, 3));
    cr_assert_not_null(m, "%s", nb_last_error_message());
    nb_param_list pl;
    cr_assert_eq(nb_module_parameters(m, &pl), 6);
    const char *names[] = {"0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"};
    for (int i = 0; i < 6; i++)
        cr_assert_str_eq(pl.names[i], names[i]);
    assert_shape(pl.tensors[0], 4, (int64_t[]){4, 1, 3, 3});
    assert_shape(pl.tensors[2], 4, (int64_t[]){6, 4, 3, 3});
    /* PyTorch's bounds: 1/sqrt(fan_in), fan_in = in k k: 1/3 and 1/6 */
    double bounds[] = {1.0 / 3, 1.0 / 3, 1.0 / 6, 1.0 / 6};
    for (int i = 0; i < 4; i++) {
        double lo = 0, hi = 0;
        for (int64_t e = 0; e < pl.tensors[i]->numel; e++) {
            lo = fmin(lo, pl.tensors[i]->data[e]);
            hi = fmax(hi, pl.tensors[i]->data[e]);
        }
        cr_assert(lo >= -bounds[i] && hi <= bounds[i] && hi - lo > 0.5 * bounds[i], "%s in [%g, %g]",
                  names[i], lo, hi);
    }
    cr_assert_eq(nb_module_num_params(m), 4 * 9 + 4 + 6 * 36 + 6 + 6 * 3 + 3);
    /* [2,1,12,12] -> conv [2,4,12,12] -> pool [2,4,6,6] -> conv s2 [2,6,2,2] -> avg [2,6,1,1] -> [2,6] -> [2,3] */
    nb_tensor *x = nb_randn(NULL, NB_SHAPE(2, 1, 12, 12));
    nb_tensor *y = nb_forward(m, x);
    assert_shape(y, 2, (int64_t[]){2, 3});
    cr_assert_eq(nb_backward(nb_sum(y)), 0);
    cr_assert_not_null(pl.tensors[0]->grad);

    char path[] = "/tmp/nabla_conv_summary_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w+");
    cr_assert_eq(nb_module_summary(m, f, NB_SHAPE(1, 1, 12, 12)), 0);
    rewind(f);
    char text[8192] = "";
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = '\0';
    fclose(f);
    remove(path);
    cr_assert(strstr(text, "MaxPool2d-3                  [1,4,6,6]               0"), "%s", text);
    cr_assert(strstr(text, "Conv2d-4                  [1,6,2,2]             222"), "%s", text);
    cr_assert(strstr(text, "AvgPool2d-5"), "%s", text);
    cr_assert(strstr(text, "Conv2d-1                [1,4,12,12]              40"), "%s", text);

    /* checkpoint round trip into a differently seeded model */
    char ck[] = "/tmp/nabla_conv_ckpt_XXXXXX";
    int cfd = mkstemp(ck);
    cr_assert(cfd >= 0);
    close(cfd);
    cr_assert_eq(nb_save_checkpoint(ck, m, NULL, NULL), 0, "%s", nb_last_error_message());
    nb_manual_seed(4);
    nb_module *m2 = nb_sequential(7, nb_conv2d_layer(1, 4, 3, 1, 1), nb_act("relu"),
                                  nb_max_pool2d_layer(2, 0), nb_conv2d_layer(4, 6, 3, 2, 0),
                                  nb_avg_pool2d_layer(2, 2), nb_flatten_layer(1, -1), nb_linear(6, 3));
    cr_assert_eq(nb_load_checkpoint(ck, m2, NULL), 0, "%s", nb_last_error_message());
    remove(ck);
    nb_tensor *y2 = NULL;
    NB_NO_GRAD { y2 = nb_forward(m2, x); }
    cr_assert_eq(memcmp(y->data, y2->data, (size_t)y->numel * sizeof(nb_real)), 0);
    nb_param_list_free(&pl);
    nb_module_free(m), nb_module_free(m2);
    nb_free(x);
}

/* nb_conv2d_relu (a Conv2d then a ReLU in a Sequential) gives what nb_relu of
 * nb_conv2d gives, bit for bit: the output and the three gradients, on every
 * geometry (implicit and im2col forward, both dW layouts); and
 * nb_conv2d_relu_max_pool2d what nb_max_pool2d of that gives, for a pool
 * `pk` (kernel, stride, padding; kernel 0 for none). */
static nb_real *conv_relu_run(const ccase *t, bool fused, const int *pk, int64_t *count)
{
    nb_generator g;
    nb_generator_seed(&g, 21);
    nb_tensor *x, *w, *b;
    make(t, &g, &x, &w, &b);
    nb_tensor *in[3] = {x, w, b};
    for (int i = 0; i < (b ? 3 : 2); i++)
        nb_requires_grad(in[i], true);
    nb_tensor *y;
    if (pk[0]) {
        y = fused ? nb_conv2d_relu_max_pool2d(x, w, b, lib_opts(t), pk[0], pk[1], pk[2])
                  : nb_max_pool2d(nb_relu(nb_conv2d(x, w, b, lib_opts(t))), pk[0], pk[1], pk[2]);
        cr_assert_not_null(y, "%s", nb_last_error_message());
        cr_assert_str_eq(y->node->op->name, fused ? "conv2d_relu_max_pool2d" : "max_pool2d");
    } else {
        y = fused ? nb_conv2d_relu(x, w, b, lib_opts(t)) : nb_relu(nb_conv2d(x, w, b, lib_opts(t)));
        cr_assert_not_null(y, "%s", nb_last_error_message());
        cr_assert_str_eq(y->node->op->name, fused ? "conv2d_relu" : "relu");
    }
    nb_tensor *gy = nb_randn(&g, y->ndim, y->shape);
    cr_assert_eq(nb_backward_grad(y, gy), 0, "%s", nb_last_error_message());
    int64_t n = y->numel;
    for (int i = 0; i < (b ? 3 : 2); i++)
        n += in[i]->numel;
    nb_real *out = malloc((size_t)n * sizeof *out), *p = out;
    memcpy(p, y->data, (size_t)y->numel * sizeof *p), p += y->numel;
    for (int i = 0; i < (b ? 3 : 2); i++) {
        memcpy(p, in[i]->grad, (size_t)in[i]->numel * sizeof *p), p += in[i]->numel;
        nb_free(in[i]);
    }
    nb_free(gy);
    nb_step_end();
    *count = n;
    return out;
}

Test(conv, conv2d_relu_is_relu_of_conv2d_bit_for_bit)
{
    /* no pool; 2x2 stride 2; overlapping 3x3 stride 2 padded 1; 2x2 stride 1 */
    const int pools[4][3] = {{0, 0, 0}, {2, 2, 0}, {3, 2, 1}, {2, 1, 0}};
    int runs = 0;
    for (int c = 0; c < NCASES; c++)
        for (int k = 0; k < 4; k++) {
            int64_t Ho, Wo;
            out_size(&cases[c], &Ho, &Wo);
            if (Ho + 2 * pools[k][2] < pools[k][0] || Wo + 2 * pools[k][2] < pools[k][0])
                continue; /* the convolution's output is smaller than the pool */
            int64_t n1, n2;
            nb_real *a = conv_relu_run(&cases[c], false, pools[k], &n1);
            nb_real *b = conv_relu_run(&cases[c], true, pools[k], &n2);
            cr_assert_eq(n1, n2);
            int64_t zeros = 0;
            for (int64_t i = 0; i < n1; i++)
                zeros += a[i] == 0;
            cr_assert_gt(zeros, 0, "case %d, pool %d: the ReLU clipped nothing", c, k);
            cr_assert_eq(memcmp(a, b, (size_t)n1 * sizeof *a), 0, "case %d, pool %d", c, k);
            free(a), free(b);
            runs++;
        }
    cr_assert_gt(runs, 3 * NCASES);
}

Test(conv, conv2d_relu_max_pool2d_errors)
{
    nb_tensor *x = nb_randn(NULL, NB_SHAPE(2, 1, 3, 3)), *w = nb_randn(NULL, NB_SHAPE(4, 1, 3, 3));
    cr_assert_null(nb_conv2d_relu_max_pool2d(x, w, NULL, NB_CONV2D_OPTS(), 2, 2, 0));
    cr_assert_str_eq(
        nb_last_error_message(),
        "max_pool2d: the convolution's output [2,4,1,1] padded by 0 is smaller than the kernel 2");
    cr_assert_null(nb_conv2d_relu_max_pool2d(x, w, NULL, NB_CONV2D_OPTS(.padding = {1, 1}), 2, 2, 2));
    cr_assert_str_eq(nb_last_error_message(), "max_pool2d: padding 2 must be at most half the kernel size 2");
    cr_assert_null(nb_conv2d_relu_max_pool2d(x, w, NULL, NB_CONV2D_OPTS(), 0, 2, 0));
    cr_assert_str_eq(nb_last_error_message(), "max_pool2d: kernel 0 must be positive");
    nb_free(x), nb_free(w);
}

static int hooked_relus;
static void count_relus(nb_module *m, nb_tensor *y, void *ctx)
{
    (void)y, (void)ctx;
    hooked_relus += strcmp(m->kind, "ReLU") == 0;
}

/* Sequential fuses a Conv2d and the ReLU after it, except under a forward
 * hook (which must see the Conv2d's own output) and when something else sits
 * between them. */
Test(conv, sequential_fuses_conv2d_and_relu)
{
    nb_manual_seed(5);
    nb_module *conv = nb_conv2d_layer(2, 3, 3, 1, 1);
    nb_module *m = nb_sequential(2, conv, nb_act("relu"));
    nb_module *m2 = nb_sequential(3, nb_conv2d_layer(2, 3, 3, 1, 1), nb_act("tanh"), nb_act("relu"));
    nb_module *m3 =
        nb_sequential(3, nb_conv2d_layer(2, 3, 3, 1, 1), nb_act("relu"), nb_max_pool2d_layer(2, 0));
    nb_module *m4 =
        nb_sequential(3, nb_conv2d_layer(2, 3, 3, 1, 1), nb_act("relu"), nb_avg_pool2d_layer(2, 0));
    cr_assert_not_null(m, "%s", nb_last_error_message());
    nb_tensor *x = nb_requires_grad(nb_randn(NULL, NB_SHAPE(2, 2, 6, 6)), true);
    nb_tensor *y = nb_forward(m, x);
    cr_assert_str_eq(y->node->op->name, "conv2d_relu");
    nb_tensor *want = nb_relu(nb_forward(conv, x));
    cr_assert_eq(memcmp(y->data, want->data, (size_t)y->numel * sizeof(nb_real)), 0);
    cr_assert_str_eq(nb_forward(m2, x)->node->op->name, "relu"); /* tanh between: not fused */
    nb_tensor *y3 = nb_forward(m3, x);
    cr_assert_str_eq(y3->node->op->name, "conv2d_relu_max_pool2d");
    assert_shape(y3, 4, (int64_t[]){2, 3, 3, 3});
    cr_assert_str_eq(nb_forward(m4, x)->node->op->name, "avg_pool2d"); /* after conv2d_relu */
    hooked_relus = 0;
    nb_set_forward_hook(count_relus, NULL, NULL);
    nb_tensor *yh = nb_forward(m, x);
    nb_set_forward_hook(NULL, NULL, NULL);
    cr_assert_str_eq(yh->node->op->name, "relu");
    cr_assert_eq(hooked_relus, 1);
    cr_assert_eq(memcmp(yh->data, y->data, (size_t)y->numel * sizeof(nb_real)), 0);
    nb_module_free(m), nb_module_free(m2), nb_module_free(m3), nb_module_free(m4);
    nb_free(x);
}

Test(conv, layer_errors)
{
    cr_assert_null(nb_conv2d_layer(0, 4, 3, 1, 0));
    assert_error(NB_ERR_ARG, "Conv2d: in_channels 0, out_channels 4 and kernel (3,3) must be >= 1");
    nb_clear_error();
    cr_assert_null(nb_max_pool2d_layer_ex(2, 2, 2));
    assert_error(NB_ERR_ARG, "MaxPool2d: kernel 2 must be positive, stride 2 non-negative and padding 2");
    nb_clear_error();
    /* a layer given the wrong channel count fails with the op's message */
    nb_module *c = nb_conv2d_layer(3, 4, 3, 1, 0);
    nb_tensor *x = nb_zeros(NB_SHAPE(1, 1, 5, 5));
    cr_assert_null(nb_forward(c, x));
    assert_error(NB_ERR_SHAPE, "has 1 channels but weight [4,3,3,3] expects 3");
    nb_clear_error();
    nb_module_free(c);
    nb_free(x);
}

/* ---- gradchecks (float64) ------------------------------------------------- */

#ifdef NABLA_F64
typedef struct gctx {
    nb_conv2d_opts o;
    int k, s, p;
} gctx;

static nb_tensor *f_conv(nb_tensor *const *in, int n, void *ctx)
{
    return nb_conv2d(in[0], in[1], n == 3 ? in[2] : NULL, ((gctx *)ctx)->o);
}

static nb_tensor *f_conv_relu(nb_tensor *const *in, int n, void *ctx)
{
    return nb_conv2d_relu(in[0], in[1], n == 3 ? in[2] : NULL, ((gctx *)ctx)->o);
}

static nb_tensor *f_conv_relu_pool(nb_tensor *const *in, int n, void *ctx)
{
    return nb_conv2d_relu_max_pool2d(in[0], in[1], n == 3 ? in[2] : NULL, ((gctx *)ctx)->o, 2, 1, 0);
}

static nb_tensor *f_max(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    gctx *c = ctx;
    return nb_max_pool2d(in[0], c->k, c->s, c->p);
}

static nb_tensor *f_avg(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    gctx *c = ctx;
    return nb_avg_pool2d(in[0], c->k, c->s, c->p);
}

static nb_tensor *f_stack(nb_tensor *const *in, int n, void *ctx)
{
    (void)n, (void)ctx;
    nb_tensor *h = nb_conv2d(in[0], in[1], in[2], NB_CONV2D_OPTS(.padding = {1, 1}));
    h = nb_max_pool2d(nb_tanh(h), 2, 0, 0);
    return nb_avg_pool2d(nb_conv2d(h, in[3], NULL, NB_CONV2D_OPTS(.stride = {1, 2})), 2, 1, 1);
}

static void check(nb_gradcheck_fn f, int n, nb_tensor *const *in, void *ctx, const char *what)
{
    nb_gradcheck_result r = nb_gradcheck(f, n, in, ctx, NB_GRADCHECK_OPTS());
    cr_assert(r.ok, "%s: %s", what, r.message);
    cr_assert_gt(r.nonzero, 0, "%s", what);
}

Test(conv, gradcheck_every_case)
{
    nb_generator g;
    nb_generator_seed(&g, 16);
    for (int c = 0; c < NCASES; c++) {
        const ccase *t = &cases[c];
        if (t->N * t->C * t->H * t->W > 400)
            continue; /* the blocked-GEMM case: covered by the chain-rule test */
        nb_tensor *in[3];
        make(t, &g, &in[0], &in[1], &in[2]);
        for (int i = 0; i < (t->bias ? 3 : 2); i++)
            nb_requires_grad(in[i], true);
        char what[32];
        snprintf(what, sizeof what, "conv case %d", c);
        check(f_conv, t->bias ? 3 : 2, in, &(gctx){.o = lib_opts(t)}, what);
        snprintf(what, sizeof what, "conv2d_relu case %d", c);
        check(f_conv_relu, t->bias ? 3 : 2, in, &(gctx){.o = lib_opts(t)}, what);
        int64_t Ho, Wo;
        out_size(t, &Ho, &Wo);
        if (Ho >= 2 && Wo >= 2) {
            snprintf(what, sizeof what, "conv2d_relu_max_pool2d case %d", c);
            check(f_conv_relu_pool, t->bias ? 3 : 2, in, &(gctx){.o = lib_opts(t)}, what);
        }
        nb_free(in[0]), nb_free(in[1]), nb_free(in[2]);
        nb_step_end();
    }
}

Test(conv, gradcheck_pools)
{
    nb_generator g;
    nb_generator_seed(&g, 17);
    for (int c = 0; c < NPCASES; c++) {
        const pcase *t = &pcases[c];
        nb_tensor *x = nb_requires_grad(nb_randn(&g, NB_SHAPE(t->N, t->C, t->H, t->W)), true);
        gctx ctx = {.k = t->k, .s = t->s, .p = t->p};
        char what[32];
        snprintf(what, sizeof what, "max_pool2d case %d", c);
        check(f_max, 1, &x, &ctx, what);
        snprintf(what, sizeof what, "avg_pool2d case %d", c);
        check(f_avg, 1, &x, &ctx, what);
        nb_free(x);
        nb_step_end();
    }
}

Test(conv, gradcheck_a_small_cnn)
{
    nb_generator g;
    nb_generator_seed(&g, 18);
    nb_tensor *in[4] = {nb_randn(&g, NB_SHAPE(2, 2, 6, 6)), nb_randn(&g, NB_SHAPE(3, 2, 3, 3)),
                        nb_randn(&g, NB_SHAPE(3)), nb_randn(&g, NB_SHAPE(2, 3, 2, 2))};
    for (int i = 0; i < 4; i++)
        nb_requires_grad(in[i], true);
    check(f_stack, 4, in, NULL, "conv-tanh-maxpool-conv-avgpool");
    for (int i = 0; i < 4; i++)
        nb_free(in[i]);
}
#endif
