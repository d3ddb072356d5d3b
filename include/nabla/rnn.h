/* nabla/rnn.h — recurrent layers (torch.nn.RNN, LSTM, GRU) and their cells
 * (RNNCell, LSTMCell, GRUCell), with PyTorch's equations, gate layouts,
 * parameter names, shapes and initialisation, so a state_dict carries over.
 *
 *   nb_module *lstm = nb_lstm(28, 128, NB_RNN_OPTS(.batch_first = true));
 *   nb_tensor *h_n, *c_n;
 *   nb_tensor *out = nb_lstm_forward(lstm, x, NULL, NULL, &h_n, &c_n);
 *       // PyTorch: out, (h_n, c_n) = lstm(x)
 *
 * Shapes (T steps, B sequences, D = 2 if bidirectional else 1, L layers):
 *   x       [T, B, input_size], [B, T, input_size] with batch_first, or
 *           [T, input_size] (one unbatched sequence)
 *   output  [T, B, D hidden] (batch_first: [B, T, D hidden]; unbatched [T, D hidden])
 *   h0, c0, h_n, c_n   [L D, B, hidden] whatever batch_first ([L D, hidden]
 *           unbatched); h0 and c0 NULL mean zeros.
 * Gate rows in weight_ih_l<k> [G hidden, in] and weight_hh_l<k> [G hidden,
 * hidden]: LSTM i, f, g, o (G = 4); GRU r, z, n (G = 3), with
 * n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); RNN G = 1. */
#ifndef NABLA_RNN_H
#define NABLA_RNN_H

#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

/* Options, made by NB_RNN_OPTS(...) with PyTorch's defaults (NB_RNN_OPTS():
 * all of them). */
typedef struct nb_rnn_opts {
    uint32_t nb_tag;
    int num_layers;           /* 1 (at most 16) */
    const char *nonlinearity; /* RNN, RNNCell: "tanh" or "relu" */
    bool bias;                /* true; false: no bias_ih, bias_hh */
    bool batch_first;         /* x and output [B, T, ...] */
    double dropout;           /* on each layer's output but the last, in training */
    bool bidirectional;
    nb_generator *generator; /* the initialisation; NULL: the default generator */
} nb_rnn_opts;
#define NB_RNN_OPTS(...)                                                                                     \
    NB_OPTS_(nb_rnn_opts, .num_layers = 1, .nonlinearity = "tanh", .bias = true, __VA_ARGS__)
nb_rnn_opts nb_rnn_defaults(void);

/* torch.nn.RNN / LSTM / GRU. Parameters, in PyTorch's order, for each layer k
 * and direction: weight_ih_l<k>, weight_hh_l<k>, bias_ih_l<k>, bias_hh_l<k>,
 * then the same with the suffix _reverse; all U(-1/sqrt(hidden), 1/sqrt(hidden)). */
nb_module *nb_rnn(int64_t input_size, int64_t hidden_size, nb_rnn_opts opts);
nb_module *nb_lstm(int64_t input_size, int64_t hidden_size, nb_rnn_opts opts);
nb_module *nb_gru(int64_t input_size, int64_t hidden_size, nb_rnn_opts opts);

/* Run the module: returns output, and the final states through h_n, c_n (NULL:
 * not wanted). nb_forward(m, x) is the same with zero initial states, returning
 * output alone (so the layers fit in nb_sequential). */
nb_tensor *nb_rnn_forward(nb_module *m, nb_tensor *x, nb_tensor *h0, nb_tensor **h_n);
nb_tensor *nb_gru_forward(nb_module *m, nb_tensor *x, nb_tensor *h0, nb_tensor **h_n);
nb_tensor *nb_lstm_forward(nb_module *m, nb_tensor *x, nb_tensor *h0, nb_tensor *c0, nb_tensor **h_n,
                           nb_tensor **c_n);
/* Any of the three, with variable-length sequences: lengths holds B values in
 * 1..T (NULL: all T), in any order. The result is PyTorch's
 *   pad_packed_sequence(m(pack_padded_sequence(x, lengths, enforce_sorted=False)))
 * padded to T: output is 0 past each sequence's end, and h_n, c_n hold each
 * sequence's state after its last step (its first, for the reverse direction),
 * the same as running each sequence alone. c0, c_n: LSTM only. */
nb_tensor *nb_recurrent_forward(nb_module *m, nb_tensor *x, const int64_t *lengths, nb_tensor *h0,
                                nb_tensor *c0, nb_tensor **h_n, nb_tensor **c_n);

/* torch.nn.RNNCell / LSTMCell / GRUCell (opts: bias, nonlinearity,
 * generator): parameters weight_ih, weight_hh, bias_ih, bias_hh. */
nb_module *nb_rnn_cell(int64_t input_size, int64_t hidden_size, nb_rnn_opts opts);
nb_module *nb_lstm_cell(int64_t input_size, int64_t hidden_size, nb_rnn_opts opts);
nb_module *nb_gru_cell(int64_t input_size, int64_t hidden_size, nb_rnn_opts opts);
/* One step: x [B, input_size] or [input_size], h (and c) [B, hidden] or
 * [hidden], NULL for zeros. Returns h' (PyTorch: h1 = cell(x, h)); the LSTM
 * cell returns c' through c_out (h1, c1 = cell(x, (h, c))). nb_forward(cell, x)
 * is a step from zero state, returning h'. */
nb_tensor *nb_rnn_cell_forward(nb_module *m, nb_tensor *x, nb_tensor *h); /* RNNCell, GRUCell */
nb_tensor *nb_lstm_cell_forward(nb_module *m, nb_tensor *x, nb_tensor *h, nb_tensor *c, nb_tensor **c_out);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
