/* ops/sdpa.c — nb_scaled_dot_product_attention and nb_packed_self_attention
 * (the heads of packed projections, read in place): the arguments' checks, and
 * the reference ("math") path, the composition of ops that PyTorch documents
 * as the function's meaning (torch.nn.functional.scaled_dot_product_attention,
 * PyTorch 2 docs, "Efficient implementation equivalent to the following"):
 *   bias = -inf where is_causal and j > i, or where a boolean mask is false;
 *          a float mask itself
 *   W    = softmax(q k^T scale + bias, dim=-1), rows of only -inf give 0
 *   y    = dropout(W, p) v
 * Its backward is that of the ops (matmul, softmax, mul), so it checks the
 * fused kernel (flash_attention.c) against an independent gradient. */
#include <stdio.h>
#include "ops/sdpa.h"

static const char *const NAME = "scaled_dot_product_attention";

/* The mask's offset for each slice b (leading dims of q flattened, row-major),
 * its dims aligned with q's from the right; size-1 dims are broadcast. */
static int64_t *mask_offsets(int ndim, const int64_t *qshape, const nb_tensor *mask, int64_t bh)
{
    int lead = ndim - 2, skip = ndim - mask->ndim;
    int64_t stride[NB_MAX_DIMS],
        st = mask->shape[mask->ndim - 1] * (mask->ndim > 1 ? mask->shape[mask->ndim - 2] : 1);
    for (int d = lead - 1; d >= 0; d--) {
        int md = d - skip;
        int64_t size = md >= 0 ? mask->shape[md] : 1;
        stride[d] = size == 1 ? 0 : st;
        st *= size;
    }
    int64_t *off = nb_step_alloc((size_t)(bh > 0 ? bh : 1) * sizeof *off);
    if (!off)
        return NULL;
    for (int64_t b = 0; b < bh; b++) {
        int64_t rest = b, o = 0;
        for (int d = lead - 1; d >= 0; d--) {
            o += rest % qshape[d] * stride[d];
            rest /= qshape[d];
        }
        off[b] = o;
    }
    return off;
}

/* qdesc names q's shape in messages ("query [1,2,3,4]"). */
static bool check_mask(const char *op, const char *qdesc, int ndim, const int64_t *qshape,
                       const nb_tensor *mask, int64_t tq, int64_t tk)
{
    if (mask->ndim < 1 || mask->ndim > ndim) {
        nb_error(NB_ERR_SHAPE, "%s: attn_mask %s must have rank 1 to %d (that of %s)", op, nb_shape_fmt(mask),
                 ndim, qdesc);
        return false;
    }
    for (int md = 0; md < mask->ndim; md++) {
        int d = ndim - mask->ndim + md;
        int64_t want = d == ndim - 1 ? tk : d == ndim - 2 ? tq : qshape[d];
        if (mask->shape[md] != want && mask->shape[md] != 1) {
            nb_error(NB_ERR_SHAPE,
                     "%s: attn_mask %s does not broadcast to the scores [..., %lld, %lld] of %s", op,
                     nb_shape_fmt(mask), (long long)tq, (long long)tk, qdesc);
            return false;
        }
    }
    if (mask->requires_grad) {
        nb_error(NB_ERR_ARG, "%s: attn_mask %s requires a gradient, but it is a constant here (detach it)",
                 op, nb_shape_fmt(mask));
        return false;
    }
    return true;
}

/* The options' checks for op, whose argument opts_arg holds them, given the
 * shape of q ([..., Tq, E], leading dims bh slices; qdesc names it in
 * messages); fills the rest of g (but for the seed). */
static bool setup_options(const char *op, int opts_arg, const nb_sdpa_opts *o, const char *qdesc, int ndim,
                          const int64_t *qshape, sdpa_geom *g)
{
    g->causal = o->is_causal;
    g->p = o->dropout_p;
    g->bool_mask = o->bool_mask;
    if (o->attn_mask && !nb_check_input(op, opts_arg, o->attn_mask))
        return false;
    if (o->attn_mask && o->is_causal) {
        nb_error(NB_ERR_ARG, "%s: attn_mask and is_causal are both set (PyTorch refuses it too)", op);
        return false;
    }
    if (o->attn_mask && !check_mask(op, qdesc, ndim, qshape, o->attn_mask, g->tq, g->tk))
        return false;
    if (!(o->dropout_p >= 0 && o->dropout_p <= 1)) {
        nb_error(NB_ERR_ARG, "%s: dropout_p = %g must be in [0, 1]", op, o->dropout_p);
        return false;
    }
    if (isinf(o->scale) || (isnan(o->scale) && g->e == 0)) {
        nb_error(NB_ERR_ARG, "%s: scale %g must be finite (NAN: 1/sqrt(E), which needs E >= 1; %s)", op,
                 o->scale, qdesc);
        return false;
    }
    g->scale = (nb_real)(isnan(o->scale) ? 1 / sqrt((double)g->e) : o->scale);
    if (o->attn_mask) {
        const nb_tensor *m = o->attn_mask;
        g->mask = m->data;
        g->mask_sj = m->shape[m->ndim - 1] == 1 ? 0 : 1;
        g->mask_si = m->ndim < 2 || m->shape[m->ndim - 2] == 1 ? 0 : m->shape[m->ndim - 1];
        g->mask_off = mask_offsets(ndim, qshape, m, g->bh);
        if (!g->mask_off)
            return false;
    }
    return true;
}

