/* ops/rnn.h — the recurrence of RNN, LSTM and GRU (internal): the fused gate
 * kernels of one time step (rnn_gates.c) and the op that runs one layer in one
 * direction over all time steps (rnn_layer.c). */
#ifndef NB_OPS_RNN_H
#define NB_OPS_RNN_H

#include "internal.h"

typedef enum nb_rnn_mode { NB_RNN_TANH, NB_RNN_RELU, NB_RNN_LSTM, NB_RNN_GRU } nb_rnn_mode;

/* Rows of gates per hidden unit: weight_ih is [gates * hidden, input]. */
static inline int nb_rnn_gates(nb_rnn_mode m) { return m == NB_RNN_LSTM ? 4 : m == NB_RNN_GRU ? 3 : 1; }
/* Values saved per hidden unit and step for the backward pass. */
static inline int nb_rnn_saved(nb_rnn_mode m) { return m == NB_RNN_LSTM || m == NB_RNN_GRU ? 4 : 0; }

/* One time step over rows [0, B) of a batch, every pointer at the step's
 * first row. xg: the input projection x W_ih^T + b_ih [B, G H]; hg: h W_hh^T
 * + b_hh [B, G H]; hp, cp: the previous state [B, H] (cp: LSTM only); active:
 * row b is inside its sequence (NULL: all are). Writes the new state hn, cn,
 * the output y (0 on inactive rows, whose state is carried unchanged) and
 * `acts` [B, saved H] for the backward pass. */
typedef struct nb_rnn_step {
    nb_rnn_mode mode;
    int64_t B, H;
    const bool *active;
    const nb_real *xg, *hg, *hp, *cp;
    nb_real *hn, *cn, *y, *acts;
} nb_rnn_step;
void nb_rnn_step_forward(const nb_rnn_step *s);

/* Its backward: dh, dc are dL/d(hn), dL/d(cn) (dh including the output's
 * gradient); writes dgh = dL/d(hg) [B, G H] and dc_prev = dL/d(cp) (may alias
 * dc), sets dh_prev to the part of dL/d(hp) that does not go through hg (z dh
 * for GRU, dh on inactive rows, else 0), and adds dL/d(xg) into dxg (NULL:
 * not needed). hn, cn are the step's outputs as forward wrote them. */
typedef struct nb_rnn_step_grad {
    const nb_real *dh, *dc;
    nb_real *dgh, *dc_prev, *dh_prev, *dxg;
} nb_rnn_step_grad;
void nb_rnn_step_backward(const nb_rnn_step *s, const nb_rnn_step_grad *g);

/* One layer in one direction over T steps, as one node:
 *   xproj [T, B, G H]  the input projection of every step (one GEMM, by the caller)
 *   h0, c0             [B, H] initial state (any shape of B H values), NULL: zeros
 *   w_hh [G H, H], b_hh [G H] or NULL
 *   lengths            B sequence lengths in 1..T, or NULL (all T)
 *   reverse            run t = T-1 down to 0 (the backward direction)
 * Returns Y [T + 1 (+1 for LSTM), B, H]: rows 0..T-1 the output at each time
 * step (0 past a sequence's end), row T the final state h_n, row T+1 c_n. */
nb_tensor *nb_rnn_layer_op(nb_rnn_mode mode, nb_tensor *xproj, nb_tensor *h0, nb_tensor *c0, nb_tensor *w_hh,
                           nb_tensor *b_hh, const int64_t *lengths, bool reverse);

#endif
