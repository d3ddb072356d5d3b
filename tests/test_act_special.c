/* tests/test_act_special.c — the activations with their own ops: softmax and
 * log_softmax along any dim, prelu (shared and per-channel alpha), swish
 * (scalar beta), maxout. Forward values worked out from the formulas (Python,
 * double) or quoted from tutorials; backward by nb_gradcheck in float64;
 * results independent of the thread count; error messages. */
#include "common.h"

TestSuite(act_special, .init = quiet, .fini = end_step);

static nb_tensor *vec(int64_t n, const nb_real *v) { return nb_from_array(v, NB_SHAPE(n)); }

/* ---- softmax / log_softmax forward ----------------------------------- */

Test(act_special, softmax_tutorial_figures)
{
    nb_tensor *a = vec(3, (nb_real[]){10, 8, 6});
    nb_tensor *y = nb_softmax(a, -1);
    /* the figure tutorials quote, to 4 decimals */
    assert_close_array(y->data, (double[]){0.8668, 0.1173, 0.0159}, 3, 5e-5);
    assert_close_array(y->data, (double[]){0.8668133321973347, 0.11731042782619835, 0.015876239976466762}, 3,
                       TOL);
    nb_tensor *b = vec(3, (nb_real[]){0.4, 2, 5});
    y = nb_softmax(b, 0);
    assert_close_array(y->data, (double[]){0.00948431, 0.04697607, 0.94353962}, 3,
                       1e-8 > TOL ? 1e-8 : TOL * 10);
    nb_free(a), nb_free(b);
}

Test(act_special, softmax_does_not_overflow)
{
    nb_tensor *big = vec(3, (nb_real[]){1000, 1001, 1002}), *small = vec(3, (nb_real[]){0, 1, 2});
    nb_tensor *y = nb_softmax(big, -1), *z = nb_softmax(small, -1);
    for (int i = 0; i < 3; i++) {
        cr_assert(isfinite(y->data[i]));
        cr_assert_float_eq(y->data[i], z->data[i], TOL);
    }
    nb_tensor *neg = vec(2, (nb_real[]){-1000, 0});
    y = nb_softmax(neg, -1);
    assert_close_array(y->data, (double[]){0, 1}, 2, TOL);
    nb_free(big), nb_free(small), nb_free(neg);
}

Test(act_special, log_softmax_at_plus_minus_1000)
{
    nb_tensor *p = vec(3, (nb_real[]){1000, 1001, 1002}), *m = vec(3, (nb_real[]){-1000, -1001, -1002});
    const double want[3] = {-2.4076059644443806, -1.4076059644443804, -0.4076059644443804};
    nb_tensor *y = nb_log_softmax(p, -1);
    assert_close_array(y->data, want, 3, TOL);
    y = nb_log_softmax(m, 0);
    assert_close_array(y->data, (double[]){want[2], want[1], want[0]}, 3, TOL);
    /* a logit 1000 below the others: log-probability -1000, not -inf */
    nb_tensor *far = vec(2, (nb_real[]){0, -1000});
    y = nb_log_softmax(far, -1);
    assert_close_array(y->data, (double[]){0, -1000}, 2, TOL);
    nb_free(p), nb_free(m), nb_free(far);
}

Test(act_special, softmax_along_dim0_and_dim1_of_2x3)
{
    nb_tensor *x = nb_from_array((nb_real[]){1, 2, 3, 4, 6, 8}, NB_SHAPE(2, 3));
    nb_tensor *y = nb_softmax(x, 1);
    assert_shape(y, 2, (int64_t[]){2, 3});
    assert_close_array(y->data,
                       (double[]){0.09003057317038046, 0.24472847105479764, 0.6652409557748218,
                                  0.015876239976466765, 0.11731042782619838, 0.8668133321973349},
                       6, TOL);
    y = nb_softmax(x, 0);
    assert_close_array(y->data,
                       (double[]){0.04742587317756679, 0.017986209962091555, 0.006692850924284856,
                                  0.9525741268224334, 0.9820137900379085, 0.9933071490757153},
                       6, TOL);
    y = nb_log_softmax(x, -2);
    assert_close_array(y->data,
                       (double[]){-3.048587351573742, -4.0181499279178094, -5.006715348489118,
                                  -0.04858735157374196, -0.01814992791780978, -0.006715348489117967},
                       6, TOL);
    nb_free(x);
}

