/* tests/test_compare.c — comparisons (eq ne lt le gt ge, tensor and scalar,
 * broadcasting, NaN), where and masked_fill (broadcasting, NaN as true),
 * against PyTorch 1.13's values; their error messages; gradchecks of where and
 * masked_fill in the float64 build. References: /usr/bin/python3 with torch
 * 1.13, the line that made them in a comment. */
#include "common.h"

TestSuite(compare, .init = quiet, .fini = end_step);

static nb_tensor *arr(const nb_real *v, int ndim, const int64_t *shape)
{
    return nb_from_array(v, ndim, shape);
}

Test(compare, six_comparisons_broadcast_and_nan_as_torch)
{
    /* a=torch.tensor([[1.,2.,3.],[4.,float('nan'),6.]]); b=torch.tensor([2.,2.,6.])
     * getattr(torch, n)(a, b).float() for n in eq ne lt le gt ge */
    nb_tensor *a = arr((nb_real[]){1, 2, 3, 4, NAN, 6}, NB_SHAPE(2, 3));
    nb_tensor *b = arr((nb_real[]){2, 2, 6}, NB_SHAPE(3));
    nb_tensor *(*const ops[])(nb_tensor *, nb_tensor *) = {nb_eq, nb_ne, nb_lt, nb_le, nb_gt, nb_ge};
    const double want[6][6] = {{0, 1, 0, 0, 0, 1}, {1, 0, 1, 1, 1, 0}, {1, 0, 1, 0, 0, 0},
                               {1, 1, 1, 0, 0, 1}, {0, 0, 0, 1, 0, 0}, {0, 1, 0, 1, 0, 1}};
    for (int k = 0; k < 6; k++) {
        nb_tensor *y = ops[k](a, b);
        assert_shape(y, 2, (int64_t[]){2, 3});
        assert_close_array(y->data, want[k], 6, 0);
        y = ops[k](b, a); /* the mirrored comparison: eq<->eq, lt<->gt, le<->ge */
        const int mirror[6] = {0, 1, 4, 5, 2, 3};
        assert_close_array(y->data, want[mirror[k]], 6, 0);
    }
    nb_free(a), nb_free(b);
}

Test(compare, scalar_forms_and_no_gradient)
{
    /* torch.gt(a, 2.0).float() with a as above */
    nb_tensor *a = nb_requires_grad(arr((nb_real[]){1, 2, 3, 4, NAN, 6}, NB_SHAPE(2, 3)), true);
    nb_tensor *y = nb_gt_scalar(a, 2);
    assert_close_array(y->data, (double[]){0, 0, 1, 1, 0, 1}, 6, 0);
    cr_assert(!y->requires_grad, "a mask never requires a gradient");
    assert_close_array(nb_le_scalar(a, 2)->data, (double[]){1, 1, 0, 0, 0, 0}, 6, 0);
    assert_close_array(nb_eq_scalar(a, 4)->data, (double[]){0, 0, 0, 1, 0, 0}, 6, 0);
    assert_close_array(nb_ne_scalar(a, 4)->data, (double[]){1, 1, 1, 0, 1, 1}, 6, 0);
    assert_close_array(nb_lt_scalar(a, 3)->data, (double[]){1, 1, 0, 0, 0, 0}, 6, 0);
    assert_close_array(nb_ge_scalar(a, 3)->data, (double[]){0, 0, 1, 1, 0, 1}, 6, 0);
    nb_free(a);
}

Test(compare, where_broadcasts_three_operands)
{
    /* c=torch.tensor([[1.],[0.]]); x=torch.tensor([1.,2.,3.]); y=torch.tensor([[10.],[20.]])
     * torch.where(c.bool(), x, y) -> [2,3] [1,2,3,20,20,20] */
    nb_tensor *c = arr((nb_real[]){1, 0}, NB_SHAPE(2, 1));
    nb_tensor *x = arr((nb_real[]){1, 2, 3}, NB_SHAPE(3));
    nb_tensor *y = arr((nb_real[]){10, 20}, NB_SHAPE(2, 1));
    nb_tensor *w = nb_where(c, x, y);
    assert_shape(w, 2, (int64_t[]){2, 3});
    assert_close_array(w->data, (double[]){1, 2, 3, 20, 20, 20}, 6, 0);
    nb_free(c), nb_free(x), nb_free(y);
}

