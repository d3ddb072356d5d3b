/* tests/fuzz/fuzz_csv.c — nb_load_csv on arbitrary text. The first byte picks
 * the options (delimiter, skipped lines, a column chosen by index, names
 * returned or not); the rest is the file. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t o = data[0];
    nb_csv_opts opts = NB_CSV_OPTS(.delimiter = (o & 1) ? ';' : 0, .skip_rows = (o >> 1) & 1);
    int index = (o >> 4) & 3;
    if (o & 4) {
        opts.column_indices = &index;
        opts.n_columns = 1;
    }
    char **names = NULL;
    nb_tensor *t = nb_load_csv(fuzz_file(".csv", data + 1, size - 1), opts, (o & 8) ? &names : NULL);
    if (!t) {
        if (names)
            abort();
        fuzz_failed();
        return 0;
    }
    if (t->ndim != 2 || t->shape[0] < 1 || ((o & 4) && t->shape[1] != 1))
        abort();
    for (int64_t j = 0; names && j < t->shape[1]; j++)
        if (!names[j])
            abort();
    free(names);
    nb_free(t);
    return 0;
}
