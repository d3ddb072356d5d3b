/* bench/bench.h — what the benchmark programs share: a monotonic clock,
 * medians, peak resident memory, and running the PyTorch side
 * (bench/compare_torch.py) to read its "RESULT <name> <seconds>" lines. */
#ifndef NB_BENCH_H
#define NB_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
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

/* Peak resident set size of this process, in MiB. */
static inline double bench_peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
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

#endif
