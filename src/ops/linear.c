/* ops/linear.c — nb_linear_op, the fused op of torch.nn.functional.linear:
 * one GEMM with the weight transposed in place, the bias broadcast first.
 *   forward:  Y = X W^T + b         X [M,in] (leading dims of x flattened), W [out,in]
 *   backward: dX += dY W            [M,out] x [out,in]
 *             dW += dY^T X          [out,M] x [M,in]
 *             db += sum_rows dY                                                   */
#include <string.h>
#include "kernels/gemm.h"
#include "kernels/simd.h"
#include "ops/op.h"

/* db[j] += sum_r dy[r][j], rows in order (same bits for any thread count). */
NB_VECTORIZE static void sum_rows(nb_real *restrict db, const nb_real *restrict dy, int64_t rows,
                                  int64_t cols)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++)
            db[j] += dy[r * cols + j];
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
    bool fresh; /* dx holds nothing of this pass yet: the product is stored, not added (beta 0) */
    nb_real *dx = nb_input_grad_fresh(n, 0, &fresh), *dw = nb_input_grad(n, 1);
    if (dx)
        nb_gemm(false, false, M, in, out, 1, dy, out, w->data, in, fresh ? 0 : 1, dx, in);
    if (dw)
        nb_gemm(true, false, out, in, M, 1, dy, out, x->data, in, 1, dw, in);
    if (n->n_in == 3) {
        nb_real *db = nb_input_grad(n, 2);
        if (db)
            sum_rows(db, dy, M, out);
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
    if (b)
        for (int64_t r = 0; r < M; r++)
            memcpy(y->data + r * out, b->data, (size_t)out * sizeof(nb_real));
    nb_gemm(false, true, M, out, in, 1, x->data, in, w->data, in, b ? 1 : 0, y->data, out);
    nb_node *n = nb_record_saved(&op_linear, y, b ? 3 : 2, (nb_tensor *[]){x, w, b}, sizeof(linear_saved));
    if (n)
        ((linear_saved *)n->saved)->M = M;
    return y;
}
