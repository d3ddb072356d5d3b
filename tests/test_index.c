/* tests/test_index.c — index_select, index_add and scatter_add along each dim
 * against PyTorch 1.13's values (/usr/bin/python3; the line that made each in
 * a comment, with x = torch.tensor([[1.,2.,4.],[-3.,0.5,7.]]) and
 * src = torch.tensor([[10.,20.,30.],[40.,50.,60.]])), repeated indices, error
 * messages, the same bits for 1 and 2 threads, gradchecks in the float64 build. */
#include "common.h"

TestSuite(index, .init = quiet, .fini = end_step);

static nb_tensor *arr(const nb_real *v, int ndim, const int64_t *shape)
{
    return nb_from_array(v, ndim, shape);
}
static nb_tensor *x23(void) { return arr((nb_real[]){1, 2, 4, -3, 0.5, 7}, NB_SHAPE(2, 3)); }
static nb_tensor *src23(void) { return arr((nb_real[]){10, 20, 30, 40, 50, 60}, NB_SHAPE(2, 3)); }

Test(index, index_select_as_torch)
{
    nb_tensor *x = x23(), *i = arr((nb_real[]){2, 0, 2}, NB_SHAPE(3)),
              *j = arr((nb_real[]){1, 1}, NB_SHAPE(2));
    /* torch.index_select(x, 1, torch.tensor([2,0,2])) */
    nb_tensor *y = nb_index_select(x, 1, i);
    assert_shape(y, 2, (int64_t[]){2, 3});
    assert_close_array(y->data, (double[]){4, 1, 4, 7, -3, 7}, 6, 0);
    /* torch.index_select(x, 0, torch.tensor([1,1])) */
    assert_close_array(nb_index_select(x, -2, j)->data, (double[]){-3, 0.5, 7, -3, 0.5, 7}, 6, 0);
    /* torch.index_select(x, 1, torch.tensor(1)).shape -> [2, 1] */
    nb_tensor *r0 = nb_scalar(1);
    y = nb_index_select(x, 1, r0);
    assert_shape(y, 2, (int64_t[]){2, 1});
    assert_close_array(y->data, (double[]){2, 0.5}, 2, 0);
    nb_free(x), nb_free(i), nb_free(j), nb_free(r0);
}

Test(index, index_add_as_torch)
{
    nb_tensor *x = x23(), *src = src23();
    nb_tensor *i = arr((nb_real[]){2, 0, 2}, NB_SHAPE(3)), *j = arr((nb_real[]){1, 1}, NB_SHAPE(2));
    /* torch.index_add(x, 1, torch.tensor([2,0,2]), src, alpha=2) */
    assert_close_array(nb_index_add(x, 1, i, src, 2)->data, (double[]){41, 2, 84, 97, 0.5, 207}, 6, 0);
    /* torch.index_add(x, 0, torch.tensor([1,1]), src) */
    assert_close_array(nb_index_add(x, 0, j, src, 1)->data, (double[]){1, 2, 4, 47, 70.5, 97}, 6, 0);
    nb_free(x), nb_free(src), nb_free(i), nb_free(j);
}

Test(index, scatter_add_as_torch)
{
    nb_tensor *x = x23(), *src = src23();
    /* torch.scatter_add(x, 0, torch.tensor([[0,1,0],[1,0,0]]), src) */
    nb_tensor *i = arr((nb_real[]){0, 1, 0, 1, 0, 0}, NB_SHAPE(2, 3));
    assert_close_array(nb_scatter_add(x, 0, i, src)->data, (double[]){11, 52, 94, 37, 20.5, 7}, 6, 0);
    /* an index smaller than src: torch.scatter_add(x, 1, torch.tensor([[2,2],[0,1]]), src) */
    nb_tensor *k = arr((nb_real[]){2, 2, 0, 1}, NB_SHAPE(2, 2));
    assert_close_array(nb_scatter_add(x, 1, k, src)->data, (double[]){1, 2, 34, 37, 50.5, 7}, 6, 0);
    nb_free(x), nb_free(src), nb_free(i), nb_free(k);
}

Test(index, errors_name_the_op_and_shapes)
{
    nb_tensor *x = x23(), *src = src23();
    nb_tensor *bad = arr((nb_real[]){0, 3}, NB_SHAPE(2)), *frac = arr((nb_real[]){0.5}, NB_SHAPE(1));
    nb_tensor *m = nb_zeros(NB_SHAPE(1, 2));
    cr_assert_null(nb_index_select(x, 1, bad));
    assert_error(NB_ERR_ARG,
                 "index_select: index [2] holds 3 at position 1: out of range for dim 1 of x [2,3] "
                 "(valid: integers 0..2)");
    cr_assert_null(nb_index_select(x, 0, frac));
    assert_error(NB_ERR_ARG, "index_select: index [1] holds 0.5 at position 0");
    cr_assert_null(nb_index_select(x, 0, m));
    assert_error(NB_ERR_SHAPE, "index_select: x [2,3], index [1,2]: index must be 1-D (or rank 0)");
    cr_assert_null(nb_index_add(x, 1, frac, src, 1));
    assert_error(NB_ERR_ARG, "index_add: index [1] holds 0.5");
    nb_tensor *one = arr((nb_real[]){0}, NB_SHAPE(1));
    cr_assert_null(nb_index_add(x, 1, one, src, 1));
    assert_error(NB_ERR_SHAPE,
                 "index_add: input [2,3], index [1], source [2,3]: source must be input's shape "
                 "with dim 1 of size 1 (index's length)");
    nb_tensor *big = arr((nb_real[]){0, 3, 0, 0}, NB_SHAPE(2, 2));
    cr_assert_null(nb_scatter_add(x, 1, big, src));
    assert_error(NB_ERR_ARG, "scatter_add: index [2,2] holds 3 at position [0,1]: out of range for dim 1 of "
                             "input [2,3]");
    cr_assert_null(nb_scatter_add(x, 0, m, one));
    assert_error(NB_ERR_SHAPE, "scatter_add: input [2,3], index [1,2], src [1]: ranks differ");
    nb_tensor *wide = nb_zeros(NB_SHAPE(1, 4));
    cr_assert_null(nb_scatter_add(x, 0, wide, wide));
    assert_error(NB_ERR_SHAPE,
                 "scatter_add: input [2,3], index [1,4], src [1,4]: index dim 1 has size 4, larger "
                 "than src's or input's");
    nb_free(x), nb_free(src), nb_free(bad), nb_free(frac), nb_free(m), nb_free(one), nb_free(big),
        nb_free(wide);
}

