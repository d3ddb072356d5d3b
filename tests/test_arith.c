/* tests/test_arith.c — add/sub/mul/div with broadcasting (same shape, rank-0,
 * row, column, size-1 dims, rank 4) worked out by hand, the broadcast error,
 * and the pointwise arithmetic (neg, pow, exp, log, sqrt, abs, clamp) with
 * their kink conventions; sin, cos and outer against PyTorch 1.13
 * (/usr/bin/python3); gradchecks of every op in the float64 build. */
#include "common.h"

TestSuite(arith, .init = quiet, .fini = end_step);

static nb_tensor *arr(const nb_real *v, int ndim, const int64_t *shape)
{
    return nb_from_array(v, ndim, shape);
}

typedef nb_tensor *(*binary_fn)(nb_tensor *, nb_tensor *);
static const binary_fn ops[4] = {nb_add, nb_sub, nb_mul, nb_div};

/* a op b for the four ops, against want[op][...] */
static void check_all(nb_tensor *a, nb_tensor *b, int ndim, const int64_t *shape, const double *want)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    for (int k = 0; k < 4; k++) {
        nb_tensor *y = ops[k](a, b);
        assert_shape(y, ndim, shape);
        assert_close_array(y->data, want + k * n, n, TOL);
    }
}

Test(arith, same_shape)
{
    nb_tensor *a = arr((nb_real[]){1, 2, 3, 4}, NB_SHAPE(2, 2));
    nb_tensor *b = arr((nb_real[]){2, 4, -1, 8}, NB_SHAPE(2, 2));
    check_all(a, b, 2, (int64_t[]){2, 2},
              (double[]){3, 6, 2, 12, -1, -2, 4, -4, 2, 8, -3, 32, 0.5, 0.5, -3, 0.5});
    nb_free(a), nb_free(b);
}

Test(arith, rank0_scalar_on_either_side)
{
    nb_tensor *a = arr((nb_real[]){1, 2, 3}, NB_SHAPE(3));
    nb_tensor *s = nb_scalar(2);
    check_all(a, s, 1, (int64_t[]){3}, (double[]){3, 4, 5, -1, 0, 1, 2, 4, 6, 0.5, 1, 1.5});
    check_all(s, a, 1, (int64_t[]){3}, (double[]){3, 4, 5, 1, 0, -1, 2, 4, 6, 2, 1, 2. / 3});
    nb_tensor *t = nb_scalar(8);
    nb_tensor *y = nb_div(t, s);
    assert_shape(y, 0, NULL);
    cr_assert_float_eq(nb_item(y), 4, TOL);
    nb_free(a), nb_free(s), nb_free(t);
}

Test(arith, row_against_matrix)
{
    /* [[1,2,3],[4,5,6]] op [10,20,30] */
    nb_tensor *a = arr((nb_real[]){1, 2, 3, 4, 5, 6}, NB_SHAPE(2, 3));
    nb_tensor *r = arr((nb_real[]){10, 20, 30}, NB_SHAPE(3));
    check_all(a, r, 2, (int64_t[]){2, 3},
              (double[]){11, 22, 33, 14, 25,  36,  -9,  -18, -27, -6,  -15,  -24,
                         10, 40, 90, 40, 100, 180, 0.1, 0.1, 0.1, 0.4, 0.25, 0.2});
    check_all(r, a, 2, (int64_t[]){2, 3}, (double[]){11, 22, 33, 14, 25,  36,  9,  18, 27, 6,   15, 24,
                                                     10, 40, 90, 40, 100, 180, 10, 10, 10, 2.5, 4,  5});
    nb_free(a), nb_free(r);
}

Test(arith, column_against_row_makes_a_matrix)
{
    /* [[1],[2]] op [[10,20,30]] -> [2,3] */
    nb_tensor *c = arr((nb_real[]){1, 2}, NB_SHAPE(2, 1));
    nb_tensor *r = arr((nb_real[]){10, 20, 30}, NB_SHAPE(1, 3));
    check_all(c, r, 2, (int64_t[]){2, 3},
              (double[]){11, 21, 31, 12, 22, 32, -9,  -19,  -29,     -8,  -18, -28,
                         10, 20, 30, 20, 40, 60, 0.1, 0.05, 1. / 30, 0.2, 0.1, 2. / 30});
    nb_free(c), nb_free(r);
}

