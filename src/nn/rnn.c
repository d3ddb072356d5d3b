/* nn/rnn.c — torch.nn.RNN, LSTM and GRU: construction with PyTorch's
 * parameter names and initialisation, and the forward pass over layers and
 * directions (torch/nn/modules/rnn.py, RNNBase). Each layer and direction is
 * one GEMM for the input projection of all steps (nb_linear_op) and one
 * recurrence node (ops/rnn_layer.c); dropout between layers in training. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "nn/rnn_module.h"

static const char *const kinds[] = {"RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"};

rnn_module *nb_rnn_module_of(nb_module *m, bool cell, const char *op)
{
    if (!m)
        return nb_error(NB_ERR_NULL, "%s: module is NULL", op);
    for (int k = cell ? 3 : 0; k < (cell ? 6 : 3); k++)
        if (strcmp(m->kind, kinds[k]) == 0)
            return m->user;
    return nb_error(NB_ERR_ARG, "%s: module '%s' is not %s", op, m->kind,
                    cell ? "an RNNCell, LSTMCell or GRUCell" : "an RNN, LSTM or GRU");
}

static bool add_params(nb_module *m, rnn_module *s, bool bias, nb_generator *g)
{
    double bound = 1 / sqrt((double)s->hidden);
    int64_t GH = nb_rnn_gates(s->mode) * s->hidden;
    static const char *const names[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    for (int l = 0; l < s->layers; l++)
        for (int d = 0; d < s->dirs; d++)
            for (int p = 0; p < (bias ? 4 : 2); p++) {
                int64_t in = l == 0 ? s->input_size : s->dirs * s->hidden;
                int64_t shape[2] = {GH, p == 0 ? in : s->hidden};
                char name[48];
                if (s->cell)
                    snprintf(name, sizeof name, "%s", names[p]);
                else
                    snprintf(name, sizeof name, "%s_l%d%s", names[p], l, d ? "_reverse" : "");
                nb_tensor *t = nb_module_param(m, name, nb_empty(p < 2 ? 2 : 1, shape));
                if (!t || !nb_init_uniform_(t, -bound, bound, g))
                    return false;
                s->w[l * s->dirs + d][p] = t;
            }
    return true;
}

/* torch.nn.RNNBase's and RNNCellBase's extra_repr: "10, 20, num_layers=2,
 * batch_first=True", what differs from the defaults after the two sizes. */
static void rnn_repr(const nb_module *m, char *buf, size_t size)
{
    const rnn_module *s = m->user;
    char layers[32] = "", dropout[40] = "";
    if (s->layers != 1)
        snprintf(layers, sizeof layers, ", num_layers=%d", s->layers);
    if (s->dropout > 0)
        snprintf(dropout, sizeof dropout, ", dropout=%g", s->dropout);
    snprintf(buf, size, "%lld, %lld%s%s%s%s%s%s", (long long)s->input_size, (long long)s->hidden, layers,
             !s->w[0][2] ? ", bias=False" : "", s->batch_first ? ", batch_first=True" : "", dropout,
             s->dirs == 2 ? ", bidirectional=True" : "",
             s->mode == NB_RNN_RELU ? ", nonlinearity='relu'" : "");
}

nb_module *nb_rnn_module_new(const char *kind, nb_rnn_mode mode, bool cell, int64_t input_size,
                             int64_t hidden_size, nb_rnn_opts o, nb_forward_fn forward)
{
    if (!nb_opts_made(kind, o.nb_tag, "rnn"))
        return NULL;
    int layers = o.num_layers;
    if (input_size < 1 || hidden_size < 1)
        return nb_error(NB_ERR_ARG, "%s: input_size %lld and hidden_size %lld must be >= 1", kind,
                        (long long)input_size, (long long)hidden_size);
    if (layers < 1 || layers > NB_RNN_MAX_LAYERS)
        return nb_error(NB_ERR_ARG, "%s: num_layers %d must be in 1..%d", kind, layers, NB_RNN_MAX_LAYERS);
    if (cell && (layers != 1 || o.bidirectional || o.batch_first || o.dropout != 0))
        return nb_error(NB_ERR_ARG, "%s: a cell has one layer, one direction, no batch_first and no dropout",
                        kind);
    if (!(o.dropout >= 0 && o.dropout <= 1))
        return nb_error(NB_ERR_ARG, "%s: dropout %g must be in [0, 1]", kind, o.dropout);
    bool relu = o.nonlinearity && strcmp(o.nonlinearity, "relu") == 0;
    if (!relu && (!o.nonlinearity || strcmp(o.nonlinearity, "tanh") != 0))
        return nb_error(NB_ERR_ARG, "%s: unknown nonlinearity '%s' (tanh or relu)", kind,
                        o.nonlinearity ? o.nonlinearity : "(null)");
    if (relu && mode != NB_RNN_TANH)
        return nb_error(NB_ERR_ARG, "%s: nonlinearity 'relu' applies to RNN and RNNCell only", kind);
    if (relu)
        mode = NB_RNN_RELU;
    nb_module *m = nb_layer_new(kind, forward, sizeof(rnn_module));
    if (!m)
        return NULL;
    m->extra_repr = rnn_repr;
    rnn_module *s = m->user;
    *s = (rnn_module){.mode = mode,
                      .cell = cell,
                      .input_size = input_size,
                      .hidden = hidden_size,
                      .layers = layers,
                      .dirs = o.bidirectional ? 2 : 1,
                      .batch_first = o.batch_first,
                      .dropout = o.dropout};
    if (!add_params(m, s, o.bias, o.generator)) {
        nb_module_free(m);
        return NULL;
    }
    if (s->dropout > 0) {
        nb_generator_seed(&s->gen, nb_generator_next(nb_default_generator()));
        m->generator = &s->gen;
    }
    return m;
}

