/* tests/test_attention.c — scaled_dot_product_attention: both paths against
 * PyTorch's numbers, the fused kernel against the math path (values, dropout
 * masks, gradients) on sizes that cross its 64-row blocks, fully masked rows,
 * scores of any size, gradchecks of both paths in the float64 build (masks,
 * causal, scale, cross-attention, dropout, the backward split over key
 * blocks), 1, 2 and 3 threads bit-identical (slices split, or blocks),
 * the fused path's memory linear in T, the error messages, and the packed
 * self-attention of MultiheadAttention against the split heads it stands for. */
#include <pthread.h>
#include "common.h"

TestSuite(attention, .init = quiet, .fini = end_step);

#ifdef NABLA_F64
#define REFTOL 1e-11 /* the PyTorch numbers have 12 decimals */
#else
#define REFTOL 1e-6
#endif

static nb_tensor *fill(int ndim, const int64_t *shape, double a, double b, bool use_cos)
{
    nb_tensor *t = nb_zeros(ndim, shape);
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = (nb_real)(use_cos ? cos(a * (double)i + b) : sin(a * (double)i + b));
    return t;
}

static nb_tensor *randn(uint64_t seed, int ndim, const int64_t *shape, bool grad)
{
    nb_generator g;
    nb_generator_seed(&g, seed);
    return nb_requires_grad(nb_randn(&g, ndim, shape), grad);
}

/* q[i] = sin(0.3 i + 0.1) [1,2,3,2], k[i] = cos(0.7 i) [1,2,4,2],
 * v[i] = sin(0.5 i + 1) [1,2,4,3], mask[i] = 0.25 (i % 3) - 0.2 [3,4]. The
 * numbers: torch 1.13 in float64 (/usr/bin/python3), the formula of the
 * PyTorch 2 docs of F.scaled_dot_product_attention (1.13 has no F.sdpa):
 *   w = torch.softmax(q @ k.transpose(-2, -1) * scale + bias, -1); y = w @ v
 * with bias = mask, scale 0.8; then bias = -inf above the diagonal of
 * torch.ones(3, 4).tril(), scale 1/sqrt(2). */
static const double want_float_mask[18] = {
    0.051365147954, 0.027262651830, -0.003514692280, 0.433678714469,  0.494418377194,  0.434107177739,
    0.541182165417, 0.672209009009, 0.638655643086,  0.522971264316,  0.510885657367,  0.373717423734,
    0.418132254741, 0.381812553701, 0.252011823337,  -0.119320802407, -0.104077262604, -0.063351979094};
static const double want_causal[18] = {
    0.841470984808, 0.997494986604, 0.909297426826, 0.782300627462, 0.788967187230, 0.602467063372,
    0.701087264762, 0.725841831607, 0.572885003457, 0.656986598719, 0.937999976775, 0.989358246623,
    0.720346576051, 0.702524935282, 0.512700688943, 0.238383490291, 0.060540733230, -0.132124506757};

Test(attention, both_paths_match_pytorch)
{
    nb_tensor *q = fill(NB_SHAPE(1, 2, 3, 2), 0.3, 0.1, false), *k = fill(NB_SHAPE(1, 2, 4, 2), 0.7, 0, true);
    nb_tensor *v = fill(NB_SHAPE(1, 2, 4, 3), 0.5, 1, false), *mask = nb_zeros(NB_SHAPE(3, 4));
    for (int i = 0; i < 12; i++)
        mask->data[i] = (nb_real)(0.25 * (i % 3) - 0.2);
    for (int math = 0; math < 2; math++) {
        nb_tensor *y = nb_scaled_dot_product_attention(
            q, k, v, NB_SDPA_OPTS(.attn_mask = mask, .scale = 0.8, .math = math));
        assert_shape(y, 4, (int64_t[]){1, 2, 3, 3});
        assert_close_array(y->data, want_float_mask, 18, REFTOL);
        y = nb_scaled_dot_product_attention(q, k, v, NB_SDPA_OPTS(.is_causal = true, .math = math));
        assert_close_array(y->data, want_causal, 18, REFTOL);
    }
    nb_free(q), nb_free(k), nb_free(v), nb_free(mask);
}

