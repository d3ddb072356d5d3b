/* io/csv.c — nb_load_csv: a header row, then rows of numbers, into a
 * [rows, columns] tensor. The input is read one record at a time
 * (io/records.c) and each record tokenised in place: quoted fields are
 * unescaped where they lie and every field is NUL-terminated, so cells are
 * parsed by strtod without copies. The values grow with the rows really
 * present; the tensor is made once they are all read. */
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include "io/records.h"

typedef struct csv {
    const char *path;
    char *p, *end; /* cursor in the file's text */
    char delim;
    int64_t line; /* 1-based line of the cursor */
} csv;

static bool blank(char c) { return c == ' ' || c == '\t'; }

/* Reads one field at the cursor into a NUL-terminated string (unescaped,
 * trimmed), leaves the cursor after its delimiter. *last is set when the field
 * ended its row. NULL (error recorded) for an unterminated quote or text
 * after a closing quote. */
static char *field(csv *c, bool *last, int column)
{
    while (c->p < c->end && blank(*c->p))
        c->p++;
    char *start = c->p, *out = c->p, *stop;
    if (c->p < c->end && *c->p == '"') {
        int64_t open_line = c->line;
        start = out = ++c->p;
        for (;;) {
            if (c->p >= c->end) {
                nb_error(NB_ERR_FORMAT,
                         "csv: %s: line %lld, column %d: the quote opened here is never closed", c->path,
                         (long long)open_line, column + 1);
                return NULL;
            }
            if (*c->p == '"') {
                if (c->p + 1 < c->end && c->p[1] == '"') {
                    *out++ = '"';
                    c->p += 2;
                    continue;
                }
                c->p++;
                break;
            }
            if (*c->p == '\n')
                c->line++;
            *out++ = *c->p++;
        }
        stop = out;
        while (c->p < c->end && blank(*c->p))
            c->p++;
        if (c->p < c->end && *c->p != c->delim && *c->p != '\r' && *c->p != '\n') {
            nb_error(NB_ERR_FORMAT, "csv: %s: line %lld, column %d: text after the closing quote", c->path,
                     (long long)c->line, column + 1);
            return NULL;
        }
    } else {
        while (c->p < c->end && *c->p != c->delim && *c->p != '\n' && *c->p != '\r')
            c->p++;
        stop = c->p;
        while (stop > start && blank(stop[-1]))
            stop--;
    }
    /* c->p is at the delimiter, the line end or the end of the text */
    *last = c->p >= c->end || *c->p != c->delim;
    if (c->p < c->end && *c->p == '\r')
        c->p++;
    if (c->p < c->end && (*c->p == '\n' || *c->p == c->delim)) {
        if (*c->p == '\n')
            c->line++;
        c->p++;
    }
    *stop = '\0'; /* stop <= the delimiter or line end just passed: nothing unread is lost */
    return start;
}

/* Skips lines holding only blanks. False at the end of the text. */
static bool next_row(csv *c)
{
    for (;;) {
        char *q = c->p;
        while (q < c->end && (blank(*q) || *q == '\r'))
            q++;
        if (q >= c->end)
            return false;
        if (*q != '\n') {
            c->p = q;
            return true;
        }
        c->p = q + 1;
        c->line++;
    }
}

/* Splits the header row into names[0..*n), pointers into the text. */
static char **header(csv *c, int *n)
{
    int cap = 16;
    char **names = malloc((size_t)cap * sizeof *names);
    *n = 0;
    for (bool last = false; names && !last;) {
        char *f = field(c, &last, *n);
        if (!f) {
            free(names);
            return NULL;
        }
        if (*n == cap) {
            cap *= 2;
            char **grown = realloc(names, (size_t)cap * sizeof *names);
            if (!grown)
                free(names);
            names = grown;
        }
        if (names)
            names[(*n)++] = f;
    }
    if (!names)
        nb_error(NB_ERR_MEMORY, "csv: %s: out of memory for the header", c->path);
    return names;
}

/* "names: "a", "b", ..." into buf, for the missing-column message. */
static const char *list_names(char *const *names, int n, char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && k + 1 < size; i++)
        k += (size_t)snprintf(buf + k, size - k, i ? ", \"%s\"" : "\"%s\"", names[i]);
    return buf;
}

