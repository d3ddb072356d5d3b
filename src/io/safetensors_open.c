/* io/safetensors_open.c — nb_safetensors_open: reads the header of a
 * safetensors file (https://github.com/huggingface/safetensors, "Format"),
 * parses its JSON strictly and checks it against the file before any tensor is
 * read: header length within the file, known dtypes, sizes that match shapes,
 * data offsets that tile the data section exactly (no hole, no overlap). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "io/safetensors.h"

enum { MAX_HEADER = 100000000 }; /* the reference implementation's limit */

static int by_key(const void *a, const void *b)
{
    return strcmp((*(const nb_st_meta *const *)a)->key, (*(const nb_st_meta *const *)b)->key);
}

/* A key given twice is an error (JSON leaves it open; readers would disagree
 * on which value wins). Sorted copies of the pointers: O(n log n). */
static bool unique_keys(const nb_json *j, const nb_st_meta *meta, int n)
{
    const nb_st_meta **order = malloc((size_t)(n ? n : 1) * sizeof *order);
    if (!order) {
        nb_error(NB_ERR_MEMORY, "%s: out of memory", j->where);
        return false;
    }
    for (int i = 0; i < n; i++)
        order[i] = &meta[i];
    qsort(order, (size_t)n, sizeof *order, by_key);
    const char *twice = NULL;
    for (int i = 1; i < n && !twice; i++)
        if (strcmp(order[i - 1]->key, order[i]->key) == 0)
            twice = order[i]->key;
    if (twice)
        nb_error(NB_ERR_FORMAT, "%s: metadata key '%s' appears twice", j->where, twice);
    free(order);
    return !twice;
}

nb_st_meta *nb_st_parse_metadata(nb_json *j, char **dst, int *n)
{
    int cap = 8;
    nb_st_meta *meta = malloc((size_t)cap * sizeof *meta);
    *n = 0;
    if (!meta)
        return nb_error(NB_ERR_MEMORY, "%s: out of memory", j->where);
    if (!nb_json_expect(j, '{', "'{' opening the metadata"))
        goto fail;
    if (nb_json_accept(j, '}'))
        return meta;
    for (;;) {
        if (*n == cap) {
            nb_st_meta *grown = realloc(meta, (size_t)(cap *= 2) * sizeof *meta);
            if (!grown) {
                nb_error(NB_ERR_MEMORY, "%s: out of memory", j->where);
                goto fail;
            }
            meta = grown;
        }
        nb_st_meta *m = &meta[*n];
        if (!(m->key = nb_json_string(j, dst)) || !nb_json_expect(j, ':', "':'"))
            goto fail;
        size_t at = j->pos;
        if (!nb_json_accept(j, '"')) {
            nb_json_fail(j, "metadata values must be strings (\"%s\")", m->key);
            goto fail;
        }
        j->pos = at;
        if (!(m->value = nb_json_string(j, dst)))
            goto fail;
        ++*n;
        if (nb_json_accept(j, ','))
            continue;
        if (!nb_json_expect(j, '}', "',' or '}' in the metadata") || !unique_keys(j, meta, *n))
            goto fail;
        return meta;
    }
fail:
    free(meta);
    return NULL;
}

/* {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]} into e. */
static bool parse_entry(nb_json *j, char **dst, nb_safetensors_entry *e)
{
    bool seen[3] = {false, false, false};
    static const char *const keys[3] = {"dtype", "shape", "data_offsets"};
    if (!nb_json_expect(j, '{', "'{' opening the tensor's description"))
        return false;
    do {
        size_t at = j->pos;
        const char *key = nb_json_string(j, dst);
        if (!key || !nb_json_expect(j, ':', "':'"))
            return false;
        int k = 0;
        while (k < 3 && strcmp(key, keys[k]) != 0)
            k++;
        if (k == 3 || seen[k]) {
            j->pos = at;
            nb_json_fail(j,
                         k == 3 ? "unexpected key \"%s\" (a tensor has dtype, shape and data_offsets)"
                                : "key \"%s\" appears twice",
                         key);
            return false;
        }
        seen[k] = true;
        if (k == 0) {
            at = j->pos;
            if (!(e->dtype = nb_json_string(j, dst)))
                return false;
            if (!nb_st_dtype_find(e->dtype)) {
                j->pos = at;
                nb_json_fail(j, "unknown dtype \"%s\"", e->dtype);
                return false;
            }
        } else if (k == 1) {
            if (!nb_json_expect(j, '[', "'[' opening the shape"))
                return false;
            e->ndim = 0;
            if (!nb_json_accept(j, ']')) {
                do {
                    uint64_t d;
                    if (e->ndim == NB_MAX_DIMS) {
                        nb_json_fail(j, "nabla tensors have at most %d dims", NB_MAX_DIMS);
                        return false;
                    }
                    if (!nb_json_uint(j, &d))
                        return false;
                    e->shape[e->ndim++] = (int64_t)d;
                } while (nb_json_accept(j, ','));
                if (!nb_json_expect(j, ']', "',' or ']' in the shape"))
                    return false;
            }
        } else {
            if (!nb_json_expect(j, '[', "'[' opening data_offsets") || !nb_json_uint(j, &e->begin) ||
                !nb_json_expect(j, ',', "',' between the two data offsets") || !nb_json_uint(j, &e->end) ||
                !nb_json_expect(j, ']', "']' after the two data offsets"))
                return false;
            if (e->end < e->begin) {
                nb_json_fail(j, "data_offsets [%llu, %llu] end before they begin",
                             (unsigned long long)e->begin, (unsigned long long)e->end);
                return false;
            }
        }
    } while (nb_json_accept(j, ','));
    if (!nb_json_expect(j, '}', "',' or '}' in the tensor's description"))
        return false;
    for (int k = 0; k < 3; k++)
        if (!seen[k]) {
            nb_json_fail(j, "the tensor's description has no \"%s\"", keys[k]);
            return false;
        }
    return true;
}

