/* bench/bench.h — what the benchmark programs share: a monotonic clock,
 * CPU time, medians, the load average, peak resident memory, and running the PyTorch side
 * (bench/compare_torch.py) to read its "RESULT <name> <seconds>" lines. */
#ifndef NB_BENCH_H
#define NB_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <nabla/nabla.h>
#include "../examples/args.h" /* the examples' flag parser: --help, errors on unknown flags */

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of this process, all its threads, in seconds. On a loaded machine
 * a one-thread run's CPU time is less disturbed than its wall time (other
 * jobs still share the caches and memory), so the programs print it too. */
static inline double bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n values (sorts them). */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The 1-minute load average (/proc/loadavg), -1 when unknown: figures taken
 * on a busy machine mean little, so the programs print it with them. */
static inline double bench_load_average(void)
{
    double load = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &load) != 1)
            load = -1;
        fclose(f);
    }
    return load;
}

/* The machine and the kernels this run dispatched to, before any figure
 * (nb_config_show: CPU model, family and model, capability, GEMM kernel). */
static inline void bench_print_machine(void) { printf("machine: %s\n", nb_config_show()); }

/* The benchmarks' flags (examples/args.h: --help prints them and exits 0,
 * an unknown flag exits 2), then the machine line. */
static inline void bench_parse(int argc, char **argv, const ex_arg *flags, int n, const char *about)
{
    ex_parse(argc, argv, flags, n, about);
    bench_print_machine();
}

/* A flag's value out of range: says which, exits 2 (as an unknown flag). */
static inline void bench_check_flag(bool ok, const char *prog, const char *rule)
{
    if (!ok) {
        fprintf(stderr, "%s: %s\n", prog, rule);
        exit(2);
    }
}

/* The flags of the epoch benches (mlp, cnn, lstm), on a config with fields
 * batch, epochs (int), threads and data (strings), and their checks. */
#define BENCH_EPOCH_FLAGS(c, no_torch)                                                                       \
    {"batch", EX_INT, &(c).batch, "mini-batch size"},                                                        \
        {"epochs", EX_INT, &(c).epochs, "epochs per setting (the first is excluded from the median)"},       \
        {"threads", EX_STR, &(c).threads, "nabla's thread counts, one or two, comma-separated"},             \
        {"data", EX_STR, &(c).data, "directory of the Fashion-MNIST IDX files"},                             \
    {                                                                                                        \
        "no-torch", EX_FLAG, &(no_torch), "skip the PyTorch side"                                            \
    }

/* The RESULT lines of an epoch bench: seconds per epoch at each of the n
 * thread counts (with the test accuracy when acc is not NULL) and the ratio
 * to PyTorch's best when there is one (best > 0). */
static inline void bench_print_epochs(const char *name, int batch, int n, const int nt[], const double med[],
                                      const double *acc, double best)
{
    for (int i = 0; i < n; i++) {
        printf("RESULT %s_b%d_nabla%d %.4f s/epoch", name, batch, nt[i], med[i]);
        if (acc)
            printf(" (test accuracy %.4f)", acc[i]);
        if (best > 0)
            printf("  ratio nabla/PyTorch-best %.3f", med[i] / best);
        printf("\n");
    }
}

/* Said when the PyTorch side gave no figure. */
static inline void bench_no_torch(void)
{
    printf("PyTorch: not available (scripts/install-deps --bench installs python3-torch)\n");
}

static inline void bench_check_epochs(const char *prog, int epochs, int batch)
{
    bench_check_flag(epochs >= 1 && epochs <= 64, prog, "--epochs must be from 1 to 64");
    bench_check_flag(batch >= 1, prog, "--batch must be at least 1");
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* Register-only FMA loops for the machine's peak (bench/peak, bench/gemm):
 * BENCH_FMA_ACC independent accumulators, enough to cover the FMA latency on
 * two pipes; iters rounds of them. Returns a value that depends on every
 * FMA, so the loop is not removed. */
enum { BENCH_FMA_ACC = 12 };

__attribute__((target("avx512f"))) static inline double bench_fma512(long iters)
{
    __m512 acc[BENCH_FMA_ACC], m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < BENCH_FMA_ACC; i++)
        acc[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < BENCH_FMA_ACC; i++)
            acc[i] = _mm512_fmadd_ps(acc[i], m, a);
    float sink = 0;
    for (int i = 0; i < BENCH_FMA_ACC; i++)
        sink += _mm512_reduce_add_ps(acc[i]);
    return sink;
}

