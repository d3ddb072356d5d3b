/* tests/test_shape.c — reshape/view/flatten (shared data, -1 inference),
 * transpose/permute, slice (Python bounds), cat/stack over every dim, gather:
 * values by hand or from index formulas, errors, and gradchecks. */
#include <stdlib.h>
#include "common.h"

TestSuite(shape, .init = quiet, .fini = end_step);

/* x[i] = i, shape given */
static nb_tensor *iota(int ndim, const int64_t *shape)
{
    nb_tensor *x = nb_empty(ndim, shape);
    for (int64_t i = 0; i < x->numel; i++)
        x->data[i] = (nb_real)i;
    return x;
}

/* ---- reshape, view, flatten ---- */

Test(shape, reshape_shares_data_and_infers_one_dim)
{
    nb_tensor *x = iota(NB_SHAPE(2, 3));
    nb_tensor *y = nb_reshape(x, NB_SHAPE(3, -1));
    assert_shape(y, 2, (int64_t[]){3, 2});
    cr_assert_eq(y->data, x->data);
    y = nb_view(x, NB_SHAPE(-1));
    assert_shape(y, 1, (int64_t[]){6});
    y = nb_reshape(x, NB_SHAPE(1, 6, 1));
    assert_shape(y, 3, (int64_t[]){1, 6, 1});
    nb_tensor *s = nb_scalar(4);
    y = nb_reshape(s, NB_SHAPE(1, 1));
    assert_shape(y, 2, (int64_t[]){1, 1});
    y = nb_reshape(y, 0, NULL); /* rank 0 */
    assert_shape(y, 0, NULL);
    cr_assert_eq(nb_item(y), 4);
    nb_tensor *e = nb_zeros(NB_SHAPE(0, 4));
    assert_shape(nb_reshape(e, NB_SHAPE(2, -1, 2)), 3, (int64_t[]){2, 0, 2});
    nb_free(x), nb_free(s), nb_free(e);
}

Test(shape, reshape_errors)
{
    nb_tensor *x = iota(NB_SHAPE(2, 3));
    cr_assert_null(nb_reshape(x, NB_SHAPE(4, 2)));
    assert_error(NB_ERR_SHAPE, "reshape: [2,3] to [4,2]: 6 elements cannot become 8");
    nb_clear_error();
    cr_assert_null(nb_view(x, NB_SHAPE(4, -1)));
    assert_error(NB_ERR_SHAPE, "view: [2,3] to [4,-1]: 6 elements cannot be divided into blocks of [4]");
    nb_clear_error();
    cr_assert_null(nb_reshape(x, NB_SHAPE(-1, -1)));
    assert_error(NB_ERR_ARG, "only one dimension can be inferred");
    nb_clear_error();
    cr_assert_null(nb_reshape(x, NB_SHAPE(-2, -3)));
    assert_error(NB_ERR_ARG, "invalid size -2 at dim 0");
    nb_clear_error();
    nb_tensor *e = nb_zeros(NB_SHAPE(0, 4));
    cr_assert_null(nb_reshape(e, NB_SHAPE(0, -1)));
    assert_error(NB_ERR_ARG, "ambiguous");
    nb_clear_error();
    cr_assert_null(nb_reshape(x, NB_SHAPE(3, INT64_MAX)));
    assert_error(NB_ERR_SHAPE, "reshape: [2,3] to [3,9223372036854775807]");
    nb_clear_error();
    nb_free(x), nb_free(e);
}

Test(shape, flatten)
{
    nb_tensor *x = iota(NB_SHAPE(2, 3, 4, 5));
    assert_shape(nb_flatten(x, 1, 2), 3, (int64_t[]){2, 12, 5});
    assert_shape(nb_flatten(x, 0, -1), 1, (int64_t[]){120});
    assert_shape(nb_flatten(x, 1, -1), 2, (int64_t[]){2, 60});
    assert_shape(nb_flatten(x, 2, 2), 4, (int64_t[]){2, 3, 4, 5});
    nb_tensor *s = nb_scalar(1);
    assert_shape(nb_flatten(s, 0, -1), 1, (int64_t[]){1});
    cr_assert_null(nb_flatten(x, 2, 1));
    assert_error(NB_ERR_ARG, "flatten: [2,3,4,5]: start_dim 2 comes after end_dim 1");
    nb_clear_error();
    cr_assert_null(nb_flatten(x, 0, 4));
    assert_error(NB_ERR_ARG, "flatten: dim 4 is out of range for shape [2,3,4,5]");
    nb_clear_error();
    nb_free(x), nb_free(s);
}

