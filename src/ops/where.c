/* ops/where.c — selection by a mask, broadcasting the three operands as
 * PyTorch (torch.where: https://pytorch.org/docs/stable/generated/torch.where.html;
 * torch.masked_fill: https://pytorch.org/docs/stable/generated/torch.Tensor.masked_fill.html):
 *   out = where(c, input, other) = input where c != 0, else other
 *   masked_fill(input, m, v)     = where(m, v, input)
 *   dinput += dout where c != 0;  dother += dout where c == 0   (summed over broadcast dims)
 * A mask is any tensor: non-zero (NaN included) is true, as bool() of a float
 * tensor in PyTorch; the comparisons (ops/compare.c) make 1/0 masks. The mask
 * gets no gradient. One thread, in element order: a broadcast operand's
 * gradient is added in the same order for any thread count. */
#include <stdio.h>
#include "ops/op.h"

enum { OPERANDS = 3 };

/* The broadcast of three shapes and, for each operand, the offset of every
 * element of the result in that operand. */
typedef struct bcast3 {
    int ndim;
    int64_t shape[NB_MAX_DIMS];
    int64_t stride[OPERANDS][NB_MAX_DIMS]; /* element strides along the result's dims (0: broadcast) */
} bcast3;

/* The shapes of the operands named in `what` (NULL: not named; order: the
 * order they are listed in), for an error message. */
static const char *shapes_fmt(const char *const *what, const int *order, nb_tensor *const *t)
{
    static _Thread_local char buf[3 * 160];
    int len = 0;
    for (int j = 0; j < OPERANDS; j++) {
        int i = order[j];
        if (what[i])
            len += snprintf(buf + len, sizeof buf - (size_t)len, "%s%s %s", len ? ", " : "", what[i],
                            nb_shape_fmt(t[i]));
    }
    return buf;
}

static bool broadcast3(const char *op, const char *const *what, const int *order, nb_tensor *const *t,
                       bcast3 *b)
{
    b->ndim = 0;
    for (int i = 0; i < OPERANDS; i++)
        b->ndim = t[i]->ndim > b->ndim ? t[i]->ndim : b->ndim;
    for (int k = b->ndim - 1; k >= 0; k--) { /* align from the right */
        b->shape[k] = 1;
        for (int i = 0; i < OPERANDS; i++) {
            int ki = k - (b->ndim - t[i]->ndim);
            int64_t s = ki >= 0 ? t[i]->shape[ki] : 1;
            if (s != 1 && b->shape[k] != 1 && s != b->shape[k]) {
                nb_error(NB_ERR_SHAPE, "%s: %s: shapes cannot be broadcast (dim %d: %lld vs %lld)", op,
                         shapes_fmt(what, order, t), k - b->ndim, (long long)b->shape[k], (long long)s);
                return false;
            }
            if (s != 1)
                b->shape[k] = s;
        }
    }
    for (int i = 0; i < OPERANDS; i++) {
        int64_t s = 1;
        for (int k = b->ndim - 1; k >= 0; k--) {
            int ki = k - (b->ndim - t[i]->ndim);
            int64_t size = ki >= 0 ? t[i]->shape[ki] : 1;
            b->stride[i][k] = size == 1 ? 0 : s;
            s *= size;
        }
    }
    return true;
}

/* Calls visit(ctx, p, off) for every element p of the result in order, with
 * off[i] its offset in operand i. */
static void walk(const bcast3 *b, int64_t numel, void (*visit)(void *, int64_t, const int64_t *), void *ctx)
{
    int64_t coord[NB_MAX_DIMS] = {0}, off[OPERANDS] = {0};
    for (int64_t p = 0; p < numel; p++) {
        visit(ctx, p, off);
        for (int k = b->ndim - 1; k >= 0; k--) { /* odometer */
            for (int i = 0; i < OPERANDS; i++)
                off[i] += b->stride[i][k];
            if (++coord[k] < b->shape[k])
                break;
            for (int i = 0; i < OPERANDS; i++)
                off[i] -= b->stride[i][k] * b->shape[k];
            coord[k] = 0;
        }
    }
}

typedef struct where_saved {
    bcast3 b; /* operands: condition, x, y */
} where_saved;

typedef struct ctx {
    const nb_real *c, *input, *other; /* condition, input, other */
    nb_real *out, *dinput, *dother;   /* dinput, dother: their gradients, or NULL */
    const nb_real *grad;              /* dL/d(result) */
} ctx;

static void select_one(void *p_, int64_t p, const int64_t *off)
{
    ctx *c = p_;
    c->out[p] = c->c[off[0]] != 0 ? c->input[off[1]] : c->other[off[2]];
}

static void route_grad(void *p_, int64_t p, const int64_t *off)
{
    ctx *c = p_;
    bool take = c->c[off[0]] != 0;
    if (take && c->dinput)
        c->dinput[off[1]] += c->grad[p];
    else if (!take && c->dother)
        c->dother[off[2]] += c->grad[p];
}

static void where_backward(nb_node *n)
{
    const where_saved *s = n->saved;
    ctx c = {.c = n->in[0]->data,
             .dinput = nb_input_grad(n, 1),
             .dother = nb_input_grad(n, 2),
             .grad = n->out->grad};
    if (c.dinput || c.dother)
        walk(&s->b, n->out->numel, route_grad, &c);
}

static const nb_op op_where = {"where", where_backward};
static const nb_op op_masked_fill = {"masked_fill", where_backward};

static nb_tensor *select3(const nb_op *op, const char *const *what, const int *order, nb_tensor *cond,
                          nb_tensor *x, nb_tensor *y)
{
    nb_tensor *t[OPERANDS] = {cond, x, y};
    where_saved s;
    if (!broadcast3(op->name, what, order, t, &s.b))
        return NULL;
    nb_tensor *out = nb_tensor_alloc(op->name, s.b.ndim, s.b.shape, false);
    if (!out)
        return NULL;
    ctx c = {.c = cond->data, .input = x->data, .other = y->data, .out = out->data};
    walk(&s.b, out->numel, select_one, &c);
    nb_node *n = nb_record_saved(op, out, OPERANDS, t, sizeof(where_saved)); /* cond: never a gradient */
    if (n)
        *(where_saved *)n->saved = s;
    return out;
}

nb_tensor *nb_where(nb_tensor *condition, nb_tensor *input, nb_tensor *other)
{
    if (!nb_check_input("where", 1, condition) || !nb_check_input("where", 2, input) ||
        !nb_check_input("where", 3, other))
        return NULL;
    return select3(&op_where, (const char *const[]){"condition", "input", "other"}, (const int[]){0, 1, 2},
                   condition, input, other);
}

nb_tensor *nb_masked_fill(nb_tensor *input, nb_tensor *mask, nb_real value)
{
    if (!nb_check_input("masked_fill", 1, input) || !nb_check_input("masked_fill", 2, mask))
        return NULL;
    nb_tensor *v = nb_tensor_alloc("masked_fill", 0, NULL, false);
    if (!v)
        return NULL;
    v->data[0] = value;
    return select3(&op_masked_fill, (const char *const[]){"mask", NULL, "input"}, (const int[]){2, 0, 1},
                   mask, v, input);
}
