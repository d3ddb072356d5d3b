/* ops/embedding.c — torch.nn.functional.embedding: a lookup of rows,
 *   y[p, :] = weight[indices[p], :]          y: indices.shape + [embedding_dim]
 *   dweight[indices[p], :] += dy[p, :]       (scatter-add; repeated indices add up)
 * except that the row padding_idx gets no gradient. With max_norm, each row
 * the indices use whose norm_type-norm exceeds max_norm is first scaled in
 * place to max_norm / (norm + 1e-7) of itself, without gradient, as
 * torch.embedding_renorm_ (aten/src/ATen/native/Embedding.cpp). The backward
 * splits the embedding dimension among threads, each adding the rows in index
 * order, so the sums are the same for any thread count. Indices get no
 * gradient. */
#include <math.h>
#include <string.h>
#include "nabla/threads.h"
#include "ops/op.h"

typedef struct embedding_saved {
    int64_t n;           /* number of indices */
    int64_t dim;         /* embedding_dim */
    int64_t padding_idx; /* -1: none */
    int64_t *rows;       /* [n] the row of each index */
} embedding_saved;

typedef struct emb_job {
    const embedding_saved *s;
    const nb_real *dy;
    nb_real *dw;
} emb_job;

static void emb_grad(void *ctx, int64_t d0, int64_t d1)
{
    emb_job *j = ctx;
    const embedding_saved *s = j->s;
    for (int64_t p = 0; p < s->n; p++) {
        if (s->rows[p] == s->padding_idx)
            continue;
        nb_real *dw = j->dw + s->rows[p] * s->dim;
        const nb_real *dy = j->dy + p * s->dim;
        for (int64_t d = d0; d < d1; d++)
            dw[d] += dy[d];
    }
}

static void embedding_backward(nb_node *n)
{
    emb_job j = {.s = n->saved, .dy = n->out->grad, .dw = nb_input_grad(n, 0)};
    if (j.dw)
        nb_parallel_for(j.s->dim, 1 + (1 << 16) / (j.s->n ? j.s->n : 1), emb_grad, &j);
}

static const nb_op op_embedding = {"embedding", embedding_backward};

/* The p-norm of a row (p = inf: the largest magnitude). */
static double row_pnorm(const nb_real *r, int64_t dim, double p)
{
    double s = 0;
    for (int64_t d = 0; d < dim; d++)
        s = isinf(p) ? fmax(s, fabs((double)r[d])) : s + pow(fabs((double)r[d]), p);
    return isinf(p) ? s : pow(s, 1 / p);
}

/* embedding_renorm_: every row the indices use, once. false when out of memory. */
static bool renorm(nb_tensor *w, const int64_t *rows, int64_t n, double max_norm, double norm_type)
{
    int64_t dim = w->shape[1];
    unsigned char *done = nb_step_alloc((size_t)w->shape[0]);
    if (!done)
        return false;
    memset(done, 0, (size_t)w->shape[0]);
    for (int64_t p = 0; p < n; p++) {
        if (done[rows[p]])
            continue;
        done[rows[p]] = 1;
        nb_real *r = w->data + rows[p] * dim;
        double norm = row_pnorm(r, dim, norm_type);
        if (norm > max_norm)
            for (int64_t d = 0; d < dim; d++)
                r[d] = (nb_real)(r[d] * (max_norm / (norm + 1e-7)));
    }
    return true;
}

nb_tensor *nb_embedding_op(nb_tensor *indices, nb_tensor *weight, nb_embedding_opts o)
{
    if (!nb_check_input("embedding", 1, indices) || !nb_check_input("embedding", 2, weight) ||
        !nb_opts_made("embedding", o.nb_tag, "embedding"))
        return NULL;
    if (weight->ndim != 2)
        return nb_error(NB_ERR_SHAPE, "embedding: weight %s must be [num_embeddings, embedding_dim]",
                        nb_shape_fmt(weight));
    if (indices->ndim >= NB_MAX_DIMS)
        return nb_error(NB_ERR_SHAPE, "embedding: indices %s: the output would have more than %d dims",
                        nb_shape_fmt(indices), NB_MAX_DIMS);
    int64_t num = weight->shape[0], dim = weight->shape[1], pad = o.padding_idx;
    if (pad != NB_NO_PADDING_IDX && (pad < -num || pad >= num))
        return nb_error(NB_ERR_ARG, "embedding: padding_idx %lld is out of range for weight %s",
                        (long long)pad, nb_shape_fmt(weight));
    if (pad == NB_NO_PADDING_IDX)
        pad = -1;
    else if (pad < 0)
        pad += num;
    if (!isnan(o.max_norm) && !(o.max_norm > 0 && o.norm_type > 0))
        return nb_error(NB_ERR_ARG, "embedding: max_norm %g and norm_type %g must be > 0", o.max_norm,
                        o.norm_type);
    embedding_saved *s = nb_step_alloc(sizeof *s);
    int64_t *rows = nb_step_alloc((size_t)(indices->numel ? indices->numel : 1) * sizeof *rows);
    if (!s || !rows)
        return NULL;
    for (int64_t p = 0; p < indices->numel; p++) {
        nb_real v = indices->data[p];
        if (!(v >= 0 && v < (nb_real)num) || v != (nb_real)(int64_t)v || (int64_t)v >= num)
            return nb_error(NB_ERR_ARG,
                            "embedding: indices %s hold %g at position %lld: not an integer in 0..%lld "
                            "(weight %s)",
                            nb_shape_fmt(indices), (double)v, (long long)p, (long long)num - 1,
                            nb_shape_fmt(weight));
        rows[p] = (int64_t)v;
    }
    if (!isnan(o.max_norm) && !renorm(weight, rows, indices->numel, o.max_norm, o.norm_type))
        return NULL;
    int64_t shape[NB_MAX_DIMS];
    for (int k = 0; k < indices->ndim; k++)
        shape[k] = indices->shape[k];
    shape[indices->ndim] = dim;
    nb_tensor *y = nb_op_output(indices->ndim + 1, shape);
    if (!y)
        return NULL;
    for (int64_t p = 0; p < indices->numel; p++)
        for (int64_t d = 0; d < dim; d++)
            y->data[p * dim + d] = weight->data[rows[p] * dim + d];
    *s = (embedding_saved){.n = indices->numel, .dim = dim, .padding_idx = pad, .rows = rows};
    nb_node *n = nb_record(&op_embedding, y, 1, &weight);
    if (n)
        n->saved = s;
    return y;
}

nb_embedding_opts nb_embedding_defaults(void) { return NB_EMBEDDING_OPTS(); }
