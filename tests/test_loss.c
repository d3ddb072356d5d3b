/* tests/test_loss.c — the losses against values worked out from their
 * definitions (in double, in this file), every reduction, stability at large
 * logits, BCE's log clamp, label smoothing, ignore_index, errors, thread-count
 * independence, and gradient checks of input and target (float64 build). */
#include "common.h"
#include "nabla/loss.h"

TestSuite(loss, .init = quiet, .fini = end_step);

static nb_tensor *vec(const nb_real *v, int64_t n) { return nb_from_array(v, 1, &n); }

static nb_tensor *mat(const nb_real *v, int64_t r, int64_t c)
{
    return nb_from_array(v, 2, (const int64_t[]){r, c});
}

/* -log softmax(x)[y] of one row, from the definition, in double */
static double ref_nll_row(const double *x, int c, int y)
{
    double m = x[0], s = 0;
    for (int k = 1; k < c; k++)
        m = x[k] > m ? x[k] : m;
    for (int k = 0; k < c; k++)
        s += exp(x[k] - m);
    return -(x[y] - m - log(s));
}

/* ---- cross-entropy ------------------------------------------------------ */

static const double birds[9] = {10, 8, 6, 7, 9, 5, 5, 4, 10}; /* chicken, duck, goose */

Test(loss, cross_entropy_birds_every_reduction)
{
    nb_tensor *x = mat((nb_real[]){10, 8, 6, 7, 9, 5, 5, 4, 10}, 3, 3);
    nb_tensor *y = vec((nb_real[]){0, 1, 2}, 3);
    double rows[3], sum = 0;
    for (int i = 0; i < 3; i++)
        sum += rows[i] = ref_nll_row(birds + 3 * i, 3, i);
    cr_assert_float_eq(nb_item(nb_cross_entropy(x, y, (nb_cross_entropy_opts){0})), sum / 3, TOL * sum);
    cr_assert_float_eq(nb_item(nb_cross_entropy(x, y, (nb_cross_entropy_opts){.reduction = NB_SUM})), sum,
                       TOL * sum);
    nb_tensor *none = nb_cross_entropy(x, y, (nb_cross_entropy_opts){.reduction = NB_NONE});
    assert_shape(none, 1, (const int64_t[]){3});
    assert_close_array(none->data, rows, 3, TOL);
    nb_free(x), nb_free(y);
}

Test(loss, cross_entropy_is_stable_at_large_logits)
{
    /* rows [1000, 999, 998] and [-1000, 0, 1000]: exp would overflow; the losses
     * are log(1 + e + e^2) (class 2 of row 0) and 2000 + log(1 + e^-1000 + e^-2000) = 2000 */
    nb_tensor *x = mat((nb_real[]){1000, 999, 998, -1000, 0, 1000}, 2, 3);
    nb_tensor *y = vec((nb_real[]){2, 0}, 2);
    nb_tensor *l = nb_cross_entropy(x, y, (nb_cross_entropy_opts){.reduction = NB_NONE});
    assert_close_array(l->data, (double[]){log(1 + exp(1) + exp(2)), 2000}, 2, TOL);
    nb_free(x), nb_free(y);
}

Test(loss, cross_entropy_label_smoothing)
{
    /* (1 - ε) nll + ε/C Σ_c -log p_c, written out per row */
    double eps = 0.1, sum = 0;
    for (int i = 0; i < 3; i++) {
        double smooth = 0;
        for (int c = 0; c < 3; c++)
            smooth += ref_nll_row(birds + 3 * i, 3, c);
        sum += (1 - eps) * ref_nll_row(birds + 3 * i, 3, i) + eps / 3 * smooth;
    }
    nb_tensor *x = mat((nb_real[]){10, 8, 6, 7, 9, 5, 5, 4, 10}, 3, 3);
    nb_tensor *y = vec((nb_real[]){0, 1, 2}, 3);
    nb_tensor *l = nb_cross_entropy(x, y, (nb_cross_entropy_opts){.label_smoothing = 0.1});
    cr_assert_float_eq(nb_item(l), sum / 3, TOL);
    nb_free(x), nb_free(y);
}