/* A boolean mask equal to the causal one gives the causal result. */
Test(attention, boolean_mask_true_takes_part)
{
    nb_tensor *q = fill(NB_SHAPE(1, 2, 3, 2), 0.3, 0.1, false), *k = fill(NB_SHAPE(1, 2, 4, 2), 0.7, 0, true);
    nb_tensor *v = fill(NB_SHAPE(1, 2, 4, 3), 0.5, 1, false), *mask = nb_zeros(NB_SHAPE(3, 4));
    for (int i = 0; i < 3; i++)
        for (int j = 0; j <= i; j++)
            mask->data[i * 4 + j] = 1;
    for (int math = 0; math < 2; math++) {
        nb_tensor *y = nb_scaled_dot_product_attention(
            q, k, v, NB_SDPA_OPTS(.attn_mask = mask, .bool_mask = true, .math = math));
        assert_close_array(y->data, want_causal, 18, REFTOL);
    }
    nb_free(q), nb_free(k), nb_free(v), nb_free(mask);
}

/* The fused kernel and the math path on one problem: outputs and the
 * gradients of sum(y * w) for q, k, v. */
typedef struct problem {
    int64_t b, h, tq, tk, e, ev;
    nb_sdpa_opts opts;
} problem;

/* The fused path's outputs within tol of the math path's, and more than
 * half of them non-zero (the comparison is not of zeros). */
static void assert_fused_near_math(const nb_real *fused, const nb_real *math, int64_t n, double tol)
{
    int64_t nonzero = 0;
    for (int64_t i = 0; i < n; i++) {
        cr_assert(fabs((double)fused[i] - (double)math[i]) <= tol, "output %lld: fused %.9g, math %.9g",
                  (long long)i, (double)fused[i], (double)math[i]);
        nonzero += fused[i] != 0;
    }
    cr_assert_gt(nonzero, n / 2);
}

static void compare_paths(problem p, double tol)
{
    nb_tensor *q = randn(1, NB_SHAPE(p.b, p.h, p.tq, p.e), true);
    nb_tensor *k = randn(2, NB_SHAPE(p.b, p.h, p.tk, p.e), true);
    nb_tensor *v = randn(3, NB_SHAPE(p.b, p.h, p.tk, p.ev), true);
    nb_tensor *w = randn(4, NB_SHAPE(p.b, p.h, p.tq, p.ev), false);
    nb_real *out[2], *grads[2][3];
    int64_t n = p.b * p.h * p.tq * p.ev;
    for (int math = 0; math < 2; math++) {
        nb_generator g;
        nb_generator_seed(&g, 7);
        nb_sdpa_opts o = p.opts;
        o.math = math;
        o.generator = &g;
        nb_tensor *y = nb_scaled_dot_product_attention(q, k, v, o);
        cr_assert_not_null(y, "%s", nb_last_error_message());
        nb_zero_grad(q), nb_zero_grad(k), nb_zero_grad(v);
        cr_assert_eq(nb_backward(nb_sum(nb_mul(y, w))), 0, "%s", nb_last_error_message());
        out[math] = malloc((size_t)n * sizeof(nb_real));
        memcpy(out[math], y->data, (size_t)n * sizeof(nb_real));
        nb_tensor *in[3] = {q, k, v};
        for (int i = 0; i < 3; i++) {
            grads[math][i] = malloc((size_t)in[i]->numel * sizeof(nb_real));
            memcpy(grads[math][i], in[i]->grad, (size_t)in[i]->numel * sizeof(nb_real));
        }
    }
    assert_fused_near_math(out[0], out[1], n, tol);
    nb_tensor *in[3] = {q, k, v};
    for (int t = 0; t < 3; t++) {
        for (int64_t i = 0; i < in[t]->numel; i++)
            cr_assert(fabs((double)grads[0][t][i] - (double)grads[1][t][i]) <= tol * 4,
                      "grad of input %d, element %lld: fused %.9g, math %.9g", t, (long long)i,
                      (double)grads[0][t][i], (double)grads[1][t][i]);
        free(grads[0][t]), free(grads[1][t]);
    }
    free(out[0]), free(out[1]);
    nb_free(q), nb_free(k), nb_free(v), nb_free(w);
}

#ifdef NABLA_F64
#define PTOL 1e-12
#else
#define PTOL 2e-5
#endif