/* Checks the arguments and fills g (but for the seed). */
static bool setup(nb_tensor *q, nb_tensor *k, nb_tensor *v, const nb_sdpa_opts *o, sdpa_geom *g)
{
    if (!nb_check_input(NAME, 1, q) || !nb_check_input(NAME, 2, k) || !nb_check_input(NAME, 3, v))
        return false;
    if (q->ndim < 2 || k->ndim != q->ndim || v->ndim != q->ndim) {
        nb_error(NB_ERR_SHAPE, "%s: query %s, key %s and value %s must have one rank >= 2 ([..., T, E])",
                 NAME, nb_shape_fmt(q), nb_shape_fmt(k), nb_shape_fmt(v));
        return false;
    }
    int r = q->ndim;
    bool lead_ok = true;
    int64_t bh = 1;
    for (int d = 0; d < r - 2; d++) {
        lead_ok = lead_ok && k->shape[d] == q->shape[d] && v->shape[d] == q->shape[d];
        bh *= q->shape[d];
    }
    if (!lead_ok || k->shape[r - 1] != q->shape[r - 1] || v->shape[r - 2] != k->shape[r - 2]) {
        nb_error(NB_ERR_SHAPE,
                 "%s: query %s [..., Tq, E], key %s [..., Tk, E] and value %s [..., Tk, Ev] do not match",
                 NAME, nb_shape_fmt(q), nb_shape_fmt(k), nb_shape_fmt(v));
        return false;
    }
    *g = (sdpa_geom){.bh = bh,
                     .tq = q->shape[r - 2],
                     .tk = k->shape[r - 2],
                     .e = q->shape[r - 1],
                     .ev = v->shape[r - 1],
                     .heads = 1};
    g->lq = sdpa_contiguous(g->tq, g->e);
    g->lk = sdpa_contiguous(g->tk, g->e);
    g->lv = sdpa_contiguous(g->tk, g->ev);
    g->ly = sdpa_contiguous(g->tq, g->ev);
    char qdesc[160];
    snprintf(qdesc, sizeof qdesc, "query %s", nb_shape_fmt(q));
    return setup_options(NAME, 4, o, qdesc, q->ndim, q->shape, g);
}

/* A constant [bh, tq, tk] tensor: the bias of every score (0 over a fully
 * masked row, whose weights valid[] then zeroes), or the dropout factors. */
static nb_tensor *constant_scores(const sdpa_geom *g, bool dropout, nb_tensor **valid)
{
    nb_tensor *t = nb_op_output(3, (const int64_t[]){g->bh, g->tq, g->tk});
    if (!t)
        return NULL;
    nb_real *vd = NULL;
    for (int64_t b = 0; b < g->bh; b++)
        for (int64_t i = 0; i < g->tq; i++) {
            nb_real *row = t->data + (b * g->tq + i) * g->tk;
            bool any = false;
            for (int64_t j = 0; j < g->tk; j++) {
                row[j] = dropout ? sdpa_keep(g, b, i, j) : sdpa_bias(g, b, i, j);
                any = any || row[j] != -INFINITY;
            }
            if (dropout || any)
                continue;
            if (!vd) {
                *valid = nb_op_output(3, (const int64_t[]){g->bh, g->tq, 1});
                if (!*valid)
                    return NULL;
                vd = (*valid)->data;
                for (int64_t r = 0; r < g->bh * g->tq; r++)
                    vd[r] = 1;
            }
            vd[b * g->tq + i] = 0;
            for (int64_t j = 0; j < g->tk; j++)
                row[j] = 0;
        }
    return t;
}

