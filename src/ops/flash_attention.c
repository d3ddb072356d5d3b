/* ops/flash_attention.c — the fused kernel of scaled dot-product attention:
 * FlashAttention-2 tiling on the CPU (Dao, "FlashAttention-2: Faster
 * Attention with Better Parallelism and Work Partitioning", 2023, Algorithms 1
 * and 2). The [Tq, Tk] weights are never stored: memory is linear in T.
 *
 * Forward, for each slice b and block of BR query rows Q_i, over blocks of BC
 * keys K_j, V_j, with a running maximum m and sum l per row (online softmax):
 *   S = scale Q_i K_j^T + bias            m' = max(m, rowmax S)
 *   P = exp(S - m')                       l  = exp(m - m') l + rowsum P
 *   O = exp(m - m') O + (P * Z) V_j       (Z: dropout's 0 or 1/(1-p))
 * then O /= l and the row's log-sum-exp L = m + log l is saved (L = +inf for a
 * fully masked row, whose output is 0). Subtracting the running maximum keeps
 * every exponent <= 0, so any finite scores are safe.
 *
 * Backward, with D_i = rowsum(dO_i * O_i) (= sum_j P_ij dP_ij even with
 * dropout, as O holds the dropped weights), for each key block j and query
 * block i, recomputing the weights from L:
 *   P  = exp(S - L)                       dV_j += (P * Z)^T dO_i
 *   dP = (dO_i V_j^T) * Z                 dS   = P * (dP - D_i)
 *   dQ_i += scale dS K_j                  dK_j += scale dS^T Q_i
 *
 * Threads: the forward splits (slice, query block) pairs. The backward splits
 * whole slices (each owns its dQ, dK, dV rows, or in packed projections its
 * head's columns of them, accumulated in a fixed order)
 * when there are as many slices as threads; with fewer (long sequences, few
 * heads) it may make two passes, as FlashAttention-2 splits over
 * key blocks: (slice, key block) tasks each own their dK_j, dV_j, then
 * (slice, query block) tasks recompute P and dS to own their dQ_i. Each sum
 * is taken over the same blocks in the same order in both ways (dK_j, dV_j
 * over i, dQ_i over j, ascending), so the two give the same bits, at the
 * price of computing S, P and dP twice: it pays with more than twice as
 * many threads as slices, or for long sequences (SPLIT_MIN below). The
 * blocks' products are nb_gemm
 * calls, run inline inside a task. Results are bit-identical for any thread
 * count. Every operand's rows are where g's layouts say (sdpa_rows): slices
 * of contiguous tensors, or the heads of self-attention's packed
 * projections and of its output, read and written in place; the products
 * take the row strides, so both give the same bits. */
#include <string.h>
#include "kernels/gemm.h"
#include "kernels/lanesum.h"
#include "nabla/threads.h"
#include "kernels/simd.h"
#include "kernels/vmath.h"
#include "ops/sdpa.h"

enum { BR = 64, BC = 64 };

typedef struct flash_saved {
    sdpa_geom g;
    nb_real *lse; /* [bh * tq]: each row's log-sum-exp of its scores */
    int ik, iv;   /* the inputs holding k and v: 1 and 2, or 0 and 0 (packed: q, k, v one tensor) */
} flash_saved;

typedef struct flash_job {
    const sdpa_geom *g;
    const nb_real *q, *k, *v, *o, *dout;
    nb_real *y, *lse;
    nb_real *dq, *dk, *dv; /* backward: NULL where no gradient is needed */
    nb_real *dsum;         /* backward: D of every row */
} flash_job;

/* Add the bias of rows [i0, i0 + br) and keys [j0, j0 + bc) to the block s
 * (row stride BC). Without a mask there is nothing to add: causality is
 * left to the row kernels, which take each row's unmasked extent. */
