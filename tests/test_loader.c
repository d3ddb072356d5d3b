/* tests/test_loader.c — datasets, splits, normalisation and the batch loader:
 * every row exactly once per epoch, seeded orders (same seed and epoch, same
 * order; new epoch, new order), drop_last, reusable batch buffers. */
#include "common.h"

TestSuite(loader, .init = quiet, .fini = end_step);

/* x[i] = (i, 1000 + i), y[i] = i */
static nb_dataset *rows(int64_t n)
{
    nb_tensor *x = nb_empty(NB_SHAPE(n, 2)), *y = nb_empty(NB_SHAPE(n));
    for (int64_t i = 0; i < n; i++) {
        x->data[2 * i] = (nb_real)i;
        x->data[2 * i + 1] = (nb_real)(1000 + i);
        y->data[i] = (nb_real)i;
    }
    return nb_dataset_new(x, y, true);
}

/* One epoch's rows in order, checking each batch's pairing; returns the batch count. */
static int epoch_order(nb_loader *ld, int64_t *order, int64_t *sizes)
{
    nb_tensor *x, *y;
    int b = 0, k = 0;
    while (nb_loader_next(ld, &x, &y)) {
        cr_assert_eq(x->shape[0], y->shape[0]);
        cr_assert_eq(x->numel, 2 * x->shape[0]);
        for (int64_t i = 0; i < x->shape[0]; i++) {
            cr_assert_eq(x->data[2 * i] + 1000, x->data[2 * i + 1]);
            cr_assert_eq(x->data[2 * i], y->data[i]);
            order[k++] = (int64_t)y->data[i];
        }
        if (sizes)
            sizes[b] = x->shape[0];
        b++;
    }
    return b;
}

static void assert_permutation(const int64_t *order, int64_t n)
{
    int seen[64] = {0};
    for (int64_t i = 0; i < n; i++) {
        cr_assert(order[i] >= 0 && order[i] < n);
        cr_assert_eq(seen[order[i]]++, 0, "row %lld twice", (long long)order[i]);
    }
}

Test(loader, every_row_once_per_epoch_with_a_short_last_batch)
{
    nb_dataset *ds = rows(10);
    nb_loader *ld = nb_loader_new(ds, 3, NB_LOADER_OPTS(.shuffle = true, .seed = 7));
    cr_assert_eq(nb_loader_batches(ld), 4);
    int64_t order[10], sizes[4];
    for (int e = 0; e < 3; e++) {
        cr_assert_eq(epoch_order(ld, order, sizes), 4);
        cr_assert_eq(sizes[0], 3);
        cr_assert_eq(sizes[3], 1);
        assert_permutation(order, 10);
    }
    nb_loader_free(ld);
    nb_dataset_free(ds);
}

Test(loader, same_seed_same_order_new_epoch_new_order)
{
    nb_dataset *ds = rows(50);
    nb_loader_opts o = NB_LOADER_OPTS(.shuffle = true, .seed = 42);
    nb_loader *a = nb_loader_new(ds, 8, o), *b = nb_loader_new(ds, 16, o);
    int64_t oa[50], ob[50], oa2[50];
    epoch_order(a, oa, NULL);
    epoch_order(b, ob, NULL);
    cr_assert_arr_eq(oa, ob, sizeof oa, "the batch size changed the order");
    cr_assert_eq(nb_loader_epoch(a), 0);
    epoch_order(a, oa2, NULL); /* the call after the end started epoch 1 */
    cr_assert_eq(nb_loader_epoch(a), 1);
    cr_assert(memcmp(oa, oa2, sizeof oa) != 0, "epochs 0 and 1 have the same order");
    nb_loader_reset(a, 0); /* resuming replays an epoch's order */
    epoch_order(a, oa2, NULL);
    cr_assert_arr_eq(oa, oa2, sizeof oa);
    nb_loader_free(b);
    b = nb_loader_new(ds, 8, NB_LOADER_OPTS(.shuffle = true, .seed = 43));
    epoch_order(b, ob, NULL);
    cr_assert(memcmp(oa, ob, sizeof oa) != 0, "seeds 42 and 43 give the same order");
    nb_loader_free(a), nb_loader_free(b);
    nb_dataset_free(ds);
}

Test(loader, order_is_pinned_across_machines)
{
    /* integer-only generator and Fisher-Yates: this order is the same everywhere */
    nb_dataset *ds = rows(8);
    nb_loader *ld = nb_loader_new(ds, 8, NB_LOADER_OPTS(.shuffle = true, .seed = 2024));
    int64_t order[8];
    epoch_order(ld, order, NULL);
    static const int64_t want[8] = {7, 1, 3, 5, 2, 6, 4, 0};
    cr_assert_arr_eq(order, want, sizeof want, "got %lld %lld %lld %lld %lld %lld %lld %lld",
                     (long long)order[0], (long long)order[1], (long long)order[2], (long long)order[3],
                     (long long)order[4], (long long)order[5], (long long)order[6], (long long)order[7]);
    nb_loader_free(ld);
    nb_dataset_free(ds);
}

