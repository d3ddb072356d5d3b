/* activations/prelu.c — PReLU (He et al. 2015, "Delving Deep into Rectifiers",
 * arXiv:1502.01852): a leaky ReLU whose negative slope alpha is learned.
 *
 *   y = max(0, x) + alpha_c * min(0, x)
 *   dy/dx      = 1 for x > 0, alpha_c for x <= 0
 *   dy/dalpha_c = min(0, x), summed over every element of channel c
 *
 * alpha has one element (shared by all) or one per channel, the channel being
 * dim 1 of x; a rank-0 or rank-1 x has a single channel (torch.nn.PReLU and
 * at::prelu, aten/src/ATen/native/Activation.cpp: "channel_size =
 * self_dim > 1 ? self.size(1) : 1"). At x = 0 the gradient of x is alpha: the
 * mask is x > 0, as in PyTorch's prelu_backward_kernel
 * (aten/src/ATen/native/cpu/Activation.cpp).
 *
 * Layout: x seen as [outer, C, inner]; element i is in channel (i / inner) % C.
 * A shared alpha is C = 1, inner = numel. The alpha gradient is reduced per
 * channel in fixed blocks (kernels/lanesum.h), so it does not depend on the thread
 * count. */
#include "activations/activation.h"
#include "kernels/lanesum.h"
#include "nabla/threads.h"

enum { GRAIN = 1 << 14 };

typedef struct job {
    int64_t outer, C, inner, nblk; /* nblk: NB_SUM_BLOCK blocks per [inner] run */
    const nb_real *x, *a, *dy;
    nb_real *y, *dx, *part;
} job;

static inline nb_real pos(nb_real x) { return nb_act_sel(x > 0, x, 0); }
static inline nb_real neg(nb_real x) { return nb_act_sel(x > 0, 0, x); }

/* y[i] = max(0,x) + a*min(0,x) with a = a[i*sa], sa 0 or 1 */
NB_VECTORIZE static void seg_forward(nb_real *restrict y, const nb_real *restrict x,
                                     const nb_real *restrict a, int64_t sa, int64_t n)
{
    if (sa == 0) {
        nb_real al = a[0];
        for (int64_t i = 0; i < n; i++)
            y[i] = pos(x[i]) + al * neg(x[i]);
    } else {
        for (int64_t i = 0; i < n; i++)
            y[i] = pos(x[i]) + a[i] * neg(x[i]);
    }
}

/* dx[i] += dy[i] * (x > 0 ? 1 : a) */
NB_VECTORIZE static void seg_backward(nb_real *restrict dx, const nb_real *restrict x,
                                      const nb_real *restrict dy, const nb_real *restrict a, int64_t sa,
                                      int64_t n)
{
    if (sa == 0) {
        nb_real al = a[0];
        for (int64_t i = 0; i < n; i++)
            dx[i] += dy[i] * nb_act_sel(x[i] > 0, 1, al);
    } else {
        for (int64_t i = 0; i < n; i++)
            dx[i] += dy[i] * nb_act_sel(x[i] > 0, 1, a[i]);
    }
}

/* Walk [b, e) in runs of one alpha: a run of one channel (stride 0), or, when
 * inner == 1, a run across channels (alpha stride 1). */
static void segments(job *j, int64_t b, int64_t e, bool backward)
{
    while (b < e) {
        int64_t len, c, sa;
        if (j->inner == 1 && j->C > 1) {
            c = b % j->C;
            len = j->C - c;
            sa = 1;
        } else {
            c = (b / j->inner) % j->C;
            len = j->inner - b % j->inner;
            sa = 0;
        }
        len = len < e - b ? len : e - b;
        if (backward)
            seg_backward(j->dx + b, j->x + b, j->dy + b, j->a + c, sa, len);
        else
            seg_forward(j->y + b, j->x + b, j->a + c, sa, len);
        b += len;
    }
}

static void forward_range(void *c, int64_t b, int64_t e) { segments(c, b, e, false); }
static void dx_range(void *c, int64_t b, int64_t e) { segments(c, b, e, true); }

/* [outer, C] with inner == 1: part[c] = sum over rows of min(0,x)*dy, for the
 * channels [b, e), row by row (vectorized across channels). */
NB_VECTORIZE static void column_sums(void *c, int64_t b, int64_t e)
{
    job *j = c;
    nb_real *restrict s = j->part;
    for (int64_t k = b; k < e; k++)
        s[k] = 0;
    for (int64_t o = 0; o < j->outer; o++) {
        const nb_real *restrict x = j->x + o * j->C, *restrict dy = j->dy + o * j->C;
        for (int64_t k = b; k < e; k++)
            s[k] += neg(x[k]) * dy[k];
    }
}

