/* tests/test_autograd.c — backward semantics as in PyTorch: accumulation,
 * diamonds, a tensor used twice, explicit output gradients, no-grad, detach,
 * one backward per node, and thread-count independence. */
#include "common.h"

TestSuite(autograd, .init = quiet, .fini = end_step);

static nb_tensor *leaf(const nb_real *v, int64_t n)
{
    return nb_requires_grad(nb_from_array(v, 1, &n), true);
}

static nb_tensor *ones_like(const nb_tensor *t) { return nb_ones(t->ndim, t->shape); }

Test(autograd, scalar_chain_gives_hand_gradients)
{
    /* y = (a*b + a) / b with a = 3, b = 2: dy/da = (b + 1)/b = 1.5, dy/db = -a/b^2 = -0.75 */
    nb_tensor *a = nb_requires_grad(nb_scalar(3), true), *b = nb_requires_grad(nb_scalar(2), true);
    nb_tensor *y = nb_div(nb_add(nb_mul(a, b), a), b);
    cr_assert_float_eq(nb_item(y), 4.5, TOL);
    cr_assert_eq(nb_backward(y), 0);
    cr_assert_float_eq(a->grad[0], 1.5, TOL);
    cr_assert_float_eq(b->grad[0], -0.75, TOL);
    nb_free(a), nb_free(b);
}

Test(autograd, gradients_accumulate_until_zeroed)
{
    nb_tensor *x = nb_requires_grad(nb_scalar(2), true);
    for (int i = 0; i < 3; i++) {
        nb_backward(nb_mul_scalar(x, 5));
        cr_assert_float_eq(x->grad[0], 5.0 * (i + 1), TOL);
    }
    nb_zero_grad(x);
    cr_assert_eq(x->grad[0], 0);
    nb_backward(nb_mul_scalar(x, 5));
    cr_assert_float_eq(x->grad[0], 5, TOL);
    nb_free(x);
}

Test(autograd, tensor_used_twice_in_one_op)
{
    /* y = x * x: dy/dx = 2x */
    nb_tensor *x = leaf((nb_real[]){-1, 0.5, 3}, 3);
    nb_tensor *y = nb_mul(x, x);
    nb_tensor *g = ones_like(y);
    cr_assert_eq(nb_backward_grad(y, g), 0);
    assert_close_array(x->grad, (double[]){-2, 1, 6}, 3, TOL);
    nb_free(x), nb_free(g);
}

Test(autograd, diamond_graph_sums_both_paths)
{
    /* h = exp(x); y = h * 3 + h * h  => dy/dx = (3 + 2h) h */
    nb_tensor *x = nb_requires_grad(nb_scalar(0.5), true);
    nb_tensor *h = nb_exp(x);
    nb_tensor *y = nb_add(nb_mul_scalar(h, 3), nb_mul(h, h));
    nb_backward(y);
    double e = exp(0.5);
    cr_assert_float_eq(x->grad[0], (3 + 2 * e) * e, 10 * TOL);
    nb_free(x);
}

Test(autograd, non_scalar_backward_needs_explicit_gradient)
{
    nb_tensor *x = leaf((nb_real[]){1, 2}, 2);
    nb_tensor *y = nb_mul_scalar(x, 3);
    cr_assert_eq(nb_backward(y), -1);
    assert_error(NB_ERR_SHAPE, "backward: output of shape [2] is not a scalar");
    nb_clear_error();
    nb_tensor *g = nb_from_array((nb_real[]){1, -2}, NB_SHAPE(2));
    cr_assert_eq(nb_backward_grad(y, g), 0);
    assert_close_array(x->grad, (double[]){3, -6}, 2, TOL);
    nb_tensor *bad = nb_ones(NB_SHAPE(3));
    cr_assert_eq(nb_backward_grad(y, bad), -1);
    assert_error(NB_ERR_SHAPE, "gradient of shape [3] does not match output of shape [2]");
    nb_free(x), nb_free(g), nb_free(bad);
}

Test(autograd, no_grad_records_nothing)
{
    nb_tensor *x = nb_requires_grad(nb_scalar(1), true);
    nb_tensor *y;
    NB_NO_GRAD { y = nb_mul_scalar(x, 2); }
    cr_assert(nb_is_grad_enabled());
    cr_assert_not(y->requires_grad);
    cr_assert_null(y->node);
    cr_assert_eq(nb_backward(y), -1);
    assert_error(NB_ERR_STATE, "does not require grad");
    bool prev = nb_set_grad_enabled(false);
    cr_assert(prev);
    cr_assert_null(nb_exp(x)->node);
    nb_set_grad_enabled(true);
    cr_assert_not_null(nb_exp(x)->node);
    nb_free(x);
}

