/* tests/test_reduce_stat.c — var, std (correction), logsumexp, norm (p = 2,
 * 1, inf, 3; torch.norm and torch.linalg.vector_norm agree) and cumsum, over everything and along dims, against PyTorch
 * 1.13's values (/usr/bin/python3; the line that made each in a comment, with
 * x = torch.tensor([[1.,2.,4.],[-3.,0.5,7.]], dtype=torch.float64)); the
 * gradients PyTorch defines at the edges (zero norm, tied inf-norm maxima, a
 * constant std); error messages; the same bits for 1 and 2 threads; gradchecks
 * in the float64 build. */
#include "common.h"

TestSuite(reduce_stat, .init = quiet, .fini = end_step);

static nb_tensor *x23(void) { return nb_from_array((nb_real[]){1, 2, 4, -3, 0.5, 7}, NB_SHAPE(2, 3)); }

Test(reduce_stat, var_and_std_with_correction_as_torch)
{
    nb_tensor *x = x23();
    /* torch.var(x) */
    cr_assert_float_eq(nb_item(nb_var(x, 1)), 11.441666666666666, TOL * 12);
    /* torch.var(x, None, correction=0) */
    cr_assert_float_eq(nb_item(nb_var(x, 0)), 9.534722222222221, TOL * 10);
    /* torch.var(x, 0) */
    assert_close_array(nb_var_dim(x, 0, 1, false)->data, (double[]){8.0, 1.125, 4.5}, 3, TOL);
    /* torch.var(x, 1, keepdim=True) -> [2,1] */
    nb_tensor *v = nb_var_dim(x, -1, 1, true);
    assert_shape(v, 2, (int64_t[]){2, 1});
    assert_close_array(v->data, (double[]){2.333333333333333, 25.75}, 2, TOL);
    /* torch.std(x, 1, correction=0); torch.std(x) */
    assert_close_array(nb_std_dim(x, 1, 0, false)->data, (double[]){1.247219128924647, 4.143267631552018}, 2,
                       TOL);
    cr_assert_float_eq(nb_item(nb_std(x, 1)), 3.382553276249565, TOL * 4);
    nb_free(x);
}

Test(reduce_stat, var_without_degrees_of_freedom_is_nan_or_inf)
{
    /* torch.var(torch.tensor([3.])) -> nan; torch.var(torch.tensor([1.,2.]), None, correction=3) -> inf */
    nb_tensor *one = nb_from_array((nb_real[]){3}, NB_SHAPE(1));
    nb_tensor *two = nb_from_array((nb_real[]){1, 2}, NB_SHAPE(2));
    cr_assert(isnan(nb_item(nb_var(one, 1))));
    cr_assert(isinf(nb_item(nb_var(two, 3))));
    nb_free(one), nb_free(two);
}

Test(reduce_stat, logsumexp_as_torch_without_overflow)
{
    nb_tensor *x = x23();
    /* torch.logsumexp(x, 1); torch.logsumexp(x, 0) */
    assert_close_array(nb_logsumexp(x, 1, false)->data, (double[]){4.169846019556286, 7.001547640908494}, 2,
                       TOL);
    assert_close_array(nb_logsumexp(x, 0, true)->data,
                       (double[]){1.0181499279178097, 2.2014132779827524, 7.048587351573742}, 3, TOL);
    /* torch.logsumexp(torch.tensor([1000.,1000.,-inf]), 0) -> 1000.6931471805599 */
    nb_tensor *big = nb_from_array((nb_real[]){1000, 1000, -INFINITY}, NB_SHAPE(3));
    cr_assert_float_eq(nb_item(nb_logsumexp(big, 0, false)), 1000.6931471805599, 1000 * TOL);
    /* all -inf -> -inf; +inf present -> inf */
    nb_tensor *ninf = nb_from_array((nb_real[]){-INFINITY, -INFINITY}, NB_SHAPE(2));
    nb_tensor *pinf = nb_from_array((nb_real[]){INFINITY, 1}, NB_SHAPE(2));
    cr_assert(isinf(nb_item(nb_logsumexp(ninf, 0, false))) && nb_item(nb_logsumexp(ninf, 0, false)) < 0);
    cr_assert(isinf(nb_item(nb_logsumexp(pinf, 0, false))) && nb_item(nb_logsumexp(pinf, 0, false)) > 0);
    nb_free(x), nb_free(big), nb_free(ninf), nb_free(pinf);
}

