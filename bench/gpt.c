/* bench/gpt.c — training tokens per second of examples/char_gpt's default
 * model (examples/gpt_model.h: 3 pre-LayerNorm blocks of width 96, 4 heads,
 * MLP 384 with exact GELU, context 64, lm_head tied to the token embedding;
 * AdamW lr 2e-3 in two groups, weight decay 0.1 on the matrices only, warm-up
 * and cosine schedule, gradient norm clipped to 1; batches of 32 windows of 64
 * characters of the fortunes text) with 1 and 2 threads, against PyTorch 1.13
 * training the same model (compare_torch.py gpt: nn.TransformerEncoderLayer
 * blocks, the same groups, sizes and text, its windows drawn by torch's
 * generator) at torch threads {1,2} x OpenBLAS threads {1,2}, each in a fresh
 * process. A step's time includes making its batch; the figure is the median
 * step, the first excluded. Memory: the peak resident set after a few step
 * counts, flat once the first step has allocated what a step needs. Each step's
 * CPU time is printed too: on a loaded machine the one-thread CPU times of
 * both sides are the least disturbed figure (the wall times are not results).
 * Usage: gpt [--steps 60] [--threads 1,2] [--text /usr/share/games/fortunes] [--no-torch] */
#include <nabla/nabla.h>
#include "bench.h"
#include "gpt_model.h"

enum { BATCH = 32, BLOCK = 64, MAX_STEPS = 1000, N_MARKS = 3 };

typedef struct result {
    double step;         /* median seconds per step, the first excluded */
    double cpu;          /* median CPU seconds per step (all threads), the first excluded */
    double loss;         /* the last step's */
    double rss[N_MARKS]; /* peak resident set (MiB) after marks[k] steps */
} result;

/* steps of char_gpt's training on corpus with the current thread count. */
static result train(const cd_corpus *corpus, int steps, const int *marks)
{
    nb_manual_seed(1);
    nb_module *model = gpt_build(&(gpt_shape){
        .vocab = corpus->vocab, .block = BLOCK, .embed = 96, .heads = 4, .layers = 3, .activation = "gelu"});
    nb_param_list pl;
    EX_CHECK(nb_module_parameters(model, &pl) >= 0);
    nb_optim *opt = gpt_adamw(&pl, 2e-3, 0.1);
    nb_scheduler *sched = nb_warmup_cosine(opt, 100, 1000, 0.01, 2e-4);
    nb_tensor *x = nb_zeros(NB_SHAPE(BATCH, BLOCK)), *y = nb_zeros(NB_SHAPE(BATCH * BLOCK));
    EX_CHECK(sched && x && y);
    static double times[MAX_STEPS], cpu[MAX_STEPS];
    result r = {0};
    for (int s = 0, mark = 0; s < steps; s++) {
        double t0 = bench_now(), c0 = bench_cpu_now();
        gpt_batch(corpus, 1, s, x, y);
        r.loss = gpt_step(model, opt, &pl, x, y, 1.0);
        nb_scheduler_step(sched);
        nb_step_end();
        times[s] = bench_now() - t0;
        cpu[s] = bench_cpu_now() - c0;
        if (mark < N_MARKS && s + 1 == marks[mark])
            r.rss[mark++] = bench_peak_rss_mib();
    }
    r.step = bench_median(times + 1, steps - 1);
    r.cpu = bench_median(cpu + 1, steps - 1);
    nb_free(x), nb_free(y);
    nb_scheduler_free(sched);
    nb_optim_free(opt);
    nb_param_list_free(&pl);
    nb_module_free(model);
    return r;
}

int main(int argc, char **argv)
{
    int steps = 60;
    const char *threads = "1,2";
    const char *text = "/usr/share/games/fortunes";
    bool torch = true;
    bool no_torch = false;
    const ex_arg flags[] = {
        {"steps", EX_INT, &steps, "training steps per setting (the first is excluded from the median)"},
        {"threads", EX_STR, &threads, "nabla's thread counts, one or two, comma-separated"},
        {"text", EX_STR, &text, "the training text"},
        {"no-torch", EX_FLAG, &no_torch, "skip the PyTorch side"},
    };
    bench_parse(argc, argv, flags, EX_COUNT(flags),
                "training tokens per second of char_gpt's model, nabla against PyTorch");
    torch = !no_torch;
    bench_check_flag(steps >= 1, argv[0], "--steps must be at least 1");
    if (steps < 4 || steps > MAX_STEPS) {
        fprintf(stderr, "gpt: --steps must be in [4, %d]\n", MAX_STEPS);
        return 2;
    }
    cd_corpus *corpus = cd_load(text, 10);
    if (!corpus)
        return 1;
    const int marks[N_MARKS] = {1, steps / 2, steps};
    printf(
        "char_gpt's model (3 blocks of width 96, 4 heads, context 64, vocabulary %d), AdamW in two groups, "
        "batch %d x %d characters, %d steps; load average %.2f\n",
        corpus->vocab, BATCH, BLOCK, steps, bench_load_average());
    int nt[2], n_threads = bench_thread_counts(argv[0], threads, nt);
    result r[2];
    for (int i = 0; i < n_threads; i++) {
        nb_set_num_threads(nt[i]);
        r[i] = train(corpus, steps, marks);
        printf("  nabla %d thread%s: %.2f ms per step (CPU %.2f ms), %.0f tokens/s, last loss %.4f; peak RSS "
               "after steps %d/%d/%d: %.1f/%.1f/%.1f MiB\n",
               nt[i], nt[i] > 1 ? "s" : "", r[i].step * 1e3, r[i].cpu * 1e3, BATCH * BLOCK / r[i].step,
               r[i].loss, marks[0], marks[1], marks[2], r[i].rss[0], r[i].rss[1], r[i].rss[2]);
        fflush(stdout);
    }
    double best = -1, cpu11 = -1;
    if (torch) {
        char args[512];
        snprintf(args, sizeof args, "gpt --text %s --steps %d --batch %d --block %d", text, steps, BATCH,
                 BLOCK);
        bench_result res[16];
        int n = bench_torch(args, res, 16);
        best = bench_find(res, n, "gpt_best");
        cpu11 = bench_find(res, n, "gpt_cpu_torch1_openblas1");
        if (best > 0)
            printf("PyTorch best: %.2f ms per step, %.0f tokens/s\n", best * 1e3, BATCH * BLOCK / best);
    }
    printf("load average at the end %.2f\n", bench_load_average());
    for (int i = 0; i < n_threads; i++) {
        printf("RESULT gpt_nabla%d %.0f tokens/s (%.2f ms per step)", nt[i], BATCH * BLOCK / r[i].step,
               r[i].step * 1e3);
        if (best > 0)
            printf("  ratio nabla/PyTorch-best tokens/s %.2f", best / r[i].step);
        if (nt[i] == 1 && cpu11 > 0) /* the figure a loaded machine disturbs least */
            printf("  CPU per step PyTorch (1 thread, OpenBLAS 1) / nabla %.2f", cpu11 / r[i].cpu);
        printf("\n");
    }
    if (best <= 0 && torch)
        bench_no_torch();
    cd_free(corpus);
    return 0;
}