static nb_tensor *math_path(const sdpa_geom *g, nb_tensor *q, nb_tensor *k, nb_tensor *v, int ndim,
                            const int64_t *out_shape)
{
    nb_tensor *Q = nb_reshape(q, 3, (const int64_t[]){g->bh, g->tq, g->e});
    nb_tensor *K = nb_reshape(k, 3, (const int64_t[]){g->bh, g->tk, g->e});
    nb_tensor *V = nb_reshape(v, 3, (const int64_t[]){g->bh, g->tk, g->ev});
    nb_tensor *s = nb_mul_scalar(nb_matmul(Q, nb_transpose(K, 1, 2)), g->scale), *valid = NULL;
    if (s && (g->mask || g->causal))
        s = nb_add(s, constant_scores(g, false, &valid));
    nb_tensor *w = nb_softmax(s, -1);
    if (w && valid)
        w = nb_mul(w, valid);
    if (w && g->p > 0)
        w = nb_mul(w, constant_scores(g, true, NULL));
    return nb_reshape(nb_matmul(w, V), ndim, out_shape);
}

nb_sdpa_opts nb_sdpa_defaults(void) { return NB_SDPA_OPTS(); }

nb_tensor *nb_scaled_dot_product_attention(nb_tensor *q, nb_tensor *k, nb_tensor *v, nb_sdpa_opts o)
{
    sdpa_geom g;
    if (!nb_opts_made(NAME, o.nb_tag, "sdpa") || !setup(q, k, v, &o, &g))
        return NULL;
    if (g.p > 0)
        g.seed = nb_generator_next(o.generator ? o.generator : nb_default_generator());
    int64_t shape[NB_MAX_DIMS];
    for (int d = 0; d < q->ndim - 1; d++)
        shape[d] = q->shape[d];
    shape[q->ndim - 1] = g.ev;
    if (o.math)
        return math_path(&g, q, k, v, q->ndim, shape);
    return nb_flash_attention(&g, q->ndim, shape, (nb_tensor *[]){q, k, v, o.attn_mask}, false);
}

/* The composition nb_packed_self_attention stands for: split the heads of
 * qkv [n, t, 3 h d] into q, k, v [n, h, t, d], attend, concatenate. */
static nb_tensor *split_attend_concat(nb_tensor *qkv, int64_t h, nb_sdpa_opts o)
{
    const int64_t n = qkv->shape[0], t = qkv->shape[1], e = qkv->shape[2] / 3, d = e / h;
    nb_tensor *heads = nb_permute(nb_reshape(qkv, NB_SHAPE(n, t, 3, h, d)), (const int[]){2, 0, 3, 1, 4});
    nb_tensor *x[3];
    for (int i = 0; i < 3; i++)
        x[i] = nb_reshape(nb_slice(heads, 0, i, i + 1), NB_SHAPE(n, h, t, d));
    nb_tensor *y = nb_scaled_dot_product_attention(x[0], x[1], x[2], o);
    return nb_reshape(nb_permute(y, (const int[]){0, 2, 1, 3}), NB_SHAPE(n, t, e));
}

nb_tensor *nb_packed_self_attention(nb_tensor *qkv, int64_t num_heads, nb_sdpa_opts o)
{
    static const char *const PNAME = "packed_self_attention";
    if (!nb_opts_made(PNAME, o.nb_tag, "sdpa") || !nb_check_input(PNAME, 1, qkv))
        return NULL;
    if (num_heads < 1)
        return nb_error(NB_ERR_ARG, "%s: num_heads %lld must be >= 1", PNAME, (long long)num_heads);
    if (qkv->ndim != 3 || num_heads > qkv->shape[2] / 3 || qkv->shape[2] % (3 * num_heads) != 0)
        return nb_error(NB_ERR_SHAPE, "%s: qkv %s must be [N, T, 3 E] with E a multiple of num_heads %lld",
                        PNAME, nb_shape_fmt(qkv), (long long)num_heads);
    const int64_t n = qkv->shape[0], t = qkv->shape[1], e = qkv->shape[2] / 3, d = e / num_heads;
    sdpa_geom g = {.bh = n * num_heads, .tq = t, .tk = t, .e = d, .ev = d, .heads = num_heads};
    g.lq = (sdpa_rows){0, t * 3 * e, d, 3 * e};
    g.lk = (sdpa_rows){e, t * 3 * e, d, 3 * e};
    g.lv = (sdpa_rows){2 * e, t * 3 * e, d, 3 * e};
    g.ly = (sdpa_rows){0, t * e, d, e};
    const int64_t qshape[4] = {n, num_heads, t, d};
    char qdesc[160];
    snprintf(qdesc, sizeof qdesc, "the heads %s of qkv %s", nb_dims_fmt(4, qshape), nb_shape_fmt(qkv));
    if (!setup_options(PNAME, 3, &o, qdesc, 4, qshape, &g))
        return NULL;
    if (o.math)
        return split_attend_concat(qkv, num_heads, o);
    if (g.p > 0)
        g.seed = nb_generator_next(o.generator ? o.generator : nb_default_generator());
    return nb_flash_attention(&g, 3, (const int64_t[]){n, t, e}, (nb_tensor *[]){qkv, o.attn_mask}, true);
}