Test(loss, cross_entropy_ignore_index)
{
    nb_tensor *x = mat((nb_real[]){10, 8, 6, 7, 9, 5, 5, 4, 10}, 3, 3);
    /* default ignore_index -100: row 1 skipped, the mean over 2 rows */
    nb_tensor *y = vec((nb_real[]){0, -100, 2}, 3);
    double want = (ref_nll_row(birds, 3, 0) + ref_nll_row(birds + 6, 3, 2)) / 2;
    cr_assert_float_eq(nb_item(nb_cross_entropy(x, y, (nb_cross_entropy_opts){0})), want, TOL);
    nb_tensor *none = nb_cross_entropy(x, y, (nb_cross_entropy_opts){.reduction = NB_NONE});
    cr_assert_eq(none->data[1], 0);
    /* ignore_index 0 set explicitly: rows of class 0 skipped; -100 is then out of range */
    nb_tensor *y0 = vec((nb_real[]){0, 1, 2}, 3);
    nb_cross_entropy_opts o = {.set_ignore_index = true, .ignore_index = 0};
    want = (ref_nll_row(birds + 3, 3, 1) + ref_nll_row(birds + 6, 3, 2)) / 2;
    cr_assert_float_eq(nb_item(nb_cross_entropy(x, y0, o)), want, TOL);
    cr_assert_null(nb_cross_entropy(x, y, o));
    assert_error(NB_ERR_ARG, "target[1] = -100");
    nb_free(x), nb_free(y), nb_free(y0);
}

Test(loss, cross_entropy_unbatched_and_all_ignored)
{
    nb_tensor *x = vec((nb_real[]){7, 9, 5}, 3);
    nb_tensor *y = nb_scalar(1);
    nb_tensor *l = nb_cross_entropy(x, y, (nb_cross_entropy_opts){.reduction = NB_NONE});
    assert_shape(l, 0, NULL);
    cr_assert_float_eq(nb_item(l), ref_nll_row(birds + 3, 3, 1), TOL);
    nb_tensor *ign = nb_scalar(-100);
    cr_assert(isnan(nb_item(nb_cross_entropy(x, ign, (nb_cross_entropy_opts){0}))),
              "a mean over no rows is NaN, as in PyTorch");
    nb_free(x), nb_free(y), nb_free(ign);
}

Test(loss, cross_entropy_gradient_is_softmax_minus_onehot)
{
    /* d(mean loss)/dx = (softmax(x) - onehot) / N, checked by hand in both builds */
    nb_tensor *x = nb_requires_grad(mat((nb_real[]){10, 8, 6, 7, 9, 5, 5, 4, 10}, 3, 3), true);
    nb_tensor *y = vec((nb_real[]){0, 1, 2}, 3);
    cr_assert_eq(nb_backward(nb_cross_entropy(x, y, (nb_cross_entropy_opts){0})), 0);
    double want[9];
    for (int i = 0; i < 3; i++) {
        double s = 0;
        for (int c = 0; c < 3; c++)
            s += exp(birds[3 * i + c]);
        for (int c = 0; c < 3; c++)
            want[3 * i + c] = (exp(birds[3 * i + c]) / s - (c == i)) / 3;
    }
    assert_close_array(x->grad, want, 9, TOL);
    nb_free(x), nb_free(y);
}

Test(loss, cross_entropy_errors_name_row_and_value)
{
    nb_tensor *x = mat((nb_real[]){1, 2, 3, 4, 5, 6}, 2, 3);
    nb_tensor *bad = vec((nb_real[]){0, 3}, 2);
    cr_assert_null(nb_cross_entropy(x, bad, (nb_cross_entropy_opts){0}));
    assert_error(NB_ERR_ARG, "cross_entropy: target[1] = 3 is not a class index in 0..2");
    nb_clear_error();
    nb_tensor *frac = vec((nb_real[]){0.5, 1}, 2);
    cr_assert_null(nb_cross_entropy(x, frac, (nb_cross_entropy_opts){0}));
    assert_error(NB_ERR_ARG, "target[0] = 0.5");
    nb_clear_error();
    nb_tensor *short_t = vec((nb_real[]){0, 1, 2}, 3);
    cr_assert_null(nb_cross_entropy(x, short_t, (nb_cross_entropy_opts){0}));
    assert_error(NB_ERR_SHAPE, "cross_entropy: input [2,3] and target [3]");
    nb_clear_error();
    nb_tensor *y = vec((nb_real[]){0, 1}, 2);
    cr_assert_null(nb_cross_entropy(x, y, (nb_cross_entropy_opts){.label_smoothing = 1.5}));
    assert_error(NB_ERR_ARG, "label_smoothing 1.5");
    nb_clear_error();
    cr_assert_null(nb_cross_entropy(x, y, (nb_cross_entropy_opts){.reduction = 7}));
    assert_error(NB_ERR_ARG, "cross_entropy: reduction 7");
    nb_clear_error();
    cr_assert_null(nb_nll_loss(x, bad, NB_MEAN));
    assert_error(NB_ERR_ARG, "nll_loss: target[1] = 3");
    nb_free(x), nb_free(bad), nb_free(frac), nb_free(short_t), nb_free(y);
}

