/* io/safetensors_write.c — nb_save_safetensors: the header (metadata first,
 * then the tensors in the order given, packed one after the other), padded with
 * spaces to a multiple of 8 as the reference implementation does, then the
 * values little-endian, written atomically (io/atomic.h). */
#include <stdlib.h>
#include <string.h>
#include "io/atomic.h"
#include "io/safetensors.h"

#ifdef NABLA_F64
#define DTYPE "F64"
#else
#define DTYPE "F32"
#endif

static bool valid_utf8(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        int k = nb_utf8_len((const unsigned char *)s + i, n - i);
        if (k == 0)
            return false;
        i += (size_t)k;
    }
    return true;
}

static int by_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Names non-NULL, valid, unique; tensors usable. */
static bool check_inputs(const char *path, int n, const char *const *names, nb_tensor *const *tensors)
{
    if (n < 0 || (n > 0 && (!names || !tensors))) {
        nb_error(NB_ERR_ARG, "save: %s: %d tensors with names %p and tensors %p", path, n,
                 (const void *)names, (const void *)tensors);
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (!names[i] || !*names[i] || strcmp(names[i], "__metadata__") == 0 || !valid_utf8(names[i])) {
            nb_error(NB_ERR_ARG,
                     "save: %s: name %d (%s) must be a non-empty UTF-8 string other than "
                     "__metadata__",
                     path, i, names[i] ? names[i] : "NULL");
            return false;
        }
        if (!nb_check_input("save", i + 1, tensors[i]))
            return false;
    }
    if (n < 2)
        return true;
    const char **sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted) {
        nb_error(NB_ERR_MEMORY, "save: %s: out of memory", path);
        return false;
    }
    memcpy(sorted, names, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, by_str);
    bool ok = true;
    for (int i = 1; i < n && ok; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            nb_error(NB_ERR_ARG, "save: %s: the name '%s' is given twice", path, sorted[i]);
            ok = false;
        }
    free(sorted);
    return ok;
}

/* The header JSON, padded with spaces so that 8 + its length is a multiple of 8. */
static bool build_header(nb_strbuf *b, const char *path, int n, const char *const *names,
                         nb_tensor *const *tensors, const char *metadata)
{
    nb_strbuf_add(b, "{", 1);
    if (metadata) {
        /* parsed, so that only a valid object of strings reaches the file */
        char where[320];
        snprintf(where, sizeof where, "save: %s: metadata", path);
        nb_json j = {.s = metadata, .len = strlen(metadata), .where = where};
        char *strings = malloc(j.len + 1), *dst = strings;
        int n_meta = 0;
        nb_st_meta *meta = strings ? nb_st_parse_metadata(&j, &dst, &n_meta) : NULL;
        bool ok = meta && nb_json_at_end(&j);
        if (meta && !ok)
            nb_json_fail(&j, "unexpected text after the metadata object");
        if (!strings)
            nb_error(NB_ERR_MEMORY, "save: %s: out of memory", path);
        if (ok && n_meta > 0) {
            nb_strbuf_add(b, "\"__metadata__\":{", 16);
            for (int i = 0; i < n_meta; i++) {
                nb_strbuf_add(b, ",", i > 0);
                nb_json_write_string(b, meta[i].key);
                nb_strbuf_add(b, ":", 1);
                nb_json_write_string(b, meta[i].value);
            }
            nb_strbuf_add(b, "}", 1);
        }
        free(meta);
        free(strings);
        if (!ok)
            return false;
    }
    uint64_t offset = 0;
    for (int i = 0; i < n; i++) {
        const nb_tensor *t = tensors[i];
        nb_strbuf_add(b, ",", b->len > 1);
        nb_json_write_string(b, names[i]);
        static const char dtype[] = ":{\"dtype\":\"" DTYPE "\",\"shape\":[";
        nb_strbuf_add(b, dtype, sizeof dtype - 1);
        for (int d = 0; d < t->ndim; d++)
            nb_strbuf_printf(b, d ? ",%lld" : "%lld", (long long)t->shape[d]);
        uint64_t end = offset + (uint64_t)t->numel * sizeof(nb_real);
        nb_strbuf_printf(b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                         (unsigned long long)end);
        offset = end;
    }
    nb_strbuf_add(b, "}", 1);
    while (!b->failed && b->len % 8 != 0)
        nb_strbuf_add(b, " ", 1);
    if (b->failed)
        nb_error(NB_ERR_MEMORY, "save: %s: out of memory for the header", path);
    return !b->failed;
}

/* The values of t, little-endian whatever the host. */
static bool write_values(FILE *f, const nb_tensor *t)
{
    enum { CHUNK = 4096 };
    unsigned char buf[CHUNK * sizeof(nb_real)];
    for (int64_t i = 0; i < t->numel; i += CHUNK) {
        int64_t n = t->numel - i < CHUNK ? t->numel - i : CHUNK;
        for (int64_t k = 0; k < n; k++) {
#ifdef NABLA_F64
            uint64_t u;
#else
            uint32_t u;
#endif
            memcpy(&u, &t->data[i + k], sizeof u);
            for (size_t byte = 0; byte < sizeof u; byte++)
                buf[(size_t)k * sizeof u + byte] = (unsigned char)(u >> (8 * byte));
        }
        if (fwrite(buf, sizeof(nb_real), (size_t)n, f) != (size_t)n)
            return false;
    }
    return true;
}

int nb_save_safetensors(const char *path, int n, const char *const *names, nb_tensor *const *tensors,
                        const char *metadata_json)
{
    if (!path) {
        nb_error(NB_ERR_NULL, "save: path is NULL");
        return -1;
    }
    nb_strbuf header = {0};
    if (!check_inputs(path, n, names, tensors) ||
        !build_header(&header, path, n, names, tensors, metadata_json)) {
        free(header.s);
        return -1;
    }
    nb_atomic_file a;
    if (nb_atomic_begin(&a, "save", path) != 0) {
        free(header.s);
        return -1;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)header.len >> (8 * i));
    bool ok = fwrite(len8, 1, 8, a.f) == 8 && fwrite(header.s, 1, header.len, a.f) == header.len;
    for (int i = 0; i < n && ok; i++)
        ok = write_values(a.f, tensors[i]);
    free(header.s);
    return nb_atomic_commit(&a);
}
