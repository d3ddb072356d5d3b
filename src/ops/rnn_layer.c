/* ops/rnn_layer.c — one layer of RNN, LSTM or GRU in one direction over all
 * time steps, as one node of the tape (cuDNN's layout of the work):
 *   forward, per step s (time t = s, or T-1-s in reverse):
 *     hg = h W_hh^T + b_hh           one GEMM [B,H] x [H,GH]
 *     h, c = gates(xproj[t], hg, h, c)   one fused kernel (ops/rnn_gates.c)
 *   backward through time, s = T-1 down to 0, from dh = dL/dh_n, dc = dL/dc_n:
 *     dh += dL/dy[t];  dgh_s, dc = gates'(...)   one fused kernel, adding dL/dxproj[t]
 *     dh = direct + dgh_s W_hh       one GEMM [B,GH] x [GH,H]
 *   then dW_hh += dGH^T Hprev (one GEMM over all T B rows), db_hh += sum dGH,
 *   dh0 += dh, dc0 += dc.
 * The input projection x W_ih^T + b_ih of every step is one GEMM by the
 * caller (nb_linear_op over [T B, in]), so its backward is one GEMM as well.
 * Every buffer (states, gate activations, gradients) is taken from the step
 * arena once per call: nothing is allocated per time step. */
#include <string.h>
#include "kernels/gemm.h"
#include "ops/rnn.h"

/* What the backward pass reads. */
typedef struct rnn_layer_saved {
    nb_rnn_mode mode;
    int64_t T, B, H;
    bool reverse;
    bool *active;  /* [T, B] by time t: row b inside its sequence; NULL: all */
    nb_real *hs;   /* [T+1, B, H] by step s: hs[s] the state before step s, hs[T] h_n */
    nb_real *cs;   /* [T+1, B, H] the same for the LSTM cell state; NULL otherwise */
    nb_real *acts; /* [T, B, saved H] gate activations by step s (ops/rnn.h) */
} rnn_layer_saved;

enum { IN_X, IN_WHH, IN_H0, IN_C0, IN_BHH, N_IN };

static int64_t time_of(const rnn_layer_saved *v, int64_t s) { return v->reverse ? v->T - 1 - s : s; }

static nb_rnn_step step_of(const rnn_layer_saved *v, const nb_real *xproj, nb_real *hg, nb_real *y, int64_t s)
{
    int64_t t = time_of(v, s), B = v->B, H = v->H, GH = nb_rnn_gates(v->mode) * H;
    int64_t A = nb_rnn_saved(v->mode) * H;
    return (nb_rnn_step){
        .mode = v->mode,
        .B = B,
        .H = H,
        .active = v->active ? v->active + t * B : NULL,
        .xg = xproj + t * B * GH,
        .hg = hg,
        .hp = v->hs + s * B * H,
        .cp = v->cs ? v->cs + s * B * H : NULL,
        .hn = v->hs + (s + 1) * B * H,
        .cn = v->cs ? v->cs + (s + 1) * B * H : NULL,
        .y = y ? y + t * B * H : NULL,
        .acts = v->acts + s * B * A,
    };
}

/* db[j] += sum_r dy[r][j], rows in order. */
static void sum_rows(nb_real *restrict db, const nb_real *restrict dy, int64_t rows, int64_t cols)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++)
            db[j] += dy[r * cols + j];
}

