/* nabla/threads.h — the thread pool that matmul, large elementwise ops and
 * reductions use, and its parallel-for for ops of your own. Results are
 * bit-identical whatever the thread count. */
#ifndef NABLA_THREADS_H
#define NABLA_THREADS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

/* Threads the pool uses, at most 256 (more means 256, said once on stderr); n <= 0 restores the
 * default: NABLA_NUM_THREADS, else the number of cores. A NABLA_NUM_THREADS
 * that is not a whole number from 1 to 256 ("abc", "4x", "0") is reported
 * once on stderr, with the count used instead. */
void nb_set_num_threads(int n);
int nb_get_num_threads(void);

/* Run fn(ctx, begin, end) over disjoint contiguous ranges that together cover
 * [0, n) exactly once, from the pool's threads and the caller; returns when
 * all are done (torch: at::parallel_for(0, n, grain, fn)). Every range but the
 * last has at least `grain` indices (grain < 1 counts as 1), so choose grain
 * as the work worth a task, about 16K elements of a cheap elementwise loop.
 * It runs fn(ctx, 0, n) inline, on the calling thread, when n <= grain, when
 * one thread is set, when the pool is busy with another thread's job, and when
 * called from inside fn (from a pool task: no nesting, no deadlock). nabla's
 * own ops run on it.
 *
 * The ranges depend on the thread count; the results do not, as long as fn
 * computes each index from its own inputs and writes only its own outputs
 * (elementwise loops, rows of a matrix). A sum over indices must not be
 * accumulated per range: cut it into fixed blocks (the same for every thread
 * count), run the blocks as the indices (each writes its partial sum into a
 * slot of its own), then add the partial sums in order on one thread, as
 * nabla's reductions do. examples/custom_activation.c does both. */
typedef void (*nb_range_fn)(void *ctx, int64_t begin, int64_t end);
void nb_parallel_for(int64_t n, int64_t grain, nb_range_fn fn, void *ctx);

/* Denormal (subnormal) floats flushed to zero, as torch.set_flush_denormal:
 * results below the smallest normal number become zero (FTZ) and such inputs
 * are read as zero (DAZ), in float32 and float64 alike. Off by default, as in
 * PyTorch. On Intel CPUs an operation on a denormal costs about a hundred
 * cycles; a model whose Adam moments decay towards zero (weights whose
 * gradients stopped) can spend a third of its epoch there. Applies to the
 * calling thread at once, to the pool's workers before their next job, and
 * to any other thread at its next op that runs on the pool (matrix products,
 * convolutions, large elementwise ops and reductions: nb_parallel_for);
 * unlike PyTorch's, not only to the calling thread. A thread of your own
 * that must flush from its very first op calls it itself. Likewise
 * NABLA_FLUSH_DENORMAL=1 in the environment, read at the first op on the
 * pool, unless the program set the mode first. Returns false, changing
 * nothing, where the CPU has no such mode (x86 SSE and AArch64 have); the
 * getter is then false too. */
bool nb_set_flush_denormal(bool mode);
bool nb_get_flush_denormal(void);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