Test(autograd, detach_shares_data_and_stops_gradient)
{
    nb_tensor *x = nb_requires_grad(nb_scalar(2), true);
    nb_tensor *h = nb_mul(x, x);
    nb_tensor *d = nb_detach(h);
    cr_assert_eq(d->data, h->data);
    cr_assert_not(d->requires_grad);
    /* y = x * detach(x*x): dy/dx = x^2 = 4 only, not 3x^2 */
    nb_backward(nb_mul(x, d));
    cr_assert_float_eq(x->grad[0], 4, TOL);
    nb_free(x);
}

/* An op of our own that counts its backward calls. */
static int calls;
static void count_backward(nb_node *n)
{
    calls++;
    nb_real *g = nb_input_grad(n, 0);
    for (int64_t i = 0; g && i < n->out->numel; i++)
        g[i] += n->out->grad[i];
}
static const nb_op counting = {"counting", count_backward};

static nb_tensor *counted(nb_tensor *x)
{
    nb_tensor *y = nb_op_output(x->ndim, x->shape);
    memcpy(y->data, x->data, (size_t)x->numel * sizeof(nb_real));
    nb_record(&counting, y, 1, &x);
    return y;
}

Test(autograd, each_node_backward_runs_once_in_reverse_order)
{
    /* c = counted(x) feeds four consumers; its backward must run once, after all of them */
    nb_tensor *x = nb_requires_grad(nb_scalar(1), true);
    nb_tensor *c = counted(x);
    nb_tensor *y = nb_add(nb_add(nb_mul(c, c), nb_exp(c)), nb_mul_scalar(c, 3));
    calls = 0;
    nb_backward(y);
    cr_assert_eq(calls, 1);
    cr_assert_float_eq(x->grad[0], 2 + exp(1.0) + 3, 10 * TOL);
    /* a second backward through a fresh graph: again once, gradients add up */
    nb_backward(nb_mul_scalar(counted(x), 2));
    cr_assert_eq(calls, 2);
    cr_assert_float_eq(x->grad[0], 7 + exp(1.0), 10 * TOL);
    nb_free(x);
}

Test(autograd, second_backward_through_same_graph_does_not_reuse_stale_grads)
{
    nb_tensor *x = nb_requires_grad(nb_scalar(3), true);
    nb_tensor *h = nb_mul_scalar(x, 2);
    nb_tensor *y = nb_mul(h, h); /* y = 4x^2, dy/dx = 8x = 24 */
    nb_backward(y);
    nb_backward(y);
    cr_assert_float_eq(x->grad[0], 48, TOL);
    nb_free(x);
}

/* Pointwise backwards zero a fresh gradient buffer piece by piece instead of
 * the autograd zeroing it whole (nb_input_grad_fresh): over a step arena full
 * of NaNs from the step before, the first backward into h must still start
 * from zero in every piece (the tensor spans several tasks), the second one
 * in the same pass must add, and a second pass must start again. */
Test(autograd, fresh_gradient_buffers_start_from_zero_over_garbage)
{
    enum { N = 100003 };
    nb_tensor *x = nb_requires_grad(nb_zeros(NB_SHAPE(N)), true);
    for (int64_t i = 0; i < N; i++)
        x->data[i] = (nb_real)((i % 7) - 3) / 4;
    nb_tensor *nans = nb_full(NB_SHAPE(N), NAN);
    for (int k = 0; k < 8; k++) /* op outputs: step tensors, in the arena the next step reuses */
        cr_assert_not_null(nb_mul_scalar(nans, 1));
    nb_step_end();
    nb_free(nans);
    nb_tensor *h = nb_mul_scalar(x, 2);
    nb_tensor *loss = nb_add(nb_sum(nb_relu(h)), nb_sum(nb_tanh(h)));
    for (int pass = 1; pass <= 2; pass++) {
        cr_assert_eq(nb_backward(loss), 0);
        for (int64_t i = 0; i < N; i++) {
            double hv = 2 * (double)x->data[i], t = tanh(hv);
            double want = pass * 2 * ((hv > 0 ? 1 : 0) + (1 - t * t));
            cr_assert(fabs(x->grad[i] - want) <= 10 * TOL, "pass %d, element %lld: %g, want %g", pass,
                      (long long)i, x->grad[i], want);
        }
    }
    nb_free(x);
}