Test(attention, fused_equals_math_across_blocks)
{
    compare_paths((problem){2, 3, 130, 130, 16, 16, NB_SDPA_OPTS()}, PTOL);
    compare_paths((problem){1, 2, 70, 150, 8, 5, NB_SDPA_OPTS(.scale = 0.3)}, PTOL); /* cross-attention */
    compare_paths((problem){1, 2, 150, 70, 8, 5, NB_SDPA_OPTS(.is_causal = true)}, PTOL);   /* Tq > Tk */
    compare_paths((problem){1, 2, 129, 200, 12, 7, NB_SDPA_OPTS(.is_causal = true)}, PTOL); /* Tq < Tk */
    compare_paths((problem){2, 2, 100, 90, 4, 4, NB_SDPA_OPTS(.dropout_p = 0.3)}, PTOL);
    compare_paths((problem){1, 1, 65, 65, 3, 2, NB_SDPA_OPTS(.dropout_p = 0.5, .is_causal = true)}, PTOL);
}

Test(attention, fused_equals_math_with_masks)
{
    /* float mask [B, 1, Tq, Tk] (per batch, broadcast over heads), bool key mask [Tk] */
    nb_tensor *fm = randn(9, NB_SHAPE(2, 1, 70, 80), false);
    compare_paths((problem){2, 3, 70, 80, 6, 6, NB_SDPA_OPTS(.attn_mask = fm)}, PTOL);
    nb_tensor *bm = nb_zeros(NB_SHAPE(80));
    for (int j = 0; j < 80; j++)
        bm->data[j] = j % 3 != 0;
    compare_paths(
        (problem){2, 3, 70, 80, 6, 6, NB_SDPA_OPTS(.attn_mask = bm, .bool_mask = true, .dropout_p = 0.2)},
        PTOL);
    nb_free(fm), nb_free(bm);
}

/* nb_packed_self_attention against the composition it stands for: qkv
 * [n, t, 3 h d] split into q, k, v [n, h, t, d] (reshape, permute, slice), the
 * fused sdpa, permuted back to [n, t, h d]. The same bits, forward and the
 * gradient of sum(y * w) into qkv, since the kernel only reads and writes the
 * heads in place; and the packed op's math path within PTOL. */
typedef struct packed_problem {
    int64_t n, h, t, d;
    nb_sdpa_opts opts;
    int threads;
} packed_problem;

static nb_tensor *split_attend_concat(nb_tensor *qkv, int64_t h, nb_sdpa_opts o)
{
    int64_t n = qkv->shape[0], t = qkv->shape[1], e = qkv->shape[2] / 3;
    nb_tensor *heads = nb_permute(nb_reshape(qkv, NB_SHAPE(n, t, 3, h, e / h)), (const int[]){2, 0, 3, 1, 4});
    nb_tensor *x[3];
    for (int i = 0; i < 3; i++)
        x[i] = nb_reshape(nb_slice(heads, 0, i, i + 1), NB_SHAPE(n, h, t, e / h));
    nb_tensor *y = nb_scaled_dot_product_attention(x[0], x[1], x[2], o);
    return nb_reshape(nb_permute(y, (const int[]){0, 2, 1, 3}), NB_SHAPE(n, t, e));
}