static void rnn_layer_backward(nb_node *n)
{
    const rnn_layer_saved *v = n->saved;
    const int64_t T = v->T, B = v->B, H = v->H, GH = nb_rnn_gates(v->mode) * H, BH = B * H;
    const nb_tensor *w = n->in[IN_WHH];
    const nb_real *dY = n->out->grad;
    bool lstm = v->mode == NB_RNN_LSTM;
    nb_real *dGH = nb_step_alloc((size_t)(T * B * GH) * sizeof(nb_real));
    nb_real *dh = nb_step_alloc((size_t)BH * sizeof(nb_real)),
            *dh2 = nb_step_alloc((size_t)BH * sizeof(nb_real));
    nb_real *dc = lstm ? nb_step_alloc((size_t)BH * sizeof(nb_real)) : NULL;
    if (!dGH || !dh || !dh2 || (lstm && !dc))
        return; /* the arena's error is recorded; backward reports it */
    memcpy(dh, dY + T * BH, (size_t)BH * sizeof(nb_real));
    if (lstm)
        memcpy(dc, dY + (T + 1) * BH, (size_t)BH * sizeof(nb_real));
    nb_real *dx = nb_input_grad(n, IN_X);
    for (int64_t s = T - 1; s >= 0; s--) {
        int64_t t = time_of(v, s);
        const bool *act = v->active ? v->active + t * B : NULL;
        for (int64_t r = 0; r < B; r++)
            if (!act || act[r])
                nb_accumulate(dh + r * H, dY + (t * B + r) * H, H);
        nb_rnn_step st = step_of(v, n->in[IN_X]->data, NULL, NULL, s);
        nb_real *dgh = dGH + s * B * GH;
        nb_rnn_step_backward(&st, &(nb_rnn_step_grad){.dh = dh,
                                                      .dc = dc,
                                                      .dgh = dgh,
                                                      .dc_prev = dc,
                                                      .dh_prev = dh2,
                                                      .dxg = dx ? dx + t * B * GH : NULL});
        nb_gemm(false, false, B, H, GH, 1, dgh, GH, w->data, H, 1, dh2, H);
        nb_real *tmp = dh;
        dh = dh2, dh2 = tmp;
    }
    nb_real *dw = nb_input_grad(n, IN_WHH), *dh0 = nb_input_grad(n, IN_H0);
    nb_real *dc0 = nb_input_grad(n, IN_C0), *db = nb_input_grad(n, IN_BHH);
    if (dw)
        nb_gemm(true, false, GH, H, T * B, 1, dGH, GH, v->hs, H, 1, dw, H);
    if (db)
        sum_rows(db, dGH, T * B, GH);
    if (dh0)
        nb_accumulate(dh0, dh, BH);
    if (dc0)
        nb_accumulate(dc0, dc, BH);
}

static const nb_op op_rnn_layer = {"rnn_layer", rnn_layer_backward};

static const char *const mode_names[] = {"RNN_TANH", "RNN_RELU", "LSTM", "GRU"};

static bool check_shapes(nb_rnn_mode mode, nb_tensor *x, nb_tensor *h0, nb_tensor *c0, nb_tensor *w,
                         nb_tensor *b)
{
    const char *op = mode_names[mode];
    if (w->ndim != 2 || w->shape[0] != nb_rnn_gates(mode) * w->shape[1]) {
        nb_error(NB_ERR_SHAPE, "%s: weight_hh %s must be [%d hidden, hidden]", op, nb_shape_fmt(w),
                 nb_rnn_gates(mode));
        return false;
    }
    int64_t GH = w->shape[0], H = w->shape[1];
    if (x->ndim != 3 || x->shape[2] != GH) {
        nb_error(NB_ERR_SHAPE, "%s: input projection %s must be [T, B, %lld]", op, nb_shape_fmt(x),
                 (long long)GH);
        return false;
    }
    int64_t BH = x->shape[1] * H;
    if ((h0 && h0->numel != BH) || (c0 && c0->numel != BH)) {
        nb_error(NB_ERR_SHAPE, "%s: initial state %s must hold batch %lld x hidden %lld values", op,
                 nb_shape_fmt(h0 && h0->numel != BH ? h0 : c0), (long long)x->shape[1], (long long)H);
        return false;
    }
    if (b && b->numel != GH) {
        nb_error(NB_ERR_SHAPE, "%s: bias_hh %s must be [%lld]", op, nb_shape_fmt(b), (long long)GH);
        return false;
    }
    return true;
}

