/* tests/test_gradcheck.c — nb_gradcheck passes correct backwards, fails a
 * deliberately wrong or empty one, reports the worst element, and restores
 * its inputs and their gradients. */
#include "common.h"

TestSuite(gradcheck, .init = quiet, .fini = end_step);

static nb_tensor *f_mix(nb_tensor *const *in, int n, void *ctx)
{
    (void)n, (void)ctx;
    /* (a * b + exp(a)) / (b*b + 1) with b [3] broadcast over a [2,3] */
    return nb_div(nb_add(nb_mul(in[0], in[1]), nb_exp(in[0])), nb_add_scalar(nb_mul(in[1], in[1]), 1));
}

static nb_tensor *two_inputs(nb_generator *g, nb_tensor **in)
{
    in[0] = nb_requires_grad(nb_randn(g, NB_SHAPE(2, 3)), true);
    in[1] = nb_requires_grad(nb_randn(g, NB_SHAPE(3)), true);
    return in[0];
}

Test(gradcheck, passes_a_correct_graph_and_counts_elements)
{
    nb_generator g;
    nb_generator_seed(&g, 3);
    nb_tensor *in[2];
    two_inputs(&g, in);
    nb_real before = in[0]->data[4];
    nb_gradcheck_result r = nb_gradcheck(f_mix, 2, in, NULL, NB_GRADCHECK_OPTS());
    cr_assert(r.ok, "%s", r.message);
    cr_assert_eq(r.checked, 9);
    cr_assert_eq(r.nonzero, 9);
    cr_assert_eq(in[0]->data[4], before, "inputs restored exactly");
    cr_assert(strstr(r.message, "gradcheck passed: 9 elements"), "%s", r.message);
    nb_free(in[0]), nb_free(in[1]);
}

Test(gradcheck, keeps_existing_gradients)
{
    nb_generator g;
    nb_generator_seed(&g, 4);
    nb_tensor *in[2];
    two_inputs(&g, in);
    nb_tensor *ones = nb_ones(NB_SHAPE(3));
    nb_backward_grad(nb_mul_scalar(in[1], 1), ones);
    nb_free(ones);
    cr_assert_float_eq(in[1]->grad[2], 1, TOL);
    nb_gradcheck_result r = nb_gradcheck(f_mix, 2, in, NULL, NB_GRADCHECK_OPTS());
    cr_assert(r.ok, "%s", r.message);
    cr_assert_float_eq(in[1]->grad[2], 1, TOL);
    cr_assert_eq(in[0]->grad[0], 0);
    nb_free(in[0]), nb_free(in[1]);
}

/* y = x^2 with a wrong backward (dx = x instead of 2x), and one whose backward
 * writes nothing: the checker must catch both. */
static void half_backward(nb_node *n)
{
    nb_real *g = nb_input_grad(n, 0);
    for (int64_t i = 0; g && i < n->out->numel; i++)
        g[i] += n->out->grad[i] * n->in[0]->data[i];
}
static void empty_backward(nb_node *n) { (void)n; }
static const nb_op wrong_square = {"wrong_square", half_backward};
static const nb_op silent_square = {"silent_square", empty_backward};

static nb_tensor *square_with(const nb_op *op, nb_tensor *x)
{
    nb_tensor *y = nb_op_output(x->ndim, x->shape);
    for (int64_t i = 0; i < x->numel; i++)
        y->data[i] = x->data[i] * x->data[i];
    nb_record(op, y, 1, &x);
    return y;
}
static nb_tensor *f_wrong(nb_tensor *const *in, int n, void *ctx)
{
    (void)n, (void)ctx;
    return square_with(&wrong_square, in[0]);
}
static nb_tensor *f_silent(nb_tensor *const *in, int n, void *ctx)
{
    (void)n, (void)ctx;
    return square_with(&silent_square, in[0]);
}

Test(gradcheck, fails_a_wrong_backward_and_names_the_worst_element)
{
    nb_tensor *x = nb_requires_grad(nb_from_array((nb_real[]){0.5, -2, 1}, NB_SHAPE(3)), true);
    nb_gradcheck_result r = nb_gradcheck(f_wrong, 1, &x, NULL, NB_GRADCHECK_OPTS(.quiet = true));
    cr_assert_not(r.ok);
    cr_assert_eq(r.worst_input, 0);
    cr_assert_eq(r.worst_index, 1, "x = -2 has the largest error (|-2*w| vs |-4*w|)");
    cr_assert_float_eq(r.numeric / r.analytic, 2.0, 1e-6);
    cr_assert(strstr(r.message, "FAILED"), "%s", r.message);
    nb_free(x);
}

Test(gradcheck, fails_an_empty_backward)
{
    nb_tensor *x = nb_requires_grad(nb_from_array((nb_real[]){0.5, -2, 1}, NB_SHAPE(3)), true);
    nb_gradcheck_result r = nb_gradcheck(f_silent, 1, &x, NULL, NB_GRADCHECK_OPTS(.quiet = true));
    cr_assert_not(r.ok);
    cr_assert_eq(r.analytic, 0);
    cr_assert_neq(r.numeric, 0);
    nb_free(x);
}

Test(gradcheck, tolerances_are_honoured)
{
    /* with rtol 0.6 the factor-2 error of wrong_square passes: |a-n| = |n|/2 <= 0.6|n| */
    nb_tensor *x = nb_requires_grad(nb_from_array((nb_real[]){0.5, -2, 1}, NB_SHAPE(3)), true);
    nb_gradcheck_result r = nb_gradcheck(f_wrong, 1, &x, NULL, NB_GRADCHECK_OPTS(.rtol = 0.6, .quiet = true));
    cr_assert(r.ok, "%s", r.message);
    nb_free(x);
}

Test(gradcheck, needs_an_input_with_requires_grad)
{
    nb_tensor *x = nb_ones(NB_SHAPE(2));
    nb_gradcheck_result r = nb_gradcheck(f_wrong, 1, &x, NULL, NB_GRADCHECK_OPTS(.quiet = true));
    cr_assert_not(r.ok);
    cr_assert(strstr(r.message, "no input has requires_grad"), "%s", r.message);
    nb_free(x);
}
