/* bench/lstm.c — seconds per epoch of the LSTM of examples/sequence_mnist.c
 * (Fashion-MNIST as 28 steps of 28 pixels, LSTM(28, 128, batch_first), the
 * last hidden state into Linear(128, 10); Adam lr 1e-3, cross-entropy,
 * shuffled batches), with 1 and 2 threads, against PyTorch's nn.LSTM training
 * the same network on the same data in the same batch order
 * (compare_torch.py lstm), and the test accuracy reached. --images N trains
 * both on the first N training images (0: all 60000), for a shorter run.
 * Usage: lstm [--batch 128] [--epochs 2] [--hidden 128] [--images 0] [--threads 1,2] [--data DIR]
 *             [--no-torch] */
#include <nabla/nabla.h>
#include "bench.h"

typedef struct config {
    int batch, hidden, images;
    int epochs;
    const char *threads;
    const char *data;
    bool torch;
} config;

static nb_tensor *classifier_forward(nb_module *m, nb_tensor *x)
{
    nb_tensor *h_n;
    if (!nb_lstm_forward(m->children[0], x, NULL, NULL, &h_n, NULL))
        return NULL;
    return nb_forward(m->children[1], nb_reshape(h_n, NB_SHAPE(x->shape[0], -1)));
}

static nb_module *build(int64_t hidden)
{
    nb_module *m = nb_module_new("LSTMClassifier", classifier_forward, NULL);
    if (!m || nb_module_add(m, "lstm", nb_lstm(28, hidden, NB_RNN_OPTS(.batch_first = true))) != 0 ||
        nb_module_add(m, "fc", nb_linear(hidden, 10)) != 0) {
        fprintf(stderr, "lstm: %s\n", nb_last_error_message());
        exit(1);
    }
    return m;
}

int main(int argc, char **argv)
{
    config c = {.batch = 128,
                .hidden = 128,
                .epochs = 2,
                .threads = "1,2",
                .data = "/usr/share/datasets/fashion-mnist",
                .torch = true};
    bool no_torch = false;
    const ex_arg flags[] = {
        BENCH_EPOCH_FLAGS(c, no_torch),
        {"hidden", EX_INT, &c.hidden, "LSTM hidden size"},
        {"images", EX_INT, &c.images, "training images used; 0: all 60,000"},
    };
    bench_parse(argc, argv, flags, EX_COUNT(flags),
                "seconds per epoch of sequence_mnist's LSTM, nabla against PyTorch");
    c.torch = !no_torch;
    bench_check_epochs(argv[0], c.epochs, c.batch);
    bench_check_flag(c.hidden >= 1 && c.images >= 0, argv[0],
                     "--hidden must be at least 1 and --images at least 0");
    nb_mnist_opts mo = NB_MNIST_OPTS(.keep_shape = true);
    nb_dataset *ds = nb_mnist_load(c.data, true, mo), *test = ds ? nb_mnist_load(c.data, false, mo) : NULL;
    if (!test) {
        fprintf(stderr, "lstm: %s\n", nb_last_error_message());
        nb_dataset_free(ds);
        return 1;
    }
    if (c.images > 0 && c.images < nb_dataset_len(ds)) {
        nb_tensor *x = nb_keep(nb_slice(ds->x, 0, 0, c.images)),
                  *y = nb_keep(nb_slice(ds->y, 0, 0, c.images));
        nb_step_end();
        nb_dataset_free(ds);
        ds = x && y ? nb_dataset_new(x, y, true) : NULL;
        if (!ds) {
            fprintf(stderr, "lstm: %s\n", nb_last_error_message());
            return 1;
        }
    }
    printf("LSTM(28, %lld) on 28 rows, Linear(%lld, 10), Adam, batch %lld, %lld training images, %d epochs; "
           "load average %.2f\n",
           (long long)c.hidden, (long long)c.hidden, (long long)c.batch, (long long)nb_dataset_len(ds),
           c.epochs, bench_load_average());
    int nt[2], n_threads = bench_thread_counts(argv[0], c.threads, nt);
    double med[2], acc[2];
    for (int i = 0; i < n_threads; i++) {
        nb_set_num_threads(nt[i]);
        nb_manual_seed(1);
        bench_epoch e = {nt[i], test, NULL, 0};
        med[i] = bench_train(build(c.hidden), ds, c.batch, c.epochs, NULL, bench_report_accuracy, &e);
        acc[i] = e.acc;
    }
    double best = -1;
    if (c.torch) {
        char args[512];
        snprintf(args, sizeof args, "lstm --data %s --batch %lld --epochs %d --hidden %lld --images %lld",
                 c.data, (long long)c.batch, c.epochs, (long long)c.hidden, (long long)c.images);
        bench_result res[8];
        int n = bench_torch(args, res, 8);
        best = bench_find(res, n, "lstm_best");
    }
    bench_print_epochs("lstm", c.batch, n_threads, nt, med, acc, best);
    if (best <= 0 && c.torch)
        bench_no_torch();
    nb_dataset_free(ds);
    nb_dataset_free(test);
    return 0;
}
