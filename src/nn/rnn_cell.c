/* nn/rnn_cell.c — torch.nn.RNNCell, LSTMCell and GRUCell: one time step for
 * hand-written loops, with parameters weight_ih [G H, in], weight_hh [G H, H],
 * bias_ih, bias_hh (torch/nn/modules/rnn.py, RNNCellBase). A step is the input
 * projection (nb_linear_op) and the recurrence node of ops/rnn_layer.c over
 * one time step. */
#include "nn/rnn_module.h"

/* h' (and c' through *c_out) from x [B, in] or [in], h, c [B, H] or [H] or NULL. */
/* want: 1 an LSTMCell, 0 another cell, -1 any. */
static nb_tensor *cell_step(nb_module *m, nb_tensor *x, nb_tensor *h, nb_tensor *c, nb_tensor **c_out,
                            const char *op, int want)
{
    if (c_out)
        *c_out = NULL;
    rnn_module *s = nb_rnn_module_of(m, true, op);
    if (!s || !nb_check_input(m->kind, 1, x) || (h && !nb_check_input(m->kind, 2, h)) ||
        (c && !nb_check_input(m->kind, 3, c)))
        return NULL;
    bool lstm = s->mode == NB_RNN_LSTM;
    if (want >= 0 && lstm != (want == 1))
        return nb_error(NB_ERR_ARG, "%s: module '%s' is %s", op, m->kind,
                        lstm ? "an LSTMCell: step it with nb_lstm_cell_forward" : "not an LSTMCell");
    bool unbatched = x->ndim == 1;
    if ((x->ndim != 1 && x->ndim != 2) || x->shape[x->ndim - 1] != s->input_size)
        return nb_error(NB_ERR_SHAPE, "%s: input %s must be [B, %lld] or [%lld]", m->kind, nb_shape_fmt(x),
                        (long long)s->input_size, (long long)s->input_size);
    int64_t B = unbatched ? 1 : x->shape[0], H = s->hidden;
    for (int k = 0; k < 2; k++) {
        const nb_tensor *t = k ? c : h;
        if (t && (t->ndim != x->ndim || t->shape[t->ndim - 1] != H || (!unbatched && t->shape[0] != B)))
            return nb_error(
                NB_ERR_SHAPE, "%s: %s %s must be %s for input %s", m->kind, k ? "c" : "h", nb_shape_fmt(t),
                unbatched ? nb_dims_fmt(1, &H) : nb_dims_fmt(2, (const int64_t[]){B, H}), nb_shape_fmt(x));
    }
    nb_tensor *const *w = s->w[0];
    int64_t GH = w[0]->shape[0];
    nb_tensor *xproj = nb_reshape(nb_linear_op(x, w[0], w[2]), 3, (const int64_t[]){1, B, GH});
    nb_tensor *y = nb_rnn_layer_op(s->mode, xproj, h, c, w[1], w[3], NULL, false);
    int ndim = unbatched ? 1 : 2;
    const int64_t *shape = unbatched ? &H : (const int64_t[]){B, H};
    nb_tensor *h1 = nb_reshape(nb_slice(y, 0, 1, 2), ndim, shape);
    if (c_out && h1) {
        *c_out = nb_reshape(nb_slice(y, 0, 2, 3), ndim, shape);
        if (!*c_out)
            return NULL;
    }
    return h1;
}

nb_tensor *nb_rnn_cell_forward(nb_module *m, nb_tensor *x, nb_tensor *h)
{
    return cell_step(m, x, h, NULL, NULL, "rnn_cell_forward", 0);
}

nb_tensor *nb_lstm_cell_forward(nb_module *m, nb_tensor *x, nb_tensor *h, nb_tensor *c, nb_tensor **c_out)
{
    return cell_step(m, x, h, c, c_out, "lstm_cell_forward", 1);
}

static nb_tensor *cell_module_forward(nb_module *m, nb_tensor *x)
{
    return cell_step(m, x, NULL, NULL, NULL, "forward", -1);
}

nb_module *nb_rnn_cell(int64_t input_size, int64_t hidden_size, nb_rnn_opts opts)
{
    return nb_rnn_module_new("RNNCell", NB_RNN_TANH, true, input_size, hidden_size, opts,
                             cell_module_forward);
}

nb_module *nb_lstm_cell(int64_t input_size, int64_t hidden_size, nb_rnn_opts opts)
{
    return nb_rnn_module_new("LSTMCell", NB_RNN_LSTM, true, input_size, hidden_size, opts,
                             cell_module_forward);
}

nb_module *nb_gru_cell(int64_t input_size, int64_t hidden_size, nb_rnn_opts opts)
{
    return nb_rnn_module_new("GRUCell", NB_RNN_GRU, true, input_size, hidden_size, opts, cell_module_forward);
}