Test(loss, cross_entropy_same_bits_on_one_and_two_threads)
{
    enum { N = 512, C = 100 };
    nb_generator g;
    nb_generator_seed(&g, 7);
    nb_tensor *x = nb_requires_grad(nb_randn(&g, NB_SHAPE(N, C)), true);
    nb_tensor *y = nb_empty(NB_SHAPE(N));
    for (int i = 0; i < N; i++)
        y->data[i] = (nb_real)(nb_generator_next(&g) % C);
    nb_real loss[2], *grad[2];
    for (int t = 0; t < 2; t++) {
        nb_set_num_threads(t + 1);
        nb_zero_grad(x);
        nb_tensor *l = nb_cross_entropy(x, y, (nb_cross_entropy_opts){.label_smoothing = 0.05});
        loss[t] = nb_item(l);
        nb_backward(l);
        grad[t] = malloc(sizeof(nb_real) * N * C);
        memcpy(grad[t], x->grad, sizeof(nb_real) * N * C);
        nb_step_end();
    }
    nb_set_num_threads(0);
    cr_assert(memcmp(&loss[0], &loss[1], sizeof loss[0]) == 0);
    cr_assert(memcmp(grad[0], grad[1], sizeof(nb_real) * N * C) == 0);
    free(grad[0]), free(grad[1]);
    nb_free(x), nb_free(y);
}

Test(loss, nll_loss_on_log_probs)
{
    /* log-probabilities of the bird rows, made here in double */
    nb_real lp[9];
    double want = 0;
    for (int i = 0; i < 3; i++)
        for (int c = 0; c < 3; c++)
            lp[3 * i + c] = (nb_real)-ref_nll_row(birds + 3 * i, 3, c);
    for (int i = 0; i < 3; i++)
        want += ref_nll_row(birds + 3 * i, 3, i);
    nb_tensor *x = nb_requires_grad(mat(lp, 3, 3), true);
    nb_tensor *y = vec((nb_real[]){0, 1, 2}, 3);
    cr_assert_float_eq(nb_item(nb_nll_loss(x, y, NB_SUM)), want, TOL * want);
    nb_tensor *m = nb_nll_loss(x, y, NB_MEAN);
    cr_assert_float_eq(nb_item(m), want / 3, TOL);
    nb_backward(m);
    nb_real third = (nb_real)(-1.0 / 3);
    assert_close_array(x->grad, (double[]){third, 0, 0, 0, third, 0, 0, 0, third}, 9, TOL);
    nb_free(x), nb_free(y);
}

/* ---- regression losses -------------------------------------------------- */

/* d = input - target = [-0.5, 0, 3, -0.25] */
#define REG_INPUT                                                                                            \
    (nb_real[]) { 1, 2, 3, 4 }
#define REG_TARGET                                                                                           \
    (nb_real[]) { 1.5, 2, 0, 4.25 }

