/* examples/fashion_mnist_ddp.c — data-parallel training over MPI (nabla/dist.h):
 * the multi-layer perceptron of fashion_mnist (or, with --model cnn, the
 * network of fashion_mnist_cnn) trained by every rank of an MPI job on its
 * shard of each global batch, as torch's DistributedDataParallel does.
 *
 *   mpirun -np 2 build/examples/fashion_mnist_ddp [--batch 128] [--epochs 15]
 *       [--model mlp|cnn] [--sync-bn] [--lr 1e-3] [--seed 1] [--threads 1] [--bucket-mb 25]
 *       [--checkpoint PATH] [--resume PATH] [--stop-after N] [--data DIR] [--quick]
 *
 * What it shows:
 *   - nb_dist_init from the MPI environment; every rank builds the model and
 *     nb_ddp_new makes rank 0's weights everyone's;
 *   - --batch is the global batch: each of the W ranks loads batch / W rows,
 *     its shard of the epoch's one shared order (nb_loader_shard), so that W
 *     ranks train on the global batches one process with --batch would;
 *   - nb_ddp_backward averages the gradients (bucketed, overlapped with
 *     backward, summed in rank order: the same bits from run to run);
 *   - only rank 0 prints, evaluates and writes checkpoints; the train loss is
 *     summed over the ranks (nb_dist_all_reduce_sum);
 *   - --resume continues a checkpoint with any number of ranks that divides
 *     the global batch;
 *   - at the end, what communication cost: bytes per step, and the share of
 *     the training time spent waiting for it.
 *
 * --quick trains 2 epochs on 5000 training images, tests on 1000, and fails
 * unless the accuracy exceeds 0.6 (the distributed tests run it on 2 ranks). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nabla/dist.h>
#include <nabla/nabla.h>
#include "common.h"

enum { CLASSES = 10, EVAL_BATCH = 500 };

/* The layers in the given order: each initialises from the default
 * generator, so the order of construction is the order of the draws (the
 * arguments of one call, as nb_sequential(n, ...) takes them, are evaluated
 * in an order C leaves open). */
static nb_module *stack(int n, nb_module *(*const *make)(void))
{
    nb_module *m = nb_sequential(0);
    for (int i = 0; m && i < n; i++)
        if (nb_sequential_add(m, make[i]()) != 0) {
            nb_module_free(m);
            return NULL;
        }
    return m;
}

static nb_module *fc1(void) { return nb_linear(784, 256); }
static nb_module *fc2(void) { return nb_linear(256, 128); }
static nb_module *fc3(void) { return nb_linear(128, CLASSES); }
static nb_module *relu(void) { return nb_act("relu"); }

/* fashion_mnist's perceptron: Linear(784,256) relu Linear(256,128) relu Linear(128,10). */
static nb_module *mlp(void) { return stack(5, (nb_module * (*const[])(void)){fc1, relu, fc2, relu, fc3}); }

/* fashion_mnist_cnn's network: conv-BatchNorm-ReLU blocks. Each rank's
 * BatchNorm normalises with the statistics of its own shard of the batch, and
 * rank 0's running statistics are copied to all at each forward; with
 * --sync-bn, SyncBatchNorm uses the statistics of the global batch (see
 * docs/distributed.md). */
static bool sync_bn;
static nb_module *batch_norm(int64_t c, bool images)
{
    return sync_bn ? nb_sync_batch_norm(c) : images ? nb_batch_norm2d(c) : nb_batch_norm1d(c);
}

static nb_module *conv_block(int64_t in, int64_t out)
{
    nb_module *m = nb_sequential(0);
    nb_sequential_add(m, nb_conv2d_layer_ex(in, out, 3, 3, NB_CONV2D_OPTS(.padding = {1, 1}), false, NULL));
    nb_sequential_add(m, batch_norm(out, true));
    nb_sequential_add(m, nb_act("relu"));
    nb_sequential_add(m, nb_max_pool2d_layer(2, 0));
    return m;
}

static nb_module *block1(void) { return conv_block(1, 16); }
static nb_module *block2(void) { return conv_block(16, 32); }
static nb_module *flatten(void) { return nb_flatten_layer(1, -1); }
static nb_module *fc_conv(void) { return nb_linear(32 * 7 * 7, 128); }
static nb_module *bn1d(void) { return batch_norm(128, false); }
static nb_module *dropout(void) { return nb_dropout(0.3); }
static nb_module *head(void) { return nb_linear(128, CLASSES); }

