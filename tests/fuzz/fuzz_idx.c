/* tests/fuzz/fuzz_idx.c — nb_load_idx on arbitrary bytes: plain IDX files and,
 * when the bytes start with the gzip magic, gzip streams. A loaded tensor must
 * have the shape its header declares. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nb_tensor *t = nb_load_idx(fuzz_file(".idx", data, size));
    if (!t) {
        fuzz_failed();
        return 0;
    }
    if (size >= 4 && data[0] == 0 && data[1] == 0 && t->ndim != data[3])
        abort();
    nb_free(t);
    return 0;
}