Test(loss, regression_losses_by_hand)
{
    nb_tensor *x = vec(REG_INPUT, 4), *t = vec(REG_TARGET, 4);
    /* mse: 0.25 + 0 + 9 + 0.0625 */
    cr_assert_float_eq(nb_item(nb_mse_loss(x, t, NB_SUM)), 9.3125, TOL);
    cr_assert_float_eq(nb_item(nb_mse_loss(x, t, NB_MEAN)), 9.3125 / 4, TOL);
    assert_close_array(nb_mse_loss(x, t, NB_NONE)->data, (double[]){0.25, 0, 9, 0.0625}, 4, TOL);
    /* l1: 0.5 + 0 + 3 + 0.25 */
    cr_assert_float_eq(nb_item(nb_l1_loss(x, t, NB_MEAN)), 3.75 / 4, TOL);
    /* smooth_l1 β=1: 0.5·0.25, 0, 3 - 0.5, 0.5·0.0625 */
    assert_close_array(nb_smooth_l1_loss(x, t, NB_NONE, 1)->data, (double[]){0.125, 0, 2.5, 0.03125}, 4, TOL);
    /* β=0.5: |-0.5| is not < β: 0.5 - 0.25; 3 - 0.25; 0.5·0.0625/0.5 */
    cr_assert_float_eq(nb_item(nb_smooth_l1_loss(x, t, NB_SUM, 0.5)), 0.25 + 2.75 + 0.0625, TOL);
    /* β=0 is l1 */
    cr_assert_float_eq(nb_item(nb_smooth_l1_loss(x, t, NB_SUM, 0)), 3.75, TOL);
    /* huber δ=2: 0.125, 0, 2(3 - 1), 0.03125 */
    assert_close_array(nb_huber_loss(x, t, NB_NONE, 2)->data, (double[]){0.125, 0, 4, 0.03125}, 4, TOL);
    cr_assert_float_eq(nb_item(nb_huber_loss(x, t, NB_MEAN, 2)), 4.15625 / 4, TOL);
    nb_free(x), nb_free(t);
}

Test(loss, regression_gradients_by_hand)
{
    nb_tensor *x = nb_requires_grad(vec(REG_INPUT, 4), true);
    nb_tensor *t = nb_requires_grad(vec(REG_TARGET, 4), true);
    nb_backward(nb_mse_loss(x, t, NB_MEAN)); /* 2d/4 */
    assert_close_array(x->grad, (double[]){-0.25, 0, 1.5, -0.125}, 4, TOL);
    assert_close_array(t->grad, (double[]){0.25, 0, -1.5, 0.125}, 4, TOL);
    nb_zero_grad(x), nb_zero_grad(t);
    nb_backward(nb_l1_loss(x, t, NB_SUM)); /* sign(d), 0 at 0 */
    assert_close_array(x->grad, (double[]){-1, 0, 1, -1}, 4, TOL);
    nb_zero_grad(x);
    nb_backward(nb_huber_loss(x, t, NB_SUM, 2)); /* d inside, δ sign(d) outside */
    assert_close_array(x->grad, (double[]){-0.5, 0, 2, -0.25}, 4, TOL);
    nb_free(x), nb_free(t);
}

Test(loss, regression_errors)
{
    nb_tensor *a = nb_zeros(NB_SHAPE(2, 3)), *b = nb_zeros(NB_SHAPE(3));
    cr_assert_null(nb_mse_loss(a, b, NB_MEAN));
    assert_error(NB_ERR_SHAPE, "mse_loss: input [2,3] and target [3]: shapes differ");
    nb_clear_error();
    cr_assert_null(nb_smooth_l1_loss(a, a, NB_MEAN, -1));
    assert_error(NB_ERR_ARG, "smooth_l1_loss: beta -1");
    nb_clear_error();
    cr_assert_null(nb_huber_loss(a, a, NB_MEAN, 0));
    assert_error(NB_ERR_ARG, "huber_loss: delta 0");
    nb_clear_error();
    cr_assert_null(nb_l1_loss(a, NULL, NB_MEAN));
    assert_error(NB_ERR_NULL, "l1_loss: argument 2 is NULL");
    nb_free(a), nb_free(b);
}

/* ---- binary cross-entropy ----------------------------------------------- */

