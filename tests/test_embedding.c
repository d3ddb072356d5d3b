/* tests/test_embedding.c — nb_embedding_op and the Embedding layer: lookups by
 * hand, the scatter-add backward with repeated indices and padding_idx,
 * max_norm's in-place renormalisation, integer data through nb_from_int64,
 * bit-identical gradients for 1 and 2 threads, errors, the layer's
 * initialisation, and a gradcheck in the float64 build. */
#include "common.h"

TestSuite(embedding, .init = quiet, .fini = end_step);

static nb_tensor *table(void) /* weight [4,3]: row r is (10r, 10r+1, 10r+2) */
{
    return nb_from_array((nb_real[]){0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32}, NB_SHAPE(4, 3));
}

Test(embedding, looks_up_rows_by_integer_index)
{
    nb_tensor *w = table();
    nb_tensor *idx = nb_from_int64((int64_t[]){1, 3, 1, 0}, NB_SHAPE(2, 2));
    nb_tensor *y = nb_embedding_op(idx, w, nb_embedding_defaults());
    assert_shape(y, 3, (int64_t[]){2, 2, 3});
    assert_close_array(y->data, (double[]){10, 11, 12, 30, 31, 32, 10, 11, 12, 0, 1, 2}, 12, 0);
    nb_free(w), nb_free(idx);
}

