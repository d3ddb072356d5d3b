/* nabla/ops.h — differentiable tensor ops. All run eagerly, return a step tensor
 * (or NULL with an error recorded), and record a node when an input requires a
 * gradient. Binary arithmetic broadcasts as NumPy and PyTorch do. Negative dims
 * count from the end. */
#ifndef NABLA_OPS_H
#define NABLA_OPS_H

#include "autograd.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

/* Arithmetic, broadcasting. */
nb_tensor *nb_add(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_sub(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_mul(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_div(nb_tensor *a, nb_tensor *b);
/* With a scalar on the right: x + s, x * s. */
nb_tensor *nb_add_scalar(nb_tensor *x, nb_real s);
nb_tensor *nb_mul_scalar(nb_tensor *x, nb_real s);

/* Pointwise. */
nb_tensor *nb_neg(nb_tensor *x);
nb_tensor *nb_pow(nb_tensor *x, nb_real exponent);
nb_tensor *nb_exp(nb_tensor *x);
nb_tensor *nb_log(nb_tensor *x);
nb_tensor *nb_sqrt(nb_tensor *x);
nb_tensor *nb_abs(nb_tensor *x); /* d/dx = sign(x), 0 at 0 (as PyTorch) */
nb_tensor *nb_sin(nb_tensor *x);
nb_tensor *nb_cos(nb_tensor *x);
/* clamp(x, lo, hi); the gradient passes where lo <= x <= hi (as PyTorch).
 * Use -INFINITY / INFINITY for a one-sided clamp. */
nb_tensor *nb_clamp(nb_tensor *x, nb_real lo, nb_real hi);

/* Comparisons, broadcasting (torch.eq, ne, lt, le, gt, ge): a mask of 1 where
 * a op b holds and 0 elsewhere. PyTorch returns a bool tensor; nabla stores
 * nb_real, so the mask holds 1.0 and 0.0 (PyTorch's mask.float()). NaN is
 * unequal to everything. No gradient. The _scalar forms compare with s. */
nb_tensor *nb_eq(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_ne(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_lt(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_le(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_gt(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_ge(nb_tensor *a, nb_tensor *b);
nb_tensor *nb_eq_scalar(nb_tensor *x, nb_real s);
nb_tensor *nb_ne_scalar(nb_tensor *x, nb_real s);
nb_tensor *nb_lt_scalar(nb_tensor *x, nb_real s);
nb_tensor *nb_le_scalar(nb_tensor *x, nb_real s);
nb_tensor *nb_gt_scalar(nb_tensor *x, nb_real s);
nb_tensor *nb_ge_scalar(nb_tensor *x, nb_real s);
/* torch.where(condition, input, other): input where condition is non-zero
 * (NaN counts as non-zero, as bool() in PyTorch), else other; the three
 * broadcast. The gradient goes to the operand each element was taken from;
 * condition gets none. */
nb_tensor *nb_where(nb_tensor *condition, nb_tensor *input, nb_tensor *other);
/* torch.masked_fill(input, mask, value): value where mask is non-zero, else
 * input (input and mask broadcast); input's gradient is 0 where filled. */
nb_tensor *nb_masked_fill(nb_tensor *input, nb_tensor *mask, nb_real value);

/* Matrix product: [n,k] x [k,m] -> [n,m]; [b,n,k] x [b,k,m] -> [b,n,m] with the
 * batch broadcast ([n,k] or [1,n,k] against [b,k,m] and the reverse). */
nb_tensor *nb_matmul(nb_tensor *a, nb_tensor *b);
/* The internal precision of float32 matrix products: nb_matmul, nb_linear,
 * convolutions, attention and recurrent layers, forward and backward
 * (torch.set_float32_matmul_precision; nabla applies it to convolutions too).
 *   "highest" (the default): float32 operands and sums.
 *   "high": the same as "highest" (nabla has no TensorFloat32 or
 *           bfloat16x3 products; PyTorch then computes as "highest" too).
 *   "medium": operands rounded to bfloat16 (8 significant bits), products
 *           summed in float32, results float32: large products about
 *           1.8 to 2 times as fast as float32 on a CPU with AVX512_BF16
 *           (vdpbf16ps; thin ones 1.2 to 1.5 times, whole training epochs
 *           less, the rest staying float32), a portable path elsewhere
 *           (slower than float32 there, the same results). Each
 *           result's error is at most about 2^-7 sum_k |a_ik b_kj|.
 *           Products under 32^3 multiply-adds (or with M or N below 4) stay
 *           float32. Tensors, gradients, the optimizer and every other op stay
 *           float32. Not in the float64 build, where "medium" is an error.
 * The environment variable NABLA_MATMUL_PRECISION sets the default (read
 * once; a value it cannot use is said once on stderr). Returns 0, or -1 with
 * the error recorded. Not to be changed while products run on other threads. */
int nb_set_float32_matmul_precision(const char *precision);
/* "highest", "high" or "medium": the setting in force. */
const char *nb_get_float32_matmul_precision(void);
/* torch.outer(input, vec2): [n] and [m] -> [n, m], y[i][j] = input[i] vec2[j]. */
nb_tensor *nb_outer(nb_tensor *input, nb_tensor *vec2);

/* Reductions: over everything (rank-0 result) or along a dim. */
nb_tensor *nb_sum(nb_tensor *x);
nb_tensor *nb_mean(nb_tensor *x);
nb_tensor *nb_max(nb_tensor *x); /* gradient to the first maximal element */
nb_tensor *nb_min(nb_tensor *x);
nb_tensor *nb_sum_dim(nb_tensor *x, int dim, bool keepdim);
nb_tensor *nb_mean_dim(nb_tensor *x, int dim, bool keepdim);
nb_tensor *nb_max_dim(nb_tensor *x, int dim, bool keepdim); /* values; ties: first */
nb_tensor *nb_min_dim(nb_tensor *x, int dim, bool keepdim);
/* Index of the maximum along dim, as nb_real values (no gradient). */
nb_tensor *nb_argmax(nb_tensor *x, int dim, bool keepdim);
/* torch.var / torch.std over everything or along dim: Σ (x - mean)² divided
 * by max(N - correction, 0), N the number of elements reduced. PyTorch's
 * default is correction = 1 (Bessel's, the unbiased estimate); 0 gives the
 * biased (population) variance. std is its square root. */
nb_tensor *nb_var(nb_tensor *x, double correction);
nb_tensor *nb_var_dim(nb_tensor *x, int dim, double correction, bool keepdim);
nb_tensor *nb_std(nb_tensor *x, double correction);
nb_tensor *nb_std_dim(nb_tensor *x, int dim, double correction, bool keepdim);
/* torch.logsumexp(x, dim, keepdim): log Σ exp(x) along dim, computed from the
 * maximum (no overflow); dx = dy softmax(x). */
nb_tensor *nb_logsumexp(nb_tensor *x, int dim, bool keepdim);
/* torch.linalg.vector_norm(x, ord, dim, keepdim) (torch.norm's vector case):
 * (Σ |x|^ord)^(1/ord) for ord > 0 (PyTorch's default ord = 2; 1: Σ |x|),
 * max |x| for ord = INFINITY; over everything or along dim. The gradient at a
 * zero norm is 0, as PyTorch's; for INFINITY tied maxima share it evenly. */
nb_tensor *nb_vector_norm(nb_tensor *x, double ord);
nb_tensor *nb_vector_norm_dim(nb_tensor *x, double ord, int dim, bool keepdim);
/* torch.cumsum(x, dim): running sums along dim, of x's shape. */
nb_tensor *nb_cumsum(nb_tensor *x, int dim);

/* Shape. reshape/view share data with x; one dim may be -1 (inferred). */
nb_tensor *nb_reshape(nb_tensor *x, int ndim, const int64_t *shape);
nb_tensor *nb_view(nb_tensor *x, int ndim, const int64_t *shape);
nb_tensor *nb_flatten(nb_tensor *x, int start_dim, int end_dim);
nb_tensor *nb_transpose(nb_tensor *x, int dim0, int dim1);
nb_tensor *nb_permute(nb_tensor *x, const int *dims); /* x->ndim entries */
/* Rows [start, end) along dim (x[start:end] for dim 0). Negative bounds count
 * from the end (-1 is the last row); after that, 0 <= start <= end <= size
 * must hold or it is an error (torch.narrow's rule; Python's x[a:b] would
 * clamp silently). start == end gives an empty result. */
nb_tensor *nb_slice(nb_tensor *x, int dim, int64_t start, int64_t end);
nb_tensor *nb_cat(int n, nb_tensor *const *xs, int dim);
nb_tensor *nb_stack(int n, nb_tensor *const *xs, int dim);
/* out[i][j] = x[i][index[i][j]] along dim (torch.gather); index holds integral
 * values of the same rank as x. */
nb_tensor *nb_gather(nb_tensor *x, int dim, nb_tensor *index);

/* torch.index_select(input, dim, index): the entries index[i] of dim, in
 * index's order; index 1-D (or rank 0) of integral values in [0, size). The
 * result has input's shape with dim of index's length. The gradient adds back
 * into the rows picked (repeated indices add up). */
nb_tensor *nb_index_select(nb_tensor *input, int dim, nb_tensor *index);
/* torch.index_add(input, dim, index, source, alpha=alpha): input with
 * alpha * source[.., i, ..] added into entry index[i] of dim; source has
 * input's shape with dim of index's length (PyTorch's alpha is 1 by default:
 * pass 1). Repeated indices add up, in index order for any thread count. */
nb_tensor *nb_index_add(nb_tensor *input, int dim, nb_tensor *index, nb_tensor *source, nb_real alpha);
/* torch.scatter_add(input, dim, index, src): input with src[p] added into the
 * position p with its dim-th coordinate replaced by index[p], for every
 * position p of index (torch.gather's inverse). index has input's rank, sizes
 * <= src's in every dim and <= input's in the other dims. Repeated positions
 * add up in index order (one thread, the same for any thread count). */
nb_tensor *nb_scatter_add(nb_tensor *input, int dim, nb_tensor *index, nb_tensor *src);

/* Sorting along dim (torch.sort, torch.argsort, torch.topk). The values are
 * differentiable (the gradient goes back to where each value came from); the
 * indices, nb_real values, are not. NaN sorts above every number; ties keep
 * their index order (torch.sort(stable=True)). *indices (when indices is not
 * NULL) receives the indices tensor, or NULL on error. */
nb_tensor *nb_sort(nb_tensor *input, int dim, bool descending, nb_tensor **indices);
nb_tensor *nb_argsort(nb_tensor *input, int dim, bool descending);
/* The k largest (largest) or smallest entries along dim, sorted from the
 * largest (smallest) on: torch.topk with its default sorted=True. */
nb_tensor *nb_topk(nb_tensor *input, int64_t k, int dim, bool largest, nb_tensor **indices);

/* ---- Convolution and pooling over images [N,C,H,W] ----------------------
 * (torch.nn.functional.conv2d, max_pool2d, avg_pool2d; their layers are in
 * nabla/conv.h). Output sizes follow PyTorch (floor mode): along each spatial
 * dim, out = floor((in + 2 padding - dilation (kernel - 1) - 1) / stride) + 1. */

/* Options of nb_conv2d, per spatial dim ([0] height, [1] width), made by
 * NB_CONV2D_OPTS(...) with PyTorch's defaults stride 1, padding 0, dilation
 * 1: NB_CONV2D_OPTS() is F.conv2d's default, and
 * NB_CONV2D_OPTS(.stride = {2, 2}, .padding = {1, 1}) is stride=2, padding=1.
 * Write both components: {.stride = {2}} is stride (2, 0), an error. */
typedef struct nb_conv2d_opts {
    uint32_t nb_tag;
    int64_t stride[2];   /* > 0 */
    int64_t padding[2];  /* >= 0 */
    int64_t dilation[2]; /* > 0 */
} nb_conv2d_opts;
#define NB_CONV2D_OPTS(...) NB_OPTS_(nb_conv2d_opts, .stride = {1, 1}, .dilation = {1, 1}, __VA_ARGS__)
nb_conv2d_opts nb_conv2d_defaults(void);

/* torch.nn.functional.conv2d with groups = 1 (a cross-correlation):
 *   y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] x[n,c, i s0 - p0 + p d0, j s1 - p1 + q d1]
 * x [N,C,H,W], w [O,C,kh,kw], b [O] or NULL -> y [N,O,Ho,Wo], zero padding. */
nb_tensor *nb_conv2d(nb_tensor *x, nb_tensor *w, nb_tensor *b, nb_conv2d_opts opts);

/* torch.nn.functional.max_pool2d(x, kernel, stride, padding) on x [N,C,H,W]:
 * the maximum of each kernel x kernel window (padding counts as -inf);
 * stride 0 means stride = kernel; padding at most kernel / 2. The gradient goes
 * to the window's maximum, the first one in row-major order on ties (a NaN
 * counts as a maximum, as in PyTorch). */
nb_tensor *nb_max_pool2d(nb_tensor *x, int kernel, int stride, int padding);
/* torch.nn.functional.avg_pool2d(x, kernel, stride, padding) with PyTorch's
 * defaults ceil_mode = false, count_include_pad = true: the sum of each window
 * divided by kernel^2, padded zeros included. */
nb_tensor *nb_avg_pool2d(nb_tensor *x, int kernel, int stride, int padding);

/* ---- Normalization (torch.nn.functional.batch_norm, layer_norm, group_norm,
 * rms_norm; their layers are in nabla/norm.h). Each op's backward is one
 * fused pass. ---------------------------------------------------------------- */

/* F.batch_norm on x [N, C, *], per channel over the N * prod(*) elements:
 * y = (x - mean) / sqrt(var + eps) * weight + bias. training: mean and var
 * are the batch's (var biased), and when running_mean/running_var ([C]) are
 * given they are updated in place, without gradient:
 *   running = (1 - momentum) running + momentum batch_statistic
 * with the unbiased variance for running_var. Not training: running_mean and
 * running_var (required) are used. weight, bias [C] or NULL. */
nb_tensor *nb_batch_norm(nb_tensor *x, nb_tensor *running_mean, nb_tensor *running_var, nb_tensor *weight,
                         nb_tensor *bias, bool training, double momentum, double eps);
/* F.layer_norm: over the last nd dims of x, which must equal normalized_shape;
 * weight, bias of normalized_shape or NULL. */
nb_tensor *nb_layer_norm(nb_tensor *x, int nd, const int64_t *normalized_shape, nb_tensor *weight,
                         nb_tensor *bias, double eps);
/* F.group_norm on x [N, C, *]: the C channels in num_groups groups of C /
 * num_groups, each normalised over its channels and positions, per sample;
 * weight, bias [C] or NULL. */
nb_tensor *nb_group_norm(nb_tensor *x, int64_t num_groups, nb_tensor *weight, nb_tensor *bias, double eps);
/* F.rms_norm: y = x / sqrt(mean(x^2) + eps) * weight over the last nd dims
 * (normalized_shape); weight or NULL; eps NAN means PyTorch's None, the
 * epsilon of nb_real (2^-23 in float32). */
nb_tensor *nb_rms_norm(nb_tensor *x, int nd, const int64_t *normalized_shape, nb_tensor *weight, double eps);

/* ---- Embedding lookup (torch.nn.functional.embedding; the layer is in
 * nabla/embedding.h) --------------------------------------------------------- */

/* padding_idx meaning PyTorch's None. */
#define NB_NO_PADDING_IDX INT64_MIN

/* Options, as F.embedding's keyword arguments, made by NB_EMBEDDING_OPTS(...)
 * (or nb_embedding_defaults()): NB_EMBEDDING_OPTS(.padding_idx = 0). */
typedef struct nb_embedding_opts {
    uint32_t nb_tag;
    int64_t padding_idx; /* this row gets no gradient (negative: from the end); NB_NO_PADDING_IDX: none */
    double max_norm;     /* rows looked up with a larger norm are rescaled to it in place; NAN: None */
    double norm_type;    /* the p of that norm (INFINITY allowed); 2 */
} nb_embedding_opts;
#define NB_EMBEDDING_OPTS(...)                                                                               \
    NB_OPTS_(nb_embedding_opts, .padding_idx = NB_NO_PADDING_IDX, .max_norm = __builtin_nan(""),             \
             .norm_type = 2, __VA_ARGS__)
nb_embedding_opts nb_embedding_defaults(void);

/* F.embedding: y = weight[indices], of shape indices.shape + [embedding_dim];
 * weight [num_embeddings, embedding_dim]. The backward adds dy into the rows
 * of dweight (deterministically for any thread count), none into padding_idx. */
nb_tensor *nb_embedding_op(nb_tensor *indices, nb_tensor *weight, nb_embedding_opts opts);

/* ---- Attention (torch.nn.functional.scaled_dot_product_attention; the
 * layers built on it are in nabla/attention.h) ----------------------------- */

/* Options of nb_scaled_dot_product_attention, made by NB_SDPA_OPTS(...) with
 * PyTorch's defaults: NB_SDPA_OPTS() is F.scaled_dot_product_attention(q, k, v). */
typedef struct nb_sdpa_opts {
    uint32_t nb_tag;
    /* NULL, or a mask of rank <= q's whose dims broadcast to [..., Tq, Tk]
     * (each dim equal or 1, leading dims aligned from the right). A constant:
     * no gradient flows into it (an error if it requires one). */
    nb_tensor *attn_mask;
    /* attn_mask is PyTorch's boolean mask: non-zero = the pair takes part,
     * 0 = masked out (its score becomes -inf). false: a float mask, added to
     * the scaled scores. */
    bool bool_mask;
    double dropout_p;        /* dropout on the attention weights, applied when > 0 (as F.sdpa) */
    bool is_causal;          /* key j attends to query i only for j <= i (top-left aligned);
                       * with attn_mask an error, as in PyTorch */
    double scale;            /* the scores' factor; NAN (the default): PyTorch's None, 1 / sqrt(head_dim) */
    nb_generator *generator; /* dropout's draws; NULL: the default generator */
    /* Use the reference path (PyTorch's "math" backend): the composition of
     * matmul, softmax and mul ops, storing the [Tq, Tk] weights. false: the
     * fused kernel, which never stores them (memory linear in T). */
    bool math;
} nb_sdpa_opts;
#define NB_SDPA_OPTS(...) NB_OPTS_(nb_sdpa_opts, .scale = __builtin_nan(""), __VA_ARGS__)
nb_sdpa_opts nb_sdpa_defaults(void);

/* softmax(q k^T scale + mask) v over q [..., Tq, E], k [..., Tk, E],
 * v [..., Tk, Ev] -> [..., Tq, Ev] (the same leading dims, usually [batch,
 * heads]). A row whose every score is -inf (fully masked) gives zeros, as
 * PyTorch's _safe_softmax does since 2.5 (pytorch/pytorch#133882), and no
 * gradient. Dropout keeps each weight with probability 1 - dropout_p and
 * scales it by 1 / (1 - dropout_p); the mask of one call is a function of one
 * draw from the generator and the element's position, so the fused and the
 * math path drop the same weights. The fused path (the default) tiles as
 * FlashAttention-2 (Dao, 2023, Algorithms 1 and 2): it saves the output and
 * each row's log-sum-exp and recomputes the weights blockwise in backward.
 * Both are bit-identical for any thread count. */
nb_tensor *nb_scaled_dot_product_attention(nb_tensor *q, nb_tensor *k, nb_tensor *v, nb_sdpa_opts opts);

/* ---- The ops behind layers ------------------------------------------------ */

/* Self-attention over packed projections, the op behind MultiheadAttention's
 * self-attention: qkv [N, T, 3 E] (x in_proj_weight^T + in_proj_bias: each row
 * q, then k, then v, each num_heads heads of E / num_heads) -> [N, T, E], the
 * heads' outputs side by side, ready for out_proj. The same values, bit for
 * bit, as splitting qkv into q, k, v [N, num_heads, T, E / num_heads]
 * (reshape, permute), nb_scaled_dot_product_attention and permuting back, but
 * the fused path reads and writes the heads in place (no copies). opts as
 * nb_scaled_dot_product_attention's, attn_mask broadcasting to
 * [N, num_heads, T, T]; opts.math takes that composition. */
nb_tensor *nb_packed_self_attention(nb_tensor *qkv, int64_t num_heads, nb_sdpa_opts opts);

/* torch.nn.functional.linear, fused: x W^T + b with x [..., in], w [out,in],
 * b [out] or NULL (the op of nb_linear, nabla/nn.h). */
nb_tensor *nb_linear_op(nb_tensor *x, nb_tensor *w, nb_tensor *b);
/* torch.nn.functional.dropout / alpha_dropout (the ops of nb_dropout and
 * nb_alpha_dropout, nabla/nn.h): in training mode, zero each element with
 * probability p (alpha dropout: set it to SELU's saturation) and rescale,
 * drawing the mask from g (NULL: default generator); the identity otherwise. */
nb_tensor *nb_dropout_op(nb_tensor *x, double p, bool training, nb_generator *g);
nb_tensor *nb_alpha_dropout_op(nb_tensor *x, double p, bool training, nb_generator *g);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