Test(arith, size1_dims_and_rank4)
{
    /* a [2,1,2,1] = a[i,0,j,0] = 10 i + j; b [3,1,2] = b[k,0,l] = k + 0.5 l
     * -> [2,3,2,2]: (a+b)[i,k,j,l] = 10 i + j + k + 0.5 l */
    nb_tensor *a = arr((nb_real[]){0, 1, 10, 11}, NB_SHAPE(2, 1, 2, 1));
    nb_tensor *b = arr((nb_real[]){0, 0.5, 1, 1.5, 2, 2.5}, NB_SHAPE(3, 1, 2));
    nb_tensor *y = nb_add(a, b), *z = nb_mul(a, b);
    assert_shape(y, 4, (int64_t[]){2, 3, 2, 2});
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < 2; j++)
                for (int l = 0; l < 2; l++) {
                    int64_t at = ((i * 3 + k) * 2 + j) * 2 + l;
                    double av = 10 * i + j, bv = k + 0.5 * l;
                    cr_assert_float_eq(y->data[at], av + bv, TOL);
                    cr_assert_float_eq(z->data[at], av * bv, TOL * 20);
                }
    /* [1] against [2,3]: a size-1 dim broadcasts like a scalar but keeps rank 2 */
    nb_tensor *one = arr((nb_real[]){5}, NB_SHAPE(1));
    nb_tensor *m = arr((nb_real[]){1, 2, 3, 4, 5, 6}, NB_SHAPE(2, 3));
    nb_tensor *d = nb_sub(one, m);
    assert_shape(d, 2, (int64_t[]){2, 3});
    assert_close_array(d->data, (double[]){4, 3, 2, 1, 0, -1}, 6, TOL);
    nb_free(a), nb_free(b), nb_free(one), nb_free(m);
}

Test(arith, broadcast_error)
{
    nb_tensor *a = nb_zeros(NB_SHAPE(2, 3)), *b = nb_zeros(NB_SHAPE(4));
    cr_assert_null(nb_add(a, b));
    assert_error(NB_ERR_SHAPE, "add: [2,3] and [4]: shapes cannot be broadcast (dim -1: 3 vs 4)");
    nb_clear_error();
    nb_tensor *c = nb_zeros(NB_SHAPE(3, 1, 2)), *d = nb_zeros(NB_SHAPE(4, 2, 2));
    cr_assert_null(nb_mul(c, d));
    assert_error(NB_ERR_SHAPE, "mul: [3,1,2] and [4,2,2]: shapes cannot be broadcast (dim -3: 3 vs 4)");
    nb_clear_error();
    cr_assert_null(nb_div(a, NULL));
    assert_error(NB_ERR_NULL, "div: argument 2 is NULL");
    nb_clear_error();
    nb_free(a), nb_free(b), nb_free(c), nb_free(d);
}

Test(arith, broadcast_backward_sums_by_hand)
{
    /* y = a * r, a [2,3], r [3], dy = ones: dr[j] = sum_i a[i,j] = [5,7,9]; da = r */
    nb_tensor *a = nb_requires_grad(arr((nb_real[]){1, 2, 3, 4, 5, 6}, NB_SHAPE(2, 3)), true);
    nb_tensor *r = nb_requires_grad(arr((nb_real[]){10, 20, 30}, NB_SHAPE(3)), true);
    nb_tensor *g = nb_ones(NB_SHAPE(2, 3));
    cr_assert_eq(nb_backward_grad(nb_mul(a, r), g), 0);
    assert_close_array(r->grad, (double[]){5, 7, 9}, 3, TOL);
    assert_close_array(a->grad, (double[]){10, 20, 30, 10, 20, 30}, 6, TOL);
    nb_free(a), nb_free(r), nb_free(g);
}

Test(arith, pointwise_forward_by_hand)
{
    nb_tensor *x = arr((nb_real[]){-2, -0.5, 0, 1, 4}, NB_SHAPE(5));
    assert_close_array(nb_neg(x)->data, (double[]){2, 0.5, 0, -1, -4}, 5, TOL);
    assert_close_array(nb_abs(x)->data, (double[]){2, 0.5, 0, 1, 4}, 5, TOL);
    assert_close_array(nb_pow(x, 2)->data, (double[]){4, 0.25, 0, 1, 16}, 5, TOL);
    assert_close_array(nb_pow(x, 3)->data, (double[]){-8, -0.125, 0, 1, 64}, 5, TOL);
    assert_close_array(nb_pow(x, 0)->data, (double[]){1, 1, 1, 1, 1}, 5, TOL);
    assert_close_array(nb_clamp(x, -1, 1)->data, (double[]){-1, -0.5, 0, 1, 1}, 5, TOL);
    assert_close_array(nb_clamp(x, 0, INFINITY)->data, (double[]){0, 0, 0, 1, 4}, 5, TOL);
    assert_close_array(nb_add_scalar(x, 1.5)->data, (double[]){-0.5, 1, 1.5, 2.5, 5.5}, 5, TOL);
    assert_close_array(nb_mul_scalar(x, -2)->data, (double[]){4, 1, 0, -2, -8}, 5, TOL);
    nb_tensor *p = arr((nb_real[]){0.25, 1, 4, 9}, NB_SHAPE(4));
    assert_close_array(nb_sqrt(p)->data, (double[]){0.5, 1, 2, 3}, 4, TOL);
    assert_close_array(nb_pow(p, 0.5)->data, (double[]){0.5, 1, 2, 3}, 4, TOL);
    assert_close_array(nb_pow(p, -1)->data, (double[]){4, 1, 0.25, 1. / 9}, 4, TOL);
    assert_close_array(nb_log(p)->data,
                       (double[]){-1.3862943611198906, 0, 1.3862943611198906, 2.1972245773362196}, 4, TOL);
    assert_close_array(
        nb_exp(x)->data,
        (double[]){0.1353352832366127, 0.6065306597126334, 1, 2.718281828459045, 54.598150033144236}, 5, TOL);
    nb_tensor *zero = nb_scalar(0);
    cr_assert(isinf(nb_item(nb_log(zero))) && nb_item(nb_log(zero)) < 0);
    nb_free(x), nb_free(p), nb_free(zero);
}

