/* step.h — the step (level 2, below the tensor): its number, the arena its
 * tensors and nodes come from, the tape of the nodes it recorded, marks to
 * rewind to, and its end (nb_step_end, declared in nabla/tensor.h). */
#ifndef NB_STEP_H
#define NB_STEP_H

#include "nabla/config.h"

/* Thread-local state touched by every op: the initial-exec model reads it
 * with one instruction instead of a __tls_get_addr call in a shared library. */
#if defined(__GNUC__)
#define NB_TLS _Thread_local __attribute__((tls_model("initial-exec")))
#else
#define NB_TLS _Thread_local
#endif

typedef struct nb_node nb_node;

/* This thread's step. The tape holds every node recorded in the step, in
 * creation order (a topological order: a node's inputs exist before it).
 * Read it through the functions below; step.c alone writes it. */
typedef struct nb_step_state {
    uint64_t number; /* current step number; step tensors carry theirs */
    nb_node **tape;
    size_t tape_len, tape_cap;
} nb_step_state;
extern NB_TLS nb_step_state nb__step;

static inline uint64_t nb_step_number(void) { return nb__step.number; }

/* The step arena: a bump allocator, reset by nb_step_end(). 64-byte aligned.
 * NULL with the error recorded when memory runs out. */
void *nb_arena_alloc(size_t bytes);
/* Aligned heap allocation (size rounded up to NB_ALIGN); NULL on failure. */
void *nb_aligned_alloc(size_t bytes);

/* Append n to the tape; its position goes to *index. false when out of memory. */
bool nb__tape_grow(void);
static inline bool nb_tape_push(nb_node *n, size_t *index)
{
    if (nb__step.tape_len == nb__step.tape_cap && !nb__tape_grow())
        return false;
    *index = nb__step.tape_len;
    nb__step.tape[nb__step.tape_len++] = n;
    return true;
}
static inline nb_node *nb_tape_at(size_t k) { return nb__step.tape[k]; }

/* Rewind the arena and the tape to an earlier point (nb_gradcheck's many
 * evaluations, nb_module_summary's trial forward). */
typedef struct nb_step_mark {
    void *chunk;
    size_t used;
    size_t tape_len;
} nb_step_mark;
nb_step_mark nb_step_get_mark(void);
void nb_step_rewind(nb_step_mark m);

/* The stale-pointer guard (stale_guard.c, NABLA_STALE_GUARD=1): list a step
 * tensor's data or gradient, fill the listed memory with a signalling NaN at
 * the end of the step, free the list at thread exit. */
bool nb_stale_guard_on(void);
void nb_stale_guard_track(void *p, size_t bytes);
void nb_stale_guard_poison(void);
void nb_stale_guard_release(void);
/* The warning, once, for an arena that grows over many backward passes
 * without nb_step_end(). */
void nb_step_note_backward(void);
void nb_step_note_end(void);
void nb_step_note_growth(size_t total);

#endif
