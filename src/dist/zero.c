/* dist/zero.c — nb_zero, ZeroRedundancyOptimizer (ZeRO stage 1): the
 * parameters partitioned over the ranks as torch does (largest first, each
 * to the rank with the fewest values so far), each rank's optimizer over its
 * own, and every parameter broadcast from its owner after the step. */
#include <stdlib.h>
#include "dist/group.h"

struct nb_zero {
    nb_tensor **params;
    int n;
    int *owner; /* rank of each parameter */
    nb_optim *local;
};

typedef struct sized {
    int64_t numel;
    int index;
} sized;

/* Larger first; equal sizes in their given order (qsort is not stable). */
static int by_size(const void *a, const void *b)
{
    const sized *x = a, *y = b;
    return x->numel != y->numel ? (x->numel < y->numel) - (x->numel > y->numel)
                                : (x->index > y->index) - (x->index < y->index);
}

void nb_zero_free(nb_zero *z)
{
    if (!z)
        return;
    nb_optim_free(z->local);
    free(z->params);
    free(z->owner);
    free(z);
}

nb_zero *nb_zero_new(nb_tensor *const *params, int n_params, nb_optim_maker make, void *ctx)
{
    if (!nb_group_check("zero_new"))
        return NULL;
    if (!params || !make)
        return nb_error(NB_ERR_NULL, "zero_new: params or make is NULL");
    int world = nb__group.world;
    if (n_params < world)
        return nb_error(NB_ERR_ARG, "zero_new: %d parameters cannot be shared by %d ranks (each needs one)",
                        n_params, world);
    for (int i = 0; i < n_params; i++)
        if (!nb_check_input("zero_new", i + 1, params[i]))
            return NULL;
    nb_zero *z = calloc(1, sizeof *z);
    sized *order = malloc((size_t)n_params * sizeof *order);
    int64_t *held = calloc((size_t)world, sizeof *held);
    nb_tensor **mine = malloc((size_t)n_params * sizeof *mine);
    if (z) {
        z->params = malloc((size_t)n_params * sizeof *z->params);
        z->owner = malloc((size_t)n_params * sizeof *z->owner);
    }
    if (!z || !order || !held || !mine || !z->params || !z->owner) {
        free(order), free(held), free(mine);
        nb_zero_free(z);
        return nb_error(NB_ERR_MEMORY, "zero_new: out of memory");
    }
    z->n = n_params;
    for (int i = 0; i < n_params; i++)
        z->params[i] = params[i], order[i] = (sized){params[i]->numel, i};
    qsort(order, (size_t)n_params, sizeof *order, by_size);
    for (int k = 0; k < n_params; k++) {
        int least = 0;
        for (int r = 1; r < world; r++)
            least = held[r] < held[least] ? r : least;
        z->owner[order[k].index] = least;
        held[least] += order[k].numel;
    }
    int n_mine = 0;
    for (int i = 0; i < n_params; i++) /* in the given order: the optimizer's state names follow it */
        if (z->owner[i] == nb__group.rank)
            mine[n_mine++] = params[i];
    z->local = make(mine, n_mine, ctx);
    free(order), free(held), free(mine);
    /* all ranks go on, or none: the others would wait in every step */
    nb_tensor *failed = nb_full(NB_SHAPE(1), (nb_real)!z->local);
    if (!failed || nb_dist_all_reduce_sum(failed) != 0 || failed->data[0] != 0) {
        if (z->local && failed)
            nb_error(NB_ERR_STATE, "zero_new: another rank failed to make its optimizer (its error is on "
                                   "its stderr)");
        nb_free(failed);
        nb_zero_free(z);
        return NULL;
    }
    nb_free(failed);
    return z;
}

int nb_zero_step(nb_zero *z)
{
    if (!z) {
        nb_error(NB_ERR_NULL, "zero_step: z is NULL");
        return -1;
    }
    /* the broadcasts run even when this rank's step failed, so that no rank
     * is left waiting for them */
    int rc = nb_optim_step(z->local);
    for (int i = 0; i < z->n; i++)
        if (nb_dist_broadcast(z->params[i], z->owner[i]) != 0)
            rc = -1;
    return rc;
}

void nb_zero_zero_grad(nb_zero *z)
{
    for (int i = 0; z && i < z->n; i++)
        nb_zero_grad(z->params[i]);
}

nb_optim *nb_zero_local(nb_zero *z) { return z ? z->local : NULL; }

int nb_zero_owner(const nb_zero *z, int i) { return z && i >= 0 && i < z->n ? z->owner[i] : -1; }