Test(loss, bce_values_and_log_clamp)
{
    /* -(t log p + (1-t) log(1-p)) */
    nb_tensor *p = vec((nb_real[]){0.5, 0.9, 0.25}, 3), *t = vec((nb_real[]){1, 0, 0.5}, 3);
    double want[3] = {-log(0.5), -log(0.1), -(0.5 * log(0.25) + 0.5 * log(0.75))};
    assert_close_array(nb_bce_loss(p, t, NB_NONE)->data, want, 3, TOL);
    cr_assert_float_eq(nb_item(nb_bce_loss(p, t, NB_MEAN)), (want[0] + want[1] + want[2]) / 3, TOL);
    /* log 0 is clamped at -100 (torch.nn.BCELoss docs): p = 0, t = 1 and p = 1, t = 0 give 100 */
    nb_tensor *p2 = nb_requires_grad(vec((nb_real[]){0, 1, 0, 1}, 4), true);
    nb_tensor *t2 = vec((nb_real[]){1, 0, 0, 1}, 4);
    assert_close_array(nb_bce_loss(p2, t2, NB_NONE)->data, (double[]){100, 100, 0, 0}, 4, TOL);
    /* and the gradient (p - t) / max(p(1-p), 1e-12) stays finite */
    nb_backward(nb_bce_loss(p2, t2, NB_SUM));
    nb_real eps = (nb_real)1e-12;
    assert_close_array(p2->grad, (double[]){-1 / (double)eps, 1 / (double)eps, 0, 0}, 4, TOL);
    nb_free(p), nb_free(t), nb_free(p2), nb_free(t2);
}

Test(loss, bce_rejects_values_outside_unit_interval)
{
    nb_tensor *p = vec((nb_real[]){0.5, 1.5}, 2), *t = vec((nb_real[]){1, 0}, 2);
    cr_assert_null(nb_bce_loss(p, t, NB_MEAN));
    assert_error(NB_ERR_ARG, "binary_cross_entropy: input [2][1] = 1.5 is outside [0, 1]");
    nb_free(p), nb_free(t);
}

/* -(w t log σ(x) + (1-t) log(1-σ(x))) with log σ(x) = -log1p(e^-x) (x >= 0) */
static double ref_bce_logits(double x, double t, double w)
{
    double log_sig = x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x));
    double log_1m_sig = log_sig - x;
    return -(w * t * log_sig + (1 - t) * log_1m_sig);
}

Test(loss, bce_with_logits_values_stable_and_pos_weight)
{
    nb_tensor *x = vec((nb_real[]){0, 2, -3, 1000, -1000}, 5);
    nb_tensor *t = vec((nb_real[]){1, 0, 0.5, 0, 1}, 5);
    double want[5];
    double xs[5] = {0, 2, -3, 1000, -1000}, ts[5] = {1, 0, 0.5, 0, 1};
    for (int i = 0; i < 5; i++)
        want[i] = ref_bce_logits(xs[i], ts[i], 1);
    cr_assert_float_eq(want[3], 1000, 1e-9);
    assert_close_array(nb_bce_with_logits(x, t, NB_NONE, NULL)->data, want, 5, TOL);
    /* pos_weight per class, [2] against [2,2] */
    nb_tensor *x2 = mat((nb_real[]){1, -1, 0.5, 2}, 2, 2), *t2 = mat((nb_real[]){1, 0, 0, 1}, 2, 2);
    nb_tensor *pw = vec((nb_real[]){3, 0.5}, 2);
    double s = ref_bce_logits(1, 1, 3) + ref_bce_logits(-1, 0, 0.5) + ref_bce_logits(0.5, 0, 3) +
               ref_bce_logits(2, 1, 0.5);
    cr_assert_float_eq(nb_item(nb_bce_with_logits(x2, t2, NB_SUM, pw)), s, TOL);
    nb_tensor *bad = vec((nb_real[]){1, 2, 3}, 3);
    cr_assert_null(nb_bce_with_logits(x2, t2, NB_SUM, bad));
    assert_error(NB_ERR_SHAPE, "pos_weight [3] does not fit logits [2,2]");
    nb_free(x), nb_free(t), nb_free(x2), nb_free(t2), nb_free(pw), nb_free(bad);
}

/* ---- gradient checks (float64) ------------------------------------------ */
#ifdef NABLA_F64

typedef enum which { MSE, L1, SMOOTH_L1, HUBER, BCE, BCE_LOGITS, BCE_LOGITS_PW, CE, CE_SMOOTH, NLL } which;
typedef struct case_ {
    which w;
    nb_reduction r;
    nb_tensor *extra;
} case_;