Test(act_special, softmax_along_dim1_of_2x3x4)
{
    nb_real v[24];
    for (int i = 0; i < 24; i++)
        v[i] = (nb_real)((i % 7) * 0.5); /* x[i][j][k] = ((12i + 4j + k) mod 7) / 2 */
    nb_tensor *x = nb_from_array(v, NB_SHAPE(2, 3, 4));
    nb_tensor *y = nb_softmax(x, 1);
    assert_close_array(
        y->data,
        (double[]){0.099623648062318312, 0.099623648062318312, 0.099623648062318312, 0.34820742788373488,
                   0.73612472431259379,  0.73612472431259379,  0.73612472431259379,  0.077695579148570601,
                   0.1642516276250878,   0.1642516276250878,   0.1642516276250878,   0.57409699296769456,
                   0.34820742788373488,  0.78559703458927588,  0.099623648062318312, 0.099623648062318312,
                   0.077695579148570601, 0.17529039214003669,  0.73612472431259379,  0.73612472431259379,
                   0.57409699296769456,  0.039112573270687456, 0.1642516276250878,   0.1642516276250878},
        24, TOL);
    nb_free(x);
}

Test(act_special, softmax_rank0_and_bad_dim)
{
    nb_tensor *s = nb_scalar(3);
    cr_assert_float_eq(nb_softmax(s, -1)->data[0], 1, TOL);
    cr_assert_float_eq(nb_log_softmax(s, 0)->data[0], 0, TOL);
    nb_tensor *x = nb_zeros(NB_SHAPE(2, 3));
    cr_assert_null(nb_softmax(x, 2));
    assert_error(NB_ERR_ARG, "softmax: x [2,3]: dim 2 is out of range for rank 2");
    nb_clear_error();
    cr_assert_null(nb_log_softmax(NULL, 0));
    assert_error(NB_ERR_NULL, "log_softmax: argument 1 is NULL");
    nb_free(s), nb_free(x);
}

/* ---- prelu, swish, maxout forward --------------------------------------- */

Test(act_special, prelu_shared_and_per_channel)
{
    nb_tensor *x = nb_from_array((nb_real[]){-2, 3, 0.5, -1}, NB_SHAPE(2, 2));
    nb_tensor *a = nb_scalar(0.25);
    assert_close_array(nb_prelu(x, a)->data, (double[]){-0.5, 3, 0.5, -0.25}, 4, TOL);
    /* [2,3,2], one alpha per channel (dim 1) */
    nb_tensor *x3 = nb_from_array((nb_real[]){-1, 1, -2, 2, -3, 3, -4, 4, -5, 5, -6, 6}, NB_SHAPE(2, 3, 2));
    nb_tensor *a3 = vec(3, (nb_real[]){0.1, 0.2, 0.3});
    assert_close_array(nb_prelu(x3, a3)->data,
                       (double[]){-0.1, 1, -0.4, 2, -0.9, 3, -0.4, 4, -1.0, 5, -1.8, 6}, 12, TOL);
    /* [2,2] with 2 alphas: alpha indexed by the column */
    nb_tensor *a2 = vec(2, (nb_real[]){0.5, 2});
    assert_close_array(nb_prelu(x, a2)->data, (double[]){-1, 3, 0.5, -2}, 4, TOL);
    nb_free(x), nb_free(a), nb_free(x3), nb_free(a3), nb_free(a2);
}