static void compare_packed(packed_problem p)
{
    int threads = nb_get_num_threads();
    nb_set_num_threads(p.threads);
    int64_t e = p.h * p.d, ny = p.n * p.t * e;
    nb_tensor *qkv = randn(21, NB_SHAPE(p.n, p.t, 3 * e), true), *w = randn(22, NB_SHAPE(p.n, p.t, e), false);
    nb_real *out[3], *grad[3];
    for (int way = 0; way < 3; way++) { /* packed fused, composition, packed math */
        nb_generator g;
        nb_generator_seed(&g, 7);
        nb_sdpa_opts o = p.opts;
        o.generator = &g;
        o.math = way == 2;
        nb_tensor *y = way == 1 ? split_attend_concat(qkv, p.h, o) : nb_packed_self_attention(qkv, p.h, o);
        cr_assert_not_null(y, "%s", nb_last_error_message());
        cr_assert(y->ndim == 3 && y->shape[0] == p.n && y->shape[1] == p.t && y->shape[2] == e);
        nb_zero_grad(qkv);
        cr_assert_eq(nb_backward(nb_sum(nb_mul(y, w))), 0, "%s", nb_last_error_message());
        out[way] = malloc((size_t)ny * sizeof(nb_real));
        grad[way] = malloc((size_t)qkv->numel * sizeof(nb_real));
        memcpy(out[way], y->data, (size_t)ny * sizeof(nb_real));
        memcpy(grad[way], qkv->grad, (size_t)qkv->numel * sizeof(nb_real));
        nb_step_end();
    }
    cr_assert(memcmp(out[0], out[1], (size_t)ny * sizeof(nb_real)) == 0,
              "n %lld h %lld t %lld d %lld: packed and split outputs differ", (long long)p.n, (long long)p.h,
              (long long)p.t, (long long)p.d);
    cr_assert(memcmp(grad[0], grad[1], (size_t)qkv->numel * sizeof(nb_real)) == 0,
              "n %lld h %lld t %lld d %lld: packed and split gradients differ", (long long)p.n,
              (long long)p.h, (long long)p.t, (long long)p.d);
    assert_fused_near_math(out[0], out[2], ny, PTOL);
    for (int64_t i = 0; i < qkv->numel; i++)
        cr_assert(fabs((double)grad[0][i] - (double)grad[2][i]) <= PTOL * 4,
                  "grad %lld: fused %.9g, math %.9g", (long long)i, (double)grad[0][i], (double)grad[2][i]);
    for (int way = 0; way < 3; way++)
        free(out[way]), free(grad[way]);
    nb_free(qkv), nb_free(w);
    nb_set_num_threads(threads);
}

Test(attention, packed_self_attention_equals_split_heads)
{
    compare_packed((packed_problem){2, 4, 64, 24, NB_SDPA_OPTS(.is_causal = true), 1}); /* char_gpt's heads */
    compare_packed((packed_problem){2, 3, 130, 5, NB_SDPA_OPTS(), 2});                  /* across blocks */
    compare_packed(
        (packed_problem){1, 1, 150, 8, NB_SDPA_OPTS(.is_causal = true, .scale = 0.3), 3}); /* split */
    compare_packed((packed_problem){2, 2, 70, 6, NB_SDPA_OPTS(.dropout_p = 0.3), 1});
    nb_tensor *fm = randn(9, NB_SHAPE(2, 1, 70, 70), false), *bm = nb_zeros(NB_SHAPE(70));
    for (int j = 0; j < 70; j++)
        bm->data[j] = j % 3 != 0;
    compare_packed((packed_problem){2, 3, 70, 4, NB_SDPA_OPTS(.attn_mask = fm), 2});
    compare_packed((packed_problem){2, 3, 70, 4, NB_SDPA_OPTS(.attn_mask = bm, .bool_mask = true), 1});
    nb_free(fm), nb_free(bm);
}

Test(attention, packed_self_attention_errors)
{
    nb_tensor *qkv = nb_zeros(NB_SHAPE(2, 5, 12)), *m = nb_zeros(NB_SHAPE(4, 5));
    cr_assert_null(nb_packed_self_attention(qkv, 3, NB_SDPA_OPTS()));
    assert_error(NB_ERR_SHAPE, "packed_self_attention: qkv [2,5,12] must be [N, T, 3 E] with E a multiple of "
                               "num_heads 3");
    cr_assert_null(nb_packed_self_attention(qkv, 2, NB_SDPA_OPTS(.attn_mask = m)));
    assert_error(NB_ERR_SHAPE, "packed_self_attention: attn_mask [4,5] does not broadcast to the scores "
                               "[..., 5, 5] of the heads [2,2,5,2] of qkv [2,5,12]");
    cr_assert_null(nb_packed_self_attention(qkv, 0, NB_SDPA_OPTS()));
    assert_error(NB_ERR_ARG, "packed_self_attention: num_heads 0 must be >= 1");
    cr_assert_null(nb_packed_self_attention(qkv, 2, NB_SDPA_OPTS(.attn_mask = m, .math = true)));
    assert_error(NB_ERR_SHAPE, "packed_self_attention: attn_mask [4,5] does not broadcast");
    cr_assert_null(nb_packed_self_attention(qkv, 2, NB_SDPA_OPTS(.dropout_p = -1)));
    assert_error(NB_ERR_ARG, "packed_self_attention: dropout_p = -1 must be in [0, 1]");
    nb_free(qkv), nb_free(m);
}

/* A fully masked row gives zeros and passes no gradient; the others are as
 * without it. */
