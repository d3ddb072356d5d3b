/* tests/test_matmul.c — nb_matmul: a product by hand, every batch-broadcasting
 * and 1-D case against a naive loop written here, thread-count independence,
 * error messages, and gradchecks of each case in the float64 build. */
#include <stdlib.h>
#include "common.h"

TestSuite(matmul, .init = quiet, .fini = end_step);

Test(matmul, by_hand)
{
    /* [[1,2,3],[4,5,6]] x [[7,8],[9,10],[11,12]] = [[58,64],[139,154]] */
    nb_tensor *a = nb_from_array((nb_real[]){1, 2, 3, 4, 5, 6}, NB_SHAPE(2, 3));
    nb_tensor *b = nb_from_array((nb_real[]){7, 8, 9, 10, 11, 12}, NB_SHAPE(3, 2));
    nb_tensor *y = nb_matmul(a, b);
    assert_shape(y, 2, (int64_t[]){2, 2});
    assert_close_array(y->data, (double[]){58, 64, 139, 154}, 4, TOL);
    /* dy = ones: dA = ones B^T = row sums of B per row: [15,19,23]; dB = A^T ones = column sums of A: [5,7,9] */
    nb_requires_grad(a, true), nb_requires_grad(b, true);
    nb_tensor *g = nb_ones(NB_SHAPE(2, 2));
    cr_assert_eq(nb_backward_grad(nb_matmul(a, b), g), 0);
    assert_close_array(a->grad, (double[]){15, 19, 23, 15, 19, 23}, 6, TOL);
    assert_close_array(b->grad, (double[]){5, 5, 7, 7, 9, 9}, 6, TOL);
    nb_free(a), nb_free(b), nb_free(g);
}

Test(matmul, vectors_by_hand)
{
    nb_tensor *u = nb_from_array((nb_real[]){1, 2, 3}, NB_SHAPE(3));
    nb_tensor *v = nb_from_array((nb_real[]){4, 5, 6}, NB_SHAPE(3));
    nb_tensor *m = nb_from_array((nb_real[]){1, 0, 0, 1, 2, 2}, NB_SHAPE(3, 2));
    nb_tensor *d = nb_matmul(u, v);
    assert_shape(d, 0, NULL);
    cr_assert_float_eq(nb_item(d), 32, TOL);
    nb_tensor *r = nb_matmul(u, m); /* [3] x [3,2] -> [2] */
    assert_shape(r, 1, (int64_t[]){2});
    assert_close_array(r->data, (double[]){7, 8}, 2, TOL);
    nb_tensor *mt = nb_from_array((nb_real[]){1, 0, 2, 0, 1, 2}, NB_SHAPE(2, 3));
    nb_tensor *c = nb_matmul(mt, v); /* [2,3] x [3] -> [2] */
    assert_shape(c, 1, (int64_t[]){2});
    assert_close_array(c->data, (double[]){16, 17}, 2, TOL);
    nb_free(u), nb_free(v), nb_free(m), nb_free(mt);
}

/* Naive product with torch.matmul's broadcasting, written independently: shapes
 * padded to rank 4 ([b0,b1,n,k] x [b0,b1,k,m]), 1-D operands as a row/column. */
static double *naive(const nb_tensor *a, const nb_tensor *b, int64_t *count)
{
    int64_t as[4] = {1, 1, 1, 1}, bs[4] = {1, 1, 1, 1};
    if (a->ndim == 1)
        as[3] = a->shape[0];
    else
        for (int i = 0; i < a->ndim; i++)
            as[4 - a->ndim + i] = a->shape[i];
    if (b->ndim == 1)
        bs[2] = b->shape[0];
    else
        for (int i = 0; i < b->ndim; i++)
            bs[4 - b->ndim + i] = b->shape[i];
    int64_t B0 = as[0] == 1 ? bs[0] : as[0], B1 = as[1] == 1 ? bs[1] : as[1];
    int64_t n = as[2], k = as[3], m = bs[3];
    double *y = calloc((size_t)(B0 * B1 * n * m + 1), sizeof *y);
    for (int64_t p = 0; p < B0; p++)
        for (int64_t q = 0; q < B1; q++)
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < m; j++) {
                    double s = 0;
                    for (int64_t t = 0; t < k; t++) {
                        int64_t pa = as[0] == 1 ? 0 : p, qa = as[1] == 1 ? 0 : q;
                        int64_t pb = bs[0] == 1 ? 0 : p, qb = bs[1] == 1 ? 0 : q;
                        s += (double)a->data[((pa * as[1] + qa) * n + i) * k + t] *
                             (double)b->data[((pb * bs[1] + qb) * k + t) * m + j];
                    }
                    y[((p * B1 + q) * n + i) * m + j] = s;
                }
    *count = B0 * B1 * n * m;
    return y;
}

