/* kernels/env_flag.h — a switch (NABLA_STALE_GUARD, NABLA_FLUSH_DENORMAL) read
 * once from the environment ("1", or any value but "0", turns it on) unless
 * the program set it first. A value other
 * than 0 and 1 is taken as on, with a warning on stderr (once). */
#ifndef NB_ENV_FLAG_H
#define NB_ENV_FLAG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* *mode: -1 until read, then 0 or 1. */
static inline bool nb_env_flag(atomic_int *mode, const char *name)
{
    int m = atomic_load_explicit(mode, memory_order_relaxed);
    if (m < 0) {
        const char *e = getenv(name);
        int expected = -1, on = e && *e && strcmp(e, "0") != 0;
        if (atomic_compare_exchange_strong(mode, &expected, on) && on && strcmp(e, "1") != 0)
            fprintf(stderr, "nabla: %s=%s is not 0 or 1; taken as 1 (on)\n", name, e);
        m = atomic_load(mode);
    }
    return m == 1;
}

#endif