/* The saved state, its buffers from the step arena; active from lengths. */
static rnn_layer_saved *saved_new(nb_rnn_mode mode, int64_t T, int64_t B, int64_t H, bool reverse,
                                  const int64_t *lengths)
{
    rnn_layer_saved *v = nb_step_alloc(sizeof *v);
    if (!v)
        return NULL;
    *v = (rnn_layer_saved){.mode = mode, .T = T, .B = B, .H = H, .reverse = reverse};
    size_t states = (size_t)((T + 1) * B * H) * sizeof(nb_real);
    v->hs = nb_step_alloc(states);
    v->cs = mode == NB_RNN_LSTM ? nb_step_alloc(states) : NULL;
    v->acts = nb_step_alloc((size_t)(T * B * nb_rnn_saved(mode) * H) * sizeof(nb_real) + 1);
    if (lengths) {
        v->active = nb_step_alloc((size_t)(T * B));
        for (int64_t t = 0; v->active && t < T; t++)
            for (int64_t b = 0; b < B; b++)
                v->active[t * B + b] = t < lengths[b];
    }
    if (!v->hs || (mode == NB_RNN_LSTM && !v->cs) || !v->acts || (lengths && !v->active))
        return NULL;
    return v;
}

nb_tensor *nb_rnn_layer_op(nb_rnn_mode mode, nb_tensor *xproj, nb_tensor *h0, nb_tensor *c0, nb_tensor *w_hh,
                           nb_tensor *b_hh, const int64_t *lengths, bool reverse)
{
    const char *op = mode_names[mode];
    if (!nb_check_input(op, 1, xproj) || !nb_check_input(op, 2, w_hh) || (h0 && !nb_check_input(op, 3, h0)) ||
        (c0 && !nb_check_input(op, 4, c0)) || (b_hh && !nb_check_input(op, 5, b_hh)))
        return NULL;
    if (mode != NB_RNN_LSTM)
        c0 = NULL;
    if (!check_shapes(mode, xproj, h0, c0, w_hh, b_hh))
        return NULL;
    int64_t T = xproj->shape[0], B = xproj->shape[1], H = w_hh->shape[1], GH = w_hh->shape[0];
    int64_t BH = B * H;
    bool lstm = mode == NB_RNN_LSTM;
    nb_tensor *y = nb_op_output(3, (const int64_t[]){T + 1 + lstm, B, H});
    rnn_layer_saved *v = y ? saved_new(mode, T, B, H, reverse, lengths) : NULL;
    nb_real *hg = v ? nb_step_alloc((size_t)(B * GH) * sizeof(nb_real)) : NULL;
    if (!hg)
        return NULL;
    if (h0)
        memcpy(v->hs, h0->data, (size_t)BH * sizeof(nb_real));
    else
        memset(v->hs, 0, (size_t)BH * sizeof(nb_real));
    if (lstm && c0)
        memcpy(v->cs, c0->data, (size_t)BH * sizeof(nb_real));
    else if (lstm)
        memset(v->cs, 0, (size_t)BH * sizeof(nb_real));
    for (int64_t s = 0; s < T; s++) {
        for (int64_t r = 0; b_hh && r < B; r++)
            memcpy(hg + r * GH, b_hh->data, (size_t)GH * sizeof(nb_real));
        nb_gemm(false, true, B, GH, H, 1, v->hs + s * BH, H, w_hh->data, H, b_hh ? 1 : 0, hg, GH);
        nb_rnn_step st = step_of(v, xproj->data, hg, y->data, s);
        nb_rnn_step_forward(&st);
    }
    memcpy(y->data + T * BH, v->hs + T * BH, (size_t)BH * sizeof(nb_real));
    if (lstm)
        memcpy(y->data + (T + 1) * BH, v->cs + T * BH, (size_t)BH * sizeof(nb_real));
    nb_node *n = nb_record(&op_rnn_layer, y, N_IN, (nb_tensor *[]){xproj, w_hh, h0, c0, b_hh});
    if (n)
        n->saved = v;
    return y;
}
