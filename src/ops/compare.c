/* ops/compare.c — elementwise comparisons, broadcasting as PyTorch
 * (torch.eq, ne, lt, le, gt, ge: https://pytorch.org/docs/stable/generated/torch.eq.html
 * and its neighbours):
 *   y = 1 where (a op b) holds, else 0.
 * PyTorch returns a bool tensor; nabla stores nb_real only, so the mask holds
 * 1.0 and 0.0 (what `mask.float()` gives in PyTorch), and the ops that take a
 * mask (nb_where, nb_masked_fill) read any non-zero value as true. NaN compares
 * as IEEE 754 says: unequal to everything (ne is 1, the others 0). Not
 * differentiable (PyTorch's comparisons have no gradient): nothing is recorded,
 * and the result never requires a gradient. */
#include "nabla/threads.h"
#include "ops/broadcast.h"

typedef enum cmp { EQ, NE, LT, LE, GT, GE } cmp;

static const char *const names[] = {"eq", "ne", "lt", "le", "gt", "ge"};

static inline nb_real compare(cmp k, nb_real a, nb_real b)
{
    switch (k) {
    case EQ: return a == b;
    case NE: return a != b;
    case LT: return a < b;
    case LE: return a <= b;
    case GT: return a > b;
    default: return a >= b;
    }
}

typedef struct job {
    cmp k;
    nb_real *y;
    const nb_real *a, *b;
} job;

static void cmp_row(void *c, int64_t o, int64_t ia, int64_t ib, int64_t n, int64_t sa, int64_t sb)
{
    const job *j = c;
    for (int64_t i = 0; i < n; i++)
        j->y[o + i] = compare(j->k, j->a[ia + i * sa], j->b[ib + i * sb]);
}

static void cmp_flat(void *c, int64_t begin, int64_t end)
{
    cmp_row(c, begin, begin, begin, end - begin, 1, 1);
}

enum { GRAIN = 1 << 14 };

static nb_tensor *comparison(cmp k, nb_tensor *a, nb_tensor *b)
{
    const char *name = names[k];
    if (!nb_check_input(name, 1, a) || !nb_check_input(name, 2, b))
        return NULL;
    nb_bcast bc;
    if (!nb_broadcast(name, a, b, &bc))
        return NULL;
    nb_tensor *y = nb_tensor_alloc(name, bc.ndim, bc.shape, false);
    if (!y)
        return NULL;
    job j = {k, y->data, a->data, b->data};
    if (nb_same_shape(a, b))
        nb_parallel_for(y->numel, GRAIN, cmp_flat, &j);
    else
        nb_bcast_rows(&bc, cmp_row, &j);
    return y;
}

/* x op s: the same with a rank-0 b. */
static nb_tensor *comparison_scalar(cmp k, nb_tensor *x, nb_real s)
{
    if (!nb_check_input(names[k], 1, x))
        return NULL;
    nb_tensor *b = nb_tensor_alloc(names[k], 0, NULL, false);
    if (!b)
        return NULL;
    b->data[0] = s;
    return comparison(k, x, b);
}

nb_tensor *nb_eq(nb_tensor *a, nb_tensor *b) { return comparison(EQ, a, b); }
nb_tensor *nb_ne(nb_tensor *a, nb_tensor *b) { return comparison(NE, a, b); }
nb_tensor *nb_lt(nb_tensor *a, nb_tensor *b) { return comparison(LT, a, b); }
nb_tensor *nb_le(nb_tensor *a, nb_tensor *b) { return comparison(LE, a, b); }
nb_tensor *nb_gt(nb_tensor *a, nb_tensor *b) { return comparison(GT, a, b); }
nb_tensor *nb_ge(nb_tensor *a, nb_tensor *b) { return comparison(GE, a, b); }
nb_tensor *nb_eq_scalar(nb_tensor *x, nb_real s) { return comparison_scalar(EQ, x, s); }
nb_tensor *nb_ne_scalar(nb_tensor *x, nb_real s) { return comparison_scalar(NE, x, s); }
nb_tensor *nb_lt_scalar(nb_tensor *x, nb_real s) { return comparison_scalar(LT, x, s); }
nb_tensor *nb_le_scalar(nb_tensor *x, nb_real s) { return comparison_scalar(LE, x, s); }
nb_tensor *nb_gt_scalar(nb_tensor *x, nb_real s) { return comparison_scalar(GT, x, s); }
nb_tensor *nb_ge_scalar(nb_tensor *x, nb_real s) { return comparison_scalar(GE, x, s); }