Test(attention, fully_masked_rows_give_zeros)
{
    nb_tensor *mask = nb_ones(NB_SHAPE(3, 4));
    for (int j = 0; j < 4; j++)
        mask->data[4 + j] = 0; /* query row 1 sees nothing */
    for (int math = 0; math < 2; math++) {
        nb_tensor *q = randn(1, NB_SHAPE(1, 1, 3, 2), true), *k = randn(2, NB_SHAPE(1, 1, 4, 2), true);
        nb_tensor *v = randn(3, NB_SHAPE(1, 1, 4, 3), true);
        nb_tensor *y = nb_scaled_dot_product_attention(
            q, k, v, NB_SDPA_OPTS(.attn_mask = mask, .bool_mask = true, .math = math));
        nb_tensor *y0 = nb_scaled_dot_product_attention(q, k, v, NB_SDPA_OPTS());
        for (int c = 0; c < 3; c++) {
            cr_assert_eq(y->data[3 + c], 0, "math %d: masked row column %d is %g", math, c,
                         (double)y->data[3 + c]);
            cr_assert(fabs((double)(y->data[c] - y0->data[c])) < 1e-6);
        }
        cr_assert_eq(nb_backward(nb_sum(y)), 0);
        cr_assert_eq(q->grad[2], 0);
        cr_assert_eq(q->grad[3], 0);
        for (int64_t i = 0; i < 12; i++)
            cr_assert(isfinite((double)v->grad[i]));
        nb_free(q), nb_free(k), nb_free(v);
    }
    nb_free(mask);
}

/* Scores of 1e4 (float32 exp overflows at 89) give the softmax of the
 * shifted scores: the running maximum is subtracted. */
Test(attention, huge_scores_are_stable)
{
    nb_tensor *q = nb_from_array((nb_real[]){100, 100}, NB_SHAPE(1, 1, 1, 2));
    nb_tensor *k = nb_from_array((nb_real[]){50, 50, 49.99, 49.99, -50, -50}, NB_SHAPE(1, 1, 3, 2));
    nb_tensor *v = nb_from_array((nb_real[]){1, 2, 3}, NB_SHAPE(1, 1, 3, 1));
    /* scores 1e4, 9998, -1e4 (scale 1): weights 1/(1+e^-2), e^-2/(1+e^-2), 0 */
    double e2 = exp(-2.0), want = (1 + 2 * e2) / (1 + e2);
    for (int math = 0; math < 2; math++) {
        nb_tensor *y = nb_scaled_dot_product_attention(q, k, v, NB_SDPA_OPTS(.scale = 1, .math = math));
        cr_assert(fabs((double)y->data[0] - want) < 1e-3, "math %d: %g, want %g", math, (double)y->data[0],
                  want);
    }
    nb_free(q), nb_free(k), nb_free(v);
}

/* With v = 1 and equal scores every weight is 1/Tk, so the output counts the
 * kept weights: on average 1 over the Tk (1 - p) / Tk (1 - p) scaling. */
Test(attention, dropout_keeps_one_minus_p)
{
    nb_tensor *q = nb_zeros(NB_SHAPE(1, 1, 64, 4)), *k = nb_zeros(NB_SHAPE(1, 1, 1000, 4));
    nb_tensor *v = nb_ones(NB_SHAPE(1, 1, 1000, 1));
    nb_generator g;
    nb_generator_seed(&g, 3);
    nb_tensor *y = nb_scaled_dot_product_attention(q, k, v, NB_SDPA_OPTS(.dropout_p = 0.25, .generator = &g));
    double kept = 0;
    for (int i = 0; i < 64; i++)
        kept += (double)y->data[i] * 0.75 * 1000;
    kept /= 64 * 1000.0;
    cr_assert(fabs(kept - 0.75) < 0.01, "kept fraction %g, want 0.75", kept);
    /* another draw drops other weights */
    nb_tensor *y2 =
        nb_scaled_dot_product_attention(q, k, v, NB_SDPA_OPTS(.dropout_p = 0.25, .generator = &g));
    cr_assert_neq(memcmp(y->data, y2->data, 64 * sizeof(nb_real)), 0);
    /* p = 1 drops everything */
    y = nb_scaled_dot_product_attention(q, k, v, NB_SDPA_OPTS(.dropout_p = 1));
    for (int i = 0; i < 64; i++)
        cr_assert_eq(y->data[i], 0);
    nb_free(q), nb_free(k), nb_free(v);
}

