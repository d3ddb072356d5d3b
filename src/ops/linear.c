/* ops/linear.c — nb_linear_op, the fused op of torch.nn.functional.linear:
 * one GEMM with the weight transposed in place, the bias broadcast first.
 *   forward:  Y = X W^T + b         X [M,in] (leading dims of x flattened), W [out,in]
 *   backward: dX += dY W            [M,out] x [out,in]
 *             dW += dY^T X          [out,M] x [M,in]
 *             db += sum_rows dY                                                   */
#include <string.h>
#include "kernels/gemm.h"
#include "kernels/simd.h"
#include "nabla/threads.h"
#include "ops/op.h"

/* Elements per task; columns per task: at least a cache line of float32
 * (tasks start anywhere, so two may share the line at their boundary). */
enum { GRAIN = 1 << 14, COL_GRAIN = 16 };

typedef struct rows_job {
    nb_real *y;
    const nb_real *src;
    int64_t rows, cols;
} rows_job;

/* db[j] += sum_r dy[r][j] for the columns [j0, j1), rows in order (same bits
 * for any thread count: each column's sum is one sequence). */
NB_VECTORIZE static void sum_rows(void *ctx, int64_t j0, int64_t j1)
{
    const rows_job *c = ctx;
    nb_real *restrict db = c->y;
    const nb_real *restrict dy = c->src;
    for (int64_t r = 0; r < c->rows; r++)
        for (int64_t j = j0; j < j1; j++)
            db[j] += dy[r * c->cols + j];
}

/* Rows [r0, r1) of y set to the bias. */
static void fill_bias(void *ctx, int64_t r0, int64_t r1)
{
    const rows_job *c = ctx;
    for (int64_t r = r0; r < r1; r++)
        memcpy(c->y + r * c->cols, c->src, (size_t)c->cols * sizeof(nb_real));
}

/* X is x seen as M rows of in_features. */
typedef struct linear_saved {
    int64_t M;
} linear_saved;

static void linear_backward(nb_node *n)
{
    nb_tensor *x = n->in[0], *w = n->in[1];
    const nb_real *dy = n->out->grad;
    int64_t out = w->shape[0], in = w->shape[1], M = ((const linear_saved *)n->saved)->M;
    /* a buffer that holds nothing of this pass yet: the product is stored, not added (beta 0) */
    bool dx_fresh, dw_fresh;
    nb_real *dx = nb_input_grad_fresh(n, 0, &dx_fresh), *dw = nb_input_grad_fresh(n, 1, &dw_fresh);
    if (dx)
        nb_gemm(false, false, M, in, out, 1, dy, out, w->data, in, dx_fresh ? 0 : 1, dx, in);
    if (dw)
        nb_gemm(true, false, out, in, M, 1, dy, out, x->data, in, dw_fresh ? 0 : 1, dw, in);
    if (n->n_in == 3) {
        nb_real *db = nb_input_grad(n, 2);
        if (db)
            nb_parallel_for(out, M * out >= GRAIN ? COL_GRAIN : out, sum_rows,
                            &(rows_job){.y = db, .src = dy, .rows = M, .cols = out});
    }
}

static const nb_op op_linear = {"linear", linear_backward};

nb_tensor *nb_linear_op(nb_tensor *x, nb_tensor *w, nb_tensor *b)
{
    if (!nb_check_input("linear", 1, x) || !nb_check_input("linear", 2, w))
        return NULL;
    if (b && !nb_check_input("linear", 3, b))
        return NULL;
    if (w->ndim != 2)
        return nb_error(NB_ERR_SHAPE, "linear: weight %s must be 2-D [out_features,in_features]",
                        nb_shape_fmt(w));
    int64_t out = w->shape[0], in = w->shape[1];
    if (x->ndim < 1 || x->shape[x->ndim - 1] != in)
        return nb_error(NB_ERR_SHAPE, "linear: input %s does not end in in_features %lld of weight %s",
                        nb_shape_fmt(x), (long long)in, nb_shape_fmt(w));
    if (b && (b->ndim != 1 || b->shape[0] != out))
        return nb_error(NB_ERR_SHAPE, "linear: bias %s must be [%lld] for weight %s", nb_shape_fmt(b),
                        (long long)out, nb_shape_fmt(w));
    int64_t shape[NB_MAX_DIMS], M = 1;
    for (int i = 0; i < x->ndim - 1; i++) {
        shape[i] = x->shape[i];
        M *= x->shape[i];
    }
    shape[x->ndim - 1] = out;
    nb_tensor *y = nb_op_output(x->ndim, shape);
    if (!y)
        return NULL;
    if (b && out > 0)
        nb_parallel_for(M, 1 + GRAIN / out, fill_bias,
                        &(rows_job){.y = y->data, .src = b->data, .cols = out});
    nb_gemm(false, true, M, out, in, 1, x->data, in, w->data, in, b ? 1 : 0, y->data, out);
    nb_node *n = nb_record_saved(&op_linear, y, b ? 3 : 2, (nb_tensor *[]){x, w, b}, sizeof(linear_saved));
    if (n)
        ((linear_saved *)n->saved)->M = M;
    return y;
}