Test(act_special, prelu_errors)
{
    nb_tensor *x = nb_zeros(NB_SHAPE(2, 4)), *a3 = nb_zeros(NB_SHAPE(3)), *a22 = nb_zeros(NB_SHAPE(2, 2));
    cr_assert_null(nb_prelu(x, a3));
    assert_error(NB_ERR_SHAPE,
                 "prelu: x [2,4], alpha [3]: alpha needs 1 element or one per channel (dim 1 of x: 4)");
    nb_clear_error();
    cr_assert_null(nb_prelu(x, a22));
    assert_error(NB_ERR_SHAPE, "prelu: x [2,4], alpha [2,2]: alpha must be a scalar or 1-D tensor");
    nb_clear_error();
    /* a 1-D x has one channel (PyTorch): 4 alphas do not fit a [4] */
    nb_tensor *v = nb_zeros(NB_SHAPE(4)), *a4 = nb_zeros(NB_SHAPE(4));
    cr_assert_null(nb_prelu(v, a4));
    assert_error(NB_ERR_SHAPE, "(dim 1 of x: 1)");
    nb_clear_error();
    cr_assert_null(nb_prelu(x, NULL));
    assert_error(NB_ERR_NULL, "prelu: argument 2 is NULL");
    nb_free(x), nb_free(a3), nb_free(a22), nb_free(v), nb_free(a4);
}

Test(act_special, swish_values_and_extremes)
{
    nb_tensor *x = vec(3, (nb_real[]){1, -2, 0.5});
    nb_tensor *b1 = nb_scalar(1), *b2 = nb_from_array((nb_real[]){2}, NB_SHAPE(1));
    nb_tensor *y = nb_swish(x, b1);
    cr_assert_float_eq(y->data[0], 0.7310585786300049, TOL); /* 1 * sigmoid(1) */
    y = nb_swish(x, b2);
    cr_assert_float_eq(y->data[1], -0.03597241992418312, TOL); /* -2 * sigmoid(-4) */
    nb_tensor *ext = nb_requires_grad(vec(2, (nb_real[]){1000, -1000}), true);
    y = nb_swish(ext, b1);
    assert_close_array(y->data, (double[]){1000, 0}, 2, TOL);
    nb_tensor *ones = nb_ones(NB_SHAPE(2));
    cr_assert_eq(nb_backward_grad(y, ones), 0);
    assert_close_array(ext->grad, (double[]){1, 0}, 2, TOL); /* finite, no inf*0 */
    nb_tensor *b3 = nb_zeros(NB_SHAPE(3));
    cr_assert_null(nb_swish(x, b3));
    assert_error(NB_ERR_SHAPE, "swish: x [3], beta [3]: beta must have one element");
    nb_free(x), nb_free(b1), nb_free(b2), nb_free(ext), nb_free(ones), nb_free(b3);
}

Test(act_special, maxout_values_ties_and_errors)
{
    nb_tensor *x = nb_requires_grad(
        nb_from_array((nb_real[]){1, 5, 3, 3, -1, -2, 0, 7, 2, 2, 2, 9}, NB_SHAPE(2, 6)), true);
    nb_tensor *y = nb_maxout(x, 2);
    assert_shape(y, 2, (int64_t[]){2, 3});
    assert_close_array(y->data, (double[]){5, 3, -1, 7, 2, 9}, 6, TOL);
    nb_tensor *g = nb_from_array((nb_real[]){1, 2, 3, 4, 5, 6}, NB_SHAPE(2, 3));
    cr_assert_eq(nb_backward_grad(y, g), 0);
    /* the tie (3, 3) and (2, 2) send the gradient to the first */
    assert_close_array(x->grad, (double[]){0, 1, 2, 0, 3, 0, 0, 4, 5, 0, 0, 6}, 12, TOL);
    y = nb_maxout(x, 3);
    assert_close_array(y->data, (double[]){5, 3, 7, 9}, 4, TOL);
    nb_tensor *bad = nb_zeros(NB_SHAPE(2, 7));
    cr_assert_null(nb_maxout(bad, 2));
    assert_error(NB_ERR_SHAPE, "maxout: x [2,7]: the last dim (7) is not divisible by k = 2");
    nb_clear_error();
    cr_assert_null(nb_maxout(bad, 0));
    assert_error(NB_ERR_ARG, "maxout: x [2,7]: k = 0 pieces, must be at least 1");
    nb_free(x), nb_free(g), nb_free(bad);
}

