/* nn/rnn_module.h — what the recurrent modules share (internal): their state
 * and constructor (rnn.c builds RNN, LSTM, GRU; rnn_cell.c the cells). */
#ifndef NB_NN_RNN_MODULE_H
#define NB_NN_RNN_MODULE_H

#include "nabla/rnn.h"
#include "nn/layer.h"
#include "ops/rnn.h"

enum { NB_RNN_MAX_LAYERS = 16 };

typedef struct rnn_module {
    nb_rnn_mode mode;
    bool cell; /* RNNCell, LSTMCell, GRUCell */
    int64_t input_size, hidden;
    int layers, dirs;
    bool batch_first;
    double dropout;
    nb_generator gen; /* the dropout masks between layers */
    /* per layer l and direction d, at [l * dirs + d]: weight_ih, weight_hh,
     * bias_ih, bias_hh (the biases NULL without bias) */
    nb_tensor *w[2 * NB_RNN_MAX_LAYERS][4];
} rnn_module;

/* Validates the options, makes the module `kind` with its parameters under
 * PyTorch's names, initialised U(-1/sqrt(hidden), 1/sqrt(hidden)) in
 * registration order (RNNBase.reset_parameters / RNNCellBase). */
nb_module *nb_rnn_module_new(const char *kind, nb_rnn_mode mode, bool cell, int64_t input_size,
                             int64_t hidden_size, nb_rnn_opts opts, nb_forward_fn forward);

/* The module's state when m is a recurrent module of the wanted sort (cell or
 * not); otherwise NULL with an error naming `op`. */
rnn_module *nb_rnn_module_of(nb_module *m, bool cell, const char *op);

#endif