Test(embedding, backward_adds_repeated_rows_and_skips_padding)
{
    nb_tensor *w = nb_requires_grad(table(), true);
    nb_tensor *idx = nb_from_int64((int64_t[]){1, 1, 2, 0, 1}, NB_SHAPE(5));
    nb_tensor *dy =
        nb_from_array((nb_real[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, NB_SHAPE(5, 3));
    cr_assert_eq(nb_backward_grad(nb_embedding_op(idx, w, nb_embedding_defaults()), dy), 0);
    /* row 1 = dy[0] + dy[1] + dy[4], row 2 = dy[2], row 0 = dy[3], row 3 untouched */
    assert_close_array(w->grad, (double[]){10, 11, 12, 1 + 4 + 13, 2 + 5 + 14, 3 + 6 + 15, 7, 8, 9, 0, 0, 0},
                       12, 0);
    nb_zero_grad(w);
    nb_embedding_opts o = nb_embedding_defaults();
    o.padding_idx = -3; /* row 1, counted from the end as in PyTorch */
    cr_assert_eq(nb_backward_grad(nb_embedding_op(idx, w, o), dy), 0);
    assert_close_array(w->grad, (double[]){10, 11, 12, 0, 0, 0, 7, 8, 9, 0, 0, 0}, 12, 0);
    nb_free(w), nb_free(idx), nb_free(dy);
}

/* Row 2 = (3, 4, 0) has norm 5 > max_norm 1: becomes (3, 4, 0) / (5 + 1e-7);
 * row 0 = (0, 0.5, 0) is within it; row 1 is not looked up and stays. */
Test(embedding, max_norm_renormalises_the_rows_looked_up_in_place)
{
    nb_tensor *w = nb_from_array((nb_real[]){0, 0.5, 0, 30, 40, 0, 3, 4, 0}, NB_SHAPE(3, 3));
    nb_tensor *idx = nb_from_int64((int64_t[]){2, 0, 2}, NB_SHAPE(3));
    nb_embedding_opts o = nb_embedding_defaults();
    o.max_norm = 1;
    nb_tensor *y = nb_embedding_op(idx, w, o);
    double k = 1 / (5 + 1e-7);
    assert_close_array(w->data, (double[]){0, 0.5, 0, 30, 40, 0, 3 * k, 4 * k, 0}, 9, TOL);
    assert_close_array(y->data, (double[]){3 * k, 4 * k, 0, 0, 0.5, 0, 3 * k, 4 * k, 0}, 9, TOL);
    o.norm_type = INFINITY; /* row 1's largest magnitude is 40 */
    nb_tensor *one = nb_from_int64((int64_t[]){1}, NB_SHAPE(1));
    nb_embedding_op(one, w, o);
    assert_close_array(w->data + 3, (double[]){30 / (40 + 1e-7), 40 / (40 + 1e-7), 0}, 3, TOL);
    nb_free(w), nb_free(idx), nb_free(one);
}

Test(embedding, gradients_are_bit_identical_for_one_and_two_threads)
{
    nb_generator g;
    nb_generator_seed(&g, 9);
    nb_tensor *w = nb_requires_grad(nb_randn(&g, NB_SHAPE(50, 64)), true);
    int64_t ids[4096];
    for (int i = 0; i < 4096; i++)
        ids[i] = (int64_t)nb_generator_below(&g, 50);
    nb_tensor *idx = nb_from_int64(ids, NB_SHAPE(64, 64));
    nb_tensor *dy = nb_randn(&g, NB_SHAPE(64, 64, 64));
    nb_real *grads[2];
    for (int t = 1; t <= 2; t++) {
        nb_set_num_threads(t);
        nb_zero_grad(w);
        cr_assert_eq(nb_backward_grad(nb_embedding_op(idx, w, nb_embedding_defaults()), dy), 0);
        grads[t - 1] = malloc((size_t)w->numel * sizeof(nb_real));
        memcpy(grads[t - 1], w->grad, (size_t)w->numel * sizeof(nb_real));
        nb_step_end();
    }
    nb_set_num_threads(0);
    cr_assert_eq(memcmp(grads[0], grads[1], (size_t)w->numel * sizeof(nb_real)), 0);
    free(grads[0]), free(grads[1]);
    nb_free(w), nb_free(idx), nb_free(dy);
}

Test(embedding, errors_name_the_index_and_the_shapes)
{
    nb_tensor *w = table();
    nb_tensor *bad = nb_from_array((nb_real[]){1, 4}, NB_SHAPE(2));
    cr_assert_null(nb_embedding_op(bad, w, nb_embedding_defaults()));
    assert_error(NB_ERR_ARG,
                 "embedding: indices [2] hold 4 at position 1: not an integer in 0..3 (weight [4,3])");
    nb_tensor *frac = nb_from_array((nb_real[]){0.5}, NB_SHAPE(1));
    cr_assert_null(nb_embedding_op(frac, w, nb_embedding_defaults()));
    assert_error(NB_ERR_ARG, "hold 0.5 at position 0");
    nb_embedding_opts o = nb_embedding_defaults();
    o.padding_idx = 4;
    cr_assert_null(nb_embedding_op(frac, w, o));
    assert_error(NB_ERR_ARG, "embedding: padding_idx 4 is out of range for weight [4,3]");
    cr_assert_null(nb_from_int64((int64_t[]){0, (int64_t)1 << 60}, NB_SHAPE(2)));
    assert_error(NB_ERR_ARG, "from_int64: value 1152921504606846976 at position 1 is beyond");
    cr_assert_null(nb_embedding(0, 3));
    assert_error(NB_ERR_ARG, "Embedding: num_embeddings 0 and embedding_dim 3 must be >= 1");
    nb_free(w), nb_free(bad), nb_free(frac);
}

Test(embedding, layer_is_normal_initialised_with_a_zero_padding_row)
{
    nb_generator g;
    nb_generator_seed(&g, 10);
    nb_embedding_opts o = nb_embedding_defaults();
    o.padding_idx = 7;
    nb_module *m = nb_embedding_ex(1000, 16, o, &g);
    nb_tensor *w = nb_module_get(m, "weight");
    assert_shape(w, 2, (int64_t[]){1000, 16});
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < w->numel; i++)
        sum += w->data[i], sq += w->data[i] * w->data[i];
    double mean = sum / (double)w->numel, var = sq / (double)w->numel - mean * mean;
    cr_assert(fabs(mean) < 0.03 && fabs(var - 1) < 0.05, "mean %g var %g", mean, var);
    for (int d = 0; d < 16; d++)
        cr_assert_eq(w->data[7 * 16 + d], 0);
    nb_tensor *idx = nb_from_int64((int64_t[]){7, 3}, NB_SHAPE(2));
    nb_tensor *y = nb_forward(m, idx);
    assert_shape(y, 2, (int64_t[]){2, 16});
    cr_assert_eq(memcmp(y->data + 16, w->data + 3 * 16, 16 * sizeof(nb_real)), 0);
    nb_free(idx);
    nb_module_free(m);
}

#ifdef NABLA_F64
static nb_tensor *f_emb(nb_tensor *const *in, int n, void *ctx)
{
    (void)n;
    return nb_tanh(nb_embedding_op(ctx, in[0], nb_embedding_defaults())); /* a non-linear use of each row */
}

/* (padding_idx is left out: its row is looked up but, by definition, gets no
 * gradient, which a finite difference would see; the by-hand test covers it.) */
Test(embedding, gradcheck_with_repeated_indices)
{
    nb_generator g;
    nb_generator_seed(&g, 11);
    nb_tensor *w = nb_requires_grad(nb_randn(&g, NB_SHAPE(5, 4)), true);
    nb_tensor *idx = nb_from_int64((int64_t[]){0, 2, 4, 4, 1, 0}, NB_SHAPE(2, 3));
    nb_gradcheck_result r = nb_gradcheck(f_emb, 1, &w, idx, NB_GRADCHECK_OPTS());
    cr_assert(r.ok, "%s", r.message);
    cr_assert_eq(r.nonzero, 16, "rows 0, 1, 2, 4 have gradients; the unused row 3 none");
    nb_free(w), nb_free(idx);
}
#endif