static nb_module *cnn(void)
{
    return stack(8,
                 (nb_module * (*const[])(void)){block1, block2, flatten, fc_conv, bn1d, relu, dropout, head});
}

static bool is_cnn;
/* A batch x [B,784] as the model's input: [B,1,28,28] for the CNN (a view). */
static nb_tensor *input(nb_tensor *x) { return is_cnn ? nb_reshape(x, NB_SHAPE(x->shape[0], 1, 28, 28)) : x; }

/* Stop every rank with a message when a rank-local step fails: the others
 * would otherwise wait for this one. */
static void check(bool ok, const char *what)
{
    if (!ok) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s: %s", what, nb_last_error_message());
        nb_dist_abort(msg);
    }
}

int main(int argc, char **argv)
{
    check(nb_dist_init(&argc, &argv, NULL) == 0, "dist_init");
    int rank = nb_dist_rank(), world = nb_dist_world_size();
    int batch = 128, epochs = 0, seed = 1, threads = 1, stop_after = 0;
    double lr = 1e-3, bucket_mb = 25;
    const char *model_name = "mlp", *data = NB_FASHION_MNIST_DIR, *ckpt = NULL, *resume = NULL;
    bool quick = false;
    const ex_arg args[] = {
        {"batch", EX_INT, &batch, "global mini-batch: each rank takes batch / world-size of it"},
        {"epochs", EX_INT, &epochs, "epochs; 0: 15, or 2 with --quick"},
        {"model", EX_STR, &model_name, "mlp (784-256-128-10) or cnn (fashion_mnist_cnn's)"},
        {"sync-bn", EX_FLAG, &sync_bn, "cnn: SyncBatchNorm (statistics of the global batch)"},
        {"lr", EX_DOUBLE, &lr, "Adam's learning rate (cosine-annealed over the epochs)"},
        {"seed", EX_INT, &seed, "seed of the initial weights and of the shared shuffling"},
        {"threads", EX_INT, &threads, "threads per rank"},
        {"bucket-mb", EX_DOUBLE, &bucket_mb, "gradient bucket size in MB (torch's bucket_cap_mb)"},
        {"checkpoint", EX_STR, &ckpt, "rank 0 saves model + optimizer + epoch here after every epoch"},
        {"resume", EX_STR, &resume, "continue from this checkpoint (any world size dividing --batch)"},
        {"stop-after", EX_INT, &stop_after, "stop after this many epochs of this run"},
        {"data", EX_STR, &data, "directory of the four Fashion-MNIST IDX files"},
        {"quick", EX_FLAG, &quick, "5000 training and 1000 test images, 2 epochs"},
    };
    ex_parse(argc, argv, args, EX_COUNT(args), "data-parallel training of Fashion-MNIST over MPI");
    epochs = epochs ? epochs : quick ? 2 : 15;
    is_cnn = strcmp(model_name, "cnn") == 0;
    if (batch < 1 || batch % world != 0 || epochs < 1 || (!is_cnn && strcmp(model_name, "mlp") != 0)) {
        if (rank == 0)
            fprintf(stderr,
                    "--batch %d must be a positive multiple of the world size %d, --epochs positive, "
                    "--model mlp or cnn\n",
                    batch, world);
        nb_dist_finalize();
        return 2;
    }
    nb_set_num_threads(threads);

    /* Every rank reads the data (a shared disk, or a copy on each machine). */
    nb_dataset *train = nb_mnist_load(data, true, NB_MNIST_OPTS()),
               *test = train ? nb_mnist_load(data, false, NB_MNIST_OPTS()) : NULL;
    check(test != NULL, "loading Fashion-MNIST (apt-get install dataset-fashion-mnist, or --data DIR)");
    if (quick) {
        train = ex_first_rows(train, 5000);
        test = ex_first_rows(test, 1000);
    }

    nb_manual_seed((uint64_t)seed);
    nb_module *model = is_cnn ? cnn() : mlp();
    check(model != NULL, "model");
    nb_ddp_options dopts = nb_ddp_defaults();
    dopts.bucket_cap_mb = bucket_mb;
    nb_ddp *ddp = nb_ddp_new(model, &dopts); /* rank 0's weights on every rank */
    check(ddp != NULL, "ddp_new");
    nb_param_list pl;
    check(nb_module_parameters(model, &pl) >= 0, "parameters");
    nb_optim *opt = nb_adam(pl.tensors, pl.count, NB_ADAM_OPTS(.lr = lr));
    nb_param_list_free(&pl);
    check(opt != NULL, "adam");
    nb_scheduler *sched = nb_cosine_annealing_lr(opt, epochs, 0);
    check(sched != NULL, "scheduler");
    int done = 0;
    if (resume) { /* every rank loads the same file: the same model and optimizer state */
        check(nb_load_checkpoint(resume, model, opt) == 0, "resume");
        nb_safetensors *st = nb_safetensors_open(resume);
        check(st != NULL, "resume");
        const char *e = nb_safetensors_metadata(st, "epoch");
        done = e ? atoi(e) : 0;
        nb_safetensors_close(st);
        nb_scheduler_set_last_epoch(sched, done);
        if (rank == 0)
            printf("resumed %s after epoch %d, on %d rank(s)\n", resume, done, world);
    }

    nb_loader *ld =
        nb_loader_new(train, batch / world, NB_LOADER_OPTS(.shuffle = true, .seed = (uint64_t)seed));
    check(ld && nb_loader_shard(ld, world, rank, false) == 0, "loader");
    nb_loader_reset(ld, (uint64_t)done);
    if (rank == 0)
        printf("%s on %d rank(s) of %d thread(s): global batch %d (%d per rank), %lld training images, "
               "Adam lr %g (cosine), %d epochs\n\n",
               is_cnn ? "CNN" : "MLP", world, threads, batch, batch / world, (long long)nb_dataset_len(train),
               lr, epochs);

    int last = stop_after > 0 && done + stop_after < epochs ? done + stop_after : epochs;
    double t_train = 0, acc = 0;
    for (int epoch = done; epoch < last; epoch++) {
        double t0 = ex_now();
        nb_tensor *sums = nb_zeros(NB_SHAPE(2)); /* this rank's loss * rows, rows */
        nb_tensor *x, *y;
        while (nb_loader_next(ld, &x, &y)) {
            nb_tensor *loss = nb_cross_entropy(nb_ddp_forward(ddp, input(x)), y, NB_CROSS_ENTROPY_OPTS());
            nb_optim_zero_grad(opt);
            check(nb_ddp_backward(ddp, loss) == 0, "backward");
            check(nb_optim_step(opt) == 0, "optimizer step");
            sums->data[0] += nb_item(loss) * (nb_real)x->shape[0];
            sums->data[1] += (nb_real)x->shape[0];
            nb_step_end();
        }
        double dt = ex_now() - t0;
        t_train += dt;
        check(nb_dist_all_reduce_sum(sums) == 0, "all_reduce");
        double lr_now = nb_optim_get_lr(opt);
        nb_scheduler_step(sched);
        if (rank == 0) { /* one rank evaluates, prints and saves; the others go on to the next epoch */
            acc = ex_accuracy(model, test, EVAL_BATCH, input, NULL, CLASSES);
            printf("epoch %2d/%d  lr %.2e  train loss %.4f  test accuracy %.4f  %5.1f s  %6.0f ex/s\n",
                   epoch + 1, epochs, lr_now, sums->data[0] / sums->data[1], acc, dt, sums->data[1] / dt);
            fflush(stdout);
            if (ckpt) {
                char meta[64];
                snprintf(meta, sizeof meta, "{\"epoch\": \"%d\"}", epoch + 1);
                check(nb_save_checkpoint(ckpt, model, opt, meta) == 0, "checkpoint");
            }
        }
        nb_free(sums);
    }
    nb_ddp_stats st = nb_ddp_get_stats(ddp);
    int status = 0;
    if (rank == 0) {
        printf("\ntraining: %.1f s; communication: %d bucket(s), %.2f MB sent per step and rank, "
               "%.2f s of the training time waiting for it\n",
               t_train, st.buckets, (double)st.bytes_per_step / 1e6, st.wait_seconds);
        if (last < epochs)
            printf("stopped after epoch %d of %d%s%s\n", last, epochs,
                   ckpt ? "; continue with --resume " : "", ckpt ? ckpt : "");
        else
            printf("test accuracy %.4f\n", acc);
        if (quick && last == epochs && !(acc > 0.6)) {
            fprintf(stderr, "FAIL: test accuracy %.4f is not above 0.6\n", acc);
            status = 1;
        }
    }
    nb_loader_free(ld);
    nb_scheduler_free(sched);
    nb_optim_free(opt);
    nb_ddp_free(ddp);
    nb_module_free(model);
    nb_dataset_free(train);
    nb_dataset_free(test);
    nb_dist_finalize();
    return status;
}