Test(loader, drop_last_and_no_shuffle)
{
    nb_dataset *ds = rows(10);
    nb_loader *ld = nb_loader_new(ds, 3, NB_LOADER_OPTS(.drop_last = true));
    cr_assert_eq(nb_loader_batches(ld), 3);
    int64_t order[10], sizes[4];
    cr_assert_eq(epoch_order(ld, order, sizes), 3);
    for (int i = 0; i < 9; i++)
        cr_assert_eq(order[i], i);
    cr_assert_eq(sizes[2], 3);
    nb_loader_free(ld);
    /* a batch larger than the data: one batch of everything, or none with drop_last */
    ld = nb_loader_new(ds, 64, NB_LOADER_OPTS());
    cr_assert_eq(epoch_order(ld, order, sizes), 1);
    cr_assert_eq(sizes[0], 10);
    nb_loader_free(ld);
    ld = nb_loader_new(ds, 64, NB_LOADER_OPTS(.drop_last = true));
    cr_assert_eq(nb_loader_batches(ld), 0);
    cr_assert_eq(epoch_order(ld, order, sizes), 0);
    nb_loader_free(ld);
    nb_dataset_free(ds);
}

Test(loader, batches_reuse_the_same_buffers)
{
    nb_dataset *ds = rows(10);
    nb_loader *ld = nb_loader_new(ds, 4, NB_LOADER_OPTS());
    nb_tensor *x1, *y1, *x2, *y2;
    cr_assert(nb_loader_next(ld, &x1, &y1));
    nb_real *data = x1->data;
    cr_assert(nb_loader_next(ld, &x2, &y2));
    cr_assert(nb_loader_next(ld, &x2, &y2));
    cr_assert_eq(x1, x2);
    cr_assert_eq(x2->data, data);
    cr_assert_eq(y1, y2);
    cr_assert_eq(x2->shape[0], 2);
    cr_assert_eq(x2->data[0], 8);
    cr_assert_eq(y2->data[1], 9);
    nb_loader_free(ld);
    nb_dataset_free(ds);
}

Test(loader, nb_free_of_a_batch_leaves_the_loader_working)
{
    nb_dataset *ds = rows(6);
    nb_loader *ld = nb_loader_new(ds, 4, NB_LOADER_OPTS());
    nb_tensor *x, *y;
    cr_assert(nb_loader_next(ld, &x, &y));
    nb_free(x); /* a user's mistake: the batch belongs to the loader */
    nb_free(y);
    cr_assert(nb_loader_next(ld, &x, &y));
    cr_assert_eq(x->shape[0], 2);
    cr_assert_eq(y->data[1], 5);
    nb_loader_free(ld);
    nb_dataset_free(ds);
}

Test(loader, dataset_without_targets)
{
    nb_tensor *x = nb_arange(0, 6, 1);
    nb_dataset *ds = nb_dataset_new(x, NULL, false);
    nb_loader *ld = nb_loader_new(ds, 4, NB_LOADER_OPTS());
    nb_tensor *xb, *yb;
    cr_assert(nb_loader_next(ld, &xb, &yb));
    cr_assert_null(yb);
    assert_shape(xb, 1, (int64_t[]){4});
    nb_loader_free(ld);
    nb_dataset_free(ds);
    cr_assert_eq(x->data[5], 5); /* borrowed: still alive */
    nb_free(x);
}

Test(loader, argument_errors)
{
    nb_tensor *x = nb_zeros(NB_SHAPE(4, 2)), *y = nb_zeros(NB_SHAPE(3));
    cr_assert_null(nb_dataset_new(x, y, true));
    assert_error(NB_ERR_SHAPE, "dataset: x [4,2] and y [3] must have rank >= 1 and the same shape[0]");
    nb_clear_error();
    nb_dataset *ds = nb_dataset_new(x, NULL, true);
    cr_assert_null(nb_loader_new(ds, 0, NB_LOADER_OPTS()));
    assert_error(NB_ERR_ARG, "loader: batch_size 0 must be positive");
    nb_clear_error();
    nb_dataset *a, *b;
    cr_assert_eq(nb_dataset_split(ds, 1.5, 1, &a, &b), -1);
    assert_error(NB_ERR_ARG, "dataset_split: fraction 1.5 is outside [0, 1]");
    cr_assert_null(a);
    cr_assert_null(b);
    nb_dataset_free(ds);
    nb_free(y);
}

