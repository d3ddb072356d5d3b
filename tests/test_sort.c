/* tests/test_sort.c — sort, argsort and topk along dims against PyTorch
 * 1.13's values and indices (/usr/bin/python3; the line that made each in a
 * comment, with v = torch.tensor([[3.,1.,nan,1.,2.],[0.,-1.,5.,5.,-2.]]) and
 * w = torch.tensor([[3.,1.,7.,4.,2.],[0.,-1.,5.,6.,-2.]])): NaN and ties,
 * error messages, the same bits for 1 and 2 threads, gradchecks of the values
 * in the float64 build. */
#include "common.h"

TestSuite(sort, .init = quiet, .fini = end_step);

static nb_tensor *v25(void)
{
    return nb_from_array((nb_real[]){3, 1, NAN, 1, 2, 0, -1, 5, 5, -2}, NB_SHAPE(2, 5));
}
static nb_tensor *w25(void)
{
    return nb_from_array((nb_real[]){3, 1, 7, 4, 2, 0, -1, 5, 6, -2}, NB_SHAPE(2, 5));
}

/* got equals want, NaN matching NaN */
static void same(const nb_tensor *got, const double *want, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        cr_assert(isnan(want[i]) ? isnan(got->data[i]) : got->data[i] == want[i], "element %lld: %g, want %g",
                  (long long)i, (double)got->data[i], want[i]);
}

Test(sort, sort_nan_last_ties_stable_as_torch)
{
    nb_tensor *v = v25(), *idx;
    /* torch.sort(v, stable=True, dim=1) */
    nb_tensor *s = nb_sort(v, 1, false, &idx);
    same(s, (double[]){1, 1, 2, 3, NAN, -2, -1, 0, 5, 5}, 10);
    same(idx, (double[]){1, 3, 4, 0, 2, 4, 1, 0, 2, 3}, 10);
    /* torch.sort(v, stable=True, dim=1, descending=True) */
    s = nb_sort(v, -1, true, &idx);
    same(s, (double[]){NAN, 3, 2, 1, 1, 5, 5, 0, -1, -2}, 10);
    same(idx, (double[]){2, 0, 4, 1, 3, 2, 3, 0, 1, 4}, 10);
    /* torch.sort(v, 0) */
    s = nb_sort(v, 0, false, &idx);
    same(s, (double[]){0, -1, 5, 1, -2, 3, 1, NAN, 5, 2}, 10);
    same(idx, (double[]){1, 1, 1, 0, 1, 0, 0, 0, 1, 0}, 10);
    /* torch.argsort(v, dim=1, stable=True) */
    same(nb_argsort(v, 1, false), (double[]){1, 3, 4, 0, 2, 4, 1, 0, 2, 3}, 10);
    cr_assert_not_null(nb_sort(v, 1, false, NULL));
    nb_free(v);
}

Test(sort, topk_as_torch)
{
    nb_tensor *w = w25(), *idx;
    /* torch.topk(w, 2, 1) */
    nb_tensor *t = nb_topk(w, 2, 1, true, &idx);
    assert_shape(t, 2, (int64_t[]){2, 2});
    same(t, (double[]){7, 4, 6, 5}, 4);
    same(idx, (double[]){2, 3, 3, 2}, 4);
    /* torch.topk(w, 3, 1, largest=False) */
    t = nb_topk(w, 3, 1, false, &idx);
    same(t, (double[]){1, 2, 3, -2, -1, 0}, 6);
    same(idx, (double[]){1, 4, 0, 4, 1, 0}, 6);
    /* torch.topk(w, 1, 0) */
    t = nb_topk(w, 1, 0, true, &idx);
    assert_shape(t, 2, (int64_t[]){1, 5});
    same(t, (double[]){3, 1, 7, 6, 2}, 5);
    same(idx, (double[]){0, 0, 0, 1, 0}, 5);
    t = nb_topk(w, 0, 1, true, NULL); /* k = 0: empty, as PyTorch */
    assert_shape(t, 2, (int64_t[]){2, 0});
    nb_free(w);
}

Test(sort, errors_name_the_op_and_shapes)
{
    nb_tensor *w = w25(), *idx = w;
    cr_assert_null(nb_topk(w, 6, 1, true, &idx));
    cr_assert_null(idx, "indices are NULL on error");
    assert_error(NB_ERR_ARG, "topk: x [2,5]: k = 6 is out of range for dim 1 of size 5 (valid: 0..5)");
    cr_assert_null(nb_topk(w, -1, 1, true, NULL));
    assert_error(NB_ERR_ARG, "topk: x [2,5]: k = -1 is out of range");
    cr_assert_null(nb_sort(w, 2, false, NULL));
    assert_error(NB_ERR_ARG, "sort: dim 2 is out of range for shape [2,5]");
    cr_assert_null(nb_argsort(w, -3, false));
    assert_error(NB_ERR_ARG, "argsort: dim -3 is out of range");
    nb_free(w);
}

Test(sort, same_bits_for_one_and_two_threads)
{
    nb_generator g;
    nb_generator_seed(&g, 11);
    nb_tensor *x = nb_requires_grad(nb_randn(&g, NB_SHAPE(300, 200)), true);
    size_t bytes = (size_t)x->numel * sizeof(nb_real);
    nb_real *first[3] = {malloc(bytes), malloc(bytes), malloc(bytes)};
    for (int threads = 1; threads <= 2; threads++) {
        nb_set_num_threads(threads);
        nb_zero_grad(x);
        nb_tensor *idx, *s = nb_sort(x, 0, true, &idx);
        cr_assert_eq(nb_backward(nb_sum(nb_mul(s, nb_cumsum(s, 0)))), 0);
        nb_real *now[3] = {s->data, idx->data, x->grad};
        for (int k = 0; k < 3; k++)
            if (threads == 1)
                memcpy(first[k], now[k], bytes);
            else
                cr_assert(memcmp(first[k], now[k], bytes) == 0, "part %d", k);
        nb_step_end();
    }
    nb_set_num_threads(0);
    for (int k = 0; k < 3; k++)
        free(first[k]);
    nb_free(x);
}

#ifdef NABLA_F64
typedef struct which {
    int op, dim;
    bool flag;
} which;

static nb_tensor *f_sort(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    const which *w = ctx;
    return w->op == 0 ? nb_sort(in[0], w->dim, w->flag, NULL) : nb_topk(in[0], 2, w->dim, w->flag, NULL);
}

Test(sort, gradcheck_values_every_dim)
{
    nb_tensor *x = nb_empty(NB_SHAPE(3, 4, 2)); /* distinct values: no ties within eps */
    for (int64_t i = 0; i < x->numel; i++)
        x->data[i] = (nb_real)(((i * 7919) % x->numel) * 0.1 - 1);
    nb_requires_grad(x, true);
    for (int op = 0; op < 2; op++)
        for (int dim = -3; dim < 3; dim++)
            for (int flag = 0; flag < 2; flag++) {
                which w = {op, dim, flag};
                nb_gradcheck_result r = nb_gradcheck(f_sort, 1, &x, &w, NB_GRADCHECK_OPTS());
                cr_assert(r.ok && r.nonzero > 0, "op %d dim %d flag %d: %s", op, dim, flag, r.message);
                nb_step_end();
            }
    nb_free(x);
}
#endif