/* ---- the same bits for 1 and 2 threads --------------------------------- */

static void run(nb_tensor *x, nb_tensor *w, int which, nb_real *out, int64_t nout, nb_real *gw)
{
    nb_zero_grad(x);
    nb_zero_grad(w);
    nb_tensor *y = which == 0   ? nb_softmax(x, -1)
                   : which == 1 ? nb_log_softmax(x, 0)
                   : which == 2 ? nb_prelu(x, w)
                                : nb_swish(x, w);
    nb_tensor *g = nb_ones(y->ndim, y->shape);
    for (int64_t i = 0; i < g->numel; i++)
        g->data[i] = (nb_real)((i % 13) - 6);
    cr_assert_eq(nb_backward_grad(y, g), 0);
    memcpy(out, y->data, (size_t)nout * sizeof(nb_real));
    memcpy(out + nout, x->grad, (size_t)nout * sizeof(nb_real));
    if (w)
        memcpy(gw, w->grad, (size_t)w->numel * sizeof(nb_real));
    nb_free(g);
    nb_step_end();
}

Test(act_special, thread_count_does_not_change_results)
{
    nb_generator gen;
    nb_generator_seed(&gen, 11);
    nb_tensor *x = nb_requires_grad(nb_randn(&gen, NB_SHAPE(96, 5000)), true);
    nb_tensor *ws[4] = {NULL, NULL, nb_requires_grad(nb_full(NB_SHAPE(1), 0.25), true),
                        nb_requires_grad(nb_full(NB_SHAPE(1), 1.5), true)};
    int64_t n = x->numel;
    nb_real *r1 = malloc(2 * (size_t)n * sizeof(nb_real)), *r2 = malloc(2 * (size_t)n * sizeof(nb_real));
    for (int which = 0; which < 4; which++) {
        nb_real g1 = 0, g2 = 0;
        nb_set_num_threads(1);
        run(x, ws[which], which, r1, n, &g1);
        nb_set_num_threads(2);
        run(x, ws[which], which, r2, n, &g2);
        cr_assert(memcmp(r1, r2, 2 * (size_t)n * sizeof(nb_real)) == 0, "op %d differs", which);
        cr_assert(memcmp(&g1, &g2, sizeof g1) == 0, "op %d: weight gradient %.9g vs %.9g", which, (double)g1,
                  (double)g2);
    }
    nb_set_num_threads(0);
    free(r1), free(r2);
    nb_free(x), nb_free(ws[2]), nb_free(ws[3]);
}

/* The alpha and beta gradients over many blocks against a plain double sum. */
Test(act_special, weight_gradients_match_a_direct_sum)
{
    nb_generator gen;
    nb_generator_seed(&gen, 5);
    nb_tensor *x = nb_requires_grad(nb_randn(&gen, NB_SHAPE(3, 4, 20000)), true);
    nb_tensor *a = nb_requires_grad(nb_full(NB_SHAPE(4), 0.25), true);
    nb_tensor *b = nb_requires_grad(nb_full(NB_SHAPE(1), 0.75), true);
    nb_tensor *ones = nb_ones(NB_SHAPE(3, 4, 20000));
    cr_assert_eq(nb_backward_grad(nb_prelu(x, a), ones), 0);
    cr_assert_eq(nb_backward_grad(nb_swish(x, b), ones), 0);
    double want_a[4] = {0}, want_b = 0;
    for (int64_t i = 0; i < x->numel; i++) {
        double v = x->data[i], s = 1 / (1 + exp(-0.75 * v));
        want_a[(i / 20000) % 4] += v < 0 ? v : 0;
        want_b += v * v * s * (1 - s);
    }
    double tol = sizeof(nb_real) == 4 ? 1e-4 : 1e-10; /* sums of 60000 terms */
    assert_close_array(a->grad, want_a, 4, tol);
    cr_assert(fabs(b->grad[0] - want_b) <= tol * fabs(want_b), "%g vs %g", (double)b->grad[0], want_b);
    nb_free(x), nb_free(a), nb_free(b), nb_free(ones);
}