static void add_bias(const sdpa_geom *g, int64_t b, int64_t i0, int64_t br, int64_t j0, int64_t bc,
                     nb_real *s)
{
    if (!g->mask)
        return;
    for (int64_t r = 0; r < br; r++)
        for (int64_t c = 0; c < bc; c++)
            s[r * BC + c] += sdpa_bias(g, b, i0 + r, j0 + c);
}

/* How many leading keys of [j0, j0 + bc) query row i may see without a mask:
 * under causality those up to i (their scores are -inf beyond, weight 0), else
 * all; with a mask, all (add_bias put its -inf in place). */
static int64_t row_extent(const sdpa_geom *g, int64_t i, int64_t j0, int64_t bc)
{
    if (g->mask || !g->causal || i - j0 + 1 >= bc)
        return bc;
    return i - j0 + 1 > 0 ? i - j0 + 1 : 0;
}

/* Multiply the block by dropout's factors. */
static void apply_dropout(const sdpa_geom *g, int64_t b, int64_t i0, int64_t br, int64_t j0, int64_t bc,
                          nb_real *p)
{
    for (int64_t r = 0; r < br; r++)
        for (int64_t c = 0; c < bc; c++)
            p[r * BC + c] *= sdpa_keep(g, b, i0 + r, j0 + c);
}

/* The end of the first nv of a row of n taken in whole vectors: the
 * exponentials of [nv, vector_end) are computed with the others (a vector
 * loop without a scalar tail) and then overwritten by 0. */
static inline int64_t vector_end(int64_t nv, int64_t n)
{
    int64_t e = (nv + NB_LANES - 1) / NB_LANES * NB_LANES;
    return e < n ? e : n;
}

/* One row of the online softmax over its n scores, of which the first nv
 * are not masked (the rest count as -inf): s <- exp(s - m') (0 past nv),
 * returns the row sum; *m becomes m' and *alpha = exp(m - m'). A row all
 * -inf so far keeps m = -inf and gives zeros (the exponent is taken from 0
 * instead). The maximum is taken in NB_LANES lanes (a chain of dependent
 * max instructions otherwise). */
NB_VECTORIZE static nb_real online_row(nb_real *restrict s, int64_t n, int64_t nv, nb_real *m, nb_real *alpha)
{
    nb_real lane[NB_LANES];
    for (int l = 0; l < NB_LANES; l++)
        lane[l] = *m;
    int64_t c = 0;
    for (; c + NB_LANES <= nv; c += NB_LANES)
        for (int l = 0; l < NB_LANES; l++)
            lane[l] = s[c + l] > lane[l] ? s[c + l] : lane[l];
    for (; c < nv; c++)
        lane[0] = s[c] > lane[0] ? s[c] : lane[0];
    nb_real mx = lane[0];
    for (int l = 1; l < NB_LANES; l++)
        mx = lane[l] > mx ? lane[l] : mx;
    nb_real base = mx == -INFINITY ? 0 : mx;
    *alpha = nb_vexp(*m - base);
    *m = mx;
    for (int64_t k = 0, ke = vector_end(nv, n); k < ke; k++)
        s[k] = nb_vexp(s[k] - base);
    for (int64_t k = nv; k < n; k++)
        s[k] = 0;
    return nb_lane_sum(s, n);
}

NB_VECTORIZE static void scale_row(nb_real *restrict x, int64_t n, nb_real a)
{
    for (int64_t c = 0; c < n; c++)
        x[c] *= a;
}

