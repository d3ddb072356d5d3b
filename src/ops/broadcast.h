/* ops/broadcast.h — NumPy/PyTorch broadcasting of two shapes, reduced to the
 * fewest dims (contiguous runs merged) with per-operand element strides (0 where
 * an operand is broadcast), and a walker over the rows of the result. */
#ifndef NB_OPS_BROADCAST_H
#define NB_OPS_BROADCAST_H

#include "ops/op.h"

typedef struct nb_bcast {
    int ndim;                   /* of the result */
    int64_t shape[NB_MAX_DIMS]; /* of the result */
    int64_t numel;
    int nd; /* merged dims, >= 1 */
    int64_t dims[NB_MAX_DIMS];
    int64_t sa[NB_MAX_DIMS], sb[NB_MAX_DIMS];
} nb_bcast;

/* Fills bc; on mismatch records "<op>: [2,3] and [4]: shapes cannot be broadcast
 * (dim -1: 3 vs 4)" and returns false. */
bool nb_broadcast(const char *op, const nb_tensor *a, const nb_tensor *b, nb_bcast *bc);

/* Calls row(ctx, out_offset, a_offset, b_offset, len, sa, sb) for every row of
 * the last merged dim, in order. */
typedef void (*nb_bcast_row)(void *ctx, int64_t o, int64_t ia, int64_t ib, int64_t len, int64_t sa,
                             int64_t sb);
void nb_bcast_rows(const nb_bcast *bc, nb_bcast_row row, void *ctx);

#endif