/* ---- forward ---------------------------------------------------------------- */

/* Checks x and the initial states; *unbatched for a 2-D input. */
static bool check_input(const rnn_module *s, const char *kind, const nb_tensor *x, const int64_t *lengths,
                        const nb_tensor *h0, const nb_tensor *c0, bool *unbatched)
{
    if (x->ndim != 2 && x->ndim != 3) {
        nb_error(NB_ERR_SHAPE, "%s: input %s must be [T, B, input_size]%s or [T, input_size]", kind,
                 nb_shape_fmt(x), s->batch_first ? " ([B, T, input_size] with batch_first)" : "");
        return false;
    }
    *unbatched = x->ndim == 2;
    int64_t T = x->shape[*unbatched ? 0 : s->batch_first], B = *unbatched ? 1 : x->shape[!s->batch_first];
    if (x->shape[x->ndim - 1] != s->input_size || T < 1 || B < 1) {
        nb_error(NB_ERR_SHAPE, "%s: input %s does not end in input_size %lld, or has no step or batch", kind,
                 nb_shape_fmt(x), (long long)s->input_size);
        return false;
    }
    for (int k = 0; k < 2; k++) {
        const nb_tensor *h = k ? c0 : h0;
        int64_t want[3] = {s->layers * s->dirs, B, s->hidden};
        if (!h)
            continue;
        if (!nb_check_input(kind, 2 + k, h))
            return false;
        bool ok = h->ndim == 3 - *unbatched && h->shape[0] == want[0] && h->shape[h->ndim - 1] == want[2] &&
                  (*unbatched || h->shape[1] == B);
        if (!ok) {
            nb_error(NB_ERR_SHAPE, "%s: %s %s must be %s (num_layers * num_directions, batch, hidden_size)",
                     kind, k ? "c0" : "h0", nb_shape_fmt(h),
                     *unbatched ? nb_dims_fmt(2, (const int64_t[]){want[0], want[2]}) : nb_dims_fmt(3, want));
            return false;
        }
    }
    for (int64_t b = 0; lengths && b < B; b++)
        if (lengths[b] < 1 || lengths[b] > T) {
            nb_error(NB_ERR_ARG, "%s: lengths[%lld] = %lld is not in 1..%lld (the sequence length)", kind,
                     (long long)b, (long long)lengths[b], (long long)T);
            return false;
        }
    return true;
}

/* Row k of a state [L D, B, H] (NULL for NULL). */
static nb_tensor *state_row(nb_tensor *h, int k) { return h ? nb_slice(h, 0, k, k + 1) : NULL; }

static nb_tensor *cat_or_one(int n, nb_tensor *const *xs, int dim)
{
    return n == 1 ? xs[0] : nb_cat(n, xs, dim);
}