Test(arith, kink_conventions)
{
    /* abs'(0) = 0; clamp passes the gradient at x == lo and x == hi (PyTorch) */
    nb_tensor *x = nb_requires_grad(arr((nb_real[]){-1, 0, 1}, NB_SHAPE(3)), true);
    nb_tensor *g = nb_ones(NB_SHAPE(3));
    nb_backward_grad(nb_abs(x), g);
    assert_close_array(x->grad, (double[]){-1, 0, 1}, 3, 0);
    nb_zero_grad(x);
    nb_backward_grad(nb_clamp(x, -1, 1), g);
    assert_close_array(x->grad, (double[]){1, 1, 1}, 3, 0);
    nb_zero_grad(x);
    nb_backward_grad(nb_clamp(x, -0.5, 0.5), g);
    assert_close_array(x->grad, (double[]){0, 1, 0}, 3, 0);
    nb_zero_grad(x);
    nb_backward_grad(nb_pow(x, 0), g); /* d/dx x^0 = 0, even at 0 */
    assert_close_array(x->grad, (double[]){0, 0, 0}, 3, 0);
    cr_assert_null(nb_clamp(x, 1, -1));
    assert_error(NB_ERR_ARG, "clamp: min 1 is greater than max -1");
    nb_clear_error();
    nb_free(x), nb_free(g);
}

Test(arith, sin_cos_as_torch)
{
    /* t=torch.tensor([0.,1.,-2.5,100.],dtype=torch.float64); torch.sin(t); torch.cos(t) */
    nb_tensor *t = arr((nb_real[]){0, 1, -2.5, 100}, NB_SHAPE(4));
    assert_close_array(nb_sin(t)->data,
                       (double[]){0.0, 0.8414709848078965, -0.5984721441039564, -0.5063656411097588}, 4, TOL);
    assert_close_array(nb_cos(t)->data,
                       (double[]){1.0, 0.5403023058681398, -0.8011436155469337, 0.8623188722876839}, 4, TOL);
    /* the sinusoid activation is the same function */
    nb_tensor *a = nb_sinusoid(t), *b = nb_sin(t);
    cr_assert(memcmp(a->data, b->data, 4 * sizeof(nb_real)) == 0);
    nb_free(t);
}

Test(arith, outer_as_torch_and_its_error)
{
    /* torch.outer(torch.tensor([1.,2.,3.]), torch.tensor([-1.,0.5])) */
    nb_tensor *a = arr((nb_real[]){1, 2, 3}, NB_SHAPE(3)), *b = arr((nb_real[]){-1, 0.5}, NB_SHAPE(2));
    nb_tensor *y = nb_outer(a, b);
    assert_shape(y, 2, (int64_t[]){3, 2});
    assert_close_array(y->data, (double[]){-1.0, 0.5, -2.0, 1.0, -3.0, 1.5}, 6, 0);
    nb_tensor *m = nb_zeros(NB_SHAPE(2, 3));
    cr_assert_null(nb_outer(m, b));
    assert_error(NB_ERR_SHAPE, "outer: input [2,3] and vec2 [2]: both must be 1-D");
    nb_free(a), nb_free(b), nb_free(m);
}

#ifdef NABLA_F64
static void check(nb_gradcheck_fn f, int n, nb_tensor *const *in, void *ctx)
{
    nb_gradcheck_result r = nb_gradcheck(f, n, in, ctx, NB_GRADCHECK_OPTS());
    cr_assert(r.ok, "%s", r.message);
    cr_assert_gt(r.nonzero, 0);
}

static nb_tensor *f_binary(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    return ops[*(const int *)ctx](in[0], in[1]);
}

