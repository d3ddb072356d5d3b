/* nabla/threads.h — the thread pool that matmul and large elementwise ops use.
 * Results are bit-identical whatever the thread count. */
#ifndef NABLA_THREADS_H
#define NABLA_THREADS_H

#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

/* Threads the pool uses; n <= 0 restores the default (NABLA_NUM_THREADS, else
 * the number of cores). */
void nb_set_num_threads(int n);
int nb_get_num_threads(void);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
