/* data/loader.h — the position of a loader, for training checkpoints (io/):
 * where the next batch comes from, and what decides the order of rows. */
#ifndef NB_DATA_LOADER_H
#define NB_DATA_LOADER_H

#include "nabla/data.h"

typedef struct nb_loader_position {
    uint64_t epoch; /* the epoch of the next batch */
    int64_t next;   /* its first row's place in the epoch's order */
    /* what must match for that order to be the same */
    int64_t rows, batch;
    bool shuffle, drop_last;
    uint64_t seed;
    int64_t replicas, rank; /* nb_loader_shard's; 1 and 0 unsharded */
} nb_loader_position;

/* The position of ld; an epoch whose last batch was handed out counts as the
 * start of the next one. */
nb_loader_position nb_loader_get_position(const nb_loader *ld);
/* Move ld to p.epoch and p.next (the caller checked that the rest matches and
 * that next is within the epoch). */
void nb_loader_set_position(nb_loader *ld, const nb_loader_position *p);

#endif
