/* io/idx.c — nb_load_idx: the IDX format of MNIST and Fashion-MNIST
 * (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"): two zero bytes,
 * a type code, the rank, the dims as big-endian u32, then the values big-endian
 * in row-major order. Declared sizes are checked against the file before any
 * allocation (plain files) or against the data as they arrive (gzip streams,
 * pipes: the tensor is allocated only once its data have all arrived). */
#include <stdlib.h>
#include <string.h>
#include "io/reader.h"

typedef struct idx_type {
    unsigned char code;
    int size;
    const char *name;
} idx_type;

static const idx_type types[] = {
    {0x08, 1, "u8"}, {0x09, 1, "i8"}, {0x0B, 2, "i16"}, {0x0C, 4, "i32"}, {0x0D, 4, "f32"}, {0x0E, 8, "f64"},
};

static uint64_t load_be(const unsigned char *p, int size)
{
    uint64_t v = 0;
    for (int i = 0; i < size; i++)
        v = v << 8 | p[i];
    return v;
}

static nb_real decode(const idx_type *t, const unsigned char *p)
{
    uint64_t v = load_be(p, t->size);
    switch (t->code) {
    case 0x08: return (nb_real)v;
    case 0x09: return (nb_real)(int8_t)v;
    case 0x0B: return (nb_real)(int16_t)v;
    case 0x0C: return (nb_real)(int32_t)v;
    case 0x0D: {
        uint32_t u = (uint32_t)v;
        float f;
        memcpy(&f, &u, 4);
        return (nb_real)f;
    }
    default: {
        double d;
        memcpy(&d, &v, 8);
        return (nb_real)d;
    }
    }
}

/* Reads the header; fills type, ndim, shape. 0 or -1. */
static int read_header(nb_reader *r, const idx_type **type, int *ndim, int64_t *shape)
{
    unsigned char head[4];
    int64_t k = nb_reader_read(r, head, 4);
    if (k < 0)
        return -1;
    if (k < 4) {
        nb_error(NB_ERR_FORMAT, "idx: %s: %s: the file ends inside the 4-byte magic number", r->path,
                 nb_reader_where(r, (uint64_t)k));
        return -1;
    }
    if (head[0] != 0 || head[1] != 0) {
        nb_error(NB_ERR_FORMAT,
                 "idx: %s: %s: magic number starts with 0x%02x 0x%02x, not 0x00 0x00: "
                 "not an IDX file",
                 r->path, nb_reader_where(r, head[0] ? 0 : 1), head[0], head[1]);
        return -1;
    }
    *type = NULL;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].code == head[2])
            *type = &types[i];
    if (!*type) {
        nb_error(NB_ERR_FORMAT,
                 "idx: %s: %s: unknown type code 0x%02x (known: 0x08 u8, 0x09 i8, "
                 "0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64)",
                 r->path, nb_reader_where(r, 2), head[2]);
        return -1;
    }
    *ndim = head[3];
    if (*ndim < 1 || *ndim > NB_MAX_DIMS) {
        nb_error(NB_ERR_FORMAT, "idx: %s: %s: rank %d is outside 1..%d", r->path, nb_reader_where(r, 3),
                 *ndim, NB_MAX_DIMS);
        return -1;
    }
    unsigned char dims[4 * NB_MAX_DIMS];
    k = nb_reader_read(r, dims, 4 * (size_t)*ndim);
    if (k < 0)
        return -1;
    if (k < 4 * *ndim) {
        nb_error(NB_ERR_FORMAT, "idx: %s: %s: the file ends inside dimension %d of %d", r->path,
                 nb_reader_where(r, 4 + (uint64_t)k), (int)(k / 4), *ndim);
        return -1;
    }
    for (int i = 0; i < *ndim; i++)
        shape[i] = (int64_t)load_be(dims + 4 * i, 4);
    return 0;
}

/* The error for data that end early or go on: `done` bytes of `need` read. */
static void size_error(nb_reader *r, uint64_t head, uint64_t done, bool more, int ndim, const int64_t *shape,
                       const idx_type *type, uint64_t need)
{
    nb_error(NB_ERR_FORMAT, "idx: %s: %s: shape %s of %s needs %llu bytes of data but %s (%s)", r->path,
             nb_reader_where(r, head + done), nb_dims_fmt(ndim, shape), type->name, (unsigned long long)need,
             more ? "more follow" : "the data end here",
             more ? "trailing bytes after the data" : "truncated");
}

/* True when the data end exactly here (nothing follows); else error recorded. */
static bool at_end(nb_reader *r, uint64_t head, int ndim, const int64_t *shape, const idx_type *type,
                   uint64_t need)
{
    unsigned char extra;
    int64_t after = nb_reader_read(r, &extra, 1);
    if (after > 0)
        size_error(r, head, need, true, ndim, shape, type, need);
    return after == 0;
}

static void decode_run(const idx_type *type, const unsigned char *raw, uint64_t bytes, uint64_t at,
                       nb_real *out)
{
    for (uint64_t i = 0; i + (uint64_t)type->size <= bytes; i += (uint64_t)type->size)
        out[(at + i) / (uint64_t)type->size] = decode(type, raw + i);
}

/* A plain file whose size matched: decode chunk by chunk into the tensor,
 * so that peak memory is the tensor alone. */