Test(reduce_stat, norms_as_torch)
{
    nb_tensor *x = x23();
    /* torch.norm(x), torch.norm(x,1), torch.norm(x,float('inf')), torch.norm(x,3) */
    cr_assert_float_eq(nb_item(nb_vector_norm(x, 2)), 8.902246907382429, TOL * 9);
    cr_assert_float_eq(nb_item(nb_vector_norm(x, 1)), 17.5, TOL * 18);
    cr_assert_float_eq(nb_item(nb_vector_norm(x, INFINITY)), 7.0, TOL * 7);
    cr_assert_float_eq(nb_item(nb_vector_norm(x, 3)), 7.623868863831403, TOL * 8);
    /* torch.linalg.vector_norm(x, 0.5) */
    cr_assert_float_eq(nb_item(nb_vector_norm(x, 0.5)), 90.2333275517417, TOL * 91);
    /* torch.norm(x,2,1); torch.norm(x,1,0,True); torch.norm(x,float('inf'),1) */
    assert_close_array(nb_vector_norm_dim(x, 2, 1, false)->data,
                       (double[]){4.58257569495584, 7.632168761236874}, 2, TOL);
    nb_tensor *n1 = nb_vector_norm_dim(x, 1, 0, true);
    assert_shape(n1, 2, (int64_t[]){1, 3});
    assert_close_array(n1->data, (double[]){4.0, 2.5, 11.0}, 3, TOL);
    assert_close_array(nb_vector_norm_dim(x, INFINITY, 1, false)->data, (double[]){4.0, 7.0}, 2, TOL);
    nb_free(x);
}

static void grad_of(nb_tensor *(*f)(nb_tensor *), const nb_real *v, int64_t n, const double *want)
{
    nb_tensor *t = nb_requires_grad(nb_from_array(v, NB_SHAPE(n)), true);
    cr_assert_eq(nb_backward(f(t)), 0);
    assert_close_array(t->grad, want, n, TOL);
    nb_free(t);
}
static nb_tensor *norm2(nb_tensor *t) { return nb_vector_norm(t, 2); }
static nb_tensor *norm3(nb_tensor *t) { return nb_vector_norm(t, 3); }
static nb_tensor *norm1(nb_tensor *t) { return nb_vector_norm(t, 1); }
static nb_tensor *norminf(nb_tensor *t) { return nb_vector_norm(t, INFINITY); }
static nb_tensor *std1(nb_tensor *t) { return nb_std(t, 1); }
static nb_tensor *norm_half(nb_tensor *t) { return nb_vector_norm(t, 0.5); }

Test(reduce_stat, gradients_at_the_edges_as_torch)
{
    /* z=torch.zeros(3,requires_grad=True); torch.norm(z).backward() -> [0,0,0] (and p=3) */
    grad_of(norm2, (nb_real[]){0, 0, 0}, 3, (double[]){0, 0, 0});
    grad_of(norm3, (nb_real[]){0, 0, 0}, 3, (double[]){0, 0, 0});
    /* t=torch.tensor([3.,-3.,1.]); torch.norm(t,float('inf')).backward() -> [0.5,-0.5,0] */
    grad_of(norminf, (nb_real[]){3, -3, 1}, 3, (double[]){0.5, -0.5, 0});
    /* t=torch.tensor([1.,0.,-2.]); torch.norm(t,1).backward() -> [1,0,-1] */
    grad_of(norm1, (nb_real[]){1, 0, -2}, 3, (double[]){1, 0, -1});
    /* t=torch.tensor([0.,2.,-1.]); torch.linalg.vector_norm(t,0.5).backward() -> [0,1.7071...,-2.4142...] */
    grad_of(norm_half, (nb_real[]){0, 2, -1}, 3, (double[]){0.0, 1.7071067811865472, -2.414213562373095});
    /* t=torch.tensor([2.,2.]); torch.std(t).backward() -> [0,0] */
    grad_of(std1, (nb_real[]){2, 2}, 2, (double[]){0, 0});
}

Test(reduce_stat, cumsum_as_torch)
{
    nb_tensor *x = x23();
    /* torch.cumsum(x,1); torch.cumsum(x,0) */
    assert_close_array(nb_cumsum(x, 1)->data, (double[]){1.0, 3.0, 7.0, -3.0, -2.5, 4.5}, 6, TOL);
    assert_close_array(nb_cumsum(x, -2)->data, (double[]){1.0, 2.0, 4.0, -2.0, 2.5, 11.0}, 6, TOL);
    nb_tensor *s = nb_scalar(5); /* rank 0: itself, as torch.cumsum(torch.tensor(5.), 0) */
    nb_tensor *c = nb_cumsum(s, 0);
    assert_shape(c, 0, NULL);
    cr_assert_float_eq(nb_item(c), 5, 0);
    nb_free(x), nb_free(s);
}