/* ---- gradient checks (float64) ------------------------------------------ */
#ifdef NABLA_F64

typedef struct gc_ctx {
    nb_sdpa_opts opts;
    uint64_t seed;
} gc_ctx;

static nb_tensor *f_sdpa(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    gc_ctx *c = ctx;
    nb_generator g;
    nb_generator_seed(&g, c->seed); /* the same dropout mask at every evaluation */
    nb_sdpa_opts o = c->opts;
    o.generator = &g;
    return nb_scaled_dot_product_attention(in[0], in[1], in[2], o);
}

static void gradcheck_problem(problem p)
{
    nb_tensor *in[3] = {randn(11, NB_SHAPE(p.b, p.h, p.tq, p.e), true),
                        randn(12, NB_SHAPE(p.b, p.h, p.tk, p.e), true),
                        randn(13, NB_SHAPE(p.b, p.h, p.tk, p.ev), true)};
    for (int math = 0; math < 2; math++) {
        gc_ctx c = {p.opts, 5};
        c.opts.math = math;
        nb_gradcheck_result r = nb_gradcheck(f_sdpa, 3, in, &c, NB_GRADCHECK_OPTS());
        cr_assert(r.ok, "math %d: %s", math, r.message);
        cr_assert_gt(r.nonzero, r.checked / 3, "math %d: %lld of %lld non-zero", math, (long long)r.nonzero,
                     (long long)r.checked);
        nb_step_end();
    }
    for (int i = 0; i < 3; i++)
        nb_free(in[i]);
}

static nb_tensor *f_packed(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    gc_ctx *c = ctx;
    nb_generator g;
    nb_generator_seed(&g, c->seed);
    nb_sdpa_opts o = c->opts;
    o.generator = &g;
    return nb_packed_self_attention(in[0], 2, o);
}

Test(attention, gradcheck_packed_self_attention)
{
    nb_tensor *qkv = randn(14, NB_SHAPE(2, 70, 3 * 2 * 3), true);
    const nb_sdpa_opts opts[] = {NB_SDPA_OPTS(.is_causal = true), NB_SDPA_OPTS(.dropout_p = 0.25)};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        gc_ctx c = {opts[i], 5};
        nb_gradcheck_result r = nb_gradcheck(f_packed, 1, &qkv, &c, NB_GRADCHECK_OPTS());
        cr_assert(r.ok, "case %zu: %s", i, r.message);
        cr_assert_gt(r.nonzero, r.checked / 3, "case %zu: %lld of %lld non-zero", i, (long long)r.nonzero,
                     (long long)r.checked);
        nb_step_end();
    }
    nb_free(qkv);
}

Test(attention, gradcheck_plain_and_scaled)
{
    gradcheck_problem((problem){2, 2, 5, 5, 3, 3, NB_SDPA_OPTS()});
    gradcheck_problem((problem){1, 2, 4, 6, 3, 2, NB_SDPA_OPTS(.scale = 0.7)});
}

Test(attention, gradcheck_causal_and_cross_attention)
{
    gradcheck_problem((problem){1, 2, 6, 4, 3, 2, NB_SDPA_OPTS(.is_causal = true)});
    gradcheck_problem((problem){1, 1, 3, 7, 2, 3, NB_SDPA_OPTS(.is_causal = true)});
    gradcheck_problem(
        (problem){1, 1, 70, 67, 2, 2, NB_SDPA_OPTS(.is_causal = true)}); /* two blocks each way */
}

Test(attention, gradcheck_masks)
{
    nb_tensor *fm = randn(21, NB_SHAPE(2, 1, 4, 5), false);
    gradcheck_problem((problem){2, 2, 4, 5, 3, 3, NB_SDPA_OPTS(.attn_mask = fm)});
    nb_tensor *bm = nb_ones(NB_SHAPE(4, 5));
    bm->data[1] = bm->data[7] = bm->data[18] = 0;
    gradcheck_problem(
        (problem){1, 2, 4, 5, 3, 3, NB_SDPA_OPTS(.attn_mask = bm, .bool_mask = true, .scale = 1.3)});
    for (int j = 0; j < 5; j++)
        bm->data[5 + j] = 0; /* a fully masked row */
    gradcheck_problem((problem){1, 2, 4, 5, 3, 3, NB_SDPA_OPTS(.attn_mask = bm, .bool_mask = true)});
    nb_free(fm), nb_free(bm);
}

