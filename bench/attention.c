/* bench/attention.c — causal self-attention alone, forward and backward, at
 * T = 256, 512, 1024 (batch 4, 4 heads, head_dim 32; --batch, --heads for
 * others: with fewer slices than threads, e.g. --batch 1 --heads 1, the fused
 * backward splits over key blocks): nabla's fused kernel
 * and its math path against PyTorch 1.13's naive attention (q k^T scale +
 * mask, softmax, times v: what 1.13 has, no F.sdpa) at 1 and 2 threads, in
 * the same run through compare_torch.py. Memory: the step arena after one
 * forward and backward (a fresh thread, whose arena starts empty), and for
 * PyTorch the growth of the peak resident set of a fresh process.
 * Usage: attention [--reps N] [--batch 4] [--heads 4] [--no-torch] */
#include <math.h>
#include <pthread.h>
#include <nabla/nabla.h>
#include "bench.h"

enum { D = 32 };

typedef struct run {
    int64_t b, h, t;
    bool math;
    int reps;
    double seconds; /* median of reps forward + backward */
    size_t arena;   /* bytes after the first one */
} run;

static void *measure(void *arg)
{
    run *r = arg;
    nb_generator g;
    nb_generator_seed(&g, 1);
    nb_tensor *q = nb_requires_grad(nb_randn(&g, NB_SHAPE(r->b, r->h, r->t, D)), true);
    nb_tensor *k = nb_requires_grad(nb_randn(&g, NB_SHAPE(r->b, r->h, r->t, D)), true);
    nb_tensor *v = nb_requires_grad(nb_randn(&g, NB_SHAPE(r->b, r->h, r->t, D)), true);
    double times[32];
    for (int i = 0; i < r->reps; i++) {
        double t0 = bench_now();
        nb_tensor *y =
            nb_scaled_dot_product_attention(q, k, v, NB_SDPA_OPTS(.is_causal = true, .math = r->math));
        if (!y || nb_backward(nb_sum(y)) != 0) {
            fprintf(stderr, "attention: %s\n", nb_last_error_message());
            exit(1);
        }
        times[i] = bench_now() - t0;
        if (i == 0)
            r->arena = nb_step_arena_bytes();
        nb_step_end();
    }
    r->seconds = bench_median(times, r->reps);
    nb_free(q), nb_free(k), nb_free(v);
    return NULL;
}

static run time_it(int64_t b, int64_t h, int64_t t, bool math, int reps)
{
    run r = {.b = b, .h = h, .t = t, .math = math, .reps = reps};
    pthread_t th;
    if (pthread_create(&th, NULL, measure, &r) != 0)
        exit(1);
    pthread_join(th, NULL);
    return r;
}

int main(int argc, char **argv)
{
    int reps = 7, batch = 4, heads = 4;
    bool no_torch = false;
    const ex_arg flags[] = {
        {"reps", EX_INT, &reps, "timings per figure (the median is printed)"},
        {"batch", EX_INT, &batch, "batch size"},
        {"heads", EX_INT, &heads, "attention heads (head_dim 32)"},
        {"no-torch", EX_FLAG, &no_torch, "skip the PyTorch side"},
    };
    bench_parse(argc, argv, flags, EX_COUNT(flags),
                "causal self-attention forward + backward, nabla against PyTorch");
    int torch = !no_torch;
    bench_check_flag(reps >= 1 && reps <= 32, argv[0], "--reps must be from 1 to 32");
    bench_check_flag(batch >= 1 && heads >= 1 && batch <= 64 && heads <= 64, argv[0],
                     "--batch and --heads must be from 1 to 64");
    const int64_t ts[3] = {256, 512, 1024};
    printf("causal self-attention, batch %d, %d heads, head_dim %d, forward + backward, median of %d\n\n",
           batch, heads, D, reps);
    for (int i = 0; i < 3; i++) {
        double fused[2], naive_torch = NAN, mem_torch = NAN;
        for (int th = 1; th <= 2; th++) {
            nb_set_num_threads(th);
            run f = time_it(batch, heads, ts[i], false, reps);
            fused[th - 1] = f.seconds;
            printf("T %4lld  nabla fused  %d thread(s)  %8.2f ms  arena %6.1f MiB\n", (long long)ts[i], th,
                   f.seconds * 1e3, (double)f.arena / (1 << 20));
        }
        run m = time_it(batch, heads, ts[i], true, reps);
        printf("T %4lld  nabla math   2 thread(s)  %8.2f ms  arena %6.1f MiB\n", (long long)ts[i],
               m.seconds * 1e3, (double)m.arena / (1 << 20));
        if (torch) {
            bench_result res[8];
            char args[128];
            snprintf(args, sizeof args, "attention --seq %lld --reps %d --batch %d --heads %d",
                     (long long)ts[i], reps, batch, heads);
            int n = bench_torch(args, res, 8);
            naive_torch = bench_find(res, n, "attention_best");
            mem_torch = bench_find(res, n, "attention_peak_mib");
        }
        double best = fused[0] < fused[1] ? fused[0] : fused[1];
        if (naive_torch > 0)
            printf(
                "T %4lld  ratio PyTorch naive (best threads, %.2f ms, peak RSS +%.1f MiB) / nabla fused (best): "
                "%.2f\n\n",
                (long long)ts[i], naive_torch * 1e3, mem_torch, naive_torch / best);
        else
            printf("T %4lld  PyTorch: %s\n\n", (long long)ts[i],
                   torch ? "not available (scripts/install-deps --bench installs python3-torch)"
                         : "not run (--no-torch)");
        fflush(stdout);
    }
    return 0;
}