Test(loader, split_sizes_disjoint_and_reproducible)
{
    nb_dataset *ds = rows(10), *tr, *va, *tr2, *va2;
    cr_assert_eq(nb_dataset_split(ds, 0.8, 5, &tr, &va), 0);
    cr_assert_eq(nb_dataset_len(tr), 8);
    cr_assert_eq(nb_dataset_len(va), 2);
    assert_shape(tr->x, 2, (int64_t[]){8, 2});
    int64_t all[10];
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(tr->x->data[2 * i], tr->y->data[i]); /* rows stay paired */
        all[i] = (int64_t)tr->y->data[i];
    }
    for (int i = 0; i < 2; i++)
        all[8 + i] = (int64_t)va->y->data[i];
    assert_permutation(all, 10);
    cr_assert_eq(nb_dataset_split(ds, 0.8, 5, &tr2, &va2), 0);
    cr_assert_arr_eq(tr->x->data, tr2->x->data, 16 * sizeof(nb_real));
    bool shuffled = false;
    for (int i = 0; i < 8; i++)
        shuffled |= tr->y->data[i] != i;
    cr_assert(shuffled);
    nb_dataset_free(tr), nb_dataset_free(va), nb_dataset_free(tr2), nb_dataset_free(va2);
    cr_assert_eq(nb_dataset_split(ds, 0, 5, &tr, &va), 0); /* everything in the second part */
    cr_assert_eq(nb_dataset_len(tr), 0);
    cr_assert_eq(nb_dataset_len(va), 10);
    nb_dataset_free(tr), nb_dataset_free(va);
    nb_dataset_free(ds);
}

Test(loader, standardize_fits_on_train_and_applies_to_val)
{
    /* column 0: 1 2 3 4 (mean 2.5, population std sqrt(1.25)); column 1 constant 5 */
    nb_tensor *x = nb_from_array((nb_real[]){1, 5, 2, 5, 3, 5, 4, 5}, NB_SHAPE(4, 2));
    nb_norm *n = nb_standardize(x);
    cr_assert_not_null(n);
    assert_shape(n->shift, 1, (int64_t[]){2});
    assert_close_array(n->shift->data, (double[]){2.5, 5}, 2, TOL);
    assert_close_array(n->scale->data, (double[]){sqrt(1.25), 1}, 2, TOL);
    double s = sqrt(1.25);
    assert_close_array(x->data, (double[]){-1.5 / s, 0, -0.5 / s, 0, 0.5 / s, 0, 1.5 / s, 0}, 8, TOL);
    nb_tensor *val = nb_from_array((nb_real[]){5, 7}, NB_SHAPE(1, 2));
    cr_assert_eq(nb_norm_apply_(n, val), val);
    assert_close_array(val->data, (double[]){2.5 / s, 2}, 2, TOL);
    nb_tensor *wrong = nb_zeros(NB_SHAPE(2, 3));
    cr_assert_null(nb_norm_apply_(n, wrong));
    assert_error(NB_ERR_SHAPE, "norm_apply_: x of shape [2,3] does not have rows of shape [2]");
    nb_norm_free(n);
    nb_free(x), nb_free(val), nb_free(wrong);
}

Test(loader, minmax_and_scale)
{
    nb_tensor *x = nb_from_array((nb_real[]){0, -1, 10, 3, 5, 1}, NB_SHAPE(3, 2));
    nb_norm *n = nb_minmax(x);
    assert_close_array(n->shift->data, (double[]){0, -1}, 2, 0);
    assert_close_array(n->scale->data, (double[]){10, 4}, 2, 0);
    assert_close_array(x->data, (double[]){0, 0, 1, 1, 0.5, 0.5}, 6, TOL);
    nb_norm_free(n);
    nb_tensor *p = nb_from_array((nb_real[]){0, 51, 255}, NB_SHAPE(3));
    nb_scale_(p, 1.0 / 255);
    assert_close_array(p->data, (double[]){0, 0.2, 1}, 3, TOL);
    nb_free(p), nb_free(x);
    nb_tensor *empty = nb_zeros(NB_SHAPE(0, 3));
    cr_assert_null(nb_standardize(empty));
    assert_error(NB_ERR_SHAPE, "standardize: x of shape [0,3] has no rows");
    nb_free(empty);
}

/* One epoch's rows of a sharded loader; returns how many. */
static int64_t shard_rows(nb_dataset *ds, int64_t batch, nb_loader_opts o, int64_t replicas, int64_t rank,
                          bool drop_last, int64_t *out)
{
    nb_loader *ld = nb_loader_new(ds, batch, o);
    cr_assert_eq(nb_loader_shard(ld, replicas, rank, drop_last), 0);
    int64_t sizes[64];
    int b = epoch_order(ld, out, sizes);
    cr_assert_eq(b, nb_loader_batches(ld));
    int64_t n = 0;
    for (int i = 0; i < b; i++)
        n += sizes[i];
    nb_loader_free(ld);
    return n;
}

