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
    cr_assert_float_eq(nb_item(nb_cross_entropy(x, y, NB_CROSS_ENTROPY_OPTS())), sum / 3, TOL * sum);
    cr_assert_float_eq(nb_item(nb_cross_entropy(x, y, NB_CROSS_ENTROPY_OPTS(.reduction = NB_SUM))), sum,
                       TOL * sum);
    nb_tensor *none = nb_cross_entropy(x, y, NB_CROSS_ENTROPY_OPTS(.reduction = NB_NONE));
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
    nb_tensor *l = nb_cross_entropy(x, y, NB_CROSS_ENTROPY_OPTS(.reduction = NB_NONE));
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
    nb_tensor *l = nb_cross_entropy(x, y, NB_CROSS_ENTROPY_OPTS(.label_smoothing = 0.1));
    cr_assert_float_eq(nb_item(l), sum / 3, TOL);
    nb_free(x), nb_free(y);
}

Test(loss, cross_entropy_ignore_index)
{
    nb_tensor *x = mat((nb_real[]){10, 8, 6, 7, 9, 5, 5, 4, 10}, 3, 3);
    /* default ignore_index -100: row 1 skipped, the mean over 2 rows */
    nb_tensor *y = vec((nb_real[]){0, -100, 2}, 3);
    double want = (ref_nll_row(birds, 3, 0) + ref_nll_row(birds + 6, 3, 2)) / 2;
    cr_assert_float_eq(nb_item(nb_cross_entropy(x, y, NB_CROSS_ENTROPY_OPTS())), want, TOL);
    nb_tensor *none = nb_cross_entropy(x, y, NB_CROSS_ENTROPY_OPTS(.reduction = NB_NONE));
    cr_assert_eq(none->data[1], 0);
    /* ignore_index 0 set explicitly: rows of class 0 skipped; -100 is then out of range */
    nb_tensor *y0 = vec((nb_real[]){0, 1, 2}, 3);
    nb_cross_entropy_opts o = NB_CROSS_ENTROPY_OPTS(.ignore_index = 0);
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
    nb_tensor *l = nb_cross_entropy(x, y, NB_CROSS_ENTROPY_OPTS(.reduction = NB_NONE));
    assert_shape(l, 0, NULL);
    cr_assert_float_eq(nb_item(l), ref_nll_row(birds + 3, 3, 1), TOL);
    nb_tensor *ign = nb_scalar(-100);
    cr_assert(isnan(nb_item(nb_cross_entropy(x, ign, NB_CROSS_ENTROPY_OPTS()))),
              "a mean over no rows is NaN, as in PyTorch");
    nb_free(x), nb_free(y), nb_free(ign);
}

