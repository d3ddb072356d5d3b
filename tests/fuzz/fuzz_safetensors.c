/* tests/fuzz/fuzz_safetensors.c — nb_safetensors_open on arbitrary bytes (the
 * header's JSON and the layout checks), then every tensor read and a metadata
 * lookup: what opens must read without error, with the declared shapes. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nb_safetensors *st = nb_safetensors_open(fuzz_file(".safetensors", data, size));
    if (!st) {
        fuzz_failed();
        return 0;
    }
    nb_safetensors_metadata(st, "step");
    for (int i = 0; i < nb_safetensors_count(st); i++) {
        const nb_safetensors_entry *e = nb_safetensors_entry_at(st, i);
        if (!e)
            abort();
        nb_tensor *t = nb_safetensors_get(st, e->name);
        if (!t) { /* only a dtype nabla cannot convert may fail here */
            if (!strstr(nb_last_error_message(), "cannot convert"))
                abort();
            nb_clear_error();
            continue;
        }
        if (t->ndim != e->ndim)
            abort();
        for (int d = 0; d < t->ndim; d++)
            if (t->shape[d] != e->shape[d])
                abort();
        nb_free(t);
    }
    nb_safetensors_close(st);
    return 0;
}