__attribute__((target("avx2,fma"))) static inline double bench_fma256(long iters)
{
    __m256 acc[BENCH_FMA_ACC], m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < BENCH_FMA_ACC; i++)
        acc[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < BENCH_FMA_ACC; i++)
            acc[i] = _mm256_fmadd_ps(acc[i], m, a);
    float out[8], sink = 0;
    for (int i = 0; i < BENCH_FMA_ACC; i++) {
        _mm256_storeu_ps(out, acc[i]);
        sink += out[0];
    }
    return sink;
}
#endif

/* One core's float32 FMA peak in GFLOP/s, measured (the best of 20 loops of
 * a few ms, with the widest vectors the CPU has), 0 when not known here. */
static inline double bench_fma_peak_gflops(void)
{
    double best = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    bool z = __builtin_cpu_supports("avx512f");
    if (!z && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))
        return 0;
    const long iters = 1000000;
    volatile double sink = 0;
    for (int r = 0; r < 20; r++) {
        double t0 = bench_now();
        sink += z ? bench_fma512(iters) : bench_fma256(iters);
        double g = 2.0 * (z ? 16 : 8) * BENCH_FMA_ACC * (double)iters / (bench_now() - t0) / 1e9;
        best = g > best ? g : best;
    }
    (void)sink;
#endif
    return best;
}

/* The thread counts of a --threads flag, "1,2" or "1": each from 1 to 256,
 * at most two; anything else exits 2 naming the flag. Returns how many. */
static inline int bench_thread_counts(const char *prog, const char *s, int nt[2])
{
    char extra;
    int n = sscanf(s, "%d,%d%c", &nt[0], &nt[1], &extra);
    bool ok = (n == 1 || n == 2) && nt[0] >= 1 && nt[0] <= 256 && (n == 1 || (nt[1] >= 1 && nt[1] <= 256));
    bench_check_flag(ok, prog, "--threads takes one or two thread counts from 1 to 256, such as 1,2");
    return n;
}

/* Peak resident set size of this process, in MiB. */
static inline double bench_peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* Trains model on ds as the PyTorch side does (Adam lr 1e-3, cross-entropy,
 * batches in nb_loader's order shuffled with seed 1; `input` reshapes a batch,
 * NULL for none) for `epochs` epochs (at most 64), calling report(ctx, epoch,
 * seconds, last batch's loss) after each. Frees the model. Returns the median
 * epoch time, the first epoch excluded. Exits on an error. */
typedef void (*bench_report)(void *ctx, nb_module *model, int epoch, double seconds, double loss);

static inline double bench_train(nb_module *model, const nb_dataset *ds, int64_t batch, int epochs,
                                 nb_tensor *(*input)(nb_tensor *), bench_report report, void *ctx)
{
    nb_param_list params;
    nb_module_parameters(model, &params);
    nb_optim *opt = nb_adam(params.tensors, params.count, NB_ADAM_OPTS(.lr = 1e-3));
    nb_loader *ld = nb_loader_new(ds, batch, NB_LOADER_OPTS(.shuffle = true, .seed = 1));
    if (!opt || !ld) {
        fprintf(stderr, "bench: %s\n", nb_last_error_message());
        exit(1);
    }
    double times[64];
    int n = 0;
    for (int e = 0; e < epochs && e < 64; e++) {
        nb_loader_reset(ld, (uint64_t)e);
        nb_tensor *x, *y;
        double loss = 0, t0 = bench_now();
        while (nb_loader_next(ld, &x, &y)) {
            nb_tensor *l =
                nb_cross_entropy(nb_forward(model, input ? input(x) : x), y, NB_CROSS_ENTROPY_OPTS());
            nb_optim_zero_grad(opt);
            if (!l || nb_backward(l) != 0) {
                fprintf(stderr, "bench: %s\n", nb_last_error_message());
                exit(1);
            }
            nb_optim_step(opt);
            loss = nb_item(l);
            nb_step_end();
        }
        times[n++] = bench_now() - t0;
        report(ctx, model, e, times[n - 1], loss);
        fflush(stdout);
    }
    nb_loader_free(ld);
    nb_optim_free(opt);
    nb_param_list_free(&params);
    nb_module_free(model);
    return n > 1 ? bench_median(times + 1, n - 1) : times[0];
}

#ifdef NB_BENCH_DIR
/* Runs `/usr/bin/python3 <NB_BENCH_DIR>/compare_torch.py <args>`, echoes its
 * lines prefixed with "  torch| ", and stores the value of RESULT `name` in
 * *out (NAN when absent). Returns the number of RESULT lines read. */
typedef struct bench_result {
    char name[64];
    double value;
} bench_result;

static inline int bench_torch(const char *args, bench_result *res, int max)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/compare_torch.py %s 2>&1", NB_BENCH_DIR, args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return 0;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, p)) {
        printf("  torch| %s", line);
        fflush(stdout);
        if (n < max && sscanf(line, "RESULT %63s %lf", res[n].name, &res[n].value) == 2)
            n++;
    }
    pclose(p);
    return n;
}