/* Resolves the chosen columns to indices into the header. NULL on error. */
static int *choose(const csv *c, const nb_csv_opts *o, char *const *names, int n, int *n_cols)
{
    bool all = !o->columns && !o->column_indices;
    *n_cols = all ? n : o->n_columns;
    int *cols = malloc((size_t)*n_cols * sizeof *cols);
    if (!cols)
        return nb_error(NB_ERR_MEMORY, "csv: %s: out of memory", c->path);
    for (int j = 0; j < *n_cols; j++) {
        if (all) {
            cols[j] = j;
        } else if (o->columns) {
            cols[j] = -1;
            for (int i = 0; i < n && cols[j] < 0; i++)
                if (o->columns[j] && strcmp(o->columns[j], names[i]) == 0)
                    cols[j] = i;
            if (cols[j] < 0) {
                char buf[400];
                nb_error(NB_ERR_ARG, "csv: %s: no column named \"%s\"; the columns are %s", c->path,
                         o->columns[j] ? o->columns[j] : "(null)", list_names(names, n, buf, sizeof buf));
                free(cols);
                return NULL;
            }
        } else {
            cols[j] = o->column_indices[j];
            if (cols[j] < 0 || cols[j] >= n) {
                nb_error(NB_ERR_ARG, "csv: %s: column index %d is outside 0..%d (the header has %d columns)",
                         c->path, cols[j], n - 1, n);
                free(cols);
                return NULL;
            }
        }
    }
    return cols;
}

/* The values read so far, rows of n_cols, growing by doubling. */
typedef struct values {
    nb_real *v;
    int64_t rows, cap; /* cap in rows */
} values;

static bool add_row(values *vs, const csv *c, int n_cols, const double *row, const int *cols)
{
    if (vs->rows == vs->cap) {
        int64_t cap = vs->cap ? 2 * vs->cap : 64;
        nb_real *grown = (uint64_t)cap * (uint64_t)n_cols < SIZE_MAX / sizeof(nb_real) / 2
                             ? realloc(vs->v, (size_t)cap * (size_t)n_cols * sizeof(nb_real))
                             : NULL;
        if (!grown) {
            nb_error(NB_ERR_MEMORY, "csv: %s: line %lld: out of memory for %lld rows of %d values", c->path,
                     (long long)c->line, (long long)cap, n_cols);
            return false;
        }
        vs->v = grown;
        vs->cap = cap;
    }
    for (int j = 0; j < n_cols; j++)
        vs->v[vs->rows * n_cols + j] = (nb_real)row[cols[j]];
    vs->rows++;
    return true;
}

/* Parses the data rows (the rest of the input) into vs; false on error. */
static bool rows(csv *c, nb_records *rs, char *const *names, int n, const int *cols, int n_cols, values *vs)
{
    double *row = malloc((size_t)n * sizeof *row);
    if (!row) {
        nb_error(NB_ERR_MEMORY, "csv: %s: out of memory", c->path);
        return false;
    }
    for (;;) {
        if (!next_row(c)) { /* this record is blank: the next one */
            int k = nb_records_next(rs, c->line);
            if (k <= 0) {
                free(row);
                return k == 0;
            }
            c->p = rs->line;
            c->end = rs->line + rs->len;
            continue;
        }
        int64_t line = c->line;
        bool last = false;
        int i = 0;
        for (; !last; i++) {
            char *f = field(c, &last, i);
            if (!f)
                goto fail;
            if (i >= n)
                continue; /* counted below */
            char *endp;
            row[i] = strtod(f, &endp);
            if (*f == '\0' || *endp != '\0') {
                nb_error(NB_ERR_FORMAT, "csv: %s: line %lld, column %d (\"%s\"): \"%.60s\" is not a number",
                         c->path, (long long)line, i + 1, names[i], f);
                goto fail;
            }
        }
        if (i != n) {
            nb_error(NB_ERR_FORMAT, "csv: %s: line %lld has %d fields but the header has %d", c->path,
                     (long long)line, i, n);
            goto fail;
        }
        if (!add_row(vs, c, n_cols, row, cols))
            goto fail;
    }
fail:
    free(row);
    return false;
}

