/* bench/cnn.c — seconds per epoch of the Fashion-MNIST CNN of
 * examples/fashion_mnist_cnn.c (Conv2d(1,16,3,pad 1) ReLU MaxPool2d(2)
 * Conv2d(16,32,3,pad 1) ReLU MaxPool2d(2) Flatten Linear(1568,128) ReLU
 * Linear(128,10); Adam lr 1e-3, cross-entropy, shuffled batches), with 1 and
 * 2 threads, against PyTorch training the same network on the same data in
 * the same batch order (compare_torch.py cnn), and the test accuracy reached.
 * --bf16: each thread count also trains with bfloat16 products (matmul
 * precision "medium"), printing its epoch time, speed-up over float32 and
 * test accuracy beside float32's.
 * Usage: cnn [--batch 128] [--epochs 2] [--threads 1,2] [--data DIR] [--no-torch] [--bf16] */
#include <nabla/nabla.h>
#include "bench.h"

typedef struct config {
    int batch;
    int epochs;
    const char *threads;
    const char *data;
    bool torch, bf16;
} config;

static nb_module *build(void)
{
    return nb_sequential(10, nb_conv2d_layer(1, 16, 3, 1, 1), nb_act("relu"), nb_max_pool2d_layer(2, 0),
                         nb_conv2d_layer(16, 32, 3, 1, 1), nb_act("relu"), nb_max_pool2d_layer(2, 0),
                         nb_flatten_layer(1, -1), nb_linear(32 * 7 * 7, 128), nb_act("relu"),
                         nb_linear(128, 10));
}

static nb_tensor *as_images(nb_tensor *x) { return nb_reshape(x, NB_SHAPE(x->shape[0], 1, 28, 28)); }

/* Trains `epochs` epochs; returns the median epoch time (the first excluded). */
static double train(const config *c, const nb_dataset *ds, const nb_dataset *test, int threads, double *acc)
{
    nb_set_num_threads(threads);
    nb_manual_seed(1);
    bench_epoch e = {threads, test, as_images, 0};
    double med = bench_train(build(), ds, c->batch, c->epochs, as_images, bench_report_accuracy, &e);
    *acc = e.acc;
    return med;
}

int main(int argc, char **argv)
{
    config c = {.batch = 128,
                .epochs = 2,
                .threads = "1,2",
                .data = "/usr/share/datasets/fashion-mnist",
                .torch = true};
    bool no_torch = false;
    const ex_arg flags[] = {
        BENCH_EPOCH_FLAGS(c, no_torch),
        {"bf16", EX_FLAG, &c.bf16,
         "also train with bfloat16 products (matmul precision \"medium\") and compare"},
    };
    bench_parse(argc, argv, flags, EX_COUNT(flags),
                "seconds per epoch of the Fashion-MNIST CNN, nabla against PyTorch");
    c.torch = !no_torch;
    bench_check_epochs(argv[0], c.epochs, c.batch);
    nb_mnist_opts mo = NB_MNIST_OPTS(.keep_shape = true);
    nb_dataset *ds = nb_mnist_load(c.data, true, mo), *test = ds ? nb_mnist_load(c.data, false, mo) : NULL;
    if (!test) {
        fprintf(stderr, "cnn: %s\n", nb_last_error_message());
        nb_dataset_free(ds);
        return 1;
    }
    printf("CNN conv16-pool-conv32-pool-fc128-10, Adam, batch %lld, %lld training images, %d epochs; "
           "load average %.2f\n",
           (long long)c.batch, (long long)nb_dataset_len(ds), c.epochs, bench_load_average());
    int nt[2], n_threads = bench_thread_counts(argv[0], c.threads, nt);
    double med[2], acc[2], med16[2], acc16[2];
    for (int i = 0; i < n_threads; i++) {
        med[i] = train(&c, ds, test, nt[i], &acc[i]);
        if (c.bf16) {
            bench_bf16_begin(nt[i]);
            med16[i] = train(&c, ds, test, nt[i], &acc16[i]);
            bench_bf16_end();
        }
    }

    double best = -1;
    if (c.torch) {
        char args[512];
        snprintf(args, sizeof args, "cnn --data %s --batch %lld --epochs %d", c.data, (long long)c.batch,
                 c.epochs);
        bench_result res[8];
        int n = bench_torch(args, res, 8);
        best = bench_find(res, n, "cnn_best");
    }
    bench_print_epochs("cnn", c.batch, n_threads, nt, med, acc, best);
    for (int i = 0; c.bf16 && i < n_threads; i++)
        bench_print_bf16("cnn", c.batch, nt[i], med[i], acc[i], med16[i], acc16[i]);
    if (best <= 0 && c.torch)
        bench_no_torch();
    nb_dataset_free(ds);
    nb_dataset_free(test);
    return 0;
}