/* ---- transpose, permute ---- */

Test(shape, transpose_2d_by_hand)
{
    nb_tensor *x = iota(NB_SHAPE(2, 3)); /* [[0,1,2],[3,4,5]] */
    nb_tensor *y = nb_transpose(x, 0, 1);
    assert_shape(y, 2, (int64_t[]){3, 2});
    assert_close_array(y->data, (double[]){0, 3, 1, 4, 2, 5}, 6, 0);
    y = nb_transpose(x, -1, -2);
    assert_close_array(y->data, (double[]){0, 3, 1, 4, 2, 5}, 6, 0);
    y = nb_transpose(x, 1, 1);
    assert_close_array(y->data, (double[]){0, 1, 2, 3, 4, 5}, 6, 0);
    cr_assert_null(nb_transpose(x, 0, 2));
    assert_error(NB_ERR_ARG, "transpose: dim 2 is out of range for shape [2,3]");
    nb_clear_error();
    nb_free(x);
}

/* y[i0,i1,i2,i3] must equal x at the coordinates (j[perm[k]] = i_k). */
static void check_permute(const int64_t *shape, const int *perm)
{
    nb_tensor *x = iota(4, shape);
    nb_tensor *y = nb_permute(x, perm);
    int64_t ys[4];
    for (int k = 0; k < 4; k++)
        ys[k] = shape[perm[k]];
    assert_shape(y, 4, ys);
    int64_t i[4], j[4];
    for (i[0] = 0; i[0] < ys[0]; i[0]++)
        for (i[1] = 0; i[1] < ys[1]; i[1]++)
            for (i[2] = 0; i[2] < ys[2]; i[2]++)
                for (i[3] = 0; i[3] < ys[3]; i[3]++) {
                    for (int k = 0; k < 4; k++)
                        j[perm[k]] = i[k];
                    int64_t xi = ((j[0] * shape[1] + j[1]) * shape[2] + j[2]) * shape[3] + j[3];
                    int64_t yi = ((i[0] * ys[1] + i[1]) * ys[2] + i[2]) * ys[3] + i[3];
                    cr_assert_eq(y->data[yi], x->data[xi], "perm %d%d%d%d at %lld", perm[0], perm[1], perm[2],
                                 perm[3], (long long)yi);
                }
    nb_free(x);
}

Test(shape, permute_every_order_of_rank4)
{
    const int64_t shape[] = {2, 3, 1, 4};
    int p[4];
    for (p[0] = 0; p[0] < 4; p[0]++)
        for (p[1] = 0; p[1] < 4; p[1]++)
            for (p[2] = 0; p[2] < 4; p[2]++)
                for (p[3] = 0; p[3] < 4; p[3]++)
                    if (p[0] != p[1] && p[0] != p[2] && p[0] != p[3] && p[1] != p[2] && p[1] != p[3] &&
                        p[2] != p[3])
                        check_permute(shape, p);
    check_permute((const int64_t[]){40, 30, 20, 10}, (const int[]){3, 1, 2, 0});
}

/* Large enough for the tiled copy: forward and the accumulating backward. */
Test(shape, large_transpose_forward_and_backward)
{
    nb_tensor *x = nb_requires_grad(iota(NB_SHAPE(3, 70, 90)), true);
    nb_tensor *g = iota(NB_SHAPE(3, 90, 70));
    nb_tensor *y = nb_transpose(x, 1, 2);
    assert_shape(y, 3, (int64_t[]){3, 90, 70});
    cr_assert_eq(nb_backward_grad(y, g), 0);
    for (int b = 0; b < 3; b++)
        for (int i = 0; i < 70; i++)
            for (int j = 0; j < 90; j++) {
                int64_t xi = (b * 70 + i) * 90 + j, yi = (b * 90 + j) * 70 + i;
                cr_assert_eq(y->data[yi], x->data[xi]);
                cr_assert_eq(x->grad[xi], g->data[yi]);
            }
    nb_free(x), nb_free(g);
}

