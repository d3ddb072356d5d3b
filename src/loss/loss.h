/* loss/loss.h — what the loss files share: the reduction of per-item losses
 * into the output, the machinery of elementwise losses (a loss written as three
 * static inline functions and one NB_DEFINE_ELEM_LOSS line), and the reading of
 * class-index targets. */
#ifndef NB_LOSS_LOSS_H
#define NB_LOSS_LOSS_H

#include "ops/op.h"
#include "kernels/simd.h"
#include "nabla/loss.h"

/* True for NB_MEAN, NB_SUM, NB_NONE; otherwise false with an error naming op. */
bool nb_check_reduction(const char *op, nb_reduction r);

/* Σ l[0..n) accumulated in double: blocks of a fixed size, each summed in
 * independent lanes (which vectorize without reassociation), added in order,
 * so the result does not depend on the thread count or the instruction set. */
double nb_loss_sum(const nb_real *l, int64_t n);

/* ---- Elementwise losses --------------------------------------------------
 * l_i = f(x_i, t_i; w_i, p), x the input, t the target (same shape), w an
 * optional per-element weight, p the op's scalar parameters. The backward adds
 * g_i * ∂f/∂x into x's gradient and g_i * ∂f/∂t into t's, with g_i the
 * upstream gradient of l_i (dy[i] for NB_NONE, dy[0] or dy[0] / n otherwise). */
#define NB_ELEM_LOSS_MAX_PARAMS 2

typedef struct nb_elem_loss {
    nb_op op; /* first: nodes point at it */
    void (*forward)(nb_real *restrict l, const nb_real *restrict x, const nb_real *restrict t,
                    const nb_real *restrict w, int64_t n, const nb_real *p);
    /* d[i] += g_i * (which ? ∂f/∂t : ∂f/∂x); g_i = dy[i] if per_item, else g */
    void (*backward)(nb_real *restrict d, int which, const nb_real *restrict x, const nb_real *restrict t,
                     const nb_real *restrict w, const nb_real *restrict dy, bool per_item, nb_real g,
                     int64_t n, const nb_real *p);
    int n_params;
} nb_elem_loss;

/* Runs el on input x and target t (same shape required) with the per-element
 * weights w (numel values in step memory, or NULL when el takes none). */
nb_tensor *nb_elem_loss_apply(const nb_elem_loss *el, nb_tensor *x, nb_tensor *t, const nb_real *w,
                              nb_reduction reduction, const nb_real *p);

/* Defines nb_el_<name> from
 *   static inline nb_real F(nb_real x, nb_real t, nb_real w, const nb_real *p)   -> f
 *   static inline nb_real DX(nb_real x, nb_real t, nb_real w, const nb_real *p)  -> ∂f/∂x
 *   static inline nb_real DT(nb_real x, nb_real t, nb_real w, const nb_real *p)  -> ∂f/∂t
 * WEIGHTED is 1 when the loss reads w (then w is never NULL), else 0 (w is 1). */
#define NB_EL_W(WEIGHTED, w, i) ((WEIGHTED) ? (w)[i] : (nb_real)1)
#define NB_EL_BWD_LOOPS(D, W)                                                                                \
    if (per_item)                                                                                            \
        for (int64_t i = 0; i < n; i++)                                                                      \
            d[i] += dy[i] * D(x[i], t[i], NB_EL_W(W, w, i), p);                                              \
    else                                                                                                     \
        for (int64_t i = 0; i < n; i++)                                                                      \
            d[i] += g * D(x[i], t[i], NB_EL_W(W, w, i), p);
#define NB_DEFINE_ELEM_LOSS(name, F, DX, DT, WEIGHTED, nparams)                                              \
    NB_VECTORIZE static void name##_forward(nb_real *restrict l, const nb_real *restrict x,                  \
                                            const nb_real *restrict t, const nb_real *restrict w, int64_t n, \
                                            const nb_real *p)                                                \
    {                                                                                                        \
        (void)w;                                                                                             \
        for (int64_t i = 0; i < n; i++)                                                                      \
            l[i] = F(x[i], t[i], NB_EL_W(WEIGHTED, w, i), p);                                                \
    }                                                                                                        \
    NB_VECTORIZE static void name##_backward(nb_real *restrict d, int which, const nb_real *restrict x,      \
                                             const nb_real *restrict t, const nb_real *restrict w,           \
                                             const nb_real *restrict dy, bool per_item, nb_real g,           \
                                             int64_t n, const nb_real *p)                                    \
    {                                                                                                        \
        (void)w;                                                                                             \
        if (which == 0) {                                                                                    \
            NB_EL_BWD_LOOPS(DX, WEIGHTED)                                                                    \
        } else {                                                                                             \
            NB_EL_BWD_LOOPS(DT, WEIGHTED)                                                                    \
        }                                                                                                    \
    }                                                                                                        \
    static const nb_elem_loss nb_el_##name = {                                                               \
        {#name, nb_elem_loss_backward}, name##_forward, name##_backward, nparams}

/* What the generic backward reads. */
typedef struct nb_elem_loss_saved {
    nb_real p[NB_ELEM_LOSS_MAX_PARAMS]; /* the loss's scalar parameters */
    nb_reduction reduction;
    const nb_real *w; /* per-element weights, or NULL */
} nb_elem_loss_saved;
void nb_elem_loss_backward(nb_node *n);

/* ---- Class-index targets ------------------------------------------------- */
typedef struct nb_class_target {
    int64_t n, c; /* rows and classes: x is [n, c], or [c] with n = 1 */
    bool batched; /* x was [n, c] (unreduced output [n]) rather than [c] (rank 0) */
    int64_t *y;   /* class of each row, -1 for an ignored row (step memory) */
    /* the class weights (a step copy of C values), or NULL for all ones */
    const nb_real *w;
    double w_total; /* Σ_c w[c] (C without weights) */
    /* the divisor of the mean: Σ w[y_i] over the rows not ignored (their
     * count without weights), PyTorch's nll_loss and label-smoothing rule */
    double divisor;
} nb_class_target;

/* Checks x ([N, C] or [C]) against target ([N] or rank 0, integral values in
 * 0..C-1 or ignore_index) and weight (NULL, or [C] finite values) and fills
 * ct; false with an error naming `op`, the row and the value otherwise. */
bool nb_class_target_read(const char *op, const nb_tensor *x, const nb_tensor *target,
                          const nb_tensor *weight, int64_t ignore_index, nb_class_target *ct);
/* w[c] of ct's weights (1 without). */
static inline nb_real nb_class_weight(const nb_class_target *ct, int64_t c) { return ct->w ? ct->w[c] : 1; }

/* The output of a class loss: rank 0 for NB_MEAN / NB_SUM, else [n] ([] for an
 * unbatched input), filled from the per-row losses l. */
nb_tensor *nb_class_loss_output(const char *op, const nb_class_target *ct, const nb_real *l,
                                nb_reduction reduction);

#endif