typedef struct mcase {
    int na;
    int64_t sa[4];
    int nb;
    int64_t sb[4];
    int ny;
    int64_t sy[4];
} mcase;

static const mcase cases[] = {
    {2, {5, 7}, 2, {7, 3}, 2, {5, 3}},
    {3, {4, 5, 7}, 3, {4, 7, 3}, 3, {4, 5, 3}},
    {2, {5, 7}, 3, {4, 7, 3}, 3, {4, 5, 3}},    /* 2-D a against a batch of b */
    {3, {1, 5, 7}, 3, {4, 7, 3}, 3, {4, 5, 3}}, /* [1,n,k] against [b,k,m] */
    {3, {4, 5, 7}, 2, {7, 3}, 3, {4, 5, 3}},    /* batch against one b: folded */
    {3, {4, 5, 7}, 3, {1, 7, 3}, 3, {4, 5, 3}},
    {4, {2, 1, 5, 7}, 3, {3, 7, 3}, 4, {2, 3, 5, 3}}, /* rank-4 batch broadcasting */
    {4, {2, 3, 5, 7}, 4, {2, 3, 7, 3}, 4, {2, 3, 5, 3}},
    {1, {7}, 3, {4, 7, 3}, 2, {4, 3}}, /* 1-D against a batch */
    {3, {4, 5, 7}, 1, {7}, 2, {4, 5}},
    {1, {7}, 2, {7, 3}, 1, {3}},
    {2, {5, 7}, 1, {7}, 1, {5}},
    {1, {7}, 1, {7}, 0, {0}},
    {2, {5, 0}, 2, {0, 3}, 2, {5, 3}}, /* k = 0: zeros */
    {3, {0, 5, 7}, 2, {7, 3}, 3, {0, 5, 3}},
};

Test(matmul, every_case_matches_a_naive_loop)
{
    nb_generator g;
    nb_generator_seed(&g, 7);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const mcase *t = &cases[c];
        nb_tensor *a = nb_randn(&g, t->na, t->sa), *b = nb_randn(&g, t->nb, t->sb);
        nb_tensor *y = nb_matmul(a, b);
        cr_assert_not_null(y, "case %zu: %s", c, nb_last_error_message());
        assert_shape(y, t->ny, t->sy);
        int64_t count;
        double *want = naive(a, b, &count);
        cr_assert_eq(count, y->numel, "case %zu", c);
        assert_close_array(y->data, want, count, 10 * TOL);
        free(want);
        nb_free(a), nb_free(b);
    }
}

Test(matmul, large_products_match_and_do_not_depend_on_threads)
{
    nb_generator g;
    nb_generator_seed(&g, 8);
    nb_tensor *a = nb_requires_grad(nb_randn(&g, NB_SHAPE(3, 70, 90)), true);
    nb_tensor *b = nb_requires_grad(nb_randn(&g, NB_SHAPE(90, 65)), true);
    nb_tensor *c = nb_requires_grad(nb_randn(&g, NB_SHAPE(3, 65, 40)), true);
    nb_tensor *w = nb_randn(&g, NB_SHAPE(3, 70, 40));
    nb_real *out[2], *ga[2], *gb[2], *gc[2];
    size_t sy = 3 * 70 * 40 * sizeof(nb_real);
    for (int t = 0; t < 2; t++) {
        nb_set_num_threads(t + 1);
        nb_zero_grad(a), nb_zero_grad(b), nb_zero_grad(c);
        nb_tensor *ab = nb_matmul(a, b);
        int64_t count;
        double *want = naive(a, b, &count);
        assert_close_array(ab->data, want, count, 100 * TOL);
        free(want);
        nb_tensor *y = nb_matmul(ab, c);
        cr_assert_eq(nb_backward_grad(y, w), 0);
        out[t] = malloc(sy), ga[t] = malloc(sizeof(nb_real) * 3 * 70 * 90);
        gb[t] = malloc(sizeof(nb_real) * 90 * 65), gc[t] = malloc(sizeof(nb_real) * 3 * 65 * 40);
        memcpy(out[t], y->data, sy);
        memcpy(ga[t], a->grad, sizeof(nb_real) * 3 * 70 * 90);
        memcpy(gb[t], b->grad, sizeof(nb_real) * 90 * 65);
        memcpy(gc[t], c->grad, sizeof(nb_real) * 3 * 65 * 40);
        nb_step_end();
    }
    nb_set_num_threads(0);
    cr_assert_eq(memcmp(out[0], out[1], sy), 0);
    cr_assert_eq(memcmp(ga[0], ga[1], sizeof(nb_real) * 3 * 70 * 90), 0);
    cr_assert_eq(memcmp(gb[0], gb[1], sizeof(nb_real) * 90 * 65), 0);
    cr_assert_eq(memcmp(gc[0], gc[1], sizeof(nb_real) * 3 * 65 * 40), 0);
    for (int t = 0; t < 2; t++)
        free(out[t]), free(ga[t]), free(gb[t]), free(gc[t]);
    nb_free(a), nb_free(b), nb_free(c), nb_free(w);
}

