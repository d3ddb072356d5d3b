/* data/rows.c — shuffled index permutations and row gathers. */
#include <string.h>
#include "data/rows.h"
#include "nabla/threads.h"

void nb_shuffled_indices(int64_t *idx, int64_t n, nb_generator *g)
{
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)nb_generator_below(g, (uint64_t)i + 1);
        int64_t tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
    }
}

/* Rows are chosen at random from a dataset far larger than the caches, so a
 * gather waits on memory: the next row is prefetched while one is copied, and
 * threads take blocks of at least this many elements. */
enum { GATHER_GRAIN = 1 << 14 };

typedef struct gather_job {
    nb_real *dst;
    const nb_real *src;
    const int64_t *idx;
    size_t row;
} gather_job;

static void gather_range(void *ctx, int64_t b, int64_t e)
{
    const gather_job *j = ctx;
    const size_t bytes = j->row * sizeof(nb_real);
    for (int64_t i = b; i < e; i++) {
        if (i + 1 < e) {
            const char *next = (const char *)(j->src + (size_t)j->idx[i + 1] * j->row);
            for (size_t o = 0; o < bytes; o += 64)
                __builtin_prefetch(next + o);
        }
        memcpy(j->dst + (size_t)i * j->row, j->src + (size_t)j->idx[i] * j->row, bytes);
    }
}

void nb_gather_rows(nb_real *dst, const nb_tensor *t, const int64_t *idx, int64_t n)
{
    size_t row = t->shape[0] ? (size_t)(t->numel / t->shape[0]) : 0;
    if (row == 0)
        return;
    gather_job j = {dst, t->data, idx, row};
    int64_t grain = (int64_t)(GATHER_GRAIN / row);
    nb_parallel_for(n, grain > 0 ? grain : 1, gather_range, &j);
}
