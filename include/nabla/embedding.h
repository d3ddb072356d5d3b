/* nabla/embedding.h — torch.nn.Embedding and torch.nn.functional.embedding: a
 * table of num_embeddings vectors of embedding_dim, looked up by integer
 * indices (token ids, categories). Indices are a tensor of integral values
 * (nb_from_int64 makes one from an int64_t array); they get no gradient.
 * The op (nb_embedding_op, nb_embedding_opts) is in nabla/ops.h. */
#ifndef NABLA_EMBEDDING_H
#define NABLA_EMBEDDING_H

#include "nn.h"
#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

/* torch.nn.Embedding(num_embeddings, embedding_dim): parameter "weight"
 * [num_embeddings, embedding_dim] drawn from N(0, 1), the padding_idx row
 * zeroed; nb_forward(m, indices). */
nb_module *nb_embedding(int64_t num_embeddings, int64_t embedding_dim);
/* With options, initialised from g (NULL: default generator). */
nb_module *nb_embedding_ex(int64_t num_embeddings, int64_t embedding_dim, nb_embedding_opts opts,
                           nb_generator *g);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