Test(matmul, errors)
{
    nb_tensor *a = nb_zeros(NB_SHAPE(32, 784)), *b = nb_zeros(NB_SHAPE(100, 10));
    cr_assert_null(nb_matmul(a, b));
    assert_error(NB_ERR_SHAPE, "matmul: [32,784] x [100,10]: inner dimensions differ (784 vs 100)");
    nb_clear_error();
    nb_tensor *p = nb_zeros(NB_SHAPE(2, 3, 4)), *q = nb_zeros(NB_SHAPE(3, 4, 5));
    cr_assert_null(nb_matmul(p, q));
    assert_error(NB_ERR_SHAPE,
                 "matmul: [2,3,4] x [3,4,5]: batch dimensions cannot be broadcast (dim -3: 2 vs 3)");
    nb_clear_error();
    nb_tensor *s = nb_scalar(1), *v = nb_zeros(NB_SHAPE(3));
    cr_assert_null(nb_matmul(s, v));
    assert_error(NB_ERR_SHAPE, "matmul: [] x [3]: both arguments need at least 1 dimension");
    nb_clear_error();
    nb_tensor *v4 = nb_zeros(NB_SHAPE(4));
    cr_assert_null(nb_matmul(v, v4));
    assert_error(NB_ERR_SHAPE, "matmul: [3] x [4]: inner dimensions differ (3 vs 4)");
    nb_clear_error();
    cr_assert_null(nb_matmul(a, NULL));
    assert_error(NB_ERR_NULL, "matmul: argument 2 is NULL");
    nb_clear_error();
    nb_free(a), nb_free(b), nb_free(p), nb_free(q), nb_free(s), nb_free(v), nb_free(v4);
}

#ifdef NABLA_F64
static nb_tensor *f_matmul(nb_tensor *const *in, int n, void *ctx)
{
    (void)n, (void)ctx;
    return nb_matmul(in[0], in[1]);
}

Test(matmul, gradcheck_every_case)
{
    nb_generator g;
    nb_generator_seed(&g, 9);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const mcase *t = &cases[c];
        nb_tensor *in[2] = {nb_requires_grad(nb_randn(&g, t->na, t->sa), true),
                            nb_requires_grad(nb_randn(&g, t->nb, t->sb), true)};
        nb_gradcheck_result r = nb_gradcheck(f_matmul, 2, in, NULL, NB_GRADCHECK_OPTS());
        bool empty = in[0]->numel == 0 || in[1]->numel == 0;
        cr_assert(r.ok || empty, "case %zu: %s", c, r.message);
        if (!empty)
            cr_assert_gt(r.nonzero, 0, "case %zu", c);
        /* only one operand needing a gradient takes other paths of the backward */
        for (int only = 0; only < 2 && !empty; only++) {
            nb_requires_grad(in[1 - only], false);
            r = nb_gradcheck(f_matmul, 2, in, NULL, NB_GRADCHECK_OPTS());
            cr_assert(r.ok && r.nonzero > 0, "case %zu, only input %d: %s", c, only, r.message);
            nb_requires_grad(in[1 - only], true);
        }
        nb_free(in[0]), nb_free(in[1]);
    }
}
#endif