/* The ops that store into a fresh input gradient instead of adding to it
 * (linear's dX product with beta 0, reshape's copy, permute's and
 * layer_norm's stores): over an arena of NaNs, h = 2x feeds the op twice, so
 * the first backward into h stores and the second adds, and a second pass
 * starts again. Each must give x exactly twice the gradient that a leaf in
 * h's place gets (leaves always accumulate: the path without fresh buffers),
 * and after the second pass the same within rounding. */
static nb_tensor *fresh_case(int op, nb_tensor *h, nb_tensor *w)
{
    switch (op) {
    case 0: return nb_linear_op(h, w, NULL);
    case 1: return nb_reshape(h, NB_SHAPE(-1));
    case 2: return nb_permute(h, (const int[]){1, 0});
    default: return nb_layer_norm(h, NB_SHAPE(100), w, NULL, 1e-5);
    }
}

static nb_tensor *fresh_loss(int op, nb_tensor *h, nb_tensor *w, nb_tensor *c1, nb_tensor *c2)
{
    nb_tensor *y1 = fresh_case(op, h, w), *y2 = fresh_case(op, h, w);
    return nb_add(nb_sum(nb_mul(nb_reshape(y1, NB_SHAPE(-1)), c1)),
                  nb_sum(nb_mul(nb_reshape(y2, NB_SHAPE(-1)), c2)));
}

Test(autograd, ops_storing_into_fresh_gradients_match_accumulation)
{
    enum { R = 37, K = 100 };
    nb_generator g;
    nb_generator_seed(&g, 21);
    nb_tensor *x = nb_requires_grad(nb_randn(&g, NB_SHAPE(R, K)), true);
    nb_tensor *hl = nb_requires_grad(nb_zeros(NB_SHAPE(R, K)), true); /* a leaf holding 2x */
    for (int64_t i = 0; i < R * K; i++)
        hl->data[i] = 2 * x->data[i];
    nb_tensor *wl = nb_randn(&g, NB_SHAPE(K, K)), *wn = nb_randn(&g, NB_SHAPE(K));
    nb_tensor *c1 = nb_randn(&g, NB_SHAPE(R * K)), *c2 = nb_randn(&g, NB_SHAPE(R * K));
    for (int op = 0; op < 4; op++) {
        nb_tensor *w = op == 0 ? wl : wn;
        nb_tensor *nans = nb_full(NB_SHAPE(R * K * 4), NAN);
        for (int k = 0; k < 32; k++) /* op outputs: step tensors, in the arena the next step reuses */
            cr_assert_not_null(nb_mul_scalar(nans, 1));
        nb_step_end();
        nb_free(nans);
        nb_zero_grad(x), nb_zero_grad(hl);
        nb_tensor *loss = fresh_loss(op, nb_mul_scalar(x, 2), w, c1, c2);
        nb_tensor *ref = fresh_loss(op, hl, w, c1, c2);
        for (int pass = 1; pass <= 2; pass++) {
            cr_assert_eq(nb_backward(loss), 0);
            cr_assert_eq(nb_backward(ref), 0);
            for (int64_t i = 0; i < R * K; i++) /* pass 2 adds in another order: within rounding */
                cr_assert(pass == 1 ? x->grad[i] == 2 * hl->grad[i]
                                    : fabs(x->grad[i] - 2 * hl->grad[i]) <= TOL * (1 + fabs(x->grad[i])),
                          "op %d pass %d element %lld: %g, want %g", op, pass, (long long)i, x->grad[i],
                          2 * hl->grad[i]);
        }
        nb_step_end();
    }
    nb_free(x), nb_free(hl), nb_free(wl), nb_free(wn), nb_free(c1), nb_free(c2);
}

Test(autograd, leaf_without_requires_grad_gets_no_grad)
{
    nb_tensor *a = nb_requires_grad(nb_scalar(2), true), *b = nb_scalar(5);
    nb_backward(nb_mul(a, b));
    cr_assert_null(b->grad);
    cr_assert_float_eq(a->grad[0], 5, TOL);
    nb_free(a), nb_free(b);
}

Test(autograd, requires_grad_cannot_be_cleared_on_a_non_leaf)
{
    nb_tensor *a = nb_requires_grad(nb_scalar(2), true);
    nb_tensor *y = nb_exp(a);
    cr_assert_null(nb_requires_grad(y, false));
    assert_error(NB_ERR_STATE, "not a leaf");
    nb_free(a);
}

