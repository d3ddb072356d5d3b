/* io/safetensors_read.c — reading tensors out of an open safetensors file
 * (converted to nb_real as they are read, in chunks), lookups, and
 * nb_load_into, which checks a whole set of tensors before copying any. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "io/safetensors.h"

int nb_safetensors_count(const nb_safetensors *st) { return st ? st->n : 0; }

const nb_safetensors_entry *nb_safetensors_entry_at(const nb_safetensors *st, int i)
{
    if (!st || i < 0 || i >= st->n)
        return nb_error(NB_ERR_ARG, "safetensors: entry %d is outside 0..%d", i, st ? st->n - 1 : -1);
    return &st->entries[i];
}

const nb_safetensors_entry *nb_safetensors_find(const nb_safetensors *st, const char *name)
{
    if (!st || !name)
        return NULL;
    int lo = 0, hi = st->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(st->entries[mid].name, name);
        if (c == 0)
            return &st->entries[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *nb_safetensors_metadata(const nb_safetensors *st, const char *key)
{
    for (int i = 0; st && key && i < st->n_meta; i++)
        if (strcmp(st->meta[i].key, key) == 0)
            return st->meta[i].value;
    return NULL;
}

/* A dtype nabla can read, or NULL with the error recorded. */
static const nb_st_dtype *readable(const nb_safetensors *st, const nb_safetensors_entry *e)
{
    const nb_st_dtype *dt = nb_st_dtype_find(e->dtype);
    if (!dt->decode)
        return nb_error(NB_ERR_FORMAT, "load: %s: tensor '%s' has dtype %s, which nabla cannot convert",
                        st->path, e->name, e->dtype);
    return dt;
}

static int read_entry(nb_safetensors *st, const nb_safetensors_entry *e, nb_real *out)
{
    const nb_st_dtype *dt = readable(st, e);
    if (!dt)
        return -1;
    enum { CHUNK = 1 << 16 };
    unsigned char buf[CHUNK];
    uint64_t left = e->end - e->begin;
    if (fseeko(st->file, (off_t)(st->data_start + e->begin), SEEK_SET) != 0) {
        nb_error(NB_ERR_IO, "load: %s: cannot seek to tensor '%s': %s", st->path, e->name, strerror(errno));
        return -1;
    }
    while (left > 0) {
        size_t n = left < CHUNK ? (size_t)left : CHUNK;
        n -= n % (size_t)dt->size;
        if (fread(buf, 1, n, st->file) != n) {
            nb_error(NB_ERR_IO, "load: %s: cannot read tensor '%s' (the file changed or a read failed: %s)",
                     st->path, e->name, ferror(st->file) ? strerror(errno) : "end of file");
            return -1;
        }
        dt->decode(buf, n / (size_t)dt->size, out);
        out += n / (size_t)dt->size;
        left -= n;
    }
    return 0;
}

static const nb_safetensors_entry *find_or_fail(const nb_safetensors *st, const char *name)
{
    if (!st)
        return nb_error(NB_ERR_NULL, "load: the safetensors file is NULL");
    if (!name)
        return nb_error(NB_ERR_NULL, "load: %s: tensor name is NULL", st->path);
    const nb_safetensors_entry *e = nb_safetensors_find(st, name);
    if (!e)
        return nb_error(NB_ERR_ARG, "load: %s: no tensor named '%s' in the file", st->path, name);
    return e;
}

nb_tensor *nb_safetensors_get(nb_safetensors *st, const char *name)
{
    const nb_safetensors_entry *e = find_or_fail(st, name);
    if (!e || !readable(st, e))
        return NULL;
    nb_tensor *t = nb_tensor_alloc("load", e->ndim, e->shape, true);
    if (t && read_entry(st, e, t->data) != 0) {
        nb_free(t);
        return NULL;
    }
    return t;
}

/* Why dst cannot receive entry e: a message fragment into buf, or NULL when it can. */
static const char *mismatch(const nb_safetensors_entry *e, const nb_tensor *dst, char *buf, size_t size)
{
    if (!nb_st_dtype_find(e->dtype)->decode)
        snprintf(buf, size, "tensor '%s' has dtype %s, which nabla cannot convert", e->name, e->dtype);
    else if (e->ndim != dst->ndim || memcmp(e->shape, dst->shape, (size_t)e->ndim * sizeof e->shape[0]) != 0)
        snprintf(buf, size, "tensor '%s' has shape %s in the file but %s in the model", e->name,
                 nb_dims_fmt(e->ndim, e->shape), nb_shape_fmt(dst));
    else
        return NULL;
    return buf;
}

int nb_safetensors_read_into(nb_safetensors *st, const char *name, nb_tensor *dst)
{
    const nb_safetensors_entry *e = find_or_fail(st, name);
    if (!e || !nb_check_input("load", 1, dst))
        return -1;
    char why[256];
    if (mismatch(e, dst, why, sizeof why)) {
        nb_error(NB_ERR_SHAPE, "load: %s: %s", st->path, why);
        return -1;
    }
    return read_entry(st, e, dst->data);
}

int nb_load_into(const char *path, int n, const char *const *names, nb_tensor *const *tensors)
{
    if (n < 0 || (n > 0 && (!names || !tensors))) {
        nb_error(NB_ERR_ARG, "load: %d tensors with names %p and tensors %p", n, (const void *)names,
                 (const void *)tensors);
        return -1;
    }
    nb_safetensors *st = nb_safetensors_open(path);
    if (!st)
        return -1;
    /* every problem into one message, before anything is copied */
    char why[256], *msg = NULL;
    size_t len = 0;
    FILE *list = open_memstream(&msg, &len);
    int bad = 0;
    nb_status code = NB_OK;
    for (int i = 0; i < n; i++) {
        const char *problem = why;
        nb_status c = NB_ERR_SHAPE;
        const nb_safetensors_entry *e = names[i] ? nb_safetensors_find(st, names[i]) : NULL;
        if (!names[i] || !tensors[i]) {
            snprintf(why, sizeof why, "entry %d has a NULL name or tensor", i);
            c = NB_ERR_NULL;
        } else if (nb_tensor_stale(tensors[i])) {
            snprintf(why, sizeof why, "tensor '%s' is a step tensor freed by nb_step_end()", names[i]);
            c = NB_ERR_STATE;
        } else if (!e) {
            snprintf(why, sizeof why, "tensor '%s' is not in the file", names[i]);
            c = NB_ERR_ARG;
        } else {
            problem = mismatch(e, tensors[i], why, sizeof why);
        }
        if (!problem)
            continue;
        if (bad++ == 0)
            code = c;
        if (list)
            fprintf(list, "%s%s", bad > 1 ? "; " : "", problem);
    }
    if (list && fclose(list) != 0)
        msg = NULL;
    if (bad) { /* the summary first, then every mismatch */
        nb_error(code, "load: %s: %d of %d tensors do not match: %s", path, bad, n,
                 msg ? msg : "(out of memory for the list)");
        free(msg);
        nb_safetensors_close(st);
        return -1;
    }
    free(msg);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = read_entry(st, nb_safetensors_find(st, names[i]), tensors[i]->data);
    nb_safetensors_close(st);
    return rc;
}
