/* kernels/parallel.h — the pthreads pool: run a function over [0, n) in chunks. */
#ifndef NB_KERNELS_PARALLEL_H
#define NB_KERNELS_PARALLEL_H

#include <stdint.h>

/* fn(ctx, begin, end) is called on disjoint contiguous ranges covering [0, n),
 * each at least `grain` long (but the last), from the pool's threads and the
 * caller; returns when all are done. Runs inline when n <= grain, when one
 * thread is set, or when called from inside a pool task (no nesting). */
typedef void (*nb_range_fn)(void *ctx, int64_t begin, int64_t end);
void nb_parallel_for(int64_t n, int64_t grain, nb_range_fn fn, void *ctx);

#endif
