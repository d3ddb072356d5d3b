/* bench/mlp.c — seconds per epoch of the Fashion-MNIST MLP (784-256-128-10,
 * ReLU, Adam lr 1e-3, cross-entropy, shuffled batches), with 1 and 2 threads,
 * against PyTorch training the same network on the same data in the same batch
 * order (compare_torch.py), with the peak resident memory against its budget.
 * --bf16: each thread count also trains with bfloat16 products (matmul
 * precision "medium"), and both runs' test accuracy after the last epoch is
 * printed with the bf16 run's epoch time and speed-up over float32.
 * Usage: mlp [--batch 128] [--epochs 4] [--hidden 256,128] [--threads 1,2]
 *            [--data DIR] [--no-torch] [--bf16] */
#include <nabla/nabla.h>
#include "bench.h"

typedef struct config {
    int batch;
    int epochs;
    const char *hidden;
    const char *threads;
    const char *data;
    bool torch, bf16;
} config;

static double current_rss_mib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return (double)resident * 4096.0 / (1024.0 * 1024.0);
}

static nb_module *build(const char *hidden, int64_t *n_layers_out)
{
    nb_module *m = nb_sequential(0);
    int64_t in = 784;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", hidden);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int64_t h = atoll(tok);
        nb_sequential_add(m, nb_linear(in, h));
        nb_sequential_add(m, nb_act("relu"));
        in = h;
    }
    nb_sequential_add(m, nb_linear(in, 10));
    *n_layers_out = in;
    return m;
}

typedef struct epoch_ctx {
    int threads;
    double loss;
    const nb_dataset *test; /* --bf16: the test accuracy after the last epoch, into acc */
    int last;
    double acc;
} epoch_ctx;

static void report(void *c, nb_module *model, int epoch, double seconds, double loss)
{
    epoch_ctx *e = c;
    e->loss = loss;
    if (e->test && epoch == e->last)
        e->acc = bench_accuracy(model, e->test, NULL);
    printf("  nabla %d thread%s epoch %d: %.3f s, loss %.4f, resident %.1f MiB\n", e->threads,
           e->threads > 1 ? "s" : "", epoch, seconds, loss, current_rss_mib());
}

/* Trains `epochs` epochs; returns the median epoch time (the first excluded)
 * and, with a test set, the final test accuracy in *acc. */
static double train(const config *c, const nb_dataset *ds, const nb_dataset *test, int threads,
                    double *loss_out, double *acc)
{
    nb_set_num_threads(threads);
    nb_manual_seed(1);
    int64_t last_hidden;
    epoch_ctx e = {threads, 0, test, c->epochs - 1, 0};
    double med = bench_train(build(c->hidden, &last_hidden), ds, c->batch, c->epochs, NULL, report, &e);
    *loss_out = e.loss;
    *acc = e.acc;
    return med;
}

int main(int argc, char **argv)
{
    config c = {.batch = 128,
                .epochs = 4,
                .hidden = "256,128",
                .threads = "1,2",
                .data = "/usr/share/datasets/fashion-mnist",
                .torch = true};
    bool no_torch = false;
    const ex_arg flags[] = {
        BENCH_EPOCH_FLAGS(c, no_torch),
        {"hidden", EX_STR, &c.hidden, "hidden layer sizes, comma-separated"},
        {"bf16", EX_FLAG, &c.bf16,
         "also train with bfloat16 products (matmul precision \"medium\") and compare"},
    };
    bench_parse(argc, argv, flags, EX_COUNT(flags),
                "seconds per epoch of the Fashion-MNIST MLP, nabla against PyTorch");
    c.torch = !no_torch;
    bench_check_epochs(argv[0], c.epochs, c.batch);
    nb_dataset *ds = nb_mnist_load(c.data, true, NB_MNIST_OPTS());
    nb_dataset *test = ds && c.bf16 ? nb_mnist_load(c.data, false, NB_MNIST_OPTS()) : NULL;
    if (!ds || (c.bf16 && !test)) {
        fprintf(stderr, "mlp: %s\n", nb_last_error_message());
        return 1;
    }
    printf("MLP 784-%s-10, ReLU, Adam, batch %lld, %lld training images, %d epochs\n", c.hidden,
           (long long)c.batch, (long long)nb_dataset_len(ds), c.epochs);
    int nt[2], n_threads = bench_thread_counts(argv[0], c.threads, nt);
    double med[2], loss = 0, acc[2], med16[2], acc16[2];
    for (int i = 0; i < n_threads; i++) {
        med[i] = train(&c, ds, test, nt[i], &loss, &acc[i]);
        if (c.bf16) {
            bench_bf16_begin(nt[i]);
            med16[i] = train(&c, ds, test, nt[i], &loss, &acc16[i]);
            bench_bf16_end();
        }
    }

    /* memory budget: dataset + parameters, gradients, Adam's two moments + one batch */
    int64_t last;
    nb_module *probe = build(c.hidden, &last);
    int64_t params = nb_module_num_params(probe);
    nb_module_free(probe);
    double data_mib = (double)(ds->x->numel + ds->y->numel) * sizeof(nb_real) / 1048576.0;
    if (test) /* --bf16's test set */
        data_mib += (double)(test->x->numel + test->y->numel) * sizeof(nb_real) / 1048576.0;
    double state_mib = 4.0 * (double)params * sizeof(nb_real) / 1048576.0;
    double batch_mib = 3.0 * (double)c.batch * (784 + 3 * (256 + 128 + 10)) * sizeof(nb_real) / 1048576.0;
    double budget = data_mib + state_mib + batch_mib + 20;
    double peak = bench_peak_rss_mib();
    printf("peak resident memory: %.1f MiB; budget %.1f MiB (dataset %.1f + parameters/gradients/Adam "
           "state %.1f + batch %.1f + 20) -> %s\n",
           peak, budget, data_mib, state_mib, batch_mib, peak <= budget ? "within" : "OVER");

    double best = -1;
    if (c.torch) {
        char args[512];
        snprintf(args, sizeof args, "mlp --data %s --batch %lld --epochs %d --hidden %s", c.data,
                 (long long)c.batch, c.epochs, c.hidden);
        bench_result res[8];
        int n = bench_torch(args, res, 8);
        best = bench_find(res, n, "mlp_best");
    }
    bench_print_epochs("mlp", c.batch, n_threads, nt, med, NULL, best);
    for (int i = 0; c.bf16 && i < n_threads; i++)
        bench_print_bf16("mlp", c.batch, nt[i], med[i], acc[i], med16[i], acc16[i]);
    if (best <= 0 && c.torch)
        bench_no_torch();
    nb_dataset_free(ds);
    nb_dataset_free(test);
    return 0;
}