/* Forward of query block i0 of slice b. */
static void forward_block(const flash_job *j, int64_t b, int64_t i0)
{
    const sdpa_geom *g = j->g;
    const int64_t e = g->e, ev = g->ev, tk = g->tk;
    const int64_t br = g->tq - i0 < BR ? g->tq - i0 : BR;
    const int64_t ldq = g->lq.ld, ldk = g->lk.ld, ldv = g->lv.ld, ldo = g->ly.ld;
    const nb_real *q = j->q + sdpa_row(g, &g->lq, b, i0);
    nb_real *o = j->y + sdpa_row(g, &g->ly, b, i0), *lse = j->lse + b * g->tq + i0;
    nb_real s[BR * BC], m[BR], l[BR];
    for (int64_t r = 0; r < br; r++) {
        memset(o + r * ldo, 0, (size_t)ev * sizeof *o);
        m[r] = -INFINITY;
        l[r] = 0;
    }
    int64_t jend = g->causal && i0 + br < tk ? i0 + br : tk;
    for (int64_t j0 = 0; j0 < jend; j0 += BC) {
        int64_t bc = jend - j0 < BC ? jend - j0 : BC;
        nb_gemm(false, true, br, bc, e, g->scale, q, ldq, j->k + sdpa_row(g, &g->lk, b, j0), ldk, 0, s, BC);
        add_bias(g, b, i0, br, j0, bc, s);
        for (int64_t r = 0; r < br; r++) {
            nb_real alpha, sum = online_row(s + r * BC, bc, row_extent(g, i0 + r, j0, bc), &m[r], &alpha);
            l[r] = alpha * l[r] + sum;
            if (alpha != 1)
                scale_row(o + r * ldo, ev, alpha);
        }
        if (g->p > 0)
            apply_dropout(g, b, i0, br, j0, bc, s);
        nb_gemm(false, false, br, ev, bc, 1, s, BC, j->v + sdpa_row(g, &g->lv, b, j0), ldv, 1, o, ldo);
    }
    for (int64_t r = 0; r < br; r++) {
        if (l[r] > 0) {
            scale_row(o + r * ldo, ev, 1 / l[r]);
            lse[r] = m[r] + nb_vlog(l[r]);
        } else { /* fully masked: zeros, and no weight in backward */
            memset(o + r * ldo, 0, (size_t)ev * sizeof *o);
            lse[r] = INFINITY;
        }
    }
}

static void forward_range(void *ctx, int64_t begin, int64_t end)
{
    const flash_job *j = ctx;
    int64_t nqb = (j->g->tq + BR - 1) / BR;
    for (int64_t t = begin; t < end; t++)
        forward_block(j, t / nqb, t % nqb * BR);
}

/* P = exp(S - L) for the row's first nv scores, 0 past them. */
NB_VECTORIZE static void weights_from_lse(nb_real *restrict s, int64_t n, int64_t nv, nb_real lse)
{
    for (int64_t c = 0, ce = vector_end(nv, n); c < ce; c++)
        s[c] = nb_vexp(s[c] - lse);
    for (int64_t c = nv; c < n; c++)
        s[c] = 0;
}

/* dS = P * (dP - D) in place of dP. */
NB_VECTORIZE static void score_grad(nb_real *restrict dp, const nb_real *restrict p, int64_t br, int64_t bc,
                                    const nb_real *restrict d)
{
    for (int64_t r = 0; r < br; r++)
        for (int64_t c = 0; c < bc; c++)
            dp[r * BC + c] = p[r * BC + c] * (dp[r * BC + c] - d[r]);
}

