/* io/csv_dataset.c — nb_load_csv_dataset: a CSV file as a dataset in one
 * call, the chosen columns as x and the target column as y (numbers, or
 * class indices with the names of the classes). */
#include <stdlib.h>
#include <string.h>
#include "io/csv.h"

nb_dataset *nb_load_csv_dataset(const char *path, nb_csv_opts o, char ***classes, int64_t *n_classes)
{
    if (classes)
        *classes = NULL;
    if (n_classes)
        *n_classes = 0;
    nb_csv_table t;
    if (nb_csv_read(path, &o, true, false, classes != NULL, &t) != 0)
        return NULL;
    int64_t nx = t.n_cols - 1;
    nb_tensor *x = nb_tensor_alloc("csv", 2, (int64_t[]){t.rows, nx}, true);
    nb_tensor *y = classes ? nb_tensor_alloc("csv", 1, (int64_t[]){t.rows}, true)
                           : nb_tensor_alloc("csv", 2, (int64_t[]){t.rows, 1}, true);
    nb_dataset *ds = x && y ? nb_dataset_new(x, y, true) : NULL;
    if (!ds) {
        nb_free(x);
        nb_free(y);
        nb_csv_table_free(&t);
        return NULL;
    }
    for (int64_t r = 0; r < t.rows; r++) {
        memcpy(x->data + r * nx, t.v + r * t.n_cols, (size_t)nx * sizeof(nb_real));
        y->data[r] = t.v[r * t.n_cols + nx];
    }
    if (classes) {
        *classes = t.classes;
        t.classes = NULL;
    }
    if (n_classes)
        *n_classes = t.n_classes;
    nb_csv_table_free(&t);
    return ds;
}
