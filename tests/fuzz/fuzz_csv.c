/* tests/fuzz/fuzz_csv.c — nb_load_csv and nb_load_csv_dataset on arbitrary
 * text. The first byte picks the options (delimiter, skipped lines, a column
 * chosen by index, names or classes returned, what the first line is); the
 * rest is the file. Both loaders read every input. */
#include "fuzz.h"

/* A dataset's invariants: x and y of the same rows; class indices below the
 * count of names, which are all there. */
static void check_dataset(nb_dataset *ds, char **classes, int64_t k)
{
    if (ds->x->ndim != 2 || ds->x->shape[0] < 1 || ds->y->shape[0] != ds->x->shape[0])
        abort();
    for (int64_t i = 0; classes && i < k; i++)
        if (!classes[i])
            abort();
    if (classes && (classes[k] || ds->y->ndim != 1))
        abort();
    for (int64_t r = 0; classes && r < ds->y->shape[0]; r++)
        if (!(ds->y->data[r] >= 0 && ds->y->data[r] < (nb_real)k))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t o = data[0];
    static const int headers[] = {NB_CSV_HEADER, NB_CSV_NO_HEADER, NB_CSV_SKLEARN, NB_CSV_HEADER};
    nb_csv_opts opts =
        NB_CSV_OPTS(.delimiter = (o & 1) ? ';' : ',', .skip_rows = (o >> 1) & 1, .header = headers[o >> 6]);
    int index = (o >> 4) & 3;
    if (o & 4) {
        opts.column_indices = &index;
        opts.n_columns = 1;
    }
    char **names = NULL;
    const char *path = fuzz_file(".csv", data + 1, size - 1);
    nb_tensor *t = nb_load_csv(path, opts, (o & 8) ? &names : NULL);
    if (!t) {
        if (names)
            abort();
        fuzz_failed();
    } else {
        if (t->ndim != 2 || t->shape[0] < 1 || ((o & 4) && t->shape[1] != 1))
            abort();
        for (int64_t j = 0; names && j < t->shape[1]; j++)
            if (!names[j])
                abort();
        free(names);
        nb_free(t);
    }
    opts.target_index = (o & 32) ? 0 : -1;
    char **classes = NULL;
    int64_t k = -1;
    nb_dataset *ds = nb_load_csv_dataset(path, opts, (o & 8) ? &classes : NULL, &k);
    if (!ds) {
        if (classes || k != 0)
            abort();
        fuzz_failed();
        return 0;
    }
    check_dataset(ds, classes, k);
    free(classes);
    nb_dataset_free(ds);
    return 0;
}
