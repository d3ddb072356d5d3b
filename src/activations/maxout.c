/* activations/maxout.c — the maxout nonlinearity (Goodfellow et al. 2013,
 * "Maxout Networks", arXiv:1302.4389): the last dim, of size C*k, is cut into
 * C groups of k consecutive values and each group is replaced by its maximum.
 * (The maxout layer is a linear map to C*k features followed by this.)
 *
 *   y[..., c] = max_{p < k} x[..., c*k + p]
 *   dL/dx[..., c*k + p] = dL/dy[..., c] for the first p reaching the maximum,
 *                         0 for the others
 * (the subgradient torch.max(dim) uses: the gradient goes to the index it
 * returns). A NaN in a group wins, so NaN propagates as in torch.max. */
#include "activations/activation.h"
#include "nabla/threads.h"

enum { GRAIN = 1 << 14 };

typedef struct job {
    int64_t k;
    const nb_real *x, *dy;
    nb_real *out;
} job;

/* index of the first maximum of v[0..k) (a NaN wins) */
static inline int64_t winner(const nb_real *v, int64_t k)
{
    int64_t w = 0;
    for (int64_t p = 1; p < k; p++)
        if (v[p] > v[w] || (v[p] != v[p] && v[w] == v[w]))
            w = p;
    return w;
}

static void forward_range(void *c, int64_t b, int64_t e)
{
    job *j = c;
    for (int64_t g = b; g < e; g++) {
        const nb_real *v = j->x + g * j->k;
        j->out[g] = v[winner(v, j->k)];
    }
}

static void backward_range(void *c, int64_t b, int64_t e)
{
    job *j = c;
    for (int64_t g = b; g < e; g++) {
        const nb_real *v = j->x + g * j->k;
        j->out[g * j->k + winner(v, j->k)] += j->dy[g];
    }
}

static int64_t grain_for(int64_t k) { return k >= GRAIN ? 1 : GRAIN / k; }

/* Each output is the maximum of k consecutive inputs. */
typedef struct maxout_saved {
    int64_t k;
} maxout_saved;

static void maxout_backward(nb_node *n)
{
    nb_real *dx = nb_input_grad(n, 0);
    if (!dx)
        return;
    job j = {.k = ((const maxout_saved *)n->saved)->k, .x = n->in[0]->data, .dy = n->out->grad, .out = dx};
    nb_parallel_for(n->out->numel, grain_for(j.k), backward_range, &j);
}

static const nb_op op_maxout = {"maxout", maxout_backward};

nb_tensor *nb_maxout(nb_tensor *x, int k)
{
    if (!nb_check_input("maxout", 1, x))
        return NULL;
    if (k < 1)
        return nb_error(NB_ERR_ARG, "maxout: x %s: k = %d pieces, must be at least 1", nb_shape_fmt(x), k);
    if (x->ndim < 1)
        return nb_error(NB_ERR_SHAPE, "maxout: x %s: needs at least one dim", nb_shape_fmt(x));
    int64_t last = x->shape[x->ndim - 1];
    if (last % k != 0)
        return nb_error(NB_ERR_SHAPE, "maxout: x %s: the last dim (%lld) is not divisible by k = %d",
                        nb_shape_fmt(x), (long long)last, k);
    int64_t shape[NB_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++)
        shape[d] = x->shape[d];
    shape[x->ndim - 1] = last / k;
    nb_tensor *y = nb_tensor_alloc("maxout", x->ndim, shape, false);
    if (!y)
        return NULL;
    job j = {.k = k, .x = x->data, .out = y->data};
    nb_parallel_for(y->numel, grain_for(k), forward_range, &j);
    nb_node *n = nb_record_saved(&op_maxout, y, 1, &x, sizeof(maxout_saved));
    if (n)
        ((maxout_saved *)n->saved)->k = k;
    return y;
}

/* Registry: param "pieces" (k), default 2. */
static nb_tensor *apply_maxout(nb_tensor *x, const nb_real *p, nb_tensor *w)
{
    (void)w;
    return nb_maxout(x, (int)p[0]);
}

const nb_activation nb_act_maxout = {.name = "maxout",
                                     .class_name = "Maxout",
                                     .n_params = 1,
                                     .param_names = {"pieces"},
                                     .defaults = {2},
                                     .apply = apply_maxout,
                                     .pointwise = false};