Test(shape, permute_errors_and_negative_dims)
{
    nb_tensor *x = iota(NB_SHAPE(2, 3, 4));
    nb_tensor *y = nb_permute(x, (const int[]){-1, 0, 1});
    assert_shape(y, 3, (int64_t[]){4, 2, 3});
    cr_assert_eq(y->data[1], 4); /* y[0,0,1] = x[0,1,0] */
    cr_assert_null(nb_permute(x, (const int[]){0, 0, 1}));
    assert_error(NB_ERR_ARG, "permute: [2,3,4]: dim 0 appears twice");
    nb_clear_error();
    cr_assert_null(nb_permute(x, (const int[]){0, 3, 1}));
    assert_error(NB_ERR_ARG, "permute: dim 3 is out of range for shape [2,3,4]");
    nb_clear_error();
    cr_assert_null(nb_permute(x, NULL));
    assert_error(NB_ERR_NULL, "permute: [2,3,4]: dims is NULL");
    nb_clear_error();
    nb_free(x);
}

/* ---- slice ---- */

Test(shape, slice_rows_negative_bounds_and_out_of_range_errors)
{
    nb_tensor *x = iota(NB_SHAPE(4, 3));
    nb_tensor *y = nb_slice(x, 0, 1, 3);
    assert_shape(y, 2, (int64_t[]){2, 3});
    assert_close_array(y->data, (double[]){3, 4, 5, 6, 7, 8}, 6, 0);
    y = nb_slice(x, 1, -2, 3); /* x[:, -2:] */
    assert_shape(y, 2, (int64_t[]){4, 2});
    assert_close_array(y->data, (double[]){1, 2, 4, 5, 7, 8, 10, 11}, 8, 0);
    y = nb_slice(x, -1, 0, -1); /* x[:, :-1] */
    assert_close_array(y->data, (double[]){0, 1, 3, 4, 6, 7, 9, 10}, 8, 0);
    assert_shape(nb_slice(x, 0, -4, 4), 2, (int64_t[]){4, 3}); /* the extreme bounds */
    assert_shape(nb_slice(x, 0, 4, 4), 2, (int64_t[]){0, 3});  /* start == end: empty */
    /* issue 11: nothing is clamped silently (PyTorch's x[5:7] would give 0 rows) */
    cr_assert_null(nb_slice(x, 0, 5, 7));
    assert_error(NB_ERR_ARG, "slice: [4,3]: start 5, end 7 of dim 0 (size 4): need 0 <= start <= end <= 4 "
                             "after negative values count from the end");
    nb_clear_error();
    cr_assert_null(nb_slice(x, 0, 2, 5));
    assert_error(NB_ERR_ARG, "start 2, end 5 of dim 0");
    nb_clear_error();
    cr_assert_null(nb_slice(x, 0, 3, 1));
    assert_error(NB_ERR_ARG, "start 3, end 1 of dim 0");
    nb_clear_error();
    cr_assert_null(nb_slice(x, 1, -4, 2));
    assert_error(NB_ERR_ARG, "start -4, end 2 of dim 1 (size 3)");
    nb_clear_error();
    cr_assert_null(nb_slice(x, 0, 0, INT64_MAX));
    assert_error(NB_ERR_ARG, "end 9223372036854775807");
    nb_clear_error();
    cr_assert_null(nb_slice(x, 2, 0, 1));
    assert_error(NB_ERR_ARG, "slice: dim 2 is out of range for shape [4,3]");
    nb_clear_error();
    nb_tensor *s = nb_scalar(1);
    cr_assert_null(nb_slice(s, 0, 0, 1));
    assert_error(NB_ERR_SHAPE, "slice: a rank-0 tensor cannot be sliced");
    nb_clear_error();
    nb_free(x), nb_free(s);
}