/* The chosen names as one NULL-terminated block. */
static char **copy_names(const char *path, char *const *names, const int *cols, int n_cols)
{
    size_t bytes = (size_t)(n_cols + 1) * sizeof(char *);
    for (int j = 0; j < n_cols; j++)
        bytes += strlen(names[cols[j]]) + 1;
    char **out = malloc(bytes);
    if (!out)
        return nb_error(NB_ERR_MEMORY, "csv: %s: out of memory", path);
    char *s = (char *)(out + n_cols + 1);
    for (int j = 0; j < n_cols; j++) {
        size_t len = strlen(names[cols[j]]) + 1;
        out[j] = memcpy(s, names[cols[j]], len);
        s += len;
    }
    out[n_cols] = NULL;
    return out;
}

nb_csv_opts nb_csv_defaults(void) { return NB_CSV_OPTS(); }

nb_tensor *nb_load_csv(const char *path, nb_csv_opts o, char ***names_out)
{
    if (names_out)
        *names_out = NULL;
    if (!nb_opts_made("csv", o.nb_tag, "csv"))
        return NULL;
    if (o.n_columns > 0 && !o.columns && !o.column_indices)
        return nb_error(NB_ERR_NULL, "csv: n_columns is %d but columns and column_indices are NULL",
                        o.n_columns);
    if ((o.columns || o.column_indices) && o.n_columns < 1)
        return nb_error(NB_ERR_ARG,
                        "csv: n_columns is %d: give at least one column, or no array for all of them",
                        o.n_columns);
    if (o.delimiter == '\0' || o.delimiter == '"' || o.delimiter == '\n' || o.delimiter == '\r')
        return nb_error(NB_ERR_ARG, "csv: delimiter %d cannot separate fields", (int)o.delimiter);
    if (o.skip_rows < 0)
        return nb_error(NB_ERR_ARG, "csv: skip_rows %d is negative", o.skip_rows);
    nb_reader r;
    if (nb_reader_open(&r, "csv", path) != 0)
        return NULL;
    nb_records *rs = calloc(1, sizeof *rs);
    nb_tensor *t = NULL;
    char **names = NULL, *head = NULL;
    int *cols = NULL;
    values vs = {0};
    locale_t cloc = (locale_t)0, prev = (locale_t)0;
    if (!rs) {
        nb_error(NB_ERR_MEMORY, "csv: %s: out of memory", path);
        goto out;
    }
    *rs = (nb_records){.r = &r, .delim = o.delimiter};
    csv c = {.path = path, .delim = rs->delim, .line = 1 + o.skip_rows};
    if (nb_records_skip_lines(rs, o.skip_rows) != 0)
        goto out;
    int k;
    while ((k = nb_records_next(rs, c.line)) > 0) { /* the first record that is not blank */
        c.p = rs->line;
        c.end = rs->line + rs->len;
        if (next_row(&c))
            break;
    }
    if (k < 0)
        goto out;
    if (k == 0) {
        nb_error(NB_ERR_FORMAT, "csv: %s: no header row%s", path,
                 rs->consumed == 0 ? " (the file is empty)"
                 : o.skip_rows     ? " after the skipped lines"
                                   : "");
        goto out;
    }
    head = nb_records_take(rs); /* the names point into it */
    int n, n_cols;
    int64_t header_line = c.line;
    names = header(&c, &n);
    if (!names || !(cols = choose(&c, &o, names, n, &n_cols)))
        goto out;
    c.p = c.end; /* the header record is done */
    /* strtod reads the decimal point of the C locale, whatever the program's */
    cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    prev = cloc ? uselocale(cloc) : (locale_t)0;
    bool ok = rows(&c, rs, names, n, cols, n_cols, &vs);
    if (ok && vs.rows == 0)
        nb_error(NB_ERR_FORMAT, "csv: %s: no data rows after the header (line %lld)", path,
                 (long long)header_line);
    if (!ok || vs.rows == 0)
        goto out;
    t = nb_tensor_alloc("csv", 2, (int64_t[]){vs.rows, n_cols}, true);
    if (t)
        memcpy(t->data, vs.v, (size_t)t->numel * sizeof(nb_real));
    if (t && names_out && !(*names_out = copy_names(path, names, cols, n_cols))) {
        nb_free(t);
        t = NULL;
    }
out:
    if (cloc) {
        uselocale(prev);
        freelocale(cloc);
    }
    if (rs)
        nb_records_free(rs);
    free(rs);
    nb_reader_close(&r);
    free(vs.v);
    free(cols);
    free(names);
    free(head);
    return t;
}
