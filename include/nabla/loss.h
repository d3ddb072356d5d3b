/* nabla/loss.h — loss functions, as torch.nn.functional defines them: same
 * formulas, same defaults, same reductions, so a PyTorch user's numbers carry
 * over. Each loss is one node of the graph (cross-entropy fuses log-softmax and
 * NLL). Class-index targets are tensors of integral nb_real values. */
#ifndef NABLA_LOSS_H
#define NABLA_LOSS_H

#include "autograd.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

/* How the per-element (or per-row) losses are combined; PyTorch's default is
 * 'mean'. NB_NONE returns the unreduced losses (shape of the input for
 * the elementwise losses, [N] for the class losses). */
typedef enum nb_reduction { NB_MEAN = 0, NB_SUM, NB_NONE } nb_reduction;

/* Regression losses between input and target of the same shape, both
 * differentiable (as in PyTorch). With d = input - target:
 *   mse:        d²
 *   l1:         |d|                                 (d/dd at 0 is 0)
 *   smooth_l1:  0.5 d²/β if |d| < β, else |d| - 0.5 β      (β = 0 is l1)
 *   huber:      0.5 d² if |d| < δ, else δ (|d| - 0.5 δ)   (δ > 0)
 * beta and delta are explicit: PyTorch's default for both is 1.0; β = 0 is a
 * legal value, a negative β or a non-positive δ an error (as PyTorch). */
nb_tensor *nb_mse_loss(nb_tensor *input, nb_tensor *target, nb_reduction reduction);
nb_tensor *nb_l1_loss(nb_tensor *input, nb_tensor *target, nb_reduction reduction);
nb_tensor *nb_smooth_l1_loss(nb_tensor *input, nb_tensor *target, nb_reduction reduction, nb_real beta);
nb_tensor *nb_huber_loss(nb_tensor *input, nb_tensor *target, nb_reduction reduction, nb_real delta);

/* Binary cross-entropy on probabilities in [0, 1]:
 *   -(t log p + (1 - t) log(1 - p)), each log clamped at -100 (as PyTorch), so
 * p = 0 or 1 gives a finite loss. Differentiable in probs and target. */
nb_tensor *nb_bce_loss(nb_tensor *probs, nb_tensor *target, nb_reduction reduction);
/* The same on logits x, computed stably: with pw the positive weight,
 *   (1 - t) x + (1 + (pw - 1) t) (log1p(e^-|x|) + max(-x, 0)),
 * which is max(x,0) - x t + log1p(e^-|x|) for pw = 1. pos_weight is NULL (all
 * ones), one element, or one per class: shape [C], C the last dim of logits.
 * It receives no gradient. */
nb_tensor *nb_bce_with_logits(nb_tensor *logits, nb_tensor *target, nb_reduction reduction,
                              nb_tensor *pos_weight);

/* Classification over C classes. logits / log_probs are [N, C] (or [C] for a
 * single sample, with a rank-0 target); target is [N] (or rank 0) holding class
 * indices 0..C-1 as integral values (from integers: nb_from_int64 or
 * nb_from_int32, nabla/tensor.h). Rows whose target is the ignore index
 * contribute nothing and are not counted by the mean (PyTorch's ignore_index,
 * default -100); a mean over no counted row is NaN, as in PyTorch. */
/* Options of F.cross_entropy, made by NB_CROSS_ENTROPY_OPTS(...) (PyTorch's
 * defaults, then the fields named: see "Options" in nabla/config.h). */
typedef struct nb_cross_entropy_opts {
    uint32_t nb_tag;
    /* NULL, or [C] finite weights of the classes (no gradient): row i counts
     * weight[y_i] times, and the mean divides by Σ weight[y_i] over the rows
     * not ignored (PyTorch's rule, label smoothing included) */
    nb_tensor *weight;
    nb_reduction reduction; /* NB_MEAN */
    int64_t ignore_index;   /* -100 */
    /* ε in [0, 1]: the target distribution is (1 - ε) one-hot + ε / C uniform,
     * so loss = (1 - ε) nll + ε mean_c(-log p_c). Default 0. */
    double label_smoothing;
} nb_cross_entropy_opts;
#define NB_CROSS_ENTROPY_OPTS(...)                                                                           \
    NB_OPTS_(nb_cross_entropy_opts, .reduction = NB_MEAN, .ignore_index = -100, __VA_ARGS__)
nb_cross_entropy_opts nb_cross_entropy_defaults(void);

/* log_softmax + NLL in one node: loss_i = logsumexp(x_i) - x_i[y_i] (with label
 * smoothing as above); stable for any finite logits. The gradient is
 * softmax(x_i) - smoothed one-hot, times the upstream gradient (/ N for mean). */
nb_tensor *nb_cross_entropy(nb_tensor *logits, nb_tensor *target, nb_cross_entropy_opts opts);
/* Options of F.nll_loss, made by NB_NLL_LOSS_OPTS(...). */
typedef struct nb_nll_loss_opts {
    uint32_t nb_tag;
    nb_tensor *weight;      /* NULL, or [C] class weights, as cross-entropy's */
    nb_reduction reduction; /* NB_MEAN */
    int64_t ignore_index;   /* -100 */
} nb_nll_loss_opts;
#define NB_NLL_LOSS_OPTS(...)                                                                                \
    NB_OPTS_(nb_nll_loss_opts, .reduction = NB_MEAN, .ignore_index = -100, __VA_ARGS__)
nb_nll_loss_opts nb_nll_loss_defaults(void);
/* loss_i = -weight[y_i] log_probs[i, y_i]. */
nb_tensor *nb_nll_loss(nb_tensor *log_probs, nb_tensor *target, nb_nll_loss_opts opts);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