Test(shape, slice_backward_by_hand)
{
    nb_tensor *x = nb_requires_grad(iota(NB_SHAPE(2, 4)), true);
    nb_tensor *g = nb_from_array((nb_real[]){1, 2, 3, 4}, NB_SHAPE(2, 2));
    cr_assert_eq(nb_backward_grad(nb_slice(x, 1, 1, 3), g), 0);
    assert_close_array(x->grad, (double[]){0, 1, 2, 0, 0, 3, 4, 0}, 8, 0);
    nb_free(x), nb_free(g);
}

/* ---- cat, stack ---- */

Test(shape, cat_each_dim_by_hand)
{
    nb_tensor *a = iota(NB_SHAPE(2, 2)); /* [[0,1],[2,3]] */
    nb_tensor *b = nb_from_array((nb_real[]){10, 11, 12, 13}, NB_SHAPE(2, 2));
    nb_tensor *c = nb_from_array((nb_real[]){20, 21}, NB_SHAPE(1, 2));
    nb_tensor *y = nb_cat(3, (nb_tensor *[]){a, b, c}, 0);
    assert_shape(y, 2, (int64_t[]){5, 2});
    assert_close_array(y->data, (double[]){0, 1, 2, 3, 10, 11, 12, 13, 20, 21}, 10, 0);
    y = nb_cat(2, (nb_tensor *[]){a, b}, 1);
    assert_shape(y, 2, (int64_t[]){2, 4});
    assert_close_array(y->data, (double[]){0, 1, 10, 11, 2, 3, 12, 13}, 8, 0);
    y = nb_cat(2, (nb_tensor *[]){a, b}, -1);
    assert_close_array(y->data, (double[]){0, 1, 10, 11, 2, 3, 12, 13}, 8, 0);
    y = nb_cat(1, (nb_tensor *[]){a}, 0);
    assert_close_array(y->data, (double[]){0, 1, 2, 3}, 4, 0);
    nb_free(a), nb_free(b), nb_free(c);
}

Test(shape, cat_errors)
{
    nb_tensor *a = iota(NB_SHAPE(2, 3)), *b = iota(NB_SHAPE(2, 4)), *v = iota(NB_SHAPE(2));
    nb_tensor *s = nb_scalar(1);
    cr_assert_null(nb_cat(2, (nb_tensor *[]){a, b}, 0));
    assert_error(NB_ERR_SHAPE,
                 "cat: [2,3] and [2,4] at position 1: sizes must match except in dim 0 (dim 1: 3 vs 4)");
    nb_clear_error();
    cr_assert_null(nb_cat(2, (nb_tensor *[]){a, v}, 0));
    assert_error(NB_ERR_SHAPE, "cat: [2,3] and [2] at position 1: ranks differ (2 vs 1)");
    nb_clear_error();
    cr_assert_null(nb_cat(2, (nb_tensor *[]){a, b}, 2));
    assert_error(NB_ERR_ARG, "cat: dim 2 is out of range for shape [2,3]");
    nb_clear_error();
    cr_assert_null(nb_cat(0, (nb_tensor *[]){a}, 0));
    assert_error(NB_ERR_ARG, "cat: expected a non-empty list of tensors (n = 0)");
    nb_clear_error();
    cr_assert_null(nb_cat(1, (nb_tensor *[]){s}, 0));
    assert_error(NB_ERR_SHAPE, "rank-0");
    nb_clear_error();
    cr_assert_null(nb_cat(2, (nb_tensor *[]){a, NULL}, 0));
    assert_error(NB_ERR_NULL, "cat: argument 2 is NULL");
    nb_clear_error();
    nb_free(a), nb_free(b), nb_free(v), nb_free(s);
}