Test(autograd, large_elementwise_results_are_bit_identical_for_1_and_2_threads)
{
    enum { N = 1 << 20 };
    nb_generator g;
    nb_generator_seed(&g, 11);
    nb_tensor *a = nb_requires_grad(nb_randn(&g, NB_SHAPE(N)), true);
    nb_tensor *b = nb_requires_grad(nb_randn(&g, NB_SHAPE(N)), true);
    nb_tensor *w = nb_randn(&g, NB_SHAPE(N));
    nb_real *out[2], *ga[2], *gb[2];
    for (int t = 0; t < 2; t++) {
        nb_set_num_threads(t + 1);
        nb_zero_grad(a), nb_zero_grad(b);
        nb_tensor *y = nb_exp(nb_div(nb_mul(a, b), nb_add_scalar(nb_abs(b), 1)));
        nb_backward_grad(y, w);
        out[t] = malloc(N * sizeof(nb_real)), ga[t] = malloc(N * sizeof(nb_real)),
        gb[t] = malloc(N * sizeof(nb_real));
        memcpy(out[t], y->data, N * sizeof(nb_real));
        memcpy(ga[t], a->grad, N * sizeof(nb_real));
        memcpy(gb[t], b->grad, N * sizeof(nb_real));
        nb_step_end();
    }
    nb_set_num_threads(0);
    cr_assert_eq(memcmp(out[0], out[1], N * sizeof(nb_real)), 0);
    cr_assert_eq(memcmp(ga[0], ga[1], N * sizeof(nb_real)), 0);
    cr_assert_eq(memcmp(gb[0], gb[1], N * sizeof(nb_real)), 0);
    for (int t = 0; t < 2; t++)
        free(out[t]), free(ga[t]), free(gb[t]);
    nb_free(a), nb_free(b), nb_free(w);
}

/* nb_backward_hooked: each leaf once, when its gradient is final, in the order
 * backward completes them. */
typedef struct hook_log {
    nb_tensor *leaf[4];
    nb_real grad_then[4];
    int n;
} hook_log;

static void log_leaf(nb_tensor *leaf, void *ctx)
{
    hook_log *log = ctx;
    cr_assert_lt(log->n, 4);
    log->leaf[log->n] = leaf;
    log->grad_then[log->n++] = leaf->grad ? leaf->grad[0] : -1;
}

Test(autograd, backward_hook_fires_once_per_leaf_when_its_gradient_is_final)
{
    /* h = w1 * x;  y = (h * w2 + h) * w3 + w1:  w3 is complete first (the last
     * op), then w2, and w1 last (used by the first op and again by the last). */
    nb_tensor *x = nb_scalar(2);
    nb_tensor *w1 = nb_requires_grad(nb_scalar(3), true), *w2 = nb_requires_grad(nb_scalar(5), true);
    nb_tensor *w3 = nb_requires_grad(nb_scalar(7), true);
    nb_tensor *h = nb_mul(w1, x);
    nb_tensor *y = nb_add(nb_mul(nb_add(nb_mul(h, w2), h), w3), w1);
    hook_log log = {0};
    cr_assert_eq(nb_backward_hooked(y, NULL, log_leaf, &log), 0);
    cr_assert_eq(log.n, 3);
    cr_assert_eq(log.leaf[0], w3);
    cr_assert_eq(log.leaf[1], w2);
    cr_assert_eq(log.leaf[2], w1);
    /* dy/dw3 = h w2 + h = 36, dy/dw2 = h w3 = 42, dy/dw1 = x (w2 + 1) w3 + 1 = 85 */
    cr_assert_float_eq(log.grad_then[0], 36, TOL);
    cr_assert_float_eq(log.grad_then[1], 42, TOL);
    cr_assert_float_eq(log.grad_then[2], 85, TOL);
    cr_assert_float_eq(w1->grad[0], 85, TOL);
    nb_free(x), nb_free(w1), nb_free(w2), nb_free(w3);
}

Test(autograd, backward_hook_counts_a_leaf_used_twice_by_one_node_once)
{
    nb_tensor *w = nb_requires_grad(nb_scalar(3), true);
    hook_log log = {0};
    cr_assert_eq(nb_backward_hooked(nb_mul(w, w), NULL, log_leaf, &log), 0);
    cr_assert_eq(log.n, 1);
    cr_assert_float_eq(log.grad_then[0], 6, TOL);
    /* a leaf given to backward itself: its own hook, once */
    log.n = 0;
    cr_assert_eq(nb_backward_hooked(w, NULL, log_leaf, &log), 0);
    cr_assert_eq(log.n, 1);
    cr_assert_eq(log.leaf[0], w);
    nb_free(w);
}