/* Blocks q = (o*C + c) * nblk + blk: dx of the block and its alpha partial sum. */
NB_VECTORIZE static void blocks_backward(void *c, int64_t b, int64_t e)
{
    job *j = c;
    for (int64_t q = b; q < e; q++) {
        int64_t u = q / j->nblk, blk = q % j->nblk;
        int64_t start = u * j->inner + blk * NB_SUM_BLOCK;
        int64_t len = j->inner - blk * NB_SUM_BLOCK;
        len = len < NB_SUM_BLOCK ? len : NB_SUM_BLOCK;
        const nb_real *x = j->x + start, *dy = j->dy + start;
        if (j->dx)
            seg_backward(j->dx + start, x, dy, j->a + u % j->C, 0, len);
        if (j->part)
            NB_LANE_SUM(j->part[q], len, neg(x[nb_i]) * dy[nb_i]);
    }
}

/* x seen as [outer, C, inner], alpha[c] applying to channel c (C = 1: shared). */
typedef struct prelu_saved {
    int64_t outer, C, inner;
} prelu_saved;

static void prelu_backward(nb_node *n)
{
    const prelu_saved *s = n->saved;
    nb_real *dx = nb_input_grad(n, 0), *da = nb_input_grad(n, 1);
    job j = {.outer = s->outer,
             .C = s->C,
             .inner = s->inner,
             .x = n->in[0]->data,
             .a = n->in[1]->data,
             .dy = n->out->grad,
             .dx = dx};
    int64_t numel = n->out->numel;
    if (numel == 0 || (!dx && !da))
        return;
    if (j.inner == 1 && j.C > 1) {
        if (dx)
            nb_parallel_for(numel, GRAIN, dx_range, &j);
        if (da) {
            j.part = nb_step_alloc((size_t)j.C * sizeof(nb_real));
            if (!j.part) {
                nb_error(NB_ERR_MEMORY, "prelu backward: out of memory");
                return;
            }
            nb_parallel_for(j.C, j.outer >= GRAIN ? 1 : GRAIN / j.outer, column_sums, &j);
            nb_accumulate(da, j.part, j.C);
        }
        return;
    }
    j.nblk = (j.inner + NB_SUM_BLOCK - 1) / NB_SUM_BLOCK;
    int64_t nq = j.outer * j.C * j.nblk, blk_len = j.inner < NB_SUM_BLOCK ? j.inner : NB_SUM_BLOCK;
    j.dx = dx;
    if (da && !(j.part = nb_step_alloc((size_t)nq * sizeof(nb_real)))) {
        nb_error(NB_ERR_MEMORY, "prelu backward: out of memory");
        return;
    }
    nb_parallel_for(nq, blk_len >= GRAIN ? 1 : GRAIN / blk_len, blocks_backward, &j);
    if (da)
        for (int64_t c = 0; c < j.C; c++) {
            nb_real s = 0;
            for (int64_t o = 0; o < j.outer; o++)
                for (int64_t blk = 0; blk < j.nblk; blk++)
                    s += j.part[(o * j.C + c) * j.nblk + blk];
            da[c] += s;
        }
}

static const nb_op op_prelu = {"prelu", prelu_backward};

nb_tensor *nb_prelu(nb_tensor *x, nb_tensor *alpha)
{
    if (!nb_check_input("prelu", 1, x) || !nb_check_input("prelu", 2, alpha))
        return NULL;
    if (alpha->ndim > 1)
        return nb_error(NB_ERR_SHAPE, "prelu: x %s, alpha %s: alpha must be a scalar or 1-D tensor",
                        nb_shape_fmt(x), nb_shape_fmt(alpha));
    int64_t channels = x->ndim > 1 ? x->shape[1] : 1;
    if (alpha->numel != 1 && alpha->numel != channels)
        return nb_error(NB_ERR_SHAPE,
                        "prelu: x %s, alpha %s: alpha needs 1 element or one per channel "
                        "(dim 1 of x: %lld)",
                        nb_shape_fmt(x), nb_shape_fmt(alpha), (long long)channels);
    job j = {.outer = 1, .C = 1, .inner = x->numel, .x = x->data, .a = alpha->data};
    if (alpha->numel > 1) {
        j.outer = x->shape[0];
        j.C = channels;
        j.inner = 1;
        for (int d = 2; d < x->ndim; d++)
            j.inner *= x->shape[d];
    }
    nb_tensor *y = nb_tensor_alloc("prelu", x->ndim, x->shape, false);
    if (!y)
        return NULL;
    j.y = y->data;
    nb_parallel_for(x->numel, GRAIN, forward_range, &j);
    nb_node *n = nb_record_saved(&op_prelu, y, 2, (nb_tensor *[]){x, alpha}, sizeof(prelu_saved));
    if (n)
        *(prelu_saved *)n->saved = (prelu_saved){j.outer, j.C, j.inner};
    return y;
}

/* Registry: learnable alpha, initialised to 0.25 as torch.nn.PReLU(init=0.25). */
static nb_tensor *apply_prelu(nb_tensor *x, const nb_real *p, nb_tensor *w)
{
    (void)p;
    return nb_prelu(x, w);
}

const nb_activation nb_act_prelu = {.name = "prelu",
                                    .class_name = "PReLU",
                                    .learnable = 1,
                                    .learnable_init = 0.25,
                                    .apply = apply_prelu,
                                    .n_kinks = 1,
                                    .kinks = {0},
                                    .pointwise = true};