/* index_add with many repeated indices over [40, 3000] columns, and
 * index_select's backward (the same kernel), with 1 and 2 threads: the same bits. */
Test(index, same_bits_for_one_and_two_threads)
{
    nb_generator g;
    nb_generator_seed(&g, 5);
    nb_tensor *x = nb_requires_grad(nb_randn(&g, NB_SHAPE(40, 3000)), true);
    nb_tensor *src = nb_requires_grad(nb_randn(&g, NB_SHAPE(200, 3000)), true);
    nb_tensor *idx = nb_empty(NB_SHAPE(200));
    for (int i = 0; i < 200; i++)
        idx->data[i] = (nb_real)((i * 7) % 40); /* every row of x five times */
    size_t bytes = (size_t)x->numel * sizeof(nb_real);
    nb_real *y1 = malloc(bytes), *g1 = malloc(bytes);
    for (int threads = 1; threads <= 2; threads++) {
        nb_set_num_threads(threads);
        nb_zero_grad(x);
        nb_tensor *y = nb_index_add(x, 0, idx, src, 0.5);
        nb_tensor *s = nb_index_select(y, 0, idx); /* backward: the repeated rows added back */
        cr_assert_eq(nb_backward(nb_sum(nb_mul(s, s))), 0);
        if (threads == 1) {
            memcpy(y1, y->data, bytes);
            memcpy(g1, x->grad, bytes);
        } else {
            cr_assert(memcmp(y1, y->data, bytes) == 0);
            cr_assert(memcmp(g1, x->grad, bytes) == 0);
        }
        nb_step_end();
    }
    nb_set_num_threads(0);
    free(y1), free(g1);
    nb_free(x), nb_free(src), nb_free(idx);
}

#ifdef NABLA_F64
typedef struct which {
    int op, dim;
    nb_tensor *index;
} which;

static nb_tensor *f_index(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    const which *w = ctx;
    switch (w->op) {
    case 0: return nb_index_select(in[0], w->dim, w->index);
    case 1: return nb_index_add(in[0], w->dim, w->index, in[1], -1.5);
    default: return nb_scatter_add(in[0], w->dim, w->index, in[1]);
    }
}

Test(index, gradcheck_every_op_every_dim_with_repeats)
{
    nb_generator g;
    nb_generator_seed(&g, 9);
    nb_tensor *x = nb_requires_grad(nb_randn(&g, NB_SHAPE(3, 4, 2)), true);
    nb_tensor *rep = arr((nb_real[]){1, 0, 1, 1, 2}, NB_SHAPE(5)); /* for dims 0 and 1 (sizes 3, 4) */
    for (int dim = 0; dim < 3; dim++) {
        nb_tensor *ix = dim == 2 ? arr((nb_real[]){1, 0, 1}, NB_SHAPE(3)) : rep;
        which w = {0, dim, ix};
        nb_gradcheck_result r = nb_gradcheck(f_index, 1, &x, &w, NB_GRADCHECK_OPTS());
        cr_assert(r.ok && r.nonzero > 0, "index_select dim %d: %s", dim, r.message);
        int64_t shape[3] = {3, 4, 2};
        shape[dim] = ix->numel;
        nb_tensor *src = nb_requires_grad(nb_randn(&g, 3, shape), true);
        w.op = 1;
        r = nb_gradcheck(f_index, 2, (nb_tensor *[]){x, src}, &w, NB_GRADCHECK_OPTS());
        cr_assert(r.ok && r.nonzero > 0, "index_add dim %d: %s", dim, r.message);
        nb_free(src);
        if (ix != rep)
            nb_free(ix);
    }
    /* scatter_add with an index smaller than src and repeated positions */
    nb_tensor *src = nb_requires_grad(nb_randn(&g, NB_SHAPE(3, 5, 2)), true);
    nb_tensor *ix = arr((nb_real[]){0, 0, 1, 2, 2, 2, 0, 1, 1, 1, 0, 0, 2, 1, 0, 0, 1, 2}, NB_SHAPE(3, 3, 2));
    which w = {2, 1, ix};
    nb_gradcheck_result r = nb_gradcheck(f_index, 2, (nb_tensor *[]){x, src}, &w, NB_GRADCHECK_OPTS());
    cr_assert(r.ok && r.nonzero > 0, "scatter_add: %s", r.message);
    nb_free(x), nb_free(rep), nb_free(src), nb_free(ix);
}
#endif
