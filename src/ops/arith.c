/* ops/arith.c — add, sub, mul, div with broadcasting.
 *   y = a + b:  da = dy,      db = dy
 *   y = a - b:  da = dy,      db = -dy
 *   y = a * b:  da = dy * b,  db = dy * a
 *   y = a / b:  da = dy / b,  db = -dy * a / b^2 = -dy * y / b
 * Gradients of broadcast operands are summed over the broadcast dims. */
#include "kernels/lanesum.h"
#include "nabla/threads.h"
#include "kernels/simd.h"
#include "ops/broadcast.h"

typedef enum kind { ADD, SUB, MUL, DIV } kind;

static nb_real apply(kind k, nb_real a, nb_real b)
{
    switch (k) {
    case ADD: return a + b;
    case SUB: return a - b;
    case MUL: return a * b;
    default: return a / b;
    }
}

/* One row: y[i] = a[i*sa] (op) b[i*sb], strides 0 or 1 specialised so that the
 * loops vectorize. */
#define ROW_LOOP(SA, SB)                                                                                     \
    switch (k) {                                                                                             \
    case ADD:                                                                                                \
        for (int64_t i = 0; i < n; i++)                                                                      \
            y[i] = a[i * SA] + b[i * SB];                                                                    \
        break;                                                                                               \
    case SUB:                                                                                                \
        for (int64_t i = 0; i < n; i++)                                                                      \
            y[i] = a[i * SA] - b[i * SB];                                                                    \
        break;                                                                                               \
    case MUL:                                                                                                \
        for (int64_t i = 0; i < n; i++)                                                                      \
            y[i] = a[i * SA] * b[i * SB];                                                                    \
        break;                                                                                               \
    case DIV:                                                                                                \
        for (int64_t i = 0; i < n; i++)                                                                      \
            y[i] = a[i * SA] / b[i * SB];                                                                    \
        break;                                                                                               \
    }

NB_VECTORIZE static void row_kernel(kind k, nb_real *restrict y, const nb_real *a, int64_t sa,
                                    const nb_real *b, int64_t sb, int64_t n)
{
    if (sa == 1 && sb == 1) {
        ROW_LOOP(1, 1)
    } else if (sa == 1 && sb == 0) {
        ROW_LOOP(1, 0)
    } else if (sa == 0 && sb == 1) {
        ROW_LOOP(0, 1)
    } else {
        for (int64_t i = 0; i < n; i++)
            y[i] = apply(k, a[i * sa], b[i * sb]);
    }
}

typedef struct binop {
    nb_op op;
    kind k;
} binop;

typedef struct fwd_ctx {
    kind k;
    nb_real *y;
    const nb_real *a, *b;
} fwd_ctx;

static void fwd_row(void *c, int64_t o, int64_t ia, int64_t ib, int64_t n, int64_t sa, int64_t sb)
{
    fwd_ctx *f = c;
    row_kernel(f->k, f->y + o, f->a + ia, sa, f->b + ib, sb, n);
}

static void fwd_flat(void *c, int64_t begin, int64_t end)
{
    fwd_ctx *f = c;
    row_kernel(f->k, f->y + begin, f->a + begin, 1, f->b + begin, 1, end - begin);
}

/* Backward rows: g[i*sg] += dy[i] * d(y)/d(this operand). */
typedef struct bwd_ctx {
    kind k;
    int which; /* 0: gradient of a, 1: of b */
    nb_real *g;
    const nb_real *a, *b, *y, *dy;
} bwd_ctx;

/* The gradient of an operand broadcast along this row (stride 0): one sum. */
NB_VECTORIZE static nb_real row_reduction(const bwd_ctx *c, const nb_real *dy, const nb_real *other,
                                          int64_t so, const nb_real *y, const nb_real *b, int64_t sb,
                                          int64_t n)
{
    nb_real t = 0;
    switch (c->k) {
    case ADD:
    case SUB: NB_LANE_SUM(t, n, dy[nb_i]); break;
    case MUL: NB_LANE_SUM(t, n, dy[nb_i] * other[nb_i * so]); break;
    case DIV:
        if (c->which == 0)
            NB_LANE_SUM(t, n, dy[nb_i] / b[nb_i * sb]);
        else
            NB_LANE_SUM(t, n, dy[nb_i] * y[nb_i] / b[nb_i * sb]);
        break;
    }
    return t;
}