/* The whole header: tensors into st->entries, metadata into st->meta. */
static bool parse_header(nb_json *j, nb_safetensors *st)
{
    char *dst = st->strings;
    int cap = 0;
    if (!nb_json_expect(j, '{', "'{' at the start of the header"))
        return false;
    if (nb_json_accept(j, '}'))
        return nb_json_at_end(j) || nb_json_fail(j, "unexpected text after the header's closing '}'");
    do {
        size_t at = j->pos;
        const char *name = nb_json_string(j, &dst);
        if (!name || !nb_json_expect(j, ':', "':'"))
            return false;
        if (strcmp(name, "__metadata__") == 0) {
            if (st->meta) {
                j->pos = at;
                nb_json_fail(j, "a second __metadata__");
                return false;
            }
            if (!(st->meta = nb_st_parse_metadata(j, &dst, &st->n_meta)))
                return false;
            continue;
        }
        if (st->n == cap) {
            cap = cap ? 2 * cap : 16;
            nb_safetensors_entry *grown = realloc(st->entries, (size_t)cap * sizeof *grown);
            if (!grown) {
                nb_error(NB_ERR_MEMORY, "%s: out of memory", j->where);
                return false;
            }
            st->entries = grown;
        }
        nb_safetensors_entry *e = &st->entries[st->n++];
        *e = (nb_safetensors_entry){.name = name};
        if (!parse_entry(j, &dst, e))
            return false;
    } while (nb_json_accept(j, ','));
    if (!nb_json_expect(j, '}', "',' or '}' after a tensor"))
        return false;
    if (!nb_json_at_end(j)) {
        nb_json_fail(j, "unexpected text after the header's closing '}'");
        return false;
    }
    return true;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const nb_safetensors_entry *)a)->name, ((const nb_safetensors_entry *)b)->name);
}