Test(loader, shard_as_torch_distributed_sampler_pads_or_drops_the_tail)
{
    /* torch DistributedSampler(range(10), num_replicas=3, rank=r, shuffle=False):
     * [0,3,6,9] [1,4,7,0] [2,5,8,1]; with drop_last=True: [0,3,6] [1,4,7] [2,5,8] */
    static const int64_t padded[3][4] = {{0, 3, 6, 9}, {1, 4, 7, 0}, {2, 5, 8, 1}};
    nb_dataset *ds = rows(10);
    int64_t got[16];
    for (int r = 0; r < 3; r++) {
        cr_assert_eq(shard_rows(ds, 3, NB_LOADER_OPTS(), 3, r, false, got), 4);
        for (int j = 0; j < 4; j++)
            cr_assert_eq(got[j], padded[r][j], "rank %d row %d", r, j);
        cr_assert_eq(shard_rows(ds, 3, NB_LOADER_OPTS(), 3, r, true, got), 3);
        for (int j = 0; j < 3; j++)
            cr_assert_eq(got[j], padded[r][j]);
    }
    /* fewer rows than replicas: torch pads by repeating the order */
    nb_dataset *two = rows(2);
    cr_assert_eq(shard_rows(two, 4, NB_LOADER_OPTS(), 3, 2, false, got), 1);
    cr_assert_eq(got[0], 0);
    cr_assert_eq(shard_rows(two, 4, NB_LOADER_OPTS(), 3, 2, true, got), 0);
    nb_dataset_free(two);
    nb_dataset_free(ds);
}

Test(loader, shards_cover_each_row_once_and_make_the_global_batches_of_one_process)
{
    /* 24 rows, 3 replicas of batch 2 = one process of batch 6, shuffled. */
    nb_dataset *ds = rows(24);
    nb_loader_opts o = NB_LOADER_OPTS(.shuffle = true, .seed = 11);
    nb_loader *whole = nb_loader_new(ds, 6, o);
    nb_loader *ld[3];
    for (int r = 0; r < 3; r++) {
        ld[r] = nb_loader_new(ds, 2, o);
        cr_assert_eq(nb_loader_shard(ld[r], 3, r, false), 0);
        cr_assert_eq(nb_loader_batches(ld[r]), 4);
    }
    for (int epoch = 0; epoch < 2; epoch++) {
        int seen[24] = {0};
        nb_tensor *x, *y;
        for (int b = 0; b < 4; b++) {
            cr_assert(nb_loader_next(whole, &x, &y));
            int in_global[24] = {0};
            for (int i = 0; i < 6; i++)
                in_global[(int)y->data[i]] = 1;
            for (int r = 0; r < 3; r++) {
                cr_assert(nb_loader_next(ld[r], &x, &y));
                cr_assert_eq(y->shape[0], 2);
                for (int i = 0; i < 2; i++) {
                    int row = (int)y->data[i];
                    cr_assert(in_global[row], "epoch %d batch %d: rank %d has row %d", epoch, b, r, row);
                    cr_assert_eq(seen[row]++, 0, "row %d twice in epoch %d", row, epoch);
                }
            }
        }
        for (int r = 0; r < 3; r++)
            cr_assert_not(nb_loader_next(ld[r], &x, &y));
        cr_assert_not(nb_loader_next(whole, &x, &y));
        for (int i = 0; i < 24; i++)
            cr_assert_eq(seen[i], 1);
    }
    for (int r = 0; r < 3; r++)
        nb_loader_free(ld[r]);
    nb_loader_free(whole);
    nb_dataset_free(ds);
}

Test(loader, shard_errors)
{
    nb_dataset *ds = rows(4);
    nb_loader *ld = nb_loader_new(ds, 2, NB_LOADER_OPTS());
    cr_assert_eq(nb_loader_shard(ld, 2, 2, false), -1);
    assert_error(NB_ERR_ARG, "loader_shard: rank 2 is not in [0, num_replicas 2)");
    cr_assert_eq(nb_loader_shard(ld, 0, 0, false), -1);
    assert_error(NB_ERR_ARG, "loader_shard: rank 0 is not in [0, num_replicas 0)");
    cr_assert_eq(nb_loader_shard(NULL, 2, 0, false), -1);
    assert_error(NB_ERR_NULL, "loader_shard: the loader is NULL");
    cr_assert_eq(nb_loader_batches(ld), 2); /* unchanged */
    nb_loader_free(ld);
    nb_dataset_free(ds);
}
