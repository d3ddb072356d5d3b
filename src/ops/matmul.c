/* ops/matmul.c — the matrix product, as torch.matmul:
 *   Y = A B,  Y[i,j] = Σ_p A[i,p] B[p,j];   dA = dY B^T,  dB = A^T dY
 * for every matrix of a batch. The batch dims (all but the last two) broadcast
 * as in arithmetic ([n,k] or [1,n,k] against [b,k,m] and the reverse); the
 * gradient of a broadcast operand is the sum over the products it served in,
 * added batch after batch in order. 1-D operands follow torch.matmul: a [k] is
 * a row [1,k] and b [k] a column [k,1], and that dim is dropped from the
 * result ([k]·[k] is a rank-0 dot product).
 *
 * Everything goes through nb_gemm: its transpose flags give B^T and A^T without
 * copies, and beta = 1 accumulates into the gradient buffers. When b is one
 * matrix shared by the whole batch (the 2-D case, and a Linear layer on a
 * batch of sequences), the batch folds into the rows: one gemm of
 * [batch*n, k] x [k, m], and dB's sum over the batch becomes part of that
 * gemm's K. Other batches run one gemm per matrix, split over threads when
 * each matrix has its own output. */
#include "kernels/gemm.h"
#include "nabla/threads.h"
#include "ops/op.h"

typedef struct mm {
    int64_t n, k, m;
    int64_t batch; /* products */
    int nbd;       /* batch dims of the result */
    int64_t bshape[NB_MAX_DIMS];
    int64_t sa[NB_MAX_DIMS], sb[NB_MAX_DIMS]; /* per batch dim: matrix stride, 0 if broadcast */
    bool a_own, b_own;                        /* a (b) has a distinct matrix for every product */
    bool b_one;                               /* b is a single matrix */
    const nb_real *a, *b, *dy;
    nb_real *y, *ga, *gb;
} mm;

/* Element offsets of the matrices of a and b used by product p. */
static void offsets(const mm *g, int64_t p, int64_t *oa, int64_t *ob)
{
    *oa = *ob = 0;
    for (int d = g->nbd - 1; d >= 0; d--) {
        int64_t i = p % g->bshape[d];
        p /= g->bshape[d];
        *oa += i * g->sa[d];
        *ob += i * g->sb[d];
    }
}

/* Shapes and strides of a x b; false with an error recorded. */
static bool setup(const nb_tensor *a, const nb_tensor *b, mm *g, int *ndim, int64_t *shape)
{
    if (a->ndim == 0 || b->ndim == 0) {
        nb_error(NB_ERR_SHAPE, "matmul: %s x %s: both arguments need at least 1 dimension", nb_shape_fmt(a),
                 nb_shape_fmt(b));
        return false;
    }
    *g = (mm){0};
    g->n = a->ndim >= 2 ? a->shape[a->ndim - 2] : 1;
    g->k = a->shape[a->ndim - 1];
    int64_t kb = b->ndim >= 2 ? b->shape[b->ndim - 2] : b->shape[0];
    g->m = b->ndim >= 2 ? b->shape[b->ndim - 1] : 1;
    if (g->k != kb) {
        nb_error(NB_ERR_SHAPE, "matmul: %s x %s: inner dimensions differ (%lld vs %lld)", nb_shape_fmt(a),
                 nb_shape_fmt(b), (long long)g->k, (long long)kb);
        return false;
    }
    int na = a->ndim > 2 ? a->ndim - 2 : 0, nbb = b->ndim > 2 ? b->ndim - 2 : 0;
    g->nbd = na > nbb ? na : nbb;
    int64_t sa = g->n * g->k, sb = g->k * g->m, nummat_a = 1, nummat_b = 1;
    g->batch = 1;
    for (int d = g->nbd - 1; d >= 0; d--) { /* align from the right */
        int ia = d - (g->nbd - na), ib = d - (g->nbd - nbb);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            nb_error(NB_ERR_SHAPE,
                     "matmul: %s x %s: batch dimensions cannot be broadcast (dim %d: %lld vs %lld)",
                     nb_shape_fmt(a), nb_shape_fmt(b), d - g->nbd - 2, (long long)da, (long long)db);
            return false;
        }
        g->bshape[d] = da == 1 ? db : da;
        g->sa[d] = da == 1 ? 0 : sa;
        g->sb[d] = db == 1 ? 0 : sb;
        sa *= da;
        sb *= db;
        nummat_a *= da;
        nummat_b *= db;
        g->batch *= g->bshape[d];
    }
    g->a_own = nummat_a == g->batch;
    g->b_own = nummat_b == g->batch;
    g->b_one = nummat_b == 1;
    *ndim = 0;
    for (int d = 0; d < g->nbd; d++)
        shape[(*ndim)++] = g->bshape[d];
    if (a->ndim >= 2)
        shape[(*ndim)++] = g->n;
    if (b->ndim >= 2)
        shape[(*ndim)++] = g->m;
    return true;
}

