/* examples/common.h — what the Fashion-MNIST examples share (header only): a
 * clock, the first rows of a dataset, and classification accuracy computed in
 * batches with gradients off, as the tutorials do inference. */
#ifndef EXAMPLES_COMMON_H
#define EXAMPLES_COMMON_H

#include <time.h>
#include <nabla/nabla.h>
#include "args.h"

static inline double ex_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A new dataset holding a copy of the first n rows of ds. */
static inline nb_dataset *ex_head(const nb_dataset *ds, int64_t n)
{
    nb_tensor *x = nb_keep(nb_slice(ds->x, 0, 0, n)), *y = nb_keep(nb_slice(ds->y, 0, 0, n));
    EX_CHECK(x && y);
    nb_step_end();
    nb_dataset *sub = nb_dataset_new(x, y, true);
    EX_CHECK(sub);
    return sub;
}

/* A dataset of the first n rows of ds (ds itself if n <= 0 or n >= its
 * length); frees ds otherwise. */
static inline nb_dataset *ex_first_rows(nb_dataset *ds, int64_t n)
{
    if (n <= 0 || n >= nb_dataset_len(ds))
        return ds;
    nb_dataset *sub = ex_head(ds, n);
    nb_dataset_free(ds);
    return sub;
}

/* Accuracy of model on ds, batch by batch in order, in eval mode and no-grad:
 * the class is the argmax of the outputs. `input` reshapes a batch for the
 * model (NULL: as it is); confusion, if not NULL, is a classes x classes
 * matrix of counts [true][predicted]. */
static inline double ex_accuracy(nb_module *model, const nb_dataset *ds, int64_t batch,
                                 nb_tensor *(*input)(nb_tensor *x), int64_t *confusion, int classes)
{
    nb_loader *ld = nb_loader_new(ds, batch, NB_LOADER_OPTS()); /* in order, no shuffle */
    EX_CHECK(ld);
    nb_module_train(model, false);
    int64_t correct = 0, total = 0;
    nb_tensor *x, *y;
    while (nb_loader_next(ld, &x, &y)) {
        nb_tensor *pred = NULL;
        NB_NO_GRAD { pred = nb_argmax(nb_forward(model, input ? input(x) : x), 1, false); }
        EX_CHECK(pred);
        for (int64_t i = 0; i < pred->numel; i++) {
            int p = (int)pred->data[i], t = (int)y->data[i];
            correct += p == t;
            if (confusion && p >= 0 && p < classes && t >= 0 && t < classes)
                confusion[t * classes + p]++;
        }
        total += pred->numel;
        nb_step_end();
    }
    nb_loader_free(ld);
    nb_module_train(model, true);
    return total ? (double)correct / (double)total : 0;
}

#endif