Test(loss, cross_entropy_gradient_is_softmax_minus_onehot)
{
    /* d(mean loss)/dx = (softmax(x) - onehot) / N, checked by hand in both builds */
    nb_tensor *x = nb_requires_grad(mat((nb_real[]){10, 8, 6, 7, 9, 5, 5, 4, 10}, 3, 3), true);
    nb_tensor *y = vec((nb_real[]){0, 1, 2}, 3);
    cr_assert_eq(nb_backward(nb_cross_entropy(x, y, NB_CROSS_ENTROPY_OPTS())), 0);
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
    cr_assert_null(nb_cross_entropy(x, bad, NB_CROSS_ENTROPY_OPTS()));
    assert_error(NB_ERR_ARG, "cross_entropy: target[1] = 3 is not a class index in 0..2");
    nb_clear_error();
    nb_tensor *frac = vec((nb_real[]){0.5, 1}, 2);
    cr_assert_null(nb_cross_entropy(x, frac, NB_CROSS_ENTROPY_OPTS()));
    assert_error(NB_ERR_ARG, "target[0] = 0.5");
    nb_clear_error();
    nb_tensor *short_t = vec((nb_real[]){0, 1, 2}, 3);
    cr_assert_null(nb_cross_entropy(x, short_t, NB_CROSS_ENTROPY_OPTS()));
    assert_error(NB_ERR_SHAPE, "cross_entropy: input [2,3] and target [3]");
    nb_clear_error();
    nb_tensor *y = vec((nb_real[]){0, 1}, 2);
    cr_assert_null(nb_cross_entropy(x, y, NB_CROSS_ENTROPY_OPTS(.label_smoothing = 1.5)));
    assert_error(NB_ERR_ARG, "label_smoothing 1.5");
    nb_clear_error();
    cr_assert_null(nb_cross_entropy(x, y, NB_CROSS_ENTROPY_OPTS(.reduction = 7)));
    assert_error(NB_ERR_ARG, "cross_entropy: reduction 7");
    nb_clear_error();
    cr_assert_null(nb_nll_loss(x, bad, NB_NLL_LOSS_OPTS()));
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
        nb_tensor *l = nb_cross_entropy(x, y, NB_CROSS_ENTROPY_OPTS(.label_smoothing = 0.05));
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
    cr_assert_float_eq(nb_item(nb_nll_loss(x, y, NB_NLL_LOSS_OPTS(.reduction = NB_SUM))), want, TOL * want);
    nb_tensor *m = nb_nll_loss(x, y, NB_NLL_LOSS_OPTS());
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

typedef enum which {
    MSE,
    L1,
    SMOOTH_L1,
    HUBER,
    BCE,
    BCE_LOGITS,
    BCE_LOGITS_PW,
    CE,
    CE_SMOOTH,
    CE_WEIGHTED,
    NLL,
    NLL_WEIGHTED
} which;
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
    case CE: return nb_cross_entropy(in[0], in[1], NB_CROSS_ENTROPY_OPTS(.reduction = c->r));
    case CE_SMOOTH:
        return nb_cross_entropy(in[0], in[1],
                                NB_CROSS_ENTROPY_OPTS(.reduction = c->r, .label_smoothing = 0.2));
    case CE_WEIGHTED:
        return nb_cross_entropy(
            in[0], in[1],
            NB_CROSS_ENTROPY_OPTS(.reduction = c->r, .label_smoothing = 0.2, .weight = c->extra));
    case NLL: return nb_nll_loss(in[0], in[1], NB_NLL_LOSS_OPTS(.reduction = c->r));
    case NLL_WEIGHTED:
        return nb_nll_loss(in[0], in[1], NB_NLL_LOSS_OPTS(.reduction = c->r, .weight = c->extra));
    }
    return NULL;
}

static void check(which w, nb_reduction r, nb_tensor *x, nb_tensor *t, nb_tensor *extra)
{
    case_ c = {w, r, extra};
    nb_gradcheck_result res = nb_gradcheck(loss_fn, 2, (nb_tensor *[]){x, t}, &c, NB_GRADCHECK_OPTS());
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
    nb_tensor *w = vec((nb_real[]){0.5, 2, 1.5}, 3);
    for (nb_reduction r = NB_MEAN; r <= NB_NONE; r++) {
        check(CE, r, x, y, NULL);
        check(CE_SMOOTH, r, x, y, NULL);
        check(CE_WEIGHTED, r, x, y, w);
        check(NLL, r, x, y, NULL);
        check(NLL_WEIGHTED, r, x, y, w);
    }
    nb_free(x), nb_free(y), nb_free(w);
}

#endif

/* ---- class weights (issue 11) ------------------------------------------------
 * The references were computed with torch 1.13 in float64:
 *   x = [[1, 2, .5, -1], [.3, -.2, .8, 1.5], [2, 1, 0, -2], [-.5, .5, 1, .25], [.1, .2, .3, .4]]
 *   y = [1, 3, 0, 2, 1];  w = [.5, 2, 1, 3]
 *   l = F.cross_entropy(x, y, weight=w, reduction=r, ignore_index=i, label_smoothing=ls)
 *   g = torch.autograd.grad(l.sum() if r == 'none' else l, x)
 *   and F.nll_loss(F.log_softmax(x, 1), y, weight=w, reduction=r, ignore_index=i), its
 *   gradient in the log-probabilities. */