/* Work (multiply-adds) a task should have before it is worth a thread. */
enum { GRAIN_FLOPS = 1 << 16 };

static int64_t grain(const mm *g) { return GRAIN_FLOPS / (g->n * g->k * g->m + 1) + 1; }

static void forward_task(void *c, int64_t begin, int64_t end)
{
    const mm *g = c;
    for (int64_t p = begin; p < end; p++) {
        int64_t oa, ob;
        offsets(g, p, &oa, &ob);
        nb_gemm(false, false, g->n, g->m, g->k, 1, g->a + oa, g->k, g->b + ob, g->m, 0,
                g->y + p * g->n * g->m, g->m);
    }
}

/* dA_p += dY_p B_p^T */
static void grad_a(const mm *g, int64_t p)
{
    int64_t oa, ob;
    offsets(g, p, &oa, &ob);
    nb_gemm(false, true, g->n, g->k, g->m, 1, g->dy + p * g->n * g->m, g->m, g->b + ob, g->m, 1, g->ga + oa,
            g->k);
}

/* dB_p += A_p^T dY_p */
static void grad_b(const mm *g, int64_t p)
{
    int64_t oa, ob;
    offsets(g, p, &oa, &ob);
    nb_gemm(true, false, g->k, g->m, g->n, 1, g->a + oa, g->k, g->dy + p * g->n * g->m, g->m, 1, g->gb + ob,
            g->m);
}

static void grad_a_task(void *c, int64_t begin, int64_t end)
{
    for (int64_t p = begin; p < end; p++)
        grad_a(c, p);
}

static void grad_b_task(void *c, int64_t begin, int64_t end)
{
    for (int64_t p = begin; p < end; p++)
        grad_b(c, p);
}

static void matmul_backward(nb_node *n)
{
    mm g;
    int ndim;
    int64_t shape[NB_MAX_DIMS];
    setup(n->in[0], n->in[1], &g, &ndim, shape);
    g.a = n->in[0]->data;
    g.b = n->in[1]->data;
    g.dy = n->out->grad;
    g.ga = nb_input_grad(n, 0);
    g.gb = nb_input_grad(n, 1);
    if (g.batch == 0 || g.n == 0 || g.m == 0 || g.k == 0)
        return;
    if (g.b_one && g.a_own) { /* batch folded into rows */
        int64_t rows = g.batch * g.n;
        if (g.ga)
            nb_gemm(false, true, rows, g.k, g.m, 1, g.dy, g.m, g.b, g.m, 1, g.ga, g.k);
        if (g.gb)
            nb_gemm(true, false, g.k, g.m, rows, 1, g.a, g.k, g.dy, g.m, 1, g.gb, g.m);
        return;
    }
    if (g.ga) {
        if (g.a_own)
            nb_parallel_for(g.batch, grain(&g), grad_a_task, &g);
        else
            for (int64_t p = 0; p < g.batch; p++)
                grad_a(&g, p);
    }
    if (g.gb) {
        if (g.b_own)
            nb_parallel_for(g.batch, grain(&g), grad_b_task, &g);
        else
            for (int64_t p = 0; p < g.batch; p++)
                grad_b(&g, p);
    }
}

static const nb_op op_matmul = {"matmul", matmul_backward};

nb_tensor *nb_matmul(nb_tensor *a, nb_tensor *b)
{
    if (!nb_check_input("matmul", 1, a) || !nb_check_input("matmul", 2, b))
        return NULL;
    mm g;
    int ndim;
    int64_t shape[NB_MAX_DIMS];
    if (!setup(a, b, &g, &ndim, shape))
        return NULL;
    nb_tensor *y = nb_tensor_alloc("matmul", ndim, shape, false);
    if (!y)
        return NULL;
    g.a = a->data;
    g.b = b->data;
    g.y = y->data;
    if (g.b_one && g.a_own)
        nb_gemm(false, false, g.batch * g.n, g.m, g.k, 1, g.a, g.k, g.b, g.m, 0, g.y, g.m);
    else
        nb_parallel_for(g.batch, grain(&g), forward_task, &g);
    nb_record(&op_matmul, y, 2, (nb_tensor *[]){a, b});
    return y;
}
