/* bench/activations.c — forward and backward cost of every pointwise registry
 * activation (and softmax, log_softmax) on 4M float32 elements, with 1 and 2
 * threads, against the copy bandwidth of this machine measured in the same run.
 *
 *   ninja -C build bench/activations && ./build/bench/activations [--reps 11] [--only relu,gelu,...]
 *
 * Bytes counted per element: forward reads x and writes y (8); backward reads
 * x, y and dy and reads and writes dx (20). The copy reference moves 8 bytes
 * per element (memcpy over [0, n), split over the pool for 2 threads). Every
 * figure is the median of `reps` runs (default 11). The backward is timed
 * alone: the node's backward function is called with dy already in place
 * (nb_backward_grad would add a copy of dy into the output's gradient).
 * Learnable entries run with their initial weight as a constant. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench.h"
#include "nabla/threads.h"
#include "nabla/nabla.h"

enum { N = 1 << 22, ROWS = 4096, MAX_REPS = 101 };

typedef struct copy_job {
    float *dst;
    const float *src;
} copy_job;

static void copy_range(void *c, int64_t b, int64_t e)
{
    copy_job *j = c;
    memcpy(j->dst + b, j->src + b, (size_t)(e - b) * sizeof(float));
}

/* seconds for one copy of N floats */
static double copy_time(int reps, float *dst, const float *src)
{
    double t[MAX_REPS];
    copy_job j = {dst, src};
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        nb_parallel_for(N, 1 << 16, copy_range, &j);
        t[r] = bench_now() - t0;
    }
    return bench_median(t, reps);
}

/* median seconds of the forward and of the backward of entry a on x */
static void time_entry(const nb_activation *a, nb_tensor *x, const nb_tensor *dy, int reps, double *fwd,
                       double *bwd)
{
    double tf[MAX_REPS], tb[MAX_REPS];
    nb_tensor *w = a->learnable ? nb_full(NB_SHAPE(1), a->learnable_init) : NULL;
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up (arena, page faults) */
        double t0 = bench_now();
        nb_tensor *y = a->apply(x, a->defaults, w);
        double t1 = bench_now();
        y->grad = dy->data; /* dy in place, as backward would leave it */
        y->node->op->backward(y->node);
        double t2 = bench_now();
        y->grad = NULL;
        nb_step_end();
        if (r >= 0) {
            tf[r] = t1 - t0;
            tb[r] = t2 - t1;
        }
    }
    nb_free(w);
    *fwd = bench_median(tf, reps);
    *bwd = bench_median(tb, reps);
}

/* Whether name is one of the comma-separated names of list. */
static bool name_in_list(const char *name, const char *list)
{
    size_t len = strlen(name);
    for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, name, len) == 0 && (p[len] == ',' || p[len] == 0))
            return true;
    return false;
}

int main(int argc, char **argv)
{
    int reps = 11;
    const char *only = NULL;
    const ex_arg flags[] = {
        {"reps", EX_INT, &reps, "timings per figure (the median is printed)"},
        {"only", EX_STR, &only, "comma-separated activation names to run (default: all)"},
    };
    bench_parse(argc, argv, flags, EX_COUNT(flags),
                "every pointwise activation and softmax against the copy bandwidth");
    bench_check_flag(reps >= 1 && reps <= MAX_REPS, argv[0], "--reps must be from 1 to 101");
    nb_generator g;
    nb_generator_seed(&g, 1);
    nb_tensor *x = nb_requires_grad(nb_randn(&g, NB_SHAPE(N)), true);
    for (int64_t i = 0; i < N; i++)
        x->data[i] *= 3; /* most of [-6, 6]: both sides of every kink */
    nb_tensor *x2 = nb_requires_grad(nb_empty(NB_SHAPE(ROWS, N / ROWS)), true);
    memcpy(x2->data, x->data, N * sizeof(nb_real));
    nb_tensor *dy = nb_randn(&g, NB_SHAPE(N));
    x->grad = calloc(N, sizeof(nb_real)); /* leaf gradients: accumulated into, never reallocated */
    x2->grad = calloc(N, sizeof(nb_real));
    float *src = malloc(N * sizeof(float)), *dst = malloc(N * sizeof(float));
    for (int64_t i = 0; i < N; i++)
        src[i] = (float)i, dst[i] = 0;

    double copy_bw[2];
    for (int t = 0; t < 2; t++) {
        nb_set_num_threads(t + 1);
        copy_time(1, dst, src);
        copy_bw[t] = 8.0 * N / copy_time(reps, dst, src) / 1e9;
    }
    printf("%d elements (%s), median of %d runs. Copy: %.1f GB/s (1 thread), %.1f GB/s (2 threads)\n\n", N,
           NB_REAL_NAME, reps, copy_bw[0], copy_bw[1]);
    printf("| activation | fwd ns/elem 1T | fwd GB/s 1T (%% copy) | fwd ns/elem 2T | fwd GB/s 2T (%% copy) "
           "| bwd ns/elem 1T | bwd GB/s 1T (%% copy) | bwd ns/elem 2T | bwd GB/s 2T (%% copy) |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < nb_activation_count(); i++) {
        const nb_activation *a = nb_activation_at(i);
        bool rows = strcmp(a->name, "softmax") == 0 || strcmp(a->name, "log_softmax") == 0;
        bool chosen = !only || name_in_list(a->name, only);
        if ((!a->pointwise && !rows) || !chosen)
            continue;
        double f[2], b[2];
        for (int t = 0; t < 2; t++) {
            nb_set_num_threads(t + 1);
            time_entry(a, rows ? x2 : x, dy, reps, &f[t], &b[t]);
        }
        printf("| %s%s |", a->name, rows ? " [4096,1024], dim -1" : "");
        for (int t = 0; t < 2; t++)
            printf(" %.3f | %.1f (%.0f%%) |", 1e9 * f[t] / N, 8.0 * N / f[t] / 1e9,
                   100 * 8.0 * N / f[t] / 1e9 / copy_bw[t]);
        for (int t = 0; t < 2; t++)
            printf(" %.3f | %.1f (%.0f%%) |", 1e9 * b[t] / N, 20.0 * N / b[t] / 1e9,
                   100 * 20.0 * N / b[t] / 1e9 / copy_bw[t]);
        printf("\n");
    }
    free(x->grad), free(x2->grad);
    x->grad = x2->grad = NULL;
    nb_free(x), nb_free(x2), nb_free(dy);
    free(src), free(dst);
    return 0;
}
