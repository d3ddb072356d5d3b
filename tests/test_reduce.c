/* tests/test_reduce.c — sum, mean, max, min (everything and along a dim,
 * keepdim, negative dims, rank-0), argmax: values worked out by hand or by a
 * naive double loop, NaN and tie conventions, determinism across thread counts,
 * errors, and gradchecks in the float64 build. */
#include <stdlib.h>
#include "common.h"

TestSuite(reduce, .init = quiet, .fini = end_step);

static nb_tensor *arr(const nb_real *v, int ndim, const int64_t *shape)
{
    return nb_from_array(v, ndim, shape);
}

/* x = [[1, 2, 3], [4, 5, 6]] */
static nb_tensor *x23(void) { return arr((nb_real[]){1, 2, 3, 4, 5, 6}, NB_SHAPE(2, 3)); }

Test(reduce, full_sum_and_mean_are_rank0)
{
    nb_tensor *x = x23();
    nb_tensor *s = nb_sum(x), *m = nb_mean(x);
    assert_shape(s, 0, NULL);
    assert_shape(m, 0, NULL);
    cr_assert_float_eq(nb_item(s), 21, TOL);
    cr_assert_float_eq(nb_item(m), 3.5, TOL);
    nb_free(x);
}

Test(reduce, rank0_input)
{
    nb_tensor *x = nb_scalar(-2.5);
    cr_assert_float_eq(nb_item(nb_sum(x)), -2.5, TOL);
    cr_assert_float_eq(nb_item(nb_max(x)), -2.5, TOL);
    nb_tensor *y = nb_sum_dim(x, 0, false);
    assert_shape(y, 0, NULL);
    cr_assert_float_eq(nb_item(y), -2.5, TOL);
    y = nb_max_dim(x, -1, true);
    assert_shape(y, 0, NULL);
    cr_assert_float_eq(nb_item(nb_argmax(x, 0, false)), 0, TOL);
    cr_assert_null(nb_sum_dim(x, 1, false));
    assert_error(NB_ERR_ARG, "sum_dim: dim 1 is out of range for shape []");
    nb_free(x);
}

Test(reduce, empty_sum_is_zero_and_empty_mean_is_nan)
{
    nb_tensor *x = nb_zeros(NB_SHAPE(0, 3));
    cr_assert_eq(nb_item(nb_sum(x)), 0);
    cr_assert(isnan(nb_item(nb_mean(x))));
    nb_tensor *s = nb_sum_dim(x, 0, false);
    assert_shape(s, 1, (int64_t[]){3});
    assert_close_array(s->data, (double[]){0, 0, 0}, 3, TOL);
    nb_tensor *m = nb_mean_dim(x, 0, true);
    assert_shape(m, 2, (int64_t[]){1, 3});
    cr_assert(isnan(m->data[0]) && isnan(m->data[2]));
    assert_shape(nb_sum_dim(x, 1, false), 1, (int64_t[]){0});
    nb_free(x);
}

Test(reduce, sum_and_mean_along_each_dim)
{
    nb_tensor *x = x23();
    nb_tensor *y = nb_sum_dim(x, 0, false);
    assert_shape(y, 1, (int64_t[]){3});
    assert_close_array(y->data, (double[]){5, 7, 9}, 3, TOL);
    y = nb_sum_dim(x, 1, true);
    assert_shape(y, 2, (int64_t[]){2, 1});
    assert_close_array(y->data, (double[]){6, 15}, 2, TOL);
    y = nb_sum_dim(x, -1, false);
    assert_shape(y, 1, (int64_t[]){2});
    assert_close_array(y->data, (double[]){6, 15}, 2, TOL);
    y = nb_mean_dim(x, -2, true);
    assert_shape(y, 2, (int64_t[]){1, 3});
    assert_close_array(y->data, (double[]){2.5, 3.5, 4.5}, 3, TOL);
    y = nb_mean_dim(x, 1, false);
    assert_close_array(y->data, (double[]){2, 5}, 2, TOL);
    nb_free(x);
}