typedef struct weighted_case {
    nb_reduction r;
    double eps;
    int64_t ignore;
    int n_loss;
    double loss[5], grad[20];
} weighted_case;

/* F.cross_entropy(x, y, weight=w, reduction, ignore_index, label_smoothing) and its gradient
 * in x (of loss.sum() for 'none'), torch 1.13 in float64 (/usr/bin/python3, the script in the
 * comment above weighted_cases) */
static const weighted_case ce_cases[] = {
    {NB_MEAN,
     0.0,
     -100,
     1,
     {0.8198912243230675},
     {0.052754780717223795, -0.09189175585908774, 0.031997391951413066, 0.007139583190450876,
      0.05367625518096146,  0.032556294465812215, 0.08849718364837912,  -0.1747297332951528,
      -0.02016276336283204, 0.014222501009341219, 0.005232165723376723, 0.0007080966301140855,
      0.011403255838184802, 0.030997263130207262, -0.06654121176726786, 0.024140692798875804,
      0.050314875380231626, -0.17968758063022644, 0.06145472756590013,  0.06791797768409467}},
    {NB_MEAN,
     0.0,
     1,
     1,
     {0.6874756781475636},
     {0.0,
      0.0,
      0.0,
      0.0,
      0.10138848200848277,
      0.061495222879867514,
      0.1671613468913828,
      -0.3300450517797331,
      -0.0380852196853494,
      0.026864724128755634,
      0.009882979699711586,
      0.0013375158568821616,
      0.021539483249904626,
      0.05855038591261372,
      -0.12568895556039483,
      0.04559908639787652,
      0.0,
      0.0,
      0.0,
      0.0}},
    {NB_MEAN,
     0.2,
     -100,
     1,
     {1.0102341981618994},
     {0.04783529996973967,  -0.06197522677907784, 0.024915136812058605, -0.010775210002720442,
      0.045814755318785094, 0.01780726159075982,  0.07450258887276791,  -0.13812460578231284,
      0.006058110770952368, 0.008857920581191827, 0.001704287357719777, -0.01662031870986399,
      0.009887486347369667, 0.023107215139130232, -0.04250592206170576, 0.00951122057520587,
      0.0454868910828847,   -0.14647870812129885, 0.053267822341002406, 0.047723994697411704}},
    {NB_MEAN,
     0.2,
     1,
     1,
     {0.9643076969688184},
     {0.0,
      0.0,
      0.0,
      0.0,
      0.08653898226881629,
      0.033635938560324104,
      0.14072711231522828,
      -0.26090203314436866,
      0.011443098122910021,
      0.016731627764473445,
      0.0032192094534706874,
      -0.0313939353408542,
      0.018676363100587148,
      0.04364696192946821,
      -0.08028896389433308,
      0.017965638864277753,
      0.0,
      0.0,
      0.0,
      0.0}},
    {NB_SUM,
     0.0,
     -100,
     1,
     {6.969075406746073},
     {0.4484156360964023,   -0.7810799248022458, 0.27197783158701105, 0.06068645711883245,
      0.45624816903817245,  0.2767285029594038,  0.7522260610112226,  -1.485202733008799,
      -0.17138348858407232, 0.12089125857940036, 0.04447340864870214, 0.006018821355969727,
      0.09692767462457082,  0.26347673660676174, -0.5656003000217769, 0.20519588879044434,
      0.4276764407319688,   -1.5273444353569245, 0.5223651843101511,  0.5773028103148047}},
    {NB_SUM,
     0.0,
     1,
     1,
     {3.0936405516640364},
     {0.0,
      0.0,
      0.0,
      0.0,
      0.45624816903817245,
      0.2767285029594038,
      0.7522260610112226,
      -1.485202733008799,
      -0.17138348858407232,
      0.12089125857940036,
      0.04447340864870214,
      0.006018821355969727,
      0.09692767462457082,
      0.26347673660676174,
      -0.5656003000217769,
      0.20519588879044434,
      0.0,
      0.0,
      0.0,
      0.0}},
    {NB_SUM,
     0.2,
     -100,
     1,
     {8.586990684376143},
     {0.40660004974278724,  -0.5267894276221615, 0.21177866290249817,  -0.09158928502312379,
      0.38942542020967336,  0.1513617235214585,  0.6332720054185272,   -1.1740591491496593,
      0.051493941553095154, 0.07529232494013054, 0.014486442540618108, -0.14127270903384392,
      0.08404363395264217,  0.19641132868260697, -0.36130033752449897, 0.08084537488924987,
      0.38663857420452,     -1.24506901903104,   0.4527764898985205,   0.40565395492799955}},
    {NB_SUM,
     0.2,
     1,
     1,
     {4.339384636359682},
     {0.0,
      0.0,
      0.0,
      0.0,
      0.38942542020967336,
      0.1513617235214585,
      0.6332720054185272,
      -1.1740591491496593,
      0.051493941553095154,
      0.07529232494013054,
      0.014486442540618108,
      -0.14127270903384392,
      0.08404363395264217,
      0.19641132868260697,
      -0.36130033752449897,
      0.08084537488924987,
      0.0,
      0.0,
      0.0,
      0.0}},
    {NB_NONE,
     0.0,
     -100,
     5,
     {0.9903637961717121, 2.0499920274858514, 0.2098583231576698, 0.8337902010205155, 2.8850710589103254},
     {0.4484156360964023,   -0.7810799248022458, 0.27197783158701105, 0.06068645711883245,
      0.45624816903817245,  0.2767285029594038,  0.7522260610112226,  -1.485202733008799,
      -0.17138348858407232, 0.12089125857940036, 0.04447340864870214, 0.006018821355969727,
      0.09692767462457082,  0.26347673660676174, -0.5656003000217769, 0.20519588879044434,
      0.4276764407319688,   -1.5273444353569245, 0.5223651843101511,  0.5773028103148047}},
    {NB_NONE,
     0.0,
     1,
     5,
     {0.0, 2.0499920274858514, 0.2098583231576698, 0.8337902010205155, 0.0},
     {0.0,
      0.0,
      0.0,
      0.0,
      0.45624816903817245,
      0.2767285029594038,
      0.7522260610112226,
      -1.485202733008799,
      -0.17138348858407232,
      0.12089125857940036,
      0.04447340864870214,
      0.006018821355969727,
      0.09692767462457082,
      0.26347673660676174,
      -0.5656003000217769,
      0.20519588879044434,
      0.0,
      0.0,
      0.0,
      0.0}},
    {NB_NONE,
     0.2,
     -100,
     5,
     {1.503225153815273, 2.0970760916329816, 1.1042945685786212, 1.13801397614808, 2.7443808942011882},
     {0.40660004974278724,  -0.5267894276221615, 0.21177866290249817,  -0.09158928502312379,
      0.38942542020967336,  0.1513617235214585,  0.6332720054185272,   -1.1740591491496593,
      0.051493941553095154, 0.07529232494013054, 0.014486442540618108, -0.14127270903384392,
      0.08404363395264217,  0.19641132868260697, -0.36130033752449897, 0.08084537488924987,
      0.38663857420452,     -1.24506901903104,   0.4527764898985205,   0.40565395492799955}},
    {NB_NONE,
     0.2,
     1,
     5,
     {0.0, 2.0970760916329816, 1.1042945685786212, 1.13801397614808, 0.0},
     {0.0,
      0.0,
      0.0,
      0.0,
      0.38942542020967336,
      0.1513617235214585,
      0.6332720054185272,
      -1.1740591491496593,
      0.051493941553095154,
      0.07529232494013054,
      0.014486442540618108,
      -0.14127270903384392,
      0.08404363395264217,
      0.19641132868260697,
      -0.36130033752449897,
      0.08084537488924987,
      0.0,
      0.0,
      0.0,
      0.0}},
};
/* F.nll_loss(log_softmax(x), y, weight=w, reduction, ignore_index), the same way */
static const weighted_case nll_cases[] = {
    {NB_MEAN,
     0,
     -100,
     1,
     {0.8198912243230675},
     {0.0,
      -0.23529411764705882,
      0.0,
      0.0,
      0.0,
      0.0,
      0.0,
      -0.3529411764705882,
      -0.058823529411764705,
      0.0,
      0.0,
      0.0,
      0.0,
      0.0,
      -0.11764705882352941,
      0.0,
      0.0,
      -0.23529411764705882,
      0.0,
      0.0}},
    {NB_MEAN,
     0,
     3,
     1,
     {0.8943787962291314},
     {0.0,
      -0.36363636363636365,
      0.0,
      0.0,
      0.0,
      0.0,
      0.0,
      0.0,
      -0.09090909090909091,
      0.0,
      0.0,
      0.0,
      0.0,
      0.0,
      -0.18181818181818182,
      0.0,
      0.0,
      -0.36363636363636365,
      0.0,
      0.0}},
    {NB_SUM, 0, -100, 1, {6.969075406746073}, {0.0, -2.0, 0.0, 0.0, 0.0,  0.0, 0.0, -3.0, -0.5, 0.0,
                                               0.0, 0.0,  0.0, 0.0, -1.0, 0.0, 0.0, -2.0, 0.0,  0.0}},
    {NB_SUM, 0, 3, 1, {4.919083379260223}, {0.0, -2.0, 0.0, 0.0, 0.0,  0.0, 0.0, 0.0,  -0.5, 0.0,
                                            0.0, 0.0,  0.0, 0.0, -1.0, 0.0, 0.0, -2.0, 0.0,  0.0}},
    {NB_NONE,
     0,
     -100,
     5,
     {0.9903637961717121, 2.0499920274858514, 0.2098583231576698, 0.8337902010205155, 2.8850710589103254},
     {0.0, -2.0, 0.0, 0.0, 0.0,  0.0, 0.0, -3.0, -0.5, 0.0,
      0.0, 0.0,  0.0, 0.0, -1.0, 0.0, 0.0, -2.0, 0.0,  0.0}},
    {NB_NONE,
     0,
     3,
     5,
     {0.9903637961717121, 0.0, 0.2098583231576698, 0.8337902010205155, 2.8850710589103254},
     {0.0, -2.0, 0.0, 0.0, 0.0,  0.0, 0.0, 0.0,  -0.5, 0.0,
      0.0, 0.0,  0.0, 0.0, -1.0, 0.0, 0.0, -2.0, 0.0,  0.0}},
};

