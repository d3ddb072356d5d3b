/* io/csv_classes.c — the class column of a CSV file: each distinct text gets
 * a code as it first appears (a hash table of copies, so memory follows the
 * distinct texts actually read), then the codes are renumbered in sorted
 * order, as pandas' categorical codes (`astype("category").cat.codes`) and
 * sklearn's LabelEncoder: numerically when every class is a number, else
 * by byte order (strcmp). Also the NULL-terminated name blocks the CSV
 * loaders return. */
#include <stdlib.h>
#include <string.h>
#include "io/csv.h"

/* Codes are stored in nb_real: past 2^24 a float32 cannot hold them exactly. */
#define MAX_CLASSES ((int64_t)1 << 24)

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The slot of s in the table: its entry, or the empty slot where it goes. */
static int64_t *slot(const nb_csv_classes *cl, const char *s, uint64_t h)
{
    uint64_t mask = (uint64_t)cl->table_cap - 1;
    for (uint64_t i = h & mask;; i = (i + 1) & mask) {
        int64_t *e = &cl->table[i];
        if (*e == 0 || strcmp(cl->names[*e - 1], s) == 0)
            return e;
    }
}

static bool grow(nb_csv_classes *cl)
{
    int64_t cap = cl->table_cap ? 2 * cl->table_cap : 64;
    int64_t *table = calloc((size_t)cap, sizeof *table), *old = cl->table;
    char **names = realloc(cl->names, (size_t)(cap / 2) * sizeof *names);
    if (names)
        cl->names = names;
    if (!table || !names) {
        free(table);
        return false;
    }
    cl->table = table;
    cl->table_cap = cap;
    for (int64_t i = 0; i < cl->n; i++)
        *slot(cl, cl->names[i], hash(cl->names[i])) = i + 1;
    free(old);
    return true;
}

int64_t nb_csv_class_code(nb_csv_classes *cl, const char *text)
{
    if (2 * (cl->n + 1) > cl->table_cap && !grow(cl)) {
        nb_error(NB_ERR_MEMORY, "csv: %s: out of memory for %lld classes", cl->path, (long long)cl->n + 1);
        return -1;
    }
    uint64_t h = hash(text);
    int64_t *e = slot(cl, text, h);
    if (*e)
        return *e - 1;
    if (cl->n == MAX_CLASSES) {
        nb_error(NB_ERR_ARG, "csv: %s: the class column has more than %lld distinct values", cl->path,
                 (long long)MAX_CLASSES);
        return -1;
    }
    size_t len = strlen(text) + 1;
    char *copy = malloc(len);
    if (!copy) {
        nb_error(NB_ERR_MEMORY, "csv: %s: out of memory for class \"%.60s\"", cl->path, text);
        return -1;
    }
    cl->names[cl->n] = memcpy(copy, text, len);
    *e = ++cl->n;
    return cl->n - 1;
}

typedef struct entry {
    const char *name;
    double value;
    int64_t code; /* by first appearance */
} entry;

static int by_value(const void *a, const void *b)
{
    double x = ((const entry *)a)->value, y = ((const entry *)b)->value;
    return (x > y) - (x < y);
}

static int by_text(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

/* True when s is a whole number in the C locale (the caller's). */
static bool number(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return *s && !*end && *v == *v;
}

char **nb_csv_classes_sort(nb_csv_classes *cl, nb_real *codes, int64_t n, int64_t stride)
{
    entry *e = malloc((size_t)(cl->n ? cl->n : 1) * sizeof *e);
    int64_t *rank = malloc((size_t)(cl->n ? cl->n : 1) * sizeof *rank);
    const char **sorted = malloc((size_t)(cl->n ? cl->n : 1) * sizeof *sorted);
    char **out = NULL;
    if (e && rank && sorted) {
        bool numeric = true;
        for (int64_t i = 0; i < cl->n; i++) {
            e[i] = (entry){.name = cl->names[i], .code = i};
            numeric = numeric && number(cl->names[i], &e[i].value);
        }
        qsort(e, (size_t)cl->n, sizeof *e, numeric ? by_value : by_text);
        for (int64_t i = 0; i < cl->n; i++) {
            rank[e[i].code] = i;
            sorted[i] = e[i].name;
        }
        out = nb_csv_names_block(cl->path, sorted, cl->n);
    } else {
        nb_error(NB_ERR_MEMORY, "csv: %s: out of memory sorting %lld classes", cl->path, (long long)cl->n);
    }
    for (int64_t r = 0; out && r < n; r++)
        codes[r * stride] = (nb_real)rank[(int64_t)codes[r * stride]];
    free(e);
    free(rank);
    free(sorted);
    return out;
}

void nb_csv_classes_free(nb_csv_classes *cl)
{
    for (int64_t i = 0; i < cl->n; i++)
        free(cl->names[i]);
    free(cl->names);
    free(cl->table);
    *cl = (nb_csv_classes){0};
}

char **nb_csv_names_block(const char *path, const char *const *names, int64_t n)
{
    size_t bytes = (size_t)(n + 1) * sizeof(char *);
    for (int64_t j = 0; j < n; j++)
        bytes += strlen(names[j]) + 1;
    char **out = malloc(bytes);
    if (!out)
        return nb_error(NB_ERR_MEMORY, "csv: %s: out of memory", path);
    char *s = (char *)(out + n + 1);
    for (int64_t j = 0; j < n; j++) {
        size_t len = strlen(names[j]) + 1;
        out[j] = memcpy(s, names[j], len);
        s += len;
    }
    out[n] = NULL;
    return out;
}