Test(attention, gradcheck_dropout)
{
    gradcheck_problem((problem){1, 2, 5, 6, 3, 3, NB_SDPA_OPTS(.dropout_p = 0.4)});
    gradcheck_problem((problem){1, 1, 66, 66, 2, 2, NB_SDPA_OPTS(.dropout_p = 0.2, .is_causal = true)});
}

/* With more than twice as many threads as slices the fused backward splits
 * over key blocks, then over query blocks. */
Test(attention, gradcheck_backward_split_over_blocks)
{
    nb_set_num_threads(3);
    gradcheck_problem((problem){1, 1, 70, 130, 2, 3, NB_SDPA_OPTS()});
    gradcheck_problem((problem){1, 1, 130, 70, 2, 2, NB_SDPA_OPTS(.is_causal = true, .dropout_p = 0.2)});
    nb_set_num_threads(0);
}
#endif

/* ---- threads, memory, errors -------------------------------------------- */

/* b x h slices of tq queries and tk keys, width 16, dropout 0.1. */
typedef struct thread_case {
    int64_t b, h, tq, tk;
    bool causal;
} thread_case;

static void run_threads(int threads, thread_case c, nb_real *out, nb_real *dq, nb_real *dk, nb_real *dv)
{
    nb_set_num_threads(threads);
    nb_tensor *q = randn(1, NB_SHAPE(c.b, c.h, c.tq, 16), true),
              *k = randn(2, NB_SHAPE(c.b, c.h, c.tk, 16), true);
    nb_tensor *v = randn(3, NB_SHAPE(c.b, c.h, c.tk, 16), true);
    nb_generator g;
    nb_generator_seed(&g, 1);
    nb_tensor *y = nb_scaled_dot_product_attention(
        q, k, v, NB_SDPA_OPTS(.dropout_p = 0.1, .is_causal = c.causal, .generator = &g));
    nb_backward(nb_sum(nb_mul(y, y)));
    memcpy(out, y->data, (size_t)y->numel * sizeof *out);
    memcpy(dq, q->grad, (size_t)q->numel * sizeof *dq);
    memcpy(dk, k->grad, (size_t)k->numel * sizeof *dk);
    memcpy(dv, v->grad, (size_t)v->numel * sizeof *dv);
    nb_step_end();
    nb_free(q), nb_free(k), nb_free(v);
}

/* Six slices (the backward splits slices over the threads), then one slice
 * (with three threads it splits over key blocks, then query blocks). */
Test(attention, one_two_and_three_threads_bit_identical)
{
    enum { MAXN = 2 * 3 * 200 * 16 };
    static nb_real a[4][MAXN], b[4][MAXN];
    const thread_case cases[] = {{2, 3, 200, 150, false}, {1, 1, 300, 300, true}, {1, 1, 130, 200, false}};
    for (int t = 0; t < 3; t++) {
        thread_case c = cases[t];
        size_t nq = (size_t)(c.b * c.h * c.tq * 16), nk = (size_t)(c.b * c.h * c.tk * 16);
        run_threads(1, c, a[0], a[1], a[2], a[3]);
        for (int threads = 2; threads <= 3; threads++) { /* one slice: whole at 2 threads, split at 3 */
            run_threads(threads, c, b[0], b[1], b[2], b[3]);
            nb_set_num_threads(0);
            cr_assert_eq(memcmp(a[0], b[0], sizeof(nb_real) * nq), 0, "case %d, %d threads: outputs differ",
                         t, threads);
            cr_assert_eq(memcmp(a[1], b[1], sizeof(nb_real) * nq), 0, "case %d, %d threads: dq differs", t,
                         threads);
            cr_assert_eq(memcmp(a[2], b[2], sizeof(nb_real) * nk), 0, "case %d, %d threads: dk differs", t,
                         threads);
            cr_assert_eq(memcmp(a[3], b[3], sizeof(nb_real) * nk), 0, "case %d, %d threads: dv differs", t,
                         threads);
        }
    }
}

/* The step arena of a fresh thread after one forward and backward at length
 * t (a new thread starts with an empty arena). */
typedef struct arena_run {
    int64_t t;
    bool math;
    size_t bytes;
} arena_run;

