/* ops/rnn_gates.c — the fused gate kernels of one time step of RNN, LSTM and
 * GRU, forward and backward, one pass over each row. PyTorch's equations
 * (torch/nn/modules/rnn.py docstrings; aten/src/ATen/native/RNN.cpp,
 * SimpleCell, LSTMCell, GRUCell), with a = x W_ih^T + b_ih, b = h W_hh^T + b_hh
 * split into gates along the row in PyTorch's order:
 *   RNN:  h' = tanh(a + b) or relu(a + b)
 *   LSTM: i, f, g, o = s(a_i + b_i), s(a_f + b_f), tanh(a_g + b_g), s(a_o + b_o)
 *         c' = f c + i g,  h' = o tanh(c')                    (s = sigmoid)
 *   GRU:  r, z = s(a_r + b_r), s(a_z + b_z),  n = tanh(a_n + r b_n)
 *         h' = n + z (h - n)                                  (= (1 - z) n + z h)
 * Backward, from dh = dL/dh' and dc = dL/dc':
 *   RNN:  da = db = dh tanh'(a + b) = dh (1 - h'^2), or dh [h' > 0]
 *   LSTM: C = dc + dh o (1 - tanh(c')^2); dc_prev = C f;  da = db =
 *         [C g i(1-i), C c f(1-f), C i (1-g^2), dh tanh(c') o(1-o)]
 *   GRU:  N = dh (1 - z)(1 - n^2);  dh_prev (direct) = dh z;
 *         da = [N b_n r(1-r), dh (h - n) z(1-z), N],  db = da with db_n = N r
 * A row past the end of its sequence carries its state: h' = h, c' = c. */
#include "nabla/threads.h"
#include "kernels/simd.h"
#include "kernels/vmath.h"
#include "ops/rnn.h"

/* ---- forward -------------------------------------------------------------- */

NB_VECTORIZE static void simple_row(bool relu, int64_t H, const nb_real *restrict a,
                                    const nb_real *restrict b, nb_real *restrict h)
{
    if (relu)
        for (int64_t j = 0; j < H; j++) {
            nb_real v = a[j] + b[j];
            h[j] = v > 0 ? v : 0;
        }
    else
        for (int64_t j = 0; j < H; j++)
            h[j] = nb_vtanh(a[j] + b[j]);
}

/* acts = [i, f, g, o] */
NB_VECTORIZE static void lstm_row(int64_t H, const nb_real *restrict a, const nb_real *restrict b,
                                  const nb_real *restrict c, nb_real *restrict hn, nb_real *restrict cn,
                                  nb_real *restrict acts)
{
    for (int64_t j = 0; j < H; j++) {
        nb_real i = nb_vsigmoid(a[j] + b[j]), f = nb_vsigmoid(a[H + j] + b[H + j]);
        nb_real g = nb_vtanh(a[2 * H + j] + b[2 * H + j]), o = nb_vsigmoid(a[3 * H + j] + b[3 * H + j]);
        nb_real cy = f * c[j] + i * g;
        cn[j] = cy;
        hn[j] = o * nb_vtanh(cy);
        acts[j] = i, acts[H + j] = f, acts[2 * H + j] = g, acts[3 * H + j] = o;
    }
}

/* acts = [r, z, n, b_n] */
NB_VECTORIZE static void gru_row(int64_t H, const nb_real *restrict a, const nb_real *restrict b,
                                 const nb_real *restrict h, nb_real *restrict hn, nb_real *restrict acts)
{
    for (int64_t j = 0; j < H; j++) {
        nb_real r = nb_vsigmoid(a[j] + b[j]), z = nb_vsigmoid(a[H + j] + b[H + j]);
        nb_real bn = b[2 * H + j], n = nb_vtanh(a[2 * H + j] + r * bn);
        hn[j] = n + z * (h[j] - n);
        acts[j] = r, acts[H + j] = z, acts[2 * H + j] = n, acts[3 * H + j] = bn;
    }
}

static void forward_rows(void *ctx, int64_t lo, int64_t hi)
{
    const nb_rnn_step *s = ctx;
    const int64_t H = s->H, GH = nb_rnn_gates(s->mode) * H, A = nb_rnn_saved(s->mode) * H;
    for (int64_t r = lo; r < hi; r++) {
        const nb_real *a = s->xg + r * GH, *b = s->hg + r * GH, *h = s->hp + r * H;
        nb_real *hn = s->hn + r * H, *y = s->y + r * H;
        bool lstm = s->mode == NB_RNN_LSTM;
        if (s->active && !s->active[r]) {
            for (int64_t j = 0; j < H; j++)
                hn[j] = h[j], y[j] = 0;
            for (int64_t j = 0; lstm && j < H; j++)
                s->cn[r * H + j] = s->cp[r * H + j];
            continue;
        }
        if (lstm)
            lstm_row(H, a, b, s->cp + r * H, hn, s->cn + r * H, s->acts + r * A);
        else if (s->mode == NB_RNN_GRU)
            gru_row(H, a, b, h, hn, s->acts + r * A);
        else
            simple_row(s->mode == NB_RNN_RELU, H, a, b, hn);
        for (int64_t j = 0; j < H; j++)
            y[j] = hn[j];
    }
}