/* ---- gradient checks (float64) ----------------------------------------- */
#ifdef NABLA_F64
typedef struct spec {
    int which, arg;
} spec;

static nb_tensor *f_op(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    const spec *s = ctx;
    switch (s->which) {
    case 0: return nb_softmax(in[0], s->arg);
    case 1: return nb_log_softmax(in[0], s->arg);
    case 2: return nb_prelu(in[0], in[1]);
    case 3: return nb_swish(in[0], in[1]);
    default: return nb_maxout(in[0], s->arg);
    }
}

static void check(int which, int arg, nb_tensor *x, nb_tensor *w)
{
    nb_tensor *in[2] = {x, w};
    spec s = {which, arg};
    nb_gradcheck_result r = nb_gradcheck(f_op, w ? 2 : 1, in, &s, NB_GRADCHECK_OPTS());
    cr_assert(r.ok, "op %d arg %d: %s", which, arg, r.message);
    cr_assert_gt(r.nonzero, 0, "op %d arg %d: all gradients zero", which, arg);
    nb_free(x), nb_free(w);
}

static nb_tensor *rnd(nb_generator *g, int ndim, const int64_t *shape)
{
    return nb_requires_grad(nb_randn(g, ndim, shape), true);
}

Test(act_special, gradcheck_softmax_and_log_softmax)
{
    nb_generator g;
    nb_generator_seed(&g, 1);
    for (int which = 0; which < 2; which++) {
        check(which, -1, rnd(&g, NB_SHAPE(3, 5)), NULL);   /* rows */
        check(which, 0, rnd(&g, NB_SHAPE(4, 3)), NULL);    /* columns */
        check(which, 1, rnd(&g, NB_SHAPE(2, 3, 4)), NULL); /* middle dim */
        check(which, 0, rnd(&g, NB_SHAPE(6)), NULL);
    }
}

Test(act_special, gradcheck_prelu_x_and_alpha)
{
    nb_generator g;
    nb_generator_seed(&g, 2);
    check(2, 0, rnd(&g, NB_SHAPE(3, 4)), nb_requires_grad(nb_full(NB_SHAPE(1), 0.25), true));
    check(2, 0, rnd(&g, NB_SHAPE(3, 4)),
          nb_requires_grad(nb_from_array((nb_real[]){0.1, 0.2, 0.3, 0.4}, NB_SHAPE(4)), true));
    check(2, 0, rnd(&g, NB_SHAPE(2, 3, 5)),
          nb_requires_grad(nb_from_array((nb_real[]){0.1, -0.2, 0.3}, NB_SHAPE(3)), true));
    check(2, 0, rnd(&g, NB_SHAPE(5)), nb_requires_grad(nb_scalar(0.25), true));
}

Test(act_special, gradcheck_swish_x_and_beta)
{
    nb_generator g;
    nb_generator_seed(&g, 3);
    check(3, 0, rnd(&g, NB_SHAPE(3, 4)), nb_requires_grad(nb_scalar(1), true));
    check(3, 0, rnd(&g, NB_SHAPE(7)), nb_requires_grad(nb_full(NB_SHAPE(1), -0.7), true));
}

Test(act_special, gradcheck_maxout)
{
    nb_generator g;
    nb_generator_seed(&g, 4);
    check(4, 2, rnd(&g, NB_SHAPE(3, 6)), NULL);
    check(4, 3, rnd(&g, NB_SHAPE(2, 2, 6)), NULL);
}
#endif