/* Backward of key block j0 against query block i0 of slice b. */
static void backward_block(const flash_job *j, int64_t b, int64_t i0, int64_t j0, nb_real *s, nb_real *pz,
                           nb_real *dp)
{
    const sdpa_geom *g = j->g;
    const int64_t e = g->e, ev = g->ev, tq = g->tq, tk = g->tk;
    const int64_t br = tq - i0 < BR ? tq - i0 : BR, bc = tk - j0 < BC ? tk - j0 : BC;
    const int64_t ldq = g->lq.ld, ldk = g->lk.ld, ldv = g->lv.ld, ldo = g->ly.ld;
    const int64_t qi = sdpa_row(g, &g->lq, b, i0), kj = sdpa_row(g, &g->lk, b, j0),
                  vj = sdpa_row(g, &g->lv, b, j0);
    const nb_real *q = j->q + qi, *k = j->k + kj, *v = j->v + vj,
                  *dout = j->dout + sdpa_row(g, &g->ly, b, i0);
    nb_gemm(false, true, br, bc, e, g->scale, q, ldq, k, ldk, 0, s, BC);
    add_bias(g, b, i0, br, j0, bc, s);
    for (int64_t r = 0; r < br; r++)
        weights_from_lse(s + r * BC, bc, row_extent(g, i0 + r, j0, bc), j->lse[b * tq + i0 + r]);
    if (j->dv) {
        const nb_real *pv = s; /* the weights that multiplied V: P, or P * Z */
        if (g->p > 0) {
            for (int64_t r = 0; r < br; r++)
                memcpy(pz + r * BC, s + r * BC, (size_t)bc * sizeof *pz);
            apply_dropout(g, b, i0, br, j0, bc, pz);
            pv = pz;
        }
        nb_gemm(true, false, bc, ev, br, 1, pv, BC, dout, ldo, 1, j->dv + vj, ldv);
    }
    if (!j->dq && !j->dk)
        return;
    nb_gemm(false, true, br, bc, ev, 1, dout, ldo, v, ldv, 0, dp, BC);
    if (g->p > 0)
        apply_dropout(g, b, i0, br, j0, bc, dp);
    score_grad(dp, s, br, bc, j->dsum + b * tq + i0);
    if (j->dq)
        nb_gemm(false, false, br, e, bc, g->scale, dp, BC, k, ldk, 1, j->dq + qi, ldq);
    if (j->dk)
        nb_gemm(true, false, bc, e, br, g->scale, dp, BC, q, ldq, 1, j->dk + kj, ldk);
}

/* The first query block that key block j0 meets: under causality the
 * blocks above the diagonal are all masked, and the forward skipped them. */
static int64_t first_query_block(const sdpa_geom *g, int64_t j0) { return g->causal ? j0 / BR * BR : 0; }

/* D of the rows [begin, end) of all slices. */
static void dsum_range(void *ctx, int64_t begin, int64_t end)
{
    const flash_job *j = ctx;
    const sdpa_geom *g = j->g;
    for (int64_t r = begin; r < end;) { /* a slice's rows at a time: its first row located once */
        int64_t i = r % g->tq, at = sdpa_row(g, &g->ly, r / g->tq, i);
        for (; i < g->tq && r < end; i++, r++, at += g->ly.ld)
            j->dsum[r] = nb_lane_dot(j->dout + at, j->o + at, g->ev);
    }
}

/* The backward's split over key blocks, which computes S, P and dP twice,
 * pays with at least twice as many threads as slices, and otherwise from
 * about this many scores per slice: with one slice on two threads it was
 * 1.75x slower than whole slices at T = 512 and 1.15x faster at T = 1024
 * (bench/attention --batch 1 --heads 1 --no-torch, Zen 4, 2026-12-02). */
enum { SPLIT_MIN = 1024 * 1024 };

/* Whole slices: every block pair, key blocks outer. */
static void slice_range(void *ctx, int64_t begin, int64_t end)
{
    const flash_job *j = ctx;
    const sdpa_geom *g = j->g;
    nb_real s[BR * BC], pz[BR * BC], dp[BR * BC];
    for (int64_t b = begin; b < end; b++) {
        dsum_range(ctx, b * g->tq, (b + 1) * g->tq);
        for (int64_t j0 = 0; j0 < g->tk; j0 += BC)
            for (int64_t i0 = first_query_block(g, j0); i0 < g->tq; i0 += BR)
                backward_block(j, b, i0, j0, s, pz, dp);
    }
}

/* Pass 1 of the split: (slice, key block) tasks, dK_j and dV_j over the query blocks. */
static void key_block_range(void *ctx, int64_t begin, int64_t end)
{
    const flash_job *j = ctx;
    const sdpa_geom *g = j->g;
    const int64_t nkb = (g->tk + BC - 1) / BC;
    nb_real s[BR * BC], pz[BR * BC], dp[BR * BC];
    for (int64_t t = begin; t < end; t++) {
        int64_t b = t / nkb, j0 = t % nkb * BC;
        for (int64_t i0 = first_query_block(g, j0); i0 < g->tq; i0 += BR)
            backward_block(j, b, i0, j0, s, pz, dp);
    }
}