Test(reduce, middle_dim_of_rank3)
{
    /* x[i][j][k] = 100 i + 10 j + k, shape [2,3,2]; sum over j: 300 i + 30 + 3 k */
    nb_real v[12];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 2; k++)
                v[i * 6 + j * 2 + k] = (nb_real)(100 * i + 10 * j + k);
    nb_tensor *x = arr(v, NB_SHAPE(2, 3, 2));
    nb_tensor *y = nb_sum_dim(x, 1, true);
    assert_shape(y, 3, (int64_t[]){2, 1, 2});
    assert_close_array(y->data, (double[]){30, 33, 330, 333}, 4, TOL);
    y = nb_max_dim(x, 1, false);
    assert_shape(y, 2, (int64_t[]){2, 2});
    assert_close_array(y->data, (double[]){20, 21, 120, 121}, 4, TOL);
    y = nb_min_dim(x, -3, false);
    assert_close_array(y->data, (double[]){0, 1, 10, 11, 20, 21}, 6, TOL);
    y = nb_argmax(x, 1, true);
    assert_shape(y, 3, (int64_t[]){2, 1, 2});
    assert_close_array(y->data, (double[]){2, 2, 2, 2}, 4, 0);
    nb_free(x);
}

Test(reduce, max_min_values_and_ties)
{
    nb_tensor *x = arr((nb_real[]){3, -1, 7, 7, 0, -1}, NB_SHAPE(2, 3));
    cr_assert_eq(nb_item(nb_max(x)), 7);
    cr_assert_eq(nb_item(nb_min(x)), -1);
    assert_close_array(nb_max_dim(x, 1, false)->data, (double[]){7, 7}, 2, 0);
    assert_close_array(nb_min_dim(x, 1, false)->data, (double[]){-1, -1}, 2, 0);
    assert_close_array(nb_max_dim(x, 0, false)->data, (double[]){7, 0, 7}, 3, 0);
    assert_close_array(nb_argmax(x, 1, false)->data, (double[]){2, 0}, 2, 0);
    assert_close_array(nb_argmax(x, 0, false)->data, (double[]){1, 1, 0}, 3, 0);
    nb_free(x);
}

Test(reduce, max_gradient_goes_to_the_first_extremum)
{
    /* ties: 7 at flat 2 and 3 (full max: first, flat 2); row maxima: [3,-1,7] -> 2,
     * [7,0,7] -> 0; column minima of [[3,-1,7],[7,-1,7]]: -1 at row 0 */
    nb_tensor *x = nb_requires_grad(arr((nb_real[]){3, -1, 7, 7, -1, 7}, NB_SHAPE(2, 3)), true);
    cr_assert_eq(nb_backward(nb_max(x)), 0);
    assert_close_array(x->grad, (double[]){0, 0, 1, 0, 0, 0}, 6, 0);
    nb_zero_grad(x);
    cr_assert_eq(nb_backward(nb_min(x)), 0);
    assert_close_array(x->grad, (double[]){0, 1, 0, 0, 0, 0}, 6, 0);
    nb_zero_grad(x);
    nb_tensor *w = arr((nb_real[]){10, 20}, NB_SHAPE(2));
    cr_assert_eq(nb_backward_grad(nb_max_dim(x, 1, false), w), 0);
    assert_close_array(x->grad, (double[]){0, 0, 10, 20, 0, 0}, 6, 0);
    nb_zero_grad(x);
    nb_tensor *w3 = arr((nb_real[]){1, 2, 3}, NB_SHAPE(1, 3));
    cr_assert_eq(nb_backward_grad(nb_min_dim(x, 0, true), w3), 0);
    assert_close_array(x->grad, (double[]){1, 2, 3, 0, 0, 0}, 6, 0);
    nb_free(x), nb_free(w), nb_free(w3);
}