static int by_offsets(const void *a, const void *b)
{
    const nb_safetensors_entry *x = *(nb_safetensors_entry *const *)a, *y = *(nb_safetensors_entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Sizes against shapes, then the data section tiled exactly. */
static bool check_layout(nb_safetensors *st, const char *where)
{
    for (int i = 0; i < st->n; i++) {
        nb_safetensors_entry *e = &st->entries[i];
        int64_t numel = nb_shape_numel(e->ndim, e->shape);
        if (numel < 0) {
            nb_error(NB_ERR_FORMAT, "%s: tensor '%s': shape %s has too many elements", where, e->name,
                     nb_dims_fmt(e->ndim, e->shape));
            return false;
        }
        uint64_t bytes = (uint64_t)numel * (uint64_t)nb_st_dtype_find(e->dtype)->size;
        if (e->end - e->begin != bytes) {
            nb_error(NB_ERR_FORMAT,
                     "%s: tensor '%s': shape %s of %s is %llu bytes but data_offsets "
                     "[%llu, %llu] span %llu",
                     where, e->name, nb_dims_fmt(e->ndim, e->shape), e->dtype, (unsigned long long)bytes,
                     (unsigned long long)e->begin, (unsigned long long)e->end,
                     (unsigned long long)(e->end - e->begin));
            return false;
        }
    }
    if (st->n > 1)
        qsort(st->entries, (size_t)st->n, sizeof *st->entries, by_name);
    for (int i = 1; i < st->n; i++)
        if (strcmp(st->entries[i - 1].name, st->entries[i].name) == 0) {
            nb_error(NB_ERR_FORMAT, "%s: tensor name '%s' appears twice", where, st->entries[i].name);
            return false;
        }
    nb_safetensors_entry **order = malloc((size_t)(st->n ? st->n : 1) * sizeof *order);
    if (!order) {
        nb_error(NB_ERR_MEMORY, "%s: out of memory", where);
        return false;
    }
    for (int i = 0; i < st->n; i++)
        order[i] = &st->entries[i];
    qsort(order, (size_t)st->n, sizeof *order, by_offsets);
    uint64_t pos = 0;
    const char *prev = NULL;
    bool ok = true;
    for (int i = 0; i < st->n && ok; i++) {
        const nb_safetensors_entry *e = order[i];
        if (e->begin < pos)
            nb_error(NB_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap (data bytes %llu..%llu)", where, prev,
                     e->name, (unsigned long long)e->begin, (unsigned long long)pos);
        else if (e->begin > pos)
            nb_error(NB_ERR_FORMAT, "%s: data bytes %llu..%llu belong to no tensor", where,
                     (unsigned long long)pos, (unsigned long long)e->begin);
        else if (e->end > st->data_len)
            nb_error(NB_ERR_FORMAT,
                     "%s: tensor '%s' has data_offsets [%llu, %llu] but the file holds "
                     "%llu bytes of data",
                     where, e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                     (unsigned long long)st->data_len);
        ok = e->begin == pos && e->end <= st->data_len;
        pos = e->end;
        prev = e->name;
    }
    free(order);
    if (ok && pos != st->data_len)
        nb_error(NB_ERR_FORMAT,
                 "%s: the tensors end at data byte %llu but the file holds %llu bytes of data "
                 "(trailing bytes)",
                 where, (unsigned long long)pos, (unsigned long long)st->data_len);
    return ok && pos == st->data_len;
}

nb_safetensors *nb_safetensors_open(const char *path)
{
    if (!path)
        return nb_error(NB_ERR_NULL, "load: path is NULL");
    char where[320];
    snprintf(where, sizeof where, "load: %s", path);
    nb_safetensors *st = calloc(1, sizeof *st);
    char *header = NULL;
    if (!st || !(st->path = malloc(strlen(path) + 1))) {
        nb_error(NB_ERR_MEMORY, "%s: out of memory", where);
        goto fail;
    }
    strcpy(st->path, path);
    struct stat sb;
    if (!(st->file = fopen(path, "rb")) || fstat(fileno(st->file), &sb) != 0) {
        nb_error(NB_ERR_IO, "%s: cannot open: %s", where, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        nb_error(NB_ERR_IO, "%s: not a regular file", where);
        goto fail;
    }
    uint64_t size = (uint64_t)sb.st_size;
    unsigned char len8[8];
    if (size < 8 || fread(len8, 1, 8, st->file) != 8) {
        nb_error(NB_ERR_FORMAT, "%s: the file holds %llu bytes, too few for the 8-byte header length", where,
                 (unsigned long long)size);
        goto fail;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | len8[i];
    if (n > size - 8 || n > MAX_HEADER) {
        nb_error(NB_ERR_FORMAT, "%s: byte 0: header length %llu is %s", where, (unsigned long long)n,
                 n > size - 8 ? "larger than the rest of the file" : "over the 100000000-byte limit");
        goto fail;
    }
    header = malloc((size_t)n + 1);
    st->strings = malloc((size_t)n + 1);
    if (!header || !st->strings) {
        nb_error(NB_ERR_MEMORY, "%s: out of memory for a %llu-byte header", where, (unsigned long long)n);
        goto fail;
    }
    if (fread(header, 1, (size_t)n, st->file) != n) {
        nb_error(NB_ERR_IO, "%s: cannot read the header: %s", where, strerror(errno));
        goto fail;
    }
    st->data_start = 8 + n;
    st->data_len = size - 8 - n;
    nb_json j = {.s = header, .len = (size_t)n, .base = 8, .where = where};
    if (!parse_header(&j, st) || !check_layout(st, where))
        goto fail;
    free(header);
    return st;
fail:
    free(header);
    nb_safetensors_close(st);
    return NULL;
}

void nb_safetensors_close(nb_safetensors *st)
{
    if (!st)
        return;
    if (st->file)
        fclose(st->file);
    free(st->path);
    free(st->entries);
    free(st->meta);
    free(st->strings);
    free(st);
}