Test(shape, stack_each_dim_by_hand)
{
    nb_tensor *a = iota(NB_SHAPE(2, 2));
    nb_tensor *b = nb_from_array((nb_real[]){10, 11, 12, 13}, NB_SHAPE(2, 2));
    nb_tensor *y = nb_stack(2, (nb_tensor *[]){a, b}, 0);
    assert_shape(y, 3, (int64_t[]){2, 2, 2});
    assert_close_array(y->data, (double[]){0, 1, 2, 3, 10, 11, 12, 13}, 8, 0);
    y = nb_stack(2, (nb_tensor *[]){a, b}, 1);
    assert_close_array(y->data, (double[]){0, 1, 10, 11, 2, 3, 12, 13}, 8, 0);
    y = nb_stack(2, (nb_tensor *[]){a, b}, 2);
    assert_close_array(y->data, (double[]){0, 10, 1, 11, 2, 12, 3, 13}, 8, 0);
    y = nb_stack(2, (nb_tensor *[]){a, b}, -1);
    assert_shape(y, 3, (int64_t[]){2, 2, 2});
    assert_close_array(y->data, (double[]){0, 10, 1, 11, 2, 12, 3, 13}, 8, 0);
    nb_tensor *s0 = nb_scalar(5), *s1 = nb_scalar(6);
    y = nb_stack(2, (nb_tensor *[]){s0, s1}, 0);
    assert_shape(y, 1, (int64_t[]){2});
    assert_close_array(y->data, (double[]){5, 6}, 2, 0);
    nb_tensor *c = iota(NB_SHAPE(4));
    cr_assert_null(nb_stack(2, (nb_tensor *[]){a, c}, 0));
    assert_error(NB_ERR_SHAPE, "stack: [2,2] and [4] at position 1: all shapes must be equal");
    nb_clear_error();
    cr_assert_null(nb_stack(2, (nb_tensor *[]){a, b}, 3));
    assert_error(NB_ERR_ARG, "stack: dim 3 is out of range for shape [2,2] (expected -3..2)");
    nb_clear_error();
    nb_free(a), nb_free(b), nb_free(s0), nb_free(s1), nb_free(c);
}

Test(shape, cat_of_one_tensor_twice_adds_both_gradients)
{
    nb_tensor *x = nb_requires_grad(iota(NB_SHAPE(2)), true);
    nb_tensor *g = nb_from_array((nb_real[]){1, 2, 30, 40}, NB_SHAPE(4));
    cr_assert_eq(nb_backward_grad(nb_cat(2, (nb_tensor *[]){x, x}, 0), g), 0);
    assert_close_array(x->grad, (double[]){31, 42}, 2, 0);
    nb_free(x), nb_free(g);
}

/* ---- gather ---- */

Test(shape, gather_by_hand)
{
    /* torch.gather(t, 1, [[0,0],[1,0]]) with t = [[1,2],[3,4]] -> [[1,1],[4,3]] (PyTorch docs) */
    nb_tensor *t = nb_from_array((nb_real[]){1, 2, 3, 4}, NB_SHAPE(2, 2));
    nb_tensor *i = nb_from_array((nb_real[]){0, 0, 1, 0}, NB_SHAPE(2, 2));
    nb_tensor *y = nb_gather(t, 1, i);
    assert_shape(y, 2, (int64_t[]){2, 2});
    assert_close_array(y->data, (double[]){1, 1, 4, 3}, 4, 0);
    /* along dim 0 with a smaller index: x = iota [3,3], index [[2,0,1]] -> [[6,1,5]] */
    nb_tensor *x = iota(NB_SHAPE(3, 3));
    nb_tensor *i0 = nb_from_array((nb_real[]){2, 0, 1}, NB_SHAPE(1, 3));
    assert_close_array(nb_gather(x, 0, i0)->data, (double[]){6, 1, 5}, 3, 0);
    /* index narrower than x in the other dim, and longer along dim */
    nb_tensor *i1 = nb_from_array((nb_real[]){2, 2, 2, 0, 1, 1, 1, 1}, NB_SHAPE(2, 4));
    nb_tensor *y1 = nb_gather(x, -1, i1);
    assert_shape(y1, 2, (int64_t[]){2, 4});
    assert_close_array(y1->data, (double[]){2, 2, 2, 0, 4, 4, 4, 4}, 8, 0);
    nb_tensor *s = nb_scalar(7), *si = nb_scalar(0);
    assert_close_array(nb_gather(s, 0, si)->data, (double[]){7}, 1, 0);
    nb_free(t), nb_free(i), nb_free(x), nb_free(i0), nb_free(i1), nb_free(s), nb_free(si);
}