/* Pass 2 of the split: (slice, query block) tasks, dQ_i over the key blocks. */
static void query_block_range(void *ctx, int64_t begin, int64_t end)
{
    const flash_job *j = ctx;
    const sdpa_geom *g = j->g;
    const int64_t nqb = (g->tq + BR - 1) / BR;
    nb_real s[BR * BC], dp[BR * BC];
    for (int64_t t = begin; t < end; t++) {
        int64_t b = t / nqb, i0 = t % nqb * BR;
        for (int64_t j0 = 0; j0 < g->tk && first_query_block(g, j0) <= i0; j0 += BC)
            backward_block(j, b, i0, j0, s, NULL, dp);
    }
}

static void flash_backward(nb_node *n)
{
    const flash_saved *sv = n->saved;
    const int ik = sv->ik, iv = sv->iv;
    flash_job j = {
        .g = &sv->g,
        .q = n->in[0]->data,
        .k = n->in[ik]->data,
        .v = n->in[iv]->data,
        .o = n->out->data,
        .dout = n->out->grad,
        .lse = sv->lse,
        .dq = nb_input_grad(n, 0),
        .dk = nb_input_grad(n, ik),
        .dv = nb_input_grad(n, iv),
    };
    if (!j.dq && !j.dk && !j.dv)
        return;
    j.dsum = nb_step_alloc((size_t)(sv->g.bh * sv->g.tq) * sizeof(nb_real));
    if (!j.dsum) {
        nb_error(NB_ERR_MEMORY, "%s backward: out of memory for %lld row sums", n->op->name,
                 (long long)(sv->g.bh * sv->g.tq));
        return;
    }
    const sdpa_geom *g = &sv->g;
    const int64_t nt = nb_get_num_threads();
    bool split = g->bh < nt && (2 * g->bh < nt || g->tq * g->tk >= SPLIT_MIN) && (g->tq > BR || g->tk > BC);
    if (!split) {
        nb_parallel_for(g->bh, 1, slice_range, &j);
        return;
    }
    nb_parallel_for(g->bh * g->tq, 256, dsum_range, &j);
    flash_job kv = j, dq = j;
    kv.dq = NULL;
    dq.dk = dq.dv = NULL;
    if (kv.dk || kv.dv)
        nb_parallel_for(g->bh * ((g->tk + BC - 1) / BC), 1, key_block_range, &kv);
    if (dq.dq)
        nb_parallel_for(g->bh * ((g->tq + BR - 1) / BR), 1, query_block_range, &dq);
}

static const nb_op op_flash = {"scaled_dot_product_attention", flash_backward};
static const nb_op op_flash_packed = {"packed_self_attention", flash_backward};

nb_tensor *nb_flash_attention(const sdpa_geom *g, int ndim, const int64_t *out_shape, nb_tensor *const *in,
                              bool packed)
{
    nb_tensor *y = nb_op_output(ndim, out_shape);
    nb_real *lse = y ? nb_step_alloc((size_t)(g->bh * g->tq + 1) * sizeof *lse) : NULL;
    if (!lse)
        return NULL;
    const int ik = packed ? 0 : 1, iv = packed ? 0 : 2, nqkv = packed ? 1 : 3; /* inputs: q, k, v, mask */
    flash_job j = {.g = g, .q = in[0]->data, .k = in[ik]->data, .v = in[iv]->data, .y = y->data, .lse = lse};
    nb_parallel_for(g->bh * ((g->tq + BR - 1) / BR), 1, forward_range, &j);
    nb_node *n = nb_record_saved(packed ? &op_flash_packed : &op_flash, y, in[nqkv] ? nqkv + 1 : nqkv, in,
                                 sizeof(flash_saved));
    if (n)
        *(flash_saved *)n->saved = (flash_saved){.g = *g, .lse = lse, .ik = ik, .iv = iv};
    return y;
}