Test(compare, mask_nan_counts_as_true)
{
    /* torch.tensor([float('nan'), 0., -0.]).bool() -> [True, False, False] */
    nb_tensor *m = arr((nb_real[]){NAN, 0, -0.0}, NB_SHAPE(3));
    nb_tensor *x = arr((nb_real[]){1, 2, 3}, NB_SHAPE(3));
    assert_close_array(nb_masked_fill(x, m, 9)->data, (double[]){9, 2, 3}, 3, 0);
    nb_free(m), nb_free(x);
}

Test(compare, masked_fill_broadcasts_input_and_mask)
{
    /* torch.masked_fill(torch.zeros(3), torch.tensor([[True,False,True],[False,False,True]]), 5.)
     * -> [2,3] [5,0,5,0,0,5] */
    nb_tensor *x = nb_zeros(NB_SHAPE(3));
    nb_tensor *m = arr((nb_real[]){1, 0, 1, 0, 0, 1}, NB_SHAPE(2, 3));
    nb_tensor *y = nb_masked_fill(x, m, 5);
    assert_shape(y, 2, (int64_t[]){2, 3});
    assert_close_array(y->data, (double[]){5, 0, 5, 0, 0, 5}, 6, 0);
    /* a mask made by a comparison */
    nb_tensor *v = arr((nb_real[]){-1, 2, -3}, NB_SHAPE(3));
    assert_close_array(nb_masked_fill(v, nb_lt_scalar(v, 0), 0)->data, (double[]){0, 2, 0}, 3, 0);
    nb_free(x), nb_free(m), nb_free(v);
}

Test(compare, errors_name_the_op_and_shapes)
{
    nb_tensor *a = nb_zeros(NB_SHAPE(2, 3)), *b = nb_zeros(NB_SHAPE(4)), *c = nb_zeros(NB_SHAPE(3));
    cr_assert_null(nb_lt(a, b));
    assert_error(NB_ERR_SHAPE, "lt: [2,3] and [4]: shapes cannot be broadcast (dim -1: 3 vs 4)");
    cr_assert_null(nb_where(c, a, b));
    assert_error(NB_ERR_SHAPE,
                 "where: condition [3], input [2,3], other [4]: shapes cannot be broadcast (dim -1: 3 vs 4)");
    cr_assert_null(nb_masked_fill(a, b, 1));
    assert_error(NB_ERR_SHAPE, "masked_fill: input [2,3], mask [4]: shapes cannot be broadcast");
    nb_clear_error();
    cr_assert_null(nb_where(NULL, a, b));
    cr_assert_eq(nb_last_error(), NB_ERR_NULL);
    nb_free(a), nb_free(b), nb_free(c);
}

#ifdef NABLA_F64
static nb_tensor *f_where(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    return nb_where(ctx, in[0], in[1]);
}

static nb_tensor *f_masked_fill(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    return nb_masked_fill(in[0], ctx, -2);
}

Test(compare, gradcheck_where_and_masked_fill_with_broadcasting)
{
    nb_tensor *c = arr((nb_real[]){1, 0, 0, 1, 1, 0}, NB_SHAPE(2, 3));
    nb_tensor *x =
        nb_requires_grad(arr((nb_real[]){0.5, -1, 2}, NB_SHAPE(3)), true); /* broadcast over rows */
    nb_tensor *y = nb_requires_grad(arr((nb_real[]){0.3, -0.7}, NB_SHAPE(2, 1)), true);
    nb_gradcheck_result r = nb_gradcheck(f_where, 2, (nb_tensor *[]){x, y}, c, NB_GRADCHECK_OPTS());
    cr_assert(r.ok, "%s", r.message);
    cr_assert_eq(r.checked, 5);
    cr_assert_eq(r.nonzero, 4); /* x[2]'s column is never taken: its gradient is exactly 0 */
    nb_tensor *m = arr((nb_real[]){1, 0, 0, 0, 0, 1}, NB_SHAPE(2, 3));
    r = nb_gradcheck(f_masked_fill, 1, &x, m, NB_GRADCHECK_OPTS());
    cr_assert(r.ok, "%s", r.message);
    cr_assert_eq(r.nonzero, 3);
    nb_free(c), nb_free(x), nb_free(y), nb_free(m);
}
#endif