NB_VECTORIZE static void bwd_kernel(const bwd_ctx *c, int64_t o, int64_t ia, int64_t ib, int64_t n,
                                    int64_t sa, int64_t sb)
{
    const nb_real *dy = c->dy + o, *a = c->a + ia, *b = c->b + ib, *y = c->y + o;
    if ((c->which == 0 ? sa : sb) == 0) {
        nb_real t = c->which == 0 ? row_reduction(c, dy, b, sb, y, b, sb, n)
                                  : row_reduction(c, dy, a, sa, y, b, sb, n);
        nb_real *g = c->which == 0 ? c->g + ia : c->g + ib;
        *g += c->which == 1 && (c->k == SUB || c->k == DIV) ? -t : t;
        return;
    }
    if (c->which == 0) {
        nb_real *g = c->g + ia;
        switch (c->k) {
        case ADD:
        case SUB:
            for (int64_t i = 0; i < n; i++)
                g[i * sa] += dy[i];
            break;
        case MUL:
            for (int64_t i = 0; i < n; i++)
                g[i * sa] += dy[i] * b[i * sb];
            break;
        case DIV:
            for (int64_t i = 0; i < n; i++)
                g[i * sa] += dy[i] / b[i * sb];
            break;
        }
    } else {
        nb_real *g = c->g + ib;
        switch (c->k) {
        case ADD:
            for (int64_t i = 0; i < n; i++)
                g[i * sb] += dy[i];
            break;
        case SUB:
            for (int64_t i = 0; i < n; i++)
                g[i * sb] -= dy[i];
            break;
        case MUL:
            for (int64_t i = 0; i < n; i++)
                g[i * sb] += dy[i] * a[i * sa];
            break;
        case DIV:
            for (int64_t i = 0; i < n; i++)
                g[i * sb] -= dy[i] * y[i] / b[i * sb];
            break;
        }
    }
}

static void bwd_row(void *c, int64_t o, int64_t ia, int64_t ib, int64_t n, int64_t sa, int64_t sb)
{
    bwd_kernel(c, o, ia, ib, n, sa, sb);
}

static void bwd_flat(void *c, int64_t begin, int64_t end)
{
    bwd_kernel(c, begin, begin, begin, end - begin, 1, 1);
}

enum { GRAIN = 1 << 14 };

static void binary_backward(nb_node *n)
{
    const binop *op = (const binop *)n->op;
    nb_tensor *a = n->in[0], *b = n->in[1];
    nb_bcast bc;
    bool flat = nb_same_shape(a, b);
    if (flat)
        bc.numel = a->numel;
    else
        nb_broadcast(op->op.name, a, b, &bc);
    for (int which = 0; which < 2; which++) {
        nb_real *g = nb_input_grad(n, which);
        if (!g)
            continue;
        bwd_ctx c = {op->k, which, g, a->data, b->data, n->out->data, n->out->grad};
        if (flat) /* no reduction: rows are independent, split over threads */
            nb_parallel_for(bc.numel, GRAIN, bwd_flat, &c);
        else
            nb_bcast_rows(&bc, bwd_row, &c);
    }
}

static const binop op_add = {{"add", binary_backward}, ADD};
static const binop op_sub = {{"sub", binary_backward}, SUB};
static const binop op_mul = {{"mul", binary_backward}, MUL};
static const binop op_div = {{"div", binary_backward}, DIV};

static nb_tensor *binary(const binop *op, nb_tensor *a, nb_tensor *b)
{
    const char *name = op->op.name;
    if (!nb_check_input(name, 1, a) || !nb_check_input(name, 2, b))
        return NULL;
    if (nb_same_shape(a, b)) { /* the common case: no broadcasting to work out */
        nb_tensor *y = nb_tensor_alloc(name, a->ndim, a->shape, false);
        if (!y)
            return NULL;
        fwd_ctx c = {op->k, y->data, a->data, b->data};
        nb_parallel_for(a->numel, GRAIN, fwd_flat, &c);
        nb_record(&op->op, y, 2, (nb_tensor *[]){a, b});
        return y;
    }
    nb_bcast bc;
    if (!nb_broadcast(name, a, b, &bc))
        return NULL;
    nb_tensor *y = nb_tensor_alloc(name, bc.ndim, bc.shape, false);
    if (!y)
        return NULL;
    fwd_ctx c = {op->k, y->data, a->data, b->data};
    if (bc.nd == 1 && bc.sa[0] == 1 && bc.sb[0] == 1)
        nb_parallel_for(bc.numel, GRAIN, fwd_flat, &c);
    else
        nb_bcast_rows(&bc, fwd_row, &c);
    nb_record(&op->op, y, 2, (nb_tensor *[]){a, b});
    return y;
}

nb_tensor *nb_add(nb_tensor *a, nb_tensor *b) { return binary(&op_add, a, b); }
nb_tensor *nb_sub(nb_tensor *a, nb_tensor *b) { return binary(&op_sub, a, b); }
nb_tensor *nb_mul(nb_tensor *a, nb_tensor *b) { return binary(&op_mul, a, b); }
nb_tensor *nb_div(nb_tensor *a, nb_tensor *b) { return binary(&op_div, a, b); }
