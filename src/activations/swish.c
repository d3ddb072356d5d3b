/* activations/swish.c — Swish (Ramachandran, Zoph & Le 2017, "Searching for
 * Activation Functions", arXiv:1710.05941) with a scalar beta, constant or
 * learned; beta = 1 is SiLU (Elfwing et al. 2017), beta -> inf tends to ReLU.
 *
 *   s = sigmoid(beta x),  y = x s
 *   dy/dx    = s + beta x s (1 - s)
 *   dy/dbeta = x^2 s (1 - s), summed over every element
 *
 * Overflow-safe: s comes from nb_vsigmoid (no exp overflow; s is exactly 0 or
 * 1 at |beta x| = 1000), x s (1 - s) is evaluated as y (1 - s) and
 * x^2 s (1 - s) as y (x (1 - s)), so a huge |x| meets a zero factor before
 * it can overflow (no inf * 0). The beta gradient is reduced in fixed blocks
 * (kernels/lanesum.h): the same for any thread count. */
#include "activations/activation.h"
#include "kernels/lanesum.h"
#include "nabla/threads.h"
#include "kernels/vmath.h"

enum { GRAIN = 1 << 14 };

typedef struct job {
    nb_real beta;
    int64_t numel;
    const nb_real *x, *y, *dy;
    nb_real *out, *part;
} job;

NB_VECTORIZE_FMA static void forward_range(void *c, int64_t b, int64_t e)
{
    job *j = c;
    const nb_real *restrict x = j->x;
    nb_real *restrict y = j->out;
    nb_real beta = j->beta;
    for (int64_t i = b; i < e; i++)
        y[i] = x[i] * nb_vsigmoid(beta * x[i]);
}

/* dx = dy (s + beta y (1 - s)) */
static inline nb_real dx_term(nb_real x, nb_real y, nb_real dy, nb_real beta)
{
    nb_real s = nb_vsigmoid(beta * x);
    return dy * (s + beta * (y * (1 - s)));
}

/* dbeta = dy x^2 s (1 - s) = dy y (x (1 - s)) */
static inline nb_real dbeta_term(nb_real x, nb_real y, nb_real dy, nb_real beta)
{
    nb_real s = nb_vsigmoid(beta * x);
    return dy * (y * (x * (1 - s)));
}

/* Block q of NB_SUM_BLOCK elements: dx (when out is set) and the block's
 * share of dbeta (when part is set). */
NB_VECTORIZE_FMA static void blocks_backward(void *c, int64_t b, int64_t e)
{
    job *j = c;
    nb_real beta = j->beta;
    for (int64_t q = b; q < e; q++) {
        int64_t start = q * NB_SUM_BLOCK, len = j->numel - start;
        len = len < NB_SUM_BLOCK ? len : NB_SUM_BLOCK;
        const nb_real *restrict x = j->x + start, *restrict y = j->y + start, *restrict dy = j->dy + start;
        if (j->out) {
            nb_real *restrict dx = j->out + start;
            for (int64_t i = 0; i < len; i++)
                dx[i] += dx_term(x[i], y[i], dy[i], beta);
        }
        if (j->part)
            NB_LANE_SUM(j->part[q], len, dbeta_term(x[nb_i], y[nb_i], dy[nb_i], beta));
    }
}

static void swish_backward(nb_node *n)
{
    nb_real *dx = nb_input_grad(n, 0), *db = nb_input_grad(n, 1);
    nb_tensor *x = n->in[0];
    int64_t nblk = (x->numel + NB_SUM_BLOCK - 1) / NB_SUM_BLOCK;
    job j = {.beta = n->in[1]->data[0],
             .numel = x->numel,
             .x = x->data,
             .y = n->out->data,
             .dy = n->out->grad,
             .out = dx};
    if (nblk == 0 || (!dx && !db))
        return;
    if (db && !(j.part = nb_step_alloc((size_t)nblk * sizeof(nb_real)))) {
        nb_error(NB_ERR_MEMORY, "swish backward: out of memory");
        return;
    }
    nb_parallel_for(nblk, 1, blocks_backward, &j);
    if (db) {
        nb_real s = 0;
        for (int64_t q = 0; q < nblk; q++)
            s += j.part[q];
        db[0] += s;
    }
}

static const nb_op op_swish = {"swish", swish_backward};

nb_tensor *nb_swish(nb_tensor *x, nb_tensor *beta)
{
    if (!nb_check_input("swish", 1, x) || !nb_check_input("swish", 2, beta))
        return NULL;
    if (beta->numel != 1)
        return nb_error(NB_ERR_SHAPE, "swish: x %s, beta %s: beta must have one element", nb_shape_fmt(x),
                        nb_shape_fmt(beta));
    nb_tensor *y = nb_tensor_alloc("swish", x->ndim, x->shape, false);
    if (!y)
        return NULL;
    job j = {.beta = beta->data[0], .x = x->data, .out = y->data};
    nb_parallel_for(x->numel, GRAIN, forward_range, &j);
    nb_record(&op_swish, y, 2, (nb_tensor *[]){x, beta});
    return y;
}

/* Registry: learnable beta, initialised to 1 (SiLU at the start). PyTorch has
 * no Swish-beta layer; its parameter is "beta" as in the paper (and in
 * softplus's beta), whether the layer comes from nb_act("swish") or
 * nb_swish_layer(true). */
static nb_tensor *apply_swish(nb_tensor *x, const nb_real *p, nb_tensor *w)
{
    (void)p;
    return nb_swish(x, w);
}

const nb_activation nb_act_swish = {.name = "swish",
                                    .class_name = "Swish",
                                    .learnable = 1,
                                    .learnable_init = 1,
                                    .learnable_name = "beta",
                                    .apply = apply_swish,
                                    .pointwise = true};