static inline double bench_find(const bench_result *res, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(res[i].name, name) == 0)
            return res[i].value;
    return -1;
}
#endif

/* Test accuracy of model on test, in batches of 500 with gradients off; input
 * reshapes a batch for the model (NULL: as it is). */
static inline double bench_accuracy(nb_module *model, const nb_dataset *test,
                                    nb_tensor *(*input)(nb_tensor *))
{
    nb_loader *ld = nb_loader_new(test, 500, NB_LOADER_OPTS());
    int64_t correct = 0, total = 0;
    nb_tensor *x, *y;
    while (nb_loader_next(ld, &x, &y)) {
        nb_tensor *pred = NULL;
        NB_NO_GRAD { pred = nb_argmax(nb_forward(model, input ? input(x) : x), 1, false); }
        for (int64_t i = 0; pred && i < pred->numel; i++)
            correct += pred->data[i] == y->data[i];
        total += y->shape[0];
        nb_step_end();
    }
    nb_loader_free(ld);
    return (double)correct / (double)total;
}

/* A bench_report that prints each epoch with its test accuracy, kept in acc. */
typedef struct bench_epoch {
    int threads;
    const nb_dataset *test;
    nb_tensor *(*input)(nb_tensor *);
    double acc;
} bench_epoch;

static inline void bench_report_accuracy(void *c, nb_module *model, int epoch, double seconds, double loss)
{
    bench_epoch *e = c;
    e->acc = bench_accuracy(model, e->test, e->input);
    printf("  nabla %d thread%s epoch %d: %.3f s, loss %.4f, test accuracy %.4f\n", e->threads,
           e->threads > 1 ? "s" : "", epoch, seconds, loss, e->acc);
}

/* The --bf16 runs of bench/mlp and bench/cnn: bfloat16 products (matmul
 * precision "medium") between begin and end, and their RESULT line beside
 * float32's figures (seconds per epoch, test accuracy). */
static inline void bench_bf16_begin(int threads)
{
    printf("bfloat16 products (matmul precision \"medium\"), %d thread%s:\n", threads,
           threads > 1 ? "s" : "");
    if (nb_set_float32_matmul_precision("medium") != 0) {
        fprintf(stderr, "bench: %s\n", nb_last_error_message());
        exit(1);
    }
}

static inline void bench_bf16_end(void) { nb_set_float32_matmul_precision("highest"); }

static inline void bench_print_bf16(const char *name, int64_t batch, int threads, double t32, double acc32,
                                    double t16, double acc16)
{
    printf("RESULT %s_b%lld_nabla%d_bf16 %.4f s/epoch (test accuracy %.4f)  speed-up over float32 %.2f, "
           "accuracy %+.2f points (float32: %.4f s/epoch, test accuracy %.4f)\n",
           name, (long long)batch, threads, t16, acc16, t32 / t16, 100 * (acc16 - acc32), t32, acc32);
}

#endif