Test(shape, gather_backward_adds_repeated_indices)
{
    nb_tensor *x = nb_requires_grad(iota(NB_SHAPE(2, 3)), true);
    nb_tensor *i = nb_from_array((nb_real[]){2, 2, 0, 1, 1, 1}, NB_SHAPE(2, 3));
    nb_tensor *g = nb_from_array((nb_real[]){1, 2, 3, 4, 5, 6}, NB_SHAPE(2, 3));
    cr_assert_eq(nb_backward_grad(nb_gather(x, 1, i), g), 0);
    assert_close_array(x->grad, (double[]){3, 0, 3, 0, 15, 0}, 6, 0);
    nb_free(x), nb_free(i), nb_free(g);
}

Test(shape, gather_errors)
{
    nb_tensor *x = iota(NB_SHAPE(2, 3));
    nb_tensor *bad = nb_from_array((nb_real[]){0, 1, 2, 3}, NB_SHAPE(2, 2));
    cr_assert_null(nb_gather(x, 1, bad));
    assert_error(NB_ERR_ARG,
                 "gather: index [2,2] holds 3 at position [1,1]: out of range for dim 1 of x [2,3]");
    nb_clear_error();
    nb_tensor *neg = nb_from_array((nb_real[]){0, -1}, NB_SHAPE(1, 2));
    cr_assert_null(nb_gather(x, 1, neg));
    assert_error(NB_ERR_ARG, "holds -1 at position [0,1]");
    nb_clear_error();
    nb_tensor *frac = nb_from_array((nb_real[]){0.5}, NB_SHAPE(1, 1));
    cr_assert_null(nb_gather(x, 0, frac));
    assert_error(NB_ERR_ARG, "holds 0.5 at position [0,0]");
    nb_clear_error();
    nb_tensor *nan = nb_from_array((nb_real[]){NAN}, NB_SHAPE(1, 1));
    cr_assert_null(nb_gather(x, 0, nan));
    assert_error(NB_ERR_ARG, "gather: index [1,1] holds nan");
    nb_clear_error();
    nb_tensor *rank1 = iota(NB_SHAPE(2));
    cr_assert_null(nb_gather(x, 1, rank1));
    assert_error(NB_ERR_SHAPE, "gather: x [2,3] and index [2]: ranks differ (2 vs 1)");
    nb_clear_error();
    nb_tensor *wide = nb_zeros(NB_SHAPE(3, 1));
    cr_assert_null(nb_gather(x, 1, wide));
    assert_error(NB_ERR_SHAPE, "gather: x [2,3] and index [3,1]: index dim 0 has size 3 > 2");
    nb_clear_error();
    cr_assert_null(nb_gather(x, 2, bad));
    assert_error(NB_ERR_ARG, "gather: dim 2 is out of range");
    nb_clear_error();
    nb_free(x), nb_free(bad), nb_free(neg), nb_free(frac), nb_free(nan), nb_free(rank1), nb_free(wide);
}

#ifdef NABLA_F64
static void check(nb_gradcheck_fn f, int n, nb_tensor *const *in, void *ctx)
{
    nb_gradcheck_result r = nb_gradcheck(f, n, in, ctx, NB_GRADCHECK_OPTS());
    cr_assert(r.ok, "%s", r.message);
    cr_assert_gt(r.nonzero, 0);
}

static nb_tensor *rnd(nb_generator *g, int ndim, const int64_t *shape)
{
    return nb_requires_grad(nb_randn(g, ndim, shape), true);
}

/* Each view is followed by a multiplication by x's own shape of weights so
 * that the gradient flowing back differs element by element. */
static nb_tensor *f_views(nb_tensor *const *in, int n, void *ctx)
{
    (void)n, (void)ctx;
    nb_tensor *x = in[0]; /* [2,3,4] */
    nb_tensor *a = nb_reshape(x, NB_SHAPE(4, -1));
    nb_tensor *b = nb_flatten(nb_view(a, NB_SHAPE(2, 3, 4)), 0, 1);
    nb_tensor *c = nb_reshape(nb_mul(b, b), NB_SHAPE(24));
    return nb_add(c, nb_flatten(x, 0, -1));
}