Test(reduce, nan_propagates_and_is_the_arg_extremum)
{
    nb_tensor *x = arr((nb_real[]){1, NAN, 5, NAN, 2, 0}, NB_SHAPE(2, 3));
    cr_assert(isnan(nb_item(nb_max(x))));
    cr_assert(isnan(nb_item(nb_min(x))));
    nb_tensor *m = nb_max_dim(x, 1, false);
    cr_assert(isnan(m->data[0]) && isnan(m->data[1]));
    m = nb_min_dim(x, 0, false);
    cr_assert(isnan(m->data[0]) && isnan(m->data[1]));
    cr_assert_eq(m->data[2], 0);
    assert_close_array(nb_argmax(x, 1, false)->data, (double[]){1, 0}, 2, 0);
    assert_close_array(nb_argmax(x, 0, false)->data, (double[]){1, 0, 0}, 3, 0);
    nb_tensor *xg = nb_requires_grad(nb_keep(x), true);
    nb_backward(nb_max(xg));
    assert_close_array(xg->grad, (double[]){0, 1, 0, 0, 0, 0}, 6, 0);
    nb_free(x), nb_free(xg);
}

/* A naive reduction of x viewed as [outer, d, inner] over d, in double. */
static void naive(const nb_tensor *x, int64_t outer, int64_t d, int64_t inner, int kind, double *out)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double acc = kind == 0 ? 0 : x->data[o * d * inner + i];
            for (int64_t k = 0; k < d; k++) {
                double v = x->data[(o * d + k) * inner + i];
                acc = kind == 0 ? acc + v : kind == 1 ? (v > acc ? v : acc) : (v < acc ? v : acc);
            }
            out[o * inner + i] = acc;
        }
}

/* Large and odd sizes: blocks of a long row, column tiles, tails. */
Test(reduce, large_shapes_match_a_naive_loop)
{
    nb_generator g;
    nb_generator_seed(&g, 11);
    const int64_t shapes[][3] = {{1, 10007, 1}, {3, 9001, 1}, {5, 7, 600},
                                 {2, 33, 257},  {129, 17, 1}, {4, 1, 3}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t o = shapes[s][0], d = shapes[s][1], in = shapes[s][2];
        nb_tensor *x = nb_randn(&g, NB_SHAPE(o, d, in));
        double *want = malloc((size_t)(o * in) * sizeof *want);
        for (int kind = 0; kind < 3; kind++) {
            naive(x, o, d, in, kind, want);
            nb_tensor *y = kind == 0   ? nb_sum_dim(x, 1, false)
                           : kind == 1 ? nb_max_dim(x, 1, false)
                                       : nb_min_dim(x, 1, false);
            assert_shape(y, 2, (int64_t[]){o, in});
            assert_close_array(y->data, want, o * in, kind == 0 ? TOL * 10 : 0);
        }
        double total = 0;
        for (int64_t i = 0; i < x->numel; i++)
            total += x->data[i];
        cr_assert(fabs((double)nb_item(nb_sum(x)) - total) <= TOL * (1 + fabs(total)), "sum %g vs %g",
                  (double)nb_item(nb_sum(x)), total);
        cr_assert(fabs((double)nb_item(nb_mean(x)) - total / (double)x->numel) <= TOL);
        free(want);
        nb_free(x);
        nb_step_end();
    }
}

/* The position of the first maximum across a block boundary (4096) and in a
 * long row where the maximum is tied far apart. */
Test(reduce, arg_extremum_across_blocks)
{
    int64_t n = 20000;
    nb_tensor *x = nb_zeros(NB_SHAPE(n));
    x->data[9000] = 5;
    x->data[15000] = 5;
    x->data[4095] = -3;
    x->data[4096] = -3;
    cr_assert_eq(nb_item(nb_argmax(x, 0, false)), 9000);
    nb_tensor *xg = nb_requires_grad(nb_keep(x), true);
    nb_backward(nb_min(xg));
    cr_assert_eq(xg->grad[4095], 1);
    cr_assert_eq(xg->grad[4096], 0);
    /* a NaN after a larger value in a long row wins; in the next row, -0 and +0
     * tie as the maximum and the first one is taken */
    nb_tensor *r = nb_full(NB_SHAPE(2, 100), -1);
    r->data[10] = 9;
    r->data[57] = NAN;
    r->data[80] = NAN;
    r->data[100 + 3] = (nb_real)-0.0;
    r->data[100 + 5] = 0;
    assert_close_array(nb_argmax(r, 1, false)->data, (double[]){57, 3}, 2, 0);
    nb_tensor *m = nb_max_dim(r, 1, false);
    cr_assert(isnan(m->data[0]));
    cr_assert(m->data[1] == 0 && signbit(m->data[1]), "the first zero, -0, is the maximum");
    nb_free(x), nb_free(xg), nb_free(r);
}

