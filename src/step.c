/* step.c — the step: its number, its arena (a per-thread bump allocator over
 * a list of chunks), its tape, marks, and nb_step_end(), which resets the
 * arena and the tape; when a step needed several chunks they are merged into
 * one, so a steady training loop does no malloc at all. Under the stale guard
 * (stale_guard.c) the ended step's chunks are kept aside, poisoned, for one
 * more step instead of being reused at once. */
#include <stdlib.h>
#include <string.h>
#include "core.h"

NB_TLS nb_step_state nb__step = {.number = 1};

typedef struct chunk {
    struct chunk *prev;
    size_t size, used;
    unsigned char *base; /* NB_ALIGN-aligned */
} chunk;

static NB_TLS chunk *head;       /* chunk being filled */
static NB_TLS size_t total_size; /* bytes of all chunks */
static NB_TLS bool exit_hook;
static NB_TLS chunk *aside; /* stale guard: the previous step's chunks */

enum { MIN_CHUNK = 1 << 20 };

static void free_list(chunk *c)
{
    while (c) {
        chunk *p = c->prev;
        free(c->base);
        free(c);
        c = p;
    }
}

static void free_chunks(void)
{
    free_list(head);
    head = NULL;
    total_size = 0;
}

static void free_at_exit(void)
{
    free_chunks();
    free_list(aside);
    aside = NULL;
    nb_stale_guard_release();
    free(nb__step.tape);
    nb__step.tape = NULL;
    nb__step.tape_len = nb__step.tape_cap = 0;
}

static chunk *new_chunk(size_t size)
{
    chunk *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    c->base = nb_aligned_alloc(size);
    if (!c->base) {
        free(c);
        return NULL;
    }
    c->size = size;
    c->used = 0;
    c->prev = head;
    head = c;
    total_size += size;
    if (!exit_hook) {
        exit_hook = true;
        atexit(free_at_exit); /* the main thread's arena; leak checkers stay quiet */
    }
    return c;
}

void *nb_arena_alloc(size_t bytes)
{
    size_t need = (bytes + NB_ALIGN - 1) & ~(size_t)(NB_ALIGN - 1);
    if (need < bytes)
        return nb_error(NB_ERR_MEMORY, "step arena: request of %zu bytes overflows", bytes);
    if (__builtin_expect(!head || head->size - head->used < need, 0)) {
        size_t size = head ? head->size * 2 : MIN_CHUNK;
        if (size < need)
            size = need;
        if (!new_chunk(size))
            return nb_error(NB_ERR_MEMORY, "step arena: out of memory allocating %zu bytes", size);
        nb_step_note_growth(total_size);
    }
    void *p = head->base + head->used;
    head->used += need;
    return p;
}

static void arena_reset(void)
{
    nb_step_note_end();
    if (nb_stale_guard_on()) { /* poison, set aside for a step, start afresh */
        nb_stale_guard_poison();
        free_list(aside);
        aside = head;
        head = NULL;
        total_size = 0;
        return;
    }
    if (head && head->prev) { /* merge: next step fits in one chunk */
        size_t size = total_size;
        free_chunks();
        if (!new_chunk(size))
            return; /* the next alloc will report it */
    }
    if (head)
        head->used = 0;
}

size_t nb_step_arena_bytes(void) { return total_size; }

void nb_step_end(void)
{
    nb__step.tape_len = 0;
    nb__step.number++;
    arena_reset();
}

bool nb__tape_grow(void)
{
    size_t cap = nb__step.tape_cap ? nb__step.tape_cap * 2 : 1024;
    nb_node **tape = realloc(nb__step.tape, cap * sizeof *tape);
    if (!tape)
        return false;
    nb__step.tape = tape;
    nb__step.tape_cap = cap;
    return true;
}

void *nb_aligned_alloc(size_t bytes)
{
    size_t size = (bytes + NB_ALIGN - 1) & ~(size_t)(NB_ALIGN - 1);
    if (size < bytes)
        return NULL;
    return aligned_alloc(NB_ALIGN, size ? size : NB_ALIGN);
}

nb_step_mark nb_step_get_mark(void)
{
    return (nb_step_mark){.chunk = head, .used = head ? head->used : 0, .tape_len = nb__step.tape_len};
}

void nb_step_rewind(nb_step_mark m)
{
    while (head && head != (chunk *)m.chunk) {
        chunk *p = head->prev;
        total_size -= head->size;
        free(head->base);
        free(head);
        head = p;
    }
    if (head)
        head->used = m.used;
    nb__step.tape_len = m.tape_len;
}