static const double WX[20] = {1, 2,  0.5,  -1,  0.3, -0.2, 0.8, 1.5, 2,   1,
                              0, -2, -0.5, 0.5, 1,   0.25, 0.1, 0.2, 0.3, 0.4};
static const double WLP[20] = {
    -1.495181898085856,  -0.49518189808585605, -1.995181898085856,  -3.495181898085856,  -1.883330675828617,
    -2.383330675828617,  -1.383330675828617,   -0.6833306758286172, -0.4197166463153396, -1.4197166463153397,
    -2.4197166463153397, -4.419716646315339,   -2.3337902010205154, -1.3337902010205154, -0.8337902010205155,
    -1.5837902010205154, -1.5425355294551628,  -1.4425355294551627, -1.3425355294551629, -1.2425355294551628};

static void check_weighted(const weighted_case *c, bool nll)
{
    nb_real xv[20];
    for (int i = 0; i < 20; i++)
        xv[i] = (nb_real)(nll ? WLP[i] : WX[i]);
    nb_tensor *x = nb_requires_grad(nb_from_array(xv, NB_SHAPE(5, 4)), true);
    nb_tensor *y = nb_from_int64((const int64_t[]){1, 3, 0, 2, 1}, NB_SHAPE(5));
    nb_tensor *w = nb_from_array((nb_real[]){0.5, 2, 1, 3}, NB_SHAPE(4));
    nb_tensor *l =
        nll ? nb_nll_loss(x, y, NB_NLL_LOSS_OPTS(.weight = w, .reduction = c->r, .ignore_index = c->ignore))
            : nb_cross_entropy(x, y,
                               NB_CROSS_ENTROPY_OPTS(.weight = w, .reduction = c->r,
                                                     .ignore_index = c->ignore, .label_smoothing = c->eps));
    cr_assert_not_null(l, "%s", nb_last_error_message());
    cr_assert_eq(l->numel, c->n_loss);
    assert_close_array(l->data, c->loss, c->n_loss, 10 * TOL);
    cr_assert_eq(nb_backward(c->r == NB_NONE ? nb_sum(l) : l), 0);
    assert_close_array(x->grad, c->grad, 20, 10 * TOL);
    nb_free(x), nb_free(y), nb_free(w);
    nb_step_end();
}