static void *arena_thread(void *arg)
{
    arena_run *r = arg;
    nb_tensor *q = randn(1, NB_SHAPE(1, 2, r->t, 16), true), *k = randn(2, NB_SHAPE(1, 2, r->t, 16), true);
    nb_tensor *v = randn(3, NB_SHAPE(1, 2, r->t, 16), true);
    nb_tensor *y = nb_scaled_dot_product_attention(q, k, v, NB_SDPA_OPTS(.is_causal = true, .math = r->math));
    if (y && nb_backward(nb_sum(y)) == 0)
        r->bytes = nb_step_arena_bytes();
    nb_step_end();
    nb_free(q), nb_free(k), nb_free(v);
    return NULL;
}

static size_t arena_bytes(int64_t t, bool math)
{
    arena_run r = {t, math, 0};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, arena_thread, &r), 0);
    pthread_join(th, NULL);
    cr_assert_gt(r.bytes, 0, "the run at T = %lld failed", (long long)t);
    return r.bytes;
}

/* From T = 128 to 1024 (8 times longer): the math path's arena grows more
 * than 16 times (it stores [T, T] scores, weights and their gradients), the
 * fused path's at most 8 times, and it stays below one [T, T] matrix. */
Test(attention, fused_memory_is_linear_in_t, .timeout = 120)
{
    size_t fused_small = arena_bytes(128, false), fused_big = arena_bytes(1024, false);
    size_t math_small = arena_bytes(128, true), math_big = arena_bytes(1024, true);
    cr_assert_gt(math_big, 16 * math_small, "math path: %zu then %zu bytes", math_small, math_big);
    cr_assert_leq(fused_big, 8 * fused_small, "fused path: %zu then %zu bytes", fused_small, fused_big);
    cr_assert_lt(fused_big, 2 * 1024 * 1024 * sizeof(nb_real), "fused path: %zu bytes at T = 1024",
                 fused_big);
}

Test(attention, errors_name_the_op_and_shapes)
{
    nb_tensor *q = nb_zeros(NB_SHAPE(1, 2, 3, 4)), *k = nb_zeros(NB_SHAPE(1, 2, 5, 4));
    nb_tensor *v = nb_zeros(NB_SHAPE(1, 2, 5, 6)), *bad = nb_zeros(NB_SHAPE(1, 2, 5, 3));
    cr_assert_null(nb_scaled_dot_product_attention(q, bad, v, NB_SDPA_OPTS()));
    assert_error(NB_ERR_SHAPE, "scaled_dot_product_attention: query [1,2,3,4] [..., Tq, E], key [1,2,5,3]");
    nb_tensor *m = nb_zeros(NB_SHAPE(3, 4));
    cr_assert_null(nb_scaled_dot_product_attention(q, k, v, NB_SDPA_OPTS(.attn_mask = m)));
    assert_error(NB_ERR_SHAPE, "attn_mask [3,4] does not broadcast to the scores [..., 3, 5]");
    nb_tensor *m2 = nb_zeros(NB_SHAPE(3, 5));
    cr_assert_null(
        nb_scaled_dot_product_attention(q, k, v, NB_SDPA_OPTS(.attn_mask = m2, .is_causal = true)));
    assert_error(NB_ERR_ARG, "attn_mask and is_causal are both set");
    nb_requires_grad(m2, true);
    cr_assert_null(nb_scaled_dot_product_attention(q, k, v, NB_SDPA_OPTS(.attn_mask = m2)));
    assert_error(NB_ERR_ARG, "attn_mask [3,5] requires a gradient");
    cr_assert_null(nb_scaled_dot_product_attention(q, k, v, NB_SDPA_OPTS(.dropout_p = 1.5)));
    assert_error(NB_ERR_ARG, "dropout_p = 1.5 must be in [0, 1]");
    cr_assert_null(nb_scaled_dot_product_attention(q, k, v, NB_SDPA_OPTS(.scale = INFINITY)));
    assert_error(NB_ERR_ARG, "scale inf must be finite");
    nb_clear_error();
    cr_assert_null(nb_scaled_dot_product_attention(q, k, v, (nb_sdpa_opts){.scale = 1}));
    assert_error(NB_ERR_ARG, "scaled_dot_product_attention: options were not made by NB_SDPA_OPTS()");
    nb_free(q), nb_free(k), nb_free(v), nb_free(bad), nb_free(m), nb_free(m2);
}