/* Values in ±[0.5, 1.5]: away from 0 so that div is smooth. */
static nb_tensor *away(nb_generator *g, int ndim, const int64_t *shape)
{
    nb_tensor *t = nb_rand(g, ndim, shape);
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = (nb_real)((t->data[i] + 0.5) * (i % 2 ? -1 : 1));
    return nb_requires_grad(t, true);
}

Test(arith, gradcheck_every_op_and_broadcast)
{
    nb_generator g;
    nb_generator_seed(&g, 12);
    const int64_t shapes[][2][5] = {
        /* {rank, dims...} of a and of b */
        {{2, 2, 3}, {2, 2, 3}},
        {{2, 2, 3}, {0}},                /* rank-0 b */
        {{0}, {2, 2, 3}},                /* rank-0 a */
        {{2, 2, 3}, {1, 3}},             /* row over dim 0 */
        {{2, 2, 3}, {2, 2, 1}},          /* column over dim 1 */
        {{2, 2, 1}, {2, 1, 3}},          /* both broadcast */
        {{3, 1, 3, 1}, {3, 2, 1, 4}},    /* size-1 dims on both sides */
        {{4, 2, 1, 3, 1}, {3, 4, 1, 2}}, /* rank 4 against rank 3 */
        {{1, 1}, {2, 3, 4}},             /* [1] against a matrix */
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        nb_tensor *in[2];
        for (int k = 0; k < 2; k++)
            in[k] = away(&g, (int)shapes[s][k][0], shapes[s][k] + 1);
        for (int op = 0; op < 4; op++) {
            nb_gradcheck_result r = nb_gradcheck(f_binary, 2, in, (void *)&op, NB_GRADCHECK_OPTS());
            cr_assert(r.ok, "shape case %zu op %d: %s", s, op, r.message);
            cr_assert_gt(r.nonzero, 0);
        }
        nb_free(in[0]), nb_free(in[1]);
    }
}

static nb_tensor *f_same_twice(nb_tensor *const *in, int n, void *ctx)
{
    (void)n, (void)ctx;
    return nb_div(nb_mul(in[0], in[0]), nb_add_scalar(nb_abs(in[0]), 1));
}

Test(arith, gradcheck_one_input_used_on_both_sides)
{
    nb_generator g;
    nb_generator_seed(&g, 13);
    nb_tensor *x = away(&g, NB_SHAPE(2, 3));
    check(f_same_twice, 1, &x, NULL);
    nb_free(x);
}

typedef struct pw {
    int which;
    nb_real p0, p1;
} pw;

static nb_tensor *f_pointwise(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    const pw *c = ctx;
    nb_tensor *x = in[0];
    switch (c->which) {
    case 0: return nb_neg(x);
    case 1: return nb_pow(x, c->p0);
    case 2: return nb_exp(x);
    case 3: return nb_log(nb_abs(x));
    case 4: return nb_sqrt(nb_abs(x));
    case 5: return nb_abs(x);
    case 6: return nb_clamp(x, c->p0, c->p1);
    case 7: return nb_add_scalar(x, c->p0);
    case 8: return nb_mul_scalar(x, c->p0);
    case 9: return nb_sin(x);
    case 10: return nb_cos(x);
    default: return nb_outer(nb_flatten(x, 0, -1), nb_sin(nb_flatten(x, 0, -1)));
    }
}

Test(arith, gradcheck_pointwise)
{
    nb_generator g;
    nb_generator_seed(&g, 14);
    nb_tensor *x = away(&g, NB_SHAPE(3, 4)); /* no element within 0.5 of the kinks */
    nb_tensor *pos = away(&g, NB_SHAPE(3, 4));
    for (int64_t i = 0; i < pos->numel; i++)
        pos->data[i] = (nb_real)fabs((double)pos->data[i]);
    const pw cases[] = {{0, 0, 0},   {1, 2, 0},  {1, 3, 0}, {1, 0.5, 0}, {1, -1.5, 0},   {2, 0, 0},
                        {3, 0, 0},   {4, 0, 0},  {5, 0, 0}, {6, -1, 1},  {6, -0.9, 0.8}, {6, -INFINITY, 0.1},
                        {7, 2.5, 0}, {8, -3, 0}, {9, 0, 0}, {10, 0, 0},  {11, 0, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        /* x^0.5 and x^-1.5 need x > 0 */
        nb_tensor *in = cases[c].which == 1 && cases[c].p0 != (nb_real)(int)cases[c].p0 ? pos : x;
        nb_gradcheck_result r = nb_gradcheck(f_pointwise, 1, &in, (void *)&cases[c], NB_GRADCHECK_OPTS());
        cr_assert(r.ok, "case %zu: %s", c, r.message);
        cr_assert_gt(r.nonzero, 0, "case %zu", c);
    }
    nb_free(x), nb_free(pos);
}
#endif