Test(reduce_stat, errors_name_the_op_and_shapes)
{
    nb_tensor *x = x23(), *e = nb_zeros(NB_SHAPE(0));
    cr_assert_null(nb_var_dim(x, 2, 1, false));
    assert_error(NB_ERR_ARG, "var: dim 2 is out of range for shape [2,3] (expected -2..1)");
    cr_assert_null(nb_vector_norm(x, -1));
    assert_error(NB_ERR_ARG, "vector_norm: x [2,3]: ord = -1 is not supported (ord > 0, or INFINITY)");
    cr_assert_null(nb_vector_norm(e, INFINITY));
    assert_error(NB_ERR_SHAPE, "vector_norm: x [0]: the inf-norm (a maximum) of no elements is undefined");
    cr_assert_null(nb_std(x, NAN));
    assert_error(NB_ERR_ARG, "std: x [2,3]: correction nan is not a finite number");
    cr_assert_null(nb_logsumexp(x, -3, false));
    assert_error(NB_ERR_ARG, "logsumexp: dim -3 is out of range");
    cr_assert_null(nb_cumsum(x, 5));
    assert_error(NB_ERR_ARG, "cumsum: dim 5 is out of range");
    nb_free(x), nb_free(e);
}

/* Each op's forward and backward over [64, 3000] (enough to be split), with
 * 1 and then 2 threads: the same bits. */
Test(reduce_stat, same_bits_for_one_and_two_threads)
{
    nb_generator g;
    nb_generator_seed(&g, 3);
    nb_tensor *x = nb_requires_grad(nb_randn(&g, NB_SHAPE(64, 3000)), true);
    nb_real *first[12];
    for (int threads = 1; threads <= 2; threads++) {
        nb_set_num_threads(threads);
        for (int k = 0; k < 6; k++) {
            nb_zero_grad(x);
            int dim = k % 2;
            nb_tensor *y = k < 2   ? nb_var_dim(x, dim, 1, false)
                           : k < 4 ? nb_logsumexp(x, dim, false)
                                   : nb_vector_norm_dim(x, k == 4 ? 2 : 3, dim, false);
            cr_assert_eq(nb_backward(nb_sum(nb_mul(y, y))), 0);
            size_t bytes = (size_t)x->numel * sizeof(nb_real);
            if (threads == 1) {
                first[2 * k] = malloc((size_t)y->numel * sizeof(nb_real));
                first[2 * k + 1] = malloc(bytes);
                memcpy(first[2 * k], y->data, (size_t)y->numel * sizeof(nb_real));
                memcpy(first[2 * k + 1], x->grad, bytes);
            } else {
                cr_assert(memcmp(first[2 * k], y->data, (size_t)y->numel * sizeof(nb_real)) == 0, "op %d", k);
                cr_assert(memcmp(first[2 * k + 1], x->grad, bytes) == 0, "op %d gradient", k);
            }
            nb_step_end();
        }
    }
    for (int i = 0; i < 12; i++)
        free(first[i]);
    nb_zero_grad(x);
    nb_set_num_threads(0);
    nb_free(x);
}

#ifdef NABLA_F64
typedef struct which {
    int op, dim;
    bool keepdim, all;
    double arg;
} which;

static nb_tensor *f_stat(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    const which *w = ctx;
    nb_tensor *x = in[0];
    switch (w->op) {
    case 0: return w->all ? nb_var(x, w->arg) : nb_var_dim(x, w->dim, w->arg, w->keepdim);
    case 1: return w->all ? nb_std(x, w->arg) : nb_std_dim(x, w->dim, w->arg, w->keepdim);
    case 2: return nb_logsumexp(x, w->dim, w->keepdim);
    case 3: return w->all ? nb_vector_norm(x, w->arg) : nb_vector_norm_dim(x, w->arg, w->dim, w->keepdim);
    default: return nb_cumsum(x, w->dim);
    }
}

Test(reduce_stat, gradcheck_every_op_every_dim)
{
    nb_tensor *x = nb_empty(NB_SHAPE(3, 4, 3)); /* distinct magnitudes: no ties for the inf-norm */
    for (int64_t i = 0; i < x->numel; i++)
        x->data[i] = (nb_real)((((i * 7919) % x->numel) * 0.1 + 0.05) * (i % 3 ? 1 : -1));
    nb_requires_grad(x, true);
    const double args[5][5] = {
        {1, 0, 2}, {1, 0, 2}, {0}, {2, 1, INFINITY, 3, 0.5}, {0}}; /* corrections, ord */
    const int nargs[5] = {3, 3, 1, 5, 1};
    for (int op = 0; op < 5; op++)
        for (int a = 0; a < nargs[op]; a++)
            for (int dim = -3; dim < 3; dim++)
                for (int k = 0; k < 3; k++) { /* along dim, with keepdim, over everything */
                    which w = {op, dim, k == 1, k == 2, args[op][a]};
                    if (w.all && (op == 2 || op == 4))
                        continue;
                    nb_gradcheck_result r = nb_gradcheck(f_stat, 1, &x, &w, NB_GRADCHECK_OPTS());
                    cr_assert(r.ok, "op %d arg %g dim %d keepdim %d all %d: %s", op, w.arg, dim, w.keepdim,
                              w.all, r.message);
                    cr_assert_gt(r.nonzero, 0);
                    nb_step_end();
                }
    nb_free(x);
}
#endif