Test(loss, cross_entropy_class_weights_match_pytorch)
{
    for (size_t k = 0; k < sizeof ce_cases / sizeof ce_cases[0]; k++)
        check_weighted(&ce_cases[k], false);
}

Test(loss, nll_loss_weight_ignore_index_and_reductions_match_pytorch)
{
    for (size_t k = 0; k < sizeof nll_cases / sizeof nll_cases[0]; k++)
        check_weighted(&nll_cases[k], true);
}

/* Weights of 1 are no weights, and the weighted mean is Σ w_y l_y / Σ w_y by hand. */
Test(loss, unit_weights_change_nothing_and_the_mean_divides_by_the_target_weights)
{
    nb_tensor *x = nb_from_array((nb_real[]){1, 2, 0, 0, 0, 3}, NB_SHAPE(2, 3));
    nb_tensor *y = nb_from_int32((const int32_t[]){1, 2}, NB_SHAPE(2));
    nb_tensor *ones = nb_ones(NB_SHAPE(3)), *w = nb_from_array((nb_real[]){1, 4, 2}, NB_SHAPE(3));
    nb_tensor *plain = nb_cross_entropy(x, y, NB_CROSS_ENTROPY_OPTS(.label_smoothing = 0.1));
    nb_tensor *unit = nb_cross_entropy(x, y, NB_CROSS_ENTROPY_OPTS(.weight = ones, .label_smoothing = 0.1));
    cr_assert_float_eq(nb_item(plain), nb_item(unit), TOL);
    nb_tensor *per_row = nb_cross_entropy(x, y, NB_CROSS_ENTROPY_OPTS(.reduction = NB_NONE));
    double l0 = per_row->data[0], l1 = per_row->data[1];
    nb_tensor *m = nb_cross_entropy(x, y, NB_CROSS_ENTROPY_OPTS(.weight = w));
    cr_assert_float_eq(nb_item(m), (4 * l0 + 2 * l1) / (4 + 2), TOL);
    /* errors: the weight's shape, a weight that requires a gradient */
    nb_tensor *bad = nb_ones(NB_SHAPE(4));
    cr_assert_null(nb_cross_entropy(x, y, NB_CROSS_ENTROPY_OPTS(.weight = bad)));
    assert_error(NB_ERR_SHAPE, "cross_entropy: weight [4] must be [C] = [3] for input [2,3]");
    nb_clear_error();
    nb_requires_grad(w, true);
    cr_assert_null(nb_nll_loss(x, y, NB_NLL_LOSS_OPTS(.weight = w)));
    assert_error(NB_ERR_ARG, "nll_loss: weight [3] requires a gradient");
    nb_free(x), nb_free(y), nb_free(ones), nb_free(w), nb_free(bad);
}