static nb_tensor *read_sized(nb_reader *r, uint64_t head, int ndim, const int64_t *shape,
                             const idx_type *type, uint64_t need)
{
    enum { CHUNK = 1 << 16 };
    nb_tensor *t = nb_tensor_alloc("idx", ndim, shape, true);
    unsigned char *raw = t ? malloc(CHUNK) : NULL;
    if (t && !raw)
        nb_error(NB_ERR_MEMORY, "idx: %s: out of memory", r->path);
    uint64_t done = 0; /* bytes decoded */
    while (raw && done < need) {
        size_t want = need - done < CHUNK ? (size_t)(need - done) : CHUNK - CHUNK % (size_t)type->size;
        int64_t k = nb_reader_read(r, raw, want);
        if (k < 0)
            break; /* recorded by the reader */
        decode_run(type, raw, (uint64_t)k, done, t->data);
        done += (uint64_t)k;
        if ((size_t)k < want) {
            size_error(r, head, done, false, ndim, shape, type, need); /* the file shrank */
            break;
        }
    }
    bool ok = raw && done == need && at_end(r, head, ndim, shape, type, need);
    free(raw);
    if (!ok) {
        nb_free(t);
        t = NULL;
    }
    return t;
}

/* A stream of unknown length (gzip, a pipe): the raw bytes are gathered in
 * chunks of growing size as they arrive, so that memory follows the data
 * really present; the tensor is allocated once all of them are there. */
static nb_tensor *read_stream(nb_reader *r, uint64_t head, int ndim, const int64_t *shape,
                              const idx_type *type, uint64_t need)
{
    enum { FIRST = 1 << 16, DOUBLINGS = 14, MAX_CHUNKS = 128 }; /* 64 KiB doubling to 1 GiB */
    unsigned char *chunk[MAX_CHUNKS];
    uint64_t len[MAX_CHUNKS];
    int n = 0;
    uint64_t done = 0;
    bool ok = true;
    while (ok && done < need) {
        uint64_t size = (uint64_t)FIRST << (n < DOUBLINGS ? n : DOUBLINGS);
        size -= size % (uint64_t)type->size;
        if (size > need - done)
            size = need - done;
        if (n == MAX_CHUNKS || !(chunk[n] = malloc((size_t)size))) {
            nb_error(NB_ERR_MEMORY, "idx: %s: out of memory after %llu bytes of data", r->path,
                     (unsigned long long)done);
            ok = false;
            break;
        }
        int64_t k = nb_reader_read(r, chunk[n], (size_t)size);
        len[n++] = k > 0 ? (uint64_t)k : 0;
        if (k < 0)
            ok = false;
        else if ((uint64_t)k < size) {
            size_error(r, head, done + (uint64_t)k, false, ndim, shape, type, need);
            ok = false;
        }
        done += len[n - 1];
    }
    nb_tensor *t =
        ok && at_end(r, head, ndim, shape, type, need) ? nb_tensor_alloc("idx", ndim, shape, true) : NULL;
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        if (t)
            decode_run(type, chunk[i], len[i], at, t->data);
        at += len[i];
        free(chunk[i]);
    }
    return t;
}

nb_tensor *nb_load_idx(const char *path)
{
    nb_reader r;
    if (nb_reader_open(&r, "idx", path) != 0)
        return NULL;
    const idx_type *type;
    int ndim;
    int64_t shape[NB_MAX_DIMS];
    nb_tensor *t = NULL;
    if (read_header(&r, &type, &ndim, shape) != 0)
        goto out;
    uint64_t head = r.pos;
    int64_t numel = nb_shape_numel(ndim, shape); /* dims < 2^32 each: only the product can overflow */
    if (numel < 0) {
        nb_error(NB_ERR_FORMAT, "idx: %s: byte 4: shape %s has too many elements", path,
                 nb_dims_fmt(ndim, shape));
        goto out;
    }
    uint64_t need = (uint64_t)numel * (uint64_t)type->size;
    if (r.size >= 0 && (uint64_t)r.size - head != need) {
        uint64_t have = (uint64_t)r.size - head;
        nb_error(NB_ERR_FORMAT,
                 "idx: %s: byte %llu: shape %s of %s needs %llu bytes of data but the file "
                 "holds %llu (%s)",
                 path, (unsigned long long)head, nb_dims_fmt(ndim, shape), type->name,
                 (unsigned long long)need, (unsigned long long)have,
                 have < need ? "truncated" : "trailing bytes after the data");
        goto out;
    }
    /* deflate expands at most ~1032:1, so a gzip stream of this size cannot hold
     * more than this: a header that plainly lies is refused at once */
    if (r.size < 0 && r.file_bytes >= 0 && need > 1100 * (uint64_t)r.file_bytes + 4096) {
        nb_error(NB_ERR_FORMAT,
                 "idx: %s: byte 4: shape %s of %s needs %llu bytes of data, more than a "
                 "%lld-byte gzip file can hold (the header declares more than the file holds)",
                 path, nb_dims_fmt(ndim, shape), type->name, (unsigned long long)need,
                 (long long)r.file_bytes);
        goto out;
    }
    t = r.size >= 0 ? read_sized(&r, head, ndim, shape, type, need)
                    : read_stream(&r, head, ndim, shape, type, need);
out:
    nb_reader_close(&r);
    return t;
}