/* Rows per task: about 16k gate values. */
static int64_t grain(const nb_rnn_step *s)
{
    int64_t per_row = nb_rnn_gates(s->mode) * s->H;
    return per_row >= 16384 ? 1 : 16384 / per_row;
}

void nb_rnn_step_forward(const nb_rnn_step *s) { nb_parallel_for(s->B, grain(s), forward_rows, (void *)s); }

/* ---- backward ------------------------------------------------------------- */

NB_VECTORIZE static void simple_row_back(bool relu, int64_t H, const nb_real *restrict hn,
                                         const nb_real *restrict dh, nb_real *restrict dg)
{
    if (relu)
        for (int64_t j = 0; j < H; j++)
            dg[j] = hn[j] > 0 ? dh[j] : 0;
    else
        for (int64_t j = 0; j < H; j++)
            dg[j] = dh[j] * (1 - hn[j] * hn[j]);
}

NB_VECTORIZE static void lstm_row_back(int64_t H, const nb_real *restrict acts, const nb_real *restrict c,
                                       const nb_real *restrict cn, const nb_real *restrict dh,
                                       const nb_real *dc, nb_real *dc_prev, nb_real *restrict dg)
{
    for (int64_t j = 0; j < H; j++) {
        nb_real i = acts[j], f = acts[H + j], g = acts[2 * H + j], o = acts[3 * H + j];
        nb_real tc = nb_vtanh(cn[j]);
        nb_real C = dc[j] + dh[j] * o * (1 - tc * tc);
        dg[j] = C * g * i * (1 - i);
        dg[H + j] = C * c[j] * f * (1 - f);
        dg[2 * H + j] = C * i * (1 - g * g);
        dg[3 * H + j] = dh[j] * tc * o * (1 - o);
        dc_prev[j] = C * f;
    }
}

NB_VECTORIZE static void gru_row_back(int64_t H, const nb_real *restrict acts, const nb_real *restrict h,
                                      const nb_real *restrict dh, nb_real *restrict dg,
                                      nb_real *restrict dh_prev)
{
    for (int64_t j = 0; j < H; j++) {
        nb_real r = acts[j], z = acts[H + j], n = acts[2 * H + j], bn = acts[3 * H + j];
        nb_real N = dh[j] * (1 - z) * (1 - n * n);
        dg[j] = N * bn * r * (1 - r);
        dg[H + j] = dh[j] * (h[j] - n) * z * (1 - z);
        dg[2 * H + j] = N * r;
        dh_prev[j] = dh[j] * z;
    }
}

typedef struct back_ctx {
    const nb_rnn_step *s;
    const nb_rnn_step_grad *g;
} back_ctx;

static void backward_rows(void *ctx, int64_t lo, int64_t hi)
{
    const nb_rnn_step *s = ((back_ctx *)ctx)->s;
    const nb_rnn_step_grad *g = ((back_ctx *)ctx)->g;
    const int64_t H = s->H, GH = nb_rnn_gates(s->mode) * H, A = nb_rnn_saved(s->mode) * H;
    for (int64_t r = lo; r < hi; r++) {
        const nb_real *dh = g->dh + r * H;
        nb_real *dg = g->dgh + r * GH, *dhp = g->dh_prev + r * H;
        if (s->active && !s->active[r]) { /* the state passed through */
            for (int64_t j = 0; j < GH; j++)
                dg[j] = 0;
            for (int64_t j = 0; j < H; j++)
                dhp[j] = dh[j];
            for (int64_t j = 0; s->mode == NB_RNN_LSTM && j < H; j++)
                g->dc_prev[r * H + j] = g->dc[r * H + j];
            continue;
        }
        nb_real *dx = g->dxg ? g->dxg + r * GH : NULL;
        if (s->mode == NB_RNN_LSTM) {
            lstm_row_back(H, s->acts + r * A, s->cp + r * H, s->cn + r * H, dh, g->dc + r * H,
                          g->dc_prev + r * H, dg);
        } else if (s->mode == NB_RNN_GRU) {
            gru_row_back(H, s->acts + r * A, s->hp + r * H, dh, dg, dhp);
            /* dL/da is dL/db but in the n gate, where it is N = dL/db_n / r */
            if (dx) {
                const nb_real *acts = s->acts + r * A;
                for (int64_t j = 0; j < 2 * H; j++)
                    dx[j] += dg[j];
                for (int64_t j = 0; j < H; j++) {
                    nb_real z = acts[H + j], n = acts[2 * H + j];
                    dx[2 * H + j] += dh[j] * (1 - z) * (1 - n * n);
                }
            }
            continue;
        } else {
            simple_row_back(s->mode == NB_RNN_RELU, H, s->hn + r * H, dh, dg);
        }
        for (int64_t j = 0; j < H; j++)
            dhp[j] = 0;
        for (int64_t j = 0; dx && j < GH; j++)
            dx[j] += dg[j];
    }
}

void nb_rnn_step_backward(const nb_rnn_step *s, const nb_rnn_step_grad *g)
{
    back_ctx c = {s, g};
    nb_parallel_for(s->B, grain(s), backward_rows, &c);
}
