/* nabla/embedding.h — torch.nn.Embedding and torch.nn.functional.embedding: a
 * table of num_embeddings vectors of embedding_dim, looked up by integer
 * indices (token ids, categories). Indices are a tensor of integral values
 * (nb_from_int64 makes one from an int64_t array); they get no gradient. */
#ifndef NABLA_EMBEDDING_H
#define NABLA_EMBEDDING_H

#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* padding_idx meaning PyTorch's None. */
#define NB_NO_PADDING_IDX INT64_MIN

/* Options, as F.embedding's keyword arguments; start from
 * nb_embedding_defaults() and set what differs:
 *   nb_embedding_opts o = nb_embedding_defaults(); o.padding_idx = 0; */
typedef struct nb_embedding_opts {
    int64_t padding_idx;   /* this row gets no gradient (negative: from the end); NB_NO_PADDING_IDX: none */
    double max_norm;       /* rows looked up with a larger norm are rescaled to it in place; NAN: None */
    double norm_type;      /* the p of that norm (INFINITY allowed); 2 */
} nb_embedding_opts;
nb_embedding_opts nb_embedding_defaults(void);

/* F.embedding: y = weight[indices], of shape indices.shape + [embedding_dim];
 * weight [num_embeddings, embedding_dim]. The backward adds dy into the rows
 * of dweight (deterministically for any thread count), none into padding_idx. */
nb_tensor *nb_embedding_op(nb_tensor *indices, nb_tensor *weight, nb_embedding_opts opts);

/* torch.nn.Embedding(num_embeddings, embedding_dim): parameter "weight"
 * [num_embeddings, embedding_dim] drawn from N(0, 1), the padding_idx row
 * zeroed; nb_forward(m, indices). */
nb_module *nb_embedding(int64_t num_embeddings, int64_t embedding_dim);
/* With options, initialised from g (NULL: default generator). */
nb_module *nb_embedding_ex(int64_t num_embeddings, int64_t embedding_dim, nb_embedding_opts opts,
                           nb_generator *g);

#ifdef __cplusplus
}
#endif

#endif