static nb_tensor *loss_fn(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    case_ *c = ctx;
    switch (c->w) {
    case MSE: return nb_mse_loss(in[0], in[1], c->r);
    case L1: return nb_l1_loss(in[0], in[1], c->r);
    case SMOOTH_L1: return nb_smooth_l1_loss(in[0], in[1], c->r, 0.7);
    case HUBER: return nb_huber_loss(in[0], in[1], c->r, 0.7);
    case BCE: return nb_bce_loss(in[0], in[1], c->r);
    case BCE_LOGITS: return nb_bce_with_logits(in[0], in[1], c->r, NULL);
    case BCE_LOGITS_PW: return nb_bce_with_logits(in[0], in[1], c->r, c->extra);
    case CE: return nb_cross_entropy(in[0], in[1], (nb_cross_entropy_opts){.reduction = c->r});
    case CE_SMOOTH:
        return nb_cross_entropy(in[0], in[1],
                                (nb_cross_entropy_opts){.reduction = c->r, .label_smoothing = 0.2});
    case NLL: return nb_nll_loss(in[0], in[1], c->r);
    }
    return NULL;
}

static void check(which w, nb_reduction r, nb_tensor *x, nb_tensor *t, nb_tensor *extra)
{
    case_ c = {w, r, extra};
    nb_gradcheck_result res = nb_gradcheck(loss_fn, 2, (nb_tensor *[]){x, t}, &c, NULL);
    cr_assert(res.ok, "loss %d reduction %d: %s", w, r, res.message);
    cr_assert_gt(res.nonzero, 0, "loss %d reduction %d: all gradients zero", w, r);
}

Test(loss, gradcheck_elementwise_losses_input_and_target)
{
    /* values away from the kinks (d = 0, |d| = β) where finite differences straddle them */
    nb_tensor *x = nb_requires_grad(mat((nb_real[]){0.3, -1.2, 2.0, 0.05, -0.4, 1.1}, 2, 3), true);
    nb_tensor *t = nb_requires_grad(mat((nb_real[]){0.1, 0.5, -0.3, 0.9, -0.2, 1.0}, 2, 3), true);
    nb_tensor *p = nb_requires_grad(mat((nb_real[]){0.2, 0.7, 0.45, 0.9, 0.05, 0.6}, 2, 3), true);
    nb_tensor *pt = nb_requires_grad(mat((nb_real[]){1, 0, 0.3, 0.8, 0, 1}, 2, 3), true);
    /* BCE checks its target's range, so its target stays inside (0, 1) when perturbed */
    nb_tensor *pt_in = nb_requires_grad(mat((nb_real[]){0.9, 0.1, 0.3, 0.8, 0.05, 0.95}, 2, 3), true);
    nb_tensor *pw = vec((nb_real[]){2, 0.5, 1.5}, 3);
    for (nb_reduction r = NB_MEAN; r <= NB_NONE; r++) {
        check(MSE, r, x, t, NULL);
        check(L1, r, x, t, NULL);
        check(SMOOTH_L1, r, x, t, NULL);
        check(HUBER, r, x, t, NULL);
        check(BCE, r, p, pt_in, NULL);
        check(BCE_LOGITS, r, x, pt, NULL);
        check(BCE_LOGITS_PW, r, x, pt, pw);
    }
    nb_free(x), nb_free(t), nb_free(p), nb_free(pt), nb_free(pt_in), nb_free(pw);
}

Test(loss, gradcheck_class_losses)
{
    nb_tensor *x = nb_requires_grad(
        mat((nb_real[]){0.3, -1.2, 2.0, 0.05, -0.4, 1.1, 3, 2, -1, 0.5, 0.5, 0.1}, 4, 3), true);
    nb_tensor *y = vec((nb_real[]){2, 0, -100, 1}, 4); /* one ignored row */
    for (nb_reduction r = NB_MEAN; r <= NB_NONE; r++) {
        check(CE, r, x, y, NULL);
        check(CE_SMOOTH, r, x, y, NULL);
        check(NLL, r, x, y, NULL);
    }
    nb_free(x), nb_free(y);
}

#endif