Test(reduce, float32_sum_is_accurate)
{
    /* 2^24 + 1 ones do not sum exactly in a float accumulator; in double they do
     * (the result rounds to 2^24 in float32: compare the mean instead) */
    int64_t n = 3 * 1000 * 1000;
    nb_tensor *x = nb_full(NB_SHAPE(n), (nb_real)0.1);
    double want = (double)(nb_real)0.1 * (double)n;
    cr_assert(fabs((double)nb_item(nb_sum(x)) - want) <= 1e-6 * want, "%.9g vs %.9g",
              (double)nb_item(nb_sum(x)), want);
    nb_free(x);
}

Test(reduce, results_do_not_depend_on_thread_count)
{
    nb_generator g;
    nb_generator_seed(&g, 5);
    nb_tensor *x = nb_requires_grad(nb_randn(&g, NB_SHAPE(300, 700)), true);
    nb_real r[2][4];
    nb_real *cols[2], *gx[2];
    for (int t = 0; t < 2; t++) {
        nb_set_num_threads(t + 1);
        nb_zero_grad(x);
        r[t][0] = nb_item(nb_sum(x));
        r[t][1] = nb_item(nb_mean(x));
        nb_tensor *c = nb_sum_dim(x, 0, false);
        nb_tensor *rows = nb_mean_dim(x, 1, false);
        r[t][2] = nb_item(nb_sum(rows));
        r[t][3] = nb_item(nb_max(x));
        cols[t] = malloc(700 * sizeof(nb_real));
        memcpy(cols[t], c->data, 700 * sizeof(nb_real));
        nb_backward(nb_add(nb_sum(nb_mul(c, c)), nb_sum(rows)));
        gx[t] = malloc(300 * 700 * sizeof(nb_real));
        memcpy(gx[t], x->grad, 300 * 700 * sizeof(nb_real));
        nb_step_end();
    }
    nb_set_num_threads(0);
    cr_assert_eq(memcmp(r[0], r[1], sizeof r[0]), 0);
    cr_assert_eq(memcmp(cols[0], cols[1], 700 * sizeof(nb_real)), 0);
    cr_assert_eq(memcmp(gx[0], gx[1], 300 * 700 * sizeof(nb_real)), 0);
    for (int t = 0; t < 2; t++)
        free(cols[t]), free(gx[t]);
    nb_free(x);
}

Test(reduce, mean_backward_by_hand)
{
    /* mean over dim 1 of [2,3] with dy = [6, 12]: dx = [2,2,2,4,4,4] */
    nb_tensor *x = nb_requires_grad(x23(), true);
    nb_tensor *dy = arr((nb_real[]){6, 12}, NB_SHAPE(2));
    cr_assert_eq(nb_backward_grad(nb_mean_dim(x, 1, false), dy), 0);
    assert_close_array(x->grad, (double[]){2, 2, 2, 4, 4, 4}, 6, TOL);
    nb_zero_grad(x);
    nb_backward(nb_mean(x));
    assert_close_array(x->grad, (double[]){1. / 6, 1. / 6, 1. / 6, 1. / 6, 1. / 6, 1. / 6}, 6, TOL);
    nb_free(x), nb_free(dy);
}

Test(reduce, argmax_records_no_gradient)
{
    nb_tensor *x = nb_requires_grad(x23(), true);
    nb_tensor *a = nb_argmax(x, 1, false);
    cr_assert_not_null(a);
    cr_assert(!a->requires_grad);
    cr_assert_null(a->node);
    nb_free(x);
}

