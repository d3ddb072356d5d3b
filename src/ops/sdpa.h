/* ops/sdpa.h — what the two paths of scaled dot-product attention share
 * (sdpa.c: validation and the reference "math" path; flash_attention.c: the
 * fused kernel): the problem's geometry, the bias a mask and causality add to
 * a score, and the dropout decision of one weight. */
#ifndef NB_OPS_SDPA_H
#define NB_OPS_SDPA_H

#include <math.h>
#include "ops/op.h"

/* Where the rows of one operand (q, k, v or the output) are: row i of slice
 * b = n heads + h at off + n sn + h sh + i ld. Contiguous [bh, T, E] is
 * {0, T E, 0, E} with one head; the packed projections of self-attention,
 * [N, T, 3 E] with head h of q at columns h d, give q {0, 3 T E, d, 3 E}, k
 * and v the same from columns E and 2 E, and an output [N, T, E]
 * {0, T E, d, E}: the heads are read and written in place, never permuted. */
typedef struct sdpa_rows {
    int64_t off, sn, sh, ld;
} sdpa_rows;

/* Scores S[b, i, j] = scale q[b, i] . k[b, j] + bias(b, i, j) for the bh
 * slices b = flattened leading dims; weights W = softmax_j(S) (zero rows
 * where every S is -inf), dropped: W[b, i, j] * keep(b, i, j). */
typedef struct sdpa_geom {
    int64_t bh, tq, tk, e, ev; /* slices, query and key lengths, q/k and v widths */
    int64_t heads;             /* slices per n of sdpa_rows */
    sdpa_rows lq, lk, lv, ly;  /* the operands' rows */
    nb_real scale;
    bool causal;
    const nb_real *mask;      /* NULL: no attn_mask */
    bool bool_mask;           /* non-zero takes part, 0 gives -inf; else added */
    const int64_t *mask_off;  /* [bh]: offset of slice b's mask (broadcast dims stride 0) */
    int64_t mask_si, mask_sj; /* strides of the mask along i and j (0 when broadcast) */
    double p;                 /* dropout probability; 0: none */
    uint64_t seed;            /* the call's draw: the dropout mask is a function of it */
} sdpa_geom;

/* The bias of score (b, i, j): causality and the mask. */
static inline nb_real sdpa_bias(const sdpa_geom *g, int64_t b, int64_t i, int64_t j)
{
    if (g->causal && j > i)
        return -INFINITY;
    if (!g->mask)
        return 0;
    nb_real m = g->mask[g->mask_off[b] + i * g->mask_si + j * g->mask_sj];
    if (g->bool_mask)
        return m != 0 ? 0 : -INFINITY;
    return m;
}

/* The factor dropout applies to weight (b, i, j): 0 (dropped) or 1 / (1 - p).
 * A uniform u in [0, 1) with 24 bits from the SplitMix64 finaliser (Steele,
 * Lea, Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014)
 * of the seed and the element's flat index; the weight is kept when u >= p. */
static inline nb_real sdpa_keep(const sdpa_geom *g, int64_t b, int64_t i, int64_t j)
{
    uint64_t z = g->seed + (uint64_t)((b * g->tq + i) * g->tk + j) * 0x9E3779B97F4A7C15u;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    z ^= z >> 31;
    double u = (double)(z >> 40) * 0x1p-24;
    return u >= g->p ? (nb_real)(1 / (1 - g->p)) : 0;
}

/* The first element of row i of slice b in the layout l. */
static inline int64_t sdpa_row(const sdpa_geom *g, const sdpa_rows *l, int64_t b, int64_t i)
{
    return l->off + b / g->heads * l->sn + b % g->heads * l->sh + i * l->ld;
}

/* Contiguous [bh, t, w] rows. */
static inline sdpa_rows sdpa_contiguous(int64_t t, int64_t w) { return (sdpa_rows){0, t * w, 0, w}; }

/* The fused path (flash_attention.c): y (its rows g->ly, its shape
 * out_shape) from q, k, v, recording its node on the inputs `in`: q, k, v
 * and the mask tensor or NULL, or (packed, the layouts of g in one tensor)
 * the projections and the mask or NULL. */
nb_tensor *nb_flash_attention(const sdpa_geom *g, int ndim, const int64_t *out_shape, nb_tensor *const *in,
                              bool packed);

#endif
