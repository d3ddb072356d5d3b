/* stale_guard.c — the debug mode for stale step tensors (NABLA_STALE_GUARD=1):
 * the data and gradients of a step's tensors are listed as they are made,
 * and when the step ends they are filled with a signalling-NaN pattern, so
 * that a tensor kept past nb_step_end() reads NaN instead of plausible
 * numbers; the arena then keeps the step's memory aside for one more step
 * (see arena.c). Also the warning for a step that never ends. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/env_flag.h"
#include "core.h"

typedef struct region {
    void *p;
    size_t bytes;
} region;

static NB_TLS region *regions;
static NB_TLS size_t n_regions, cap_regions;

bool nb_stale_guard_on(void)
{
    static atomic_int mode = -1;
    return nb_env_flag(&mode, "NABLA_STALE_GUARD");
}

void nb_stale_guard_track(void *p, size_t bytes)
{
    if (n_regions == cap_regions) {
        size_t cap = cap_regions ? 2 * cap_regions : 256;
        region *grown = realloc(regions, cap * sizeof *grown);
        if (!grown)
            return; /* a debug aid: this region just stays as it is */
        regions = grown;
        cap_regions = cap;
    }
    regions[n_regions++] = (region){p, bytes};
}

/* NaN with the quiet bit clear: arithmetic on it raises FE_INVALID. */
#ifdef NABLA_F64
static const uint64_t SNAN_BITS = 0x7ff4000000000000ull;
#else
static const uint32_t SNAN_BITS = 0x7fa00000u;
#endif

void nb_stale_guard_poison(void)
{
    for (size_t i = 0; i < n_regions; i++) {
        unsigned char *p = regions[i].p;
        for (size_t k = 0; k + sizeof SNAN_BITS <= regions[i].bytes; k += sizeof SNAN_BITS)
            memcpy(p + k, &SNAN_BITS, sizeof SNAN_BITS);
    }
    n_regions = 0;
}

void nb_stale_guard_release(void)
{
    free(regions);
    regions = NULL;
    n_regions = cap_regions = 0;
}

/* Backward passes since the last nb_step_end (a training step makes one). */
static NB_TLS unsigned passes;
void nb_step_note_backward(void) { passes++; }
void nb_step_note_end(void) { passes = 0; }

void nb_step_note_growth(size_t total)
{
    enum { PASSES = 100 };
    static atomic_bool warned;
    if (passes < PASSES || atomic_exchange(&warned, true))
        return;
    fprintf(stderr,
            "nabla: warning: the step arena has grown to %zu MB over %u backward passes without "
            "nb_step_end(); call nb_step_end() after each training step (nb_keep() what must outlive it)\n",
            total >> 20, passes);
}