Test(shape, gradcheck_views)
{
    nb_generator g;
    nb_generator_seed(&g, 1);
    nb_tensor *x = rnd(&g, NB_SHAPE(2, 3, 4));
    check(f_views, 1, &x, NULL);
    nb_free(x);
}

static nb_tensor *f_permute(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    const int *p = ctx;
    return p[0] < 0 ? nb_transpose(in[0], p[1], p[2]) : nb_permute(in[0], p);
}

Test(shape, gradcheck_permute_and_transpose)
{
    nb_generator g;
    nb_generator_seed(&g, 2);
    nb_tensor *x = rnd(&g, NB_SHAPE(2, 3, 4));
    const int perms[][3] = {{2, 0, 1}, {1, 2, 0}, {0, 2, 1}, {2, 1, 0}, {-1, 0, 2}, {-1, -1, 1}, {-1, 0, 0}};
    for (size_t i = 0; i < sizeof perms / sizeof perms[0]; i++)
        check(f_permute, 1, &x, (void *)perms[i]);
    nb_free(x);
}

static nb_tensor *f_slice(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    const int64_t *s = ctx;
    return nb_slice(in[0], (int)s[0], s[1], s[2]);
}

Test(shape, gradcheck_slice_each_dim)
{
    nb_generator g;
    nb_generator_seed(&g, 3);
    nb_tensor *x = rnd(&g, NB_SHAPE(3, 4, 5));
    const int64_t sl[][3] = {{0, 1, 3}, {1, 1, -1}, {2, -3, 5}, {-1, 0, 2}};
    for (size_t i = 0; i < sizeof sl / sizeof sl[0]; i++)
        check(f_slice, 1, &x, (void *)sl[i]);
    nb_free(x);
}

typedef struct join_case {
    bool stack;
    int dim;
} join_case;

static nb_tensor *f_join(nb_tensor *const *in, int n, void *ctx)
{
    const join_case *c = ctx;
    return c->stack ? nb_stack(n, in, c->dim) : nb_cat(n, in, c->dim);
}

Test(shape, gradcheck_cat_each_dim)
{
    nb_generator g;
    nb_generator_seed(&g, 4);
    for (int d = 0; d < 3; d++) {
        int64_t s1[3] = {2, 3, 2}, s2[3] = {2, 3, 2};
        s2[d] = 1 + d;
        nb_tensor *in[3] = {rnd(&g, 3, s1), rnd(&g, 3, s2), rnd(&g, 3, s1)};
        check(f_join, 3, in, &(join_case){false, d});
        check(f_join, 3, in, &(join_case){false, d - 3});
        for (int i = 0; i < 3; i++)
            nb_free(in[i]);
    }
}

Test(shape, gradcheck_stack_each_dim_with_many_inputs)
{
    nb_generator g;
    nb_generator_seed(&g, 5);
    nb_tensor *in[6];
    for (int i = 0; i < 6; i++)
        in[i] = rnd(&g, NB_SHAPE(2, 3));
    for (int d = -3; d < 3; d++)
        check(f_join, 6, in, &(join_case){true, d});
    check(f_join, 6, in, &(join_case){false, 1});
    for (int i = 0; i < 6; i++)
        nb_free(in[i]);
}

static nb_tensor *f_gather(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    const int *dim = ctx;
    return nb_gather(in[0], *dim, in[1]);
}

Test(shape, gradcheck_gather)
{
    nb_generator g;
    nb_generator_seed(&g, 6);
    nb_tensor *x = rnd(&g, NB_SHAPE(3, 4));
    nb_tensor *i1 = nb_from_array((nb_real[]){3, 3, 0, 1, 2, 1, 0, 0, 2}, NB_SHAPE(3, 3));
    nb_tensor *i0 = nb_from_array((nb_real[]){2, 0, 1, 2, 2, 2, 0, 1}, NB_SHAPE(2, 4));
    int d1 = 1, d0 = 0, dm = -2;
    check(f_gather, 2, (nb_tensor *[]){x, i1}, &d1);
    check(f_gather, 2, (nb_tensor *[]){x, i0}, &d0);
    check(f_gather, 2, (nb_tensor *[]){x, i0}, &dm);
    nb_free(x), nb_free(i0), nb_free(i1);
}
#endif
