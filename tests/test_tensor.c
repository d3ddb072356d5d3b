/* tests/test_tensor.c — creation, shapes, fills, random generators, printing. */
#include <stdio.h>
#include <stdlib.h>
#include "common.h"

TestSuite(tensor, .init = quiet, .fini = end_step);

Test(tensor, zeros_ones_full_have_shape_and_values)
{
    nb_tensor *z = nb_zeros(NB_SHAPE(2, 3)), *o = nb_ones(NB_SHAPE(4)),
              *f = nb_full(NB_SHAPE(1, 2, 1, 2), 2.5);
    assert_shape(z, 2, (int64_t[]){2, 3});
    assert_shape(f, 4, (int64_t[]){1, 2, 1, 2});
    cr_assert_eq(z->numel, 6);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(z->data[i], 0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(o->data[i], 1);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(f->data[i], (nb_real)2.5);
    nb_free(z), nb_free(o), nb_free(f);
}

Test(tensor, buffers_are_64_byte_aligned_on_heap_and_arena)
{
    nb_tensor *a = nb_zeros(NB_SHAPE(3)), *b = nb_zeros(NB_SHAPE(5, 7));
    nb_tensor *c = nb_add(a, a), *d = nb_mul(b, b);
    cr_assert_eq((uintptr_t)a->data % 64, 0);
    cr_assert_eq((uintptr_t)b->data % 64, 0);
    cr_assert_eq((uintptr_t)c->data % 64, 0);
    cr_assert_eq((uintptr_t)d->data % 64, 0);
    nb_free(a), nb_free(b);
}

Test(tensor, rank_zero_scalar_and_rank_eight)
{
    nb_tensor *s = nb_scalar(3);
    cr_assert_eq(s->ndim, 0);
    cr_assert_eq(s->numel, 1);
    cr_assert_eq(nb_item(s), 3);
    nb_tensor *r8 = nb_ones(NB_SHAPE(1, 2, 1, 2, 1, 2, 1, 2));
    cr_assert_eq(r8->ndim, 8);
    cr_assert_eq(r8->numel, 16);
    nb_free(s), nb_free(r8);
}

Test(tensor, from_array_copies_row_major)
{
    nb_real v[6] = {1, 2, 3, 4, 5, 6};
    nb_tensor *t = nb_from_array(v, NB_SHAPE(2, 3));
    v[0] = 100;
    cr_assert_eq(t->data[0], 1);
    cr_assert_eq(t->data[5], 6);
    cr_assert_eq(nb_size(t, -1), 3);
    cr_assert_eq(nb_size(t, 0), 2);
    nb_free(t);
}

Test(tensor, arange_matches_torch)
{
    nb_tensor *a = nb_arange(0, 5, 1), *b = nb_arange(1, 2.5, 0.5), *c = nb_arange(5, 0, -2);
    assert_close_array(a->data, (double[]){0, 1, 2, 3, 4}, 5, 0);
    cr_assert_eq(b->numel, 3);
    assert_close_array(b->data, (double[]){1, 1.5, 2}, 3, 0);
    cr_assert_eq(c->numel, 3);
    assert_close_array(c->data, (double[]){5, 3, 1}, 3, 0);
    nb_free(a), nb_free(b), nb_free(c);
}

Test(tensor, arange_rejects_zero_and_wrong_sign_step)
{
    cr_assert_null(nb_arange(0, 1, 0));
    assert_error(NB_ERR_ARG, "step must be non-zero");
    nb_clear_error();
    cr_assert_null(nb_arange(0, 5, -1));
    assert_error(NB_ERR_ARG, "wrong sign");
}

Test(tensor, linspace_hits_both_ends_exactly)
{
    nb_tensor *l = nb_linspace(-1, 1, 5);
    assert_close_array(l->data, (double[]){-1, -0.5, 0, 0.5, 1}, 5, 0);
    nb_tensor *m = nb_linspace(0, 0.3, 7);
    cr_assert_eq(m->data[6], (nb_real)0.3);
    cr_assert_eq(m->data[0], 0);
    nb_tensor *one = nb_linspace(2, 9, 1);
    cr_assert_eq(one->numel, 1);
    cr_assert_eq(one->data[0], 2);
    nb_free(l), nb_free(m), nb_free(one);
}

/* The reference values are xoshiro256** from its published definition, seeded
 * by splitmix64 from 42, computed here independently of the library. */
static uint64_t sm(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

Test(tensor, generator_is_xoshiro256starstar)
{
    uint64_t seed = 42, s[4];
    for (int i = 0; i < 4; i++)
        s[i] = sm(&seed);
    nb_generator g;
    nb_generator_seed(&g, 42);
    for (int k = 0; k < 100; k++) {
        uint64_t r = s[1] * 5;
        r = ((r << 7) | (r >> 57)) * 9;
        uint64_t t = s[1] << 17;
        s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t;
        s[3] = (s[3] << 45) | (s[3] >> 19);
        cr_assert_eq(nb_generator_next(&g), r, "draw %d", k);
    }
}

Test(tensor, same_seed_same_numbers)
{
    nb_generator g1, g2;
    nb_generator_seed(&g1, 7);
    nb_generator_seed(&g2, 7);
    nb_tensor *a = nb_randn(&g1, NB_SHAPE(100)), *b = nb_randn(&g2, NB_SHAPE(100));
    cr_assert_eq(memcmp(a->data, b->data, 100 * sizeof(nb_real)), 0);
    nb_manual_seed(3);
    nb_tensor *c = nb_rand(NULL, NB_SHAPE(50));
    nb_manual_seed(3);
    nb_tensor *d = nb_rand(NULL, NB_SHAPE(50));
    cr_assert_eq(memcmp(c->data, d->data, 50 * sizeof(nb_real)), 0);
    nb_free(a), nb_free(b), nb_free(c), nb_free(d);
}

Test(tensor, uniform_and_normal_have_their_moments)
{
    nb_generator g;
    nb_generator_seed(&g, 1);
    enum { N = 200000 };
    nb_tensor *u = nb_rand(&g, NB_SHAPE(N)), *n = nb_randn(&g, NB_SHAPE(N));
    double su = 0, sn = 0, sn2 = 0, umin = 1, umax = 0;
    for (int i = 0; i < N; i++) {
        su += u->data[i];
        umin = fmin(umin, u->data[i]);
        umax = fmax(umax, u->data[i]);
        sn += n->data[i];
        sn2 += (double)n->data[i] * n->data[i];
    }
    /* 5 standard errors: mean of U(0,1) has sd 0.2887/sqrt(N), of N(0,1) 1/sqrt(N) */
    cr_assert(fabs(su / N - 0.5) < 5 * 0.2887 / sqrt(N));
    cr_assert(umin >= 0 && umax < 1);
    cr_assert(fabs(sn / N) < 5 / sqrt(N));
    cr_assert(fabs(sn2 / N - 1) < 5 * sqrt(2.0 / N));
    nb_free(u), nb_free(n);
}

Test(tensor, below_is_in_range_and_covers_it)
{
    nb_generator g;
    nb_generator_seed(&g, 5);
    int seen[7] = {0};
    for (int i = 0; i < 7000; i++) {
        uint64_t r = nb_generator_below(&g, 7);
        cr_assert_lt(r, 7);
        seen[r]++;
    }
    for (int i = 0; i < 7; i++)
        cr_assert_gt(seen[i], 800);
}

static char *print_to_string(const nb_tensor *t)
{
    static char buf[4096];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    nb_fprint(f, t);
    fclose(f);
    return buf;
}

Test(tensor, print_looks_like_torch_with_shape)
{
    nb_tensor *t = nb_from_array((nb_real[]){1, 2.5, -3, 4}, NB_SHAPE(2, 2));
    cr_assert_str_eq(print_to_string(t), "tensor([[ 1.0000,  2.5000],\n"
                                         "        [-3.0000,  4.0000]], shape=[2,2])\n");
    nb_tensor *i = nb_arange(0, 3, 1);
    cr_assert_str_eq(print_to_string(i), "tensor([0., 1., 2.], shape=[3])\n");
    nb_tensor *s = nb_scalar(0.5);
    nb_requires_grad(s, true);
    cr_assert_str_eq(print_to_string(s), "tensor(0.5000, shape=[], requires_grad=true)\n");
    nb_free(t), nb_free(i), nb_free(s);
}

Test(tensor, print_summarises_large_tensors)
{
    nb_tensor *t = nb_arange(0, 2000, 1);
    cr_assert_str_eq(print_to_string(t),
                     "tensor([   0.,    1.,    2., ..., 1997., 1998., 1999.], shape=[2000])\n");
    nb_free(t);
}

Test(tensor, bad_shapes_are_errors_not_crashes)
{
    cr_assert_null(nb_zeros(NB_SHAPE(2, -3)));
    assert_error(NB_ERR_ARG, "zeros: shape [2,-3] has a negative size");
    nb_clear_error();
    cr_assert_null(nb_zeros(NB_SHAPE(INT64_MAX / 2, 4)));
    assert_error(NB_ERR_ARG,
                 "zeros: shape [4611686018427387903,4]: the product of its non-zero sizes exceeds");
    nb_clear_error();
    cr_assert_null(nb_empty(9, (int64_t[9]){1}));
    assert_error(NB_ERR_ARG, "rank 9 is outside 0..8");
}

/* Issue 10: [0, 2^62, 2^62] holds no element, but flatten and reductions
 * multiply its sizes; such shapes are refused where they enter. */
Test(tensor, empty_shapes_with_overflowing_sizes_are_refused)
{
    cr_assert_null(nb_zeros(NB_SHAPE(0, 1LL << 62, 1LL << 62)));
    assert_error(NB_ERR_ARG, "zeros: shape [0,4611686018427387904,4611686018427387904]: the product of its "
                             "non-zero sizes exceeds");
    nb_clear_error();
    cr_assert_null(nb_full(NB_SHAPE(1LL << 40, 0, 1LL << 40), 1));
    assert_error(NB_ERR_ARG, "full: shape [1099511627776,0,1099511627776]");
    nb_clear_error();
    /* within the bound, an empty tensor of large sizes works and flattens exactly */
    nb_tensor *e = nb_zeros(NB_SHAPE(0, 1LL << 20, 1LL << 20));
    cr_assert_not_null(e, "%s", nb_last_error_message());
    cr_assert_eq(e->numel, 0);
    assert_shape(nb_flatten(e, 1, 2), 2, (int64_t[]){0, 1LL << 40});
    assert_shape(nb_sum_dim(e, 1, false), 2, (int64_t[]){0, 1LL << 20});
    nb_clear_error();
    /* views may not create them either */
    nb_tensor *z = nb_zeros(NB_SHAPE(0));
    cr_assert_null(nb_reshape(z, NB_SHAPE(0, 1LL << 62, 1LL << 62)));
    assert_error(NB_ERR_ARG, "reshape: shape [0,4611686018427387904,4611686018427387904]: the product");
    nb_clear_error();
    nb_free(e), nb_free(z);
}

Test(tensor, broadcast_and_cat_cannot_build_overflowing_shapes)
{
    nb_tensor *a = nb_zeros(NB_SHAPE(1LL << 40, 1, 0)), *b = nb_zeros(NB_SHAPE(1, 1LL << 40, 0));
    cr_assert_null(nb_add(a, b));
    assert_error(NB_ERR_SHAPE, "add: [1099511627776,1,0] and [1,1099511627776,0]: the broadcast shape "
                               "[1099511627776,1099511627776,0] has more than");
    nb_clear_error();
    nb_tensor *c = nb_zeros(NB_SHAPE(0, 1LL << 55)), *cs[10];
    for (int i = 0; i < 10; i++)
        cs[i] = c;
    cr_assert_null(nb_cat(10, cs, 1));
    assert_error(NB_ERR_SHAPE, "cat: [0,36028797018963968] and [0,36028797018963968] at position");
    assert_error(NB_ERR_SHAPE, ": dim 1 grows beyond");
    nb_clear_error();
    nb_free(a), nb_free(b), nb_free(c);
}

Test(tensor, fprint_to_a_null_stream_is_an_error)
{
    nb_tensor *t = nb_zeros(NB_SHAPE(2, 3));
    nb_fprint(NULL, t);
    assert_error(NB_ERR_NULL, "fprint: the stream is NULL (tensor of shape [2,3])");
    nb_clear_error();
    nb_fprint(NULL, NULL);
    assert_error(NB_ERR_NULL, "fprint: the stream is NULL (tensor of shape NULL)");
    nb_free(t);
}

Test(tensor, item_needs_one_element)
{
    nb_tensor *t = nb_zeros(NB_SHAPE(2));
    cr_assert(isnan(nb_item(t)));
    assert_error(NB_ERR_SHAPE, "item: tensor of shape [2] has 2 elements, not 1");
    nb_free(t);
}

Test(tensor, keep_and_clone_make_persistent_copies)
{
    nb_tensor *a = nb_ones(NB_SHAPE(3));
    nb_requires_grad(a, true);
    nb_tensor *b = nb_mul_scalar(a, 2);
    nb_tensor *k = nb_keep(b), *c = nb_clone(a);
    nb_step_end();
    cr_assert(k->persistent);
    cr_assert_not(k->requires_grad);
    cr_assert(c->requires_grad);
    assert_close_array(k->data, (double[]){2, 2, 2}, 3, 0);
    nb_free(a), nb_free(k), nb_free(c);
}