nb_tensor *nb_recurrent_forward(nb_module *m, nb_tensor *x, const int64_t *lengths, nb_tensor *h0,
                                nb_tensor *c0, nb_tensor **h_n, nb_tensor **c_n)
{
    if (h_n)
        *h_n = NULL;
    if (c_n)
        *c_n = NULL;
    rnn_module *s = nb_rnn_module_of(m, false, "rnn_forward");
    if (!s || !nb_check_input(m->kind, 1, x))
        return NULL;
    bool lstm = s->mode == NB_RNN_LSTM, unbatched;
    if (!lstm && (c0 || c_n))
        return nb_error(NB_ERR_ARG, "%s: c0 and c_n belong to an LSTM", m->kind);
    if (!check_input(s, m->kind, x, lengths, h0, c0, &unbatched))
        return NULL;
    if (unbatched && lengths)
        return nb_error(NB_ERR_ARG, "%s: lengths need a batched input", m->kind);
    int64_t H = s->hidden;
    nb_tensor *seq = unbatched        ? nb_reshape(x, 3, (const int64_t[]){x->shape[0], 1, x->shape[1]})
                     : s->batch_first ? nb_transpose(x, 0, 1)
                                      : x;
    int64_t T = seq ? seq->shape[0] : 0;
    if (unbatched && h0)
        h0 = nb_reshape(h0, 3, (const int64_t[]){h0->shape[0], 1, H});
    if (unbatched && c0)
        c0 = nb_reshape(c0, 3, (const int64_t[]){c0->shape[0], 1, H});
    nb_tensor *hn[2 * NB_RNN_MAX_LAYERS], *cn[2 * NB_RNN_MAX_LAYERS];
    for (int l = 0; l < s->layers; l++) {
        nb_tensor *outs[2];
        for (int d = 0; d < s->dirs; d++) {
            int k = l * s->dirs + d;
            nb_tensor *const *w = s->w[k];
            nb_tensor *xproj = nb_linear_op(seq, w[0], w[2]);
            nb_tensor *y = nb_rnn_layer_op(s->mode, xproj, state_row(h0, k), lstm ? state_row(c0, k) : NULL,
                                           w[1], w[3], lengths, d == 1);
            outs[d] = nb_slice(y, 0, 0, T);
            hn[k] = nb_slice(y, 0, T, T + 1);
            cn[k] = lstm ? nb_slice(y, 0, T + 1, T + 2) : NULL;
        }
        seq = cat_or_one(s->dirs, outs, 2);
        if (l < s->layers - 1 && s->dropout > 0)
            seq = nb_dropout_op(seq, s->dropout, m->training, &s->gen);
    }
    nb_tensor *out = unbatched        ? nb_reshape(seq, 2, (const int64_t[]){T, s->dirs * H})
                     : s->batch_first ? nb_transpose(seq, 0, 1)
                                      : seq;
    int L = s->layers * s->dirs;
    if (h_n) {
        *h_n = cat_or_one(L, hn, 0);
        if (unbatched)
            *h_n = nb_reshape(*h_n, 2, (const int64_t[]){L, H});
    }
    if (c_n) {
        *c_n = cat_or_one(L, cn, 0);
        if (unbatched)
            *c_n = nb_reshape(*c_n, 2, (const int64_t[]){L, H});
    }
    if (!out || (h_n && !*h_n) || (c_n && !*c_n)) {
        if (h_n)
            *h_n = NULL;
        if (c_n)
            *c_n = NULL;
        return NULL;
    }
    return out;
}

nb_tensor *nb_rnn_forward(nb_module *m, nb_tensor *x, nb_tensor *h0, nb_tensor **h_n)
{
    return nb_recurrent_forward(m, x, NULL, h0, NULL, h_n, NULL);
}

nb_tensor *nb_gru_forward(nb_module *m, nb_tensor *x, nb_tensor *h0, nb_tensor **h_n)
{
    return nb_recurrent_forward(m, x, NULL, h0, NULL, h_n, NULL);
}

nb_tensor *nb_lstm_forward(nb_module *m, nb_tensor *x, nb_tensor *h0, nb_tensor *c0, nb_tensor **h_n,
                           nb_tensor **c_n)
{
    return nb_recurrent_forward(m, x, NULL, h0, c0, h_n, c_n);
}

static nb_tensor *recurrent_module_forward(nb_module *m, nb_tensor *x)
{
    return nb_recurrent_forward(m, x, NULL, NULL, NULL, NULL, NULL);
}

nb_rnn_opts nb_rnn_defaults(void) { return NB_RNN_OPTS(); }

nb_module *nb_rnn(int64_t input_size, int64_t hidden_size, nb_rnn_opts opts)
{
    return nb_rnn_module_new("RNN", NB_RNN_TANH, false, input_size, hidden_size, opts,
                             recurrent_module_forward);
}

nb_module *nb_lstm(int64_t input_size, int64_t hidden_size, nb_rnn_opts opts)
{
    return nb_rnn_module_new("LSTM", NB_RNN_LSTM, false, input_size, hidden_size, opts,
                             recurrent_module_forward);
}

nb_module *nb_gru(int64_t input_size, int64_t hidden_size, nb_rnn_opts opts)
{
    return nb_rnn_module_new("GRU", NB_RNN_GRU, false, input_size, hidden_size, opts,
                             recurrent_module_forward);
}