Test(reduce, errors)
{
    nb_tensor *x = x23();
    cr_assert_null(nb_sum_dim(x, 2, false));
    assert_error(NB_ERR_ARG, "sum_dim: dim 2 is out of range for shape [2,3]");
    nb_clear_error();
    cr_assert_null(nb_max_dim(x, -3, true));
    assert_error(NB_ERR_ARG, "max_dim: dim -3 is out of range for shape [2,3]");
    nb_clear_error();
    cr_assert_null(nb_argmax(x, 5, true));
    assert_error(NB_ERR_ARG, "argmax: dim 5");
    nb_clear_error();
    nb_tensor *e = nb_zeros(NB_SHAPE(2, 0));
    cr_assert_null(nb_max(e));
    assert_error(NB_ERR_SHAPE, "max: tensor of shape [2,0] is empty");
    nb_clear_error();
    cr_assert_null(nb_min_dim(e, 1, false));
    assert_error(NB_ERR_SHAPE, "min_dim: shape [2,0]: dim 1 has size 0");
    nb_clear_error();
    assert_shape(nb_max_dim(e, 0, false), 1, (int64_t[]){0});
    cr_assert_null(nb_sum(NULL));
    assert_error(NB_ERR_NULL, "sum: argument 1 is NULL");
    nb_clear_error();
    nb_free(x), nb_free(e);
}

#ifdef NABLA_F64
typedef struct red {
    int which; /* 0 sum 1 mean 2 max 3 min, +4: along dim */
    int dim;
    bool keepdim;
} red;

static nb_tensor *f_reduce(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    const red *r = ctx;
    nb_tensor *x = in[0];
    switch (r->which) {
    case 0: return nb_sum(x);
    case 1: return nb_mean(x);
    case 2: return nb_max(x);
    case 3: return nb_min(x);
    case 4: return nb_sum_dim(x, r->dim, r->keepdim);
    case 5: return nb_mean_dim(x, r->dim, r->keepdim);
    case 6: return nb_max_dim(x, r->dim, r->keepdim);
    default: return nb_min_dim(x, r->dim, r->keepdim);
    }
}

static void check(nb_tensor *x, red r)
{
    nb_gradcheck_result res = nb_gradcheck(f_reduce, 1, &x, &r, NB_GRADCHECK_OPTS());
    cr_assert(res.ok, "which %d dim %d keepdim %d: %s", r.which, r.dim, r.keepdim, res.message);
    cr_assert_gt(res.nonzero, 0);
}

/* Distinct values 0.1 apart (no ties within eps) in a shuffled order. */
static nb_tensor *distinct(int ndim, const int64_t *shape)
{
    nb_tensor *x = nb_empty(ndim, shape);
    for (int64_t i = 0; i < x->numel; i++)
        x->data[i] = (nb_real)(((i * 7919) % x->numel) * 0.1 - 1);
    return nb_requires_grad(x, true);
}

Test(reduce, gradcheck_full_reductions)
{
    nb_tensor *x = distinct(NB_SHAPE(3, 4, 2));
    nb_tensor *s = nb_requires_grad(nb_scalar(0.7), true);
    for (int w = 0; w < 4; w++) {
        check(x, (red){w, 0, false});
        check(s, (red){w, 0, false});
    }
    nb_free(x), nb_free(s);
}

Test(reduce, gradcheck_dim_reductions_every_dim_and_keepdim)
{
    nb_tensor *x = distinct(NB_SHAPE(3, 4, 5));
    for (int w = 4; w < 8; w++)
        for (int d = -3; d < 3; d++)
            for (int k = 0; k < 2; k++)
                check(x, (red){w, d, k});
    nb_tensor *s = nb_requires_grad(nb_scalar(-0.3), true);
    for (int w = 4; w < 8; w++)
        check(s, (red){w, -1, true});
    nb_free(x), nb_free(s);
}

Test(reduce, gradcheck_wide_columns)
{
    /* inner > the column tile: several tiles per slab */
    nb_tensor *x = distinct(NB_SHAPE(2, 3, 300));
    for (int w = 4; w < 8; w++)
        check(x, (red){w, 1, false});
    nb_free(x);
}
#endif
