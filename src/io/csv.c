/* io/csv.c — nb_load_csv and the reader behind it (nb_csv_read): a header
 * row (or none, or scikit-learn's "N,F,class names" line), then rows whose
 * chosen columns are numbers, or class names in the class column, into a
 * table. The input is read one record at a time (io/records.c) and each
 * record tokenised in place: quoted fields are unescaped where they lie and
 * every field is NUL-terminated, so cells are parsed by strtod without
 * copies, and the columns that were not chosen are split but never parsed.
 * The values grow with the rows really present; the tensor is made once they
 * are all read. */
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include "io/csv.h"

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

/* Splits the rest of the record into fields[0..*n), pointers into the text. */
static char **split(csv *c, int *n)
{
    int cap = 16;
    char **fields = malloc((size_t)cap * sizeof *fields);
    *n = 0;
    for (bool last = false; fields && !last;) {
        char *f = field(c, &last, *n);
        if (!f) {
            free(fields);
            return NULL;
        }
        if (*n == cap) {
            cap *= 2;
            char **grown = realloc(fields, (size_t)cap * sizeof *fields);
            if (!grown)
                free(fields);
            fields = grown;
        }
        if (fields)
            fields[(*n)++] = f;
    }
    if (!fields)
        nb_error(NB_ERR_MEMORY, "csv: %s: line %lld: out of memory splitting the row", c->path,
                 (long long)c->line);
    return fields;
}

/* The number of fields of the record at the cursor, counted on a copy (the
 * row is read again as data). -1 on error. */
static int count_fields(const csv *c)
{
    size_t len = (size_t)(c->end - c->p);
    char *copy = malloc(len + 1);
    if (!copy) {
        nb_error(NB_ERR_MEMORY, "csv: %s: out of memory", c->path);
        return -1;
    }
    memcpy(copy, c->p, len);
    csv t = *c;
    t.p = copy;
    t.end = copy + len;
    int n;
    char **fields = split(&t, &n);
    free(copy);
    free(fields);
    return fields ? n : -1;
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

/* How the file names its columns and what the rows must hold. */
typedef struct layout {
    int n;                /* fields per row */
    char *const *names;   /* the header's names, or NULL */
    char expect[96];      /* "the header has 3", for the ragged-row message */
    bool *wanted;         /* [n]: the column is parsed */
    int class_col;        /* the column of class names, or -1 */
    nb_csv_classes *cl;   /* its coding, or NULL when its cells are codes (NB_CSV_SKLEARN) */
    int64_t n_known;      /* NB_CSV_SKLEARN: classes named on the first line; else -1 */
    int64_t sklearn_rows; /* NB_CSV_SKLEARN: the rows the first line promises; else -1 */
} layout;

/* Column `name` of the header, or -1 with an error. */
static int by_name(const csv *c, const layout *L, const char *name)
{
    if (!L->names) {
        nb_error(NB_ERR_ARG,
                 "csv: %s: column \"%s\" asked by name, but the file has no header row (.header = "
                 "%s): choose columns by index (column_indices, target_index)",
                 c->path, name ? name : "(null)", L->sklearn_rows >= 0 ? "NB_CSV_SKLEARN" : "false");
        return -1;
    }
    for (int i = 0; i < L->n; i++)
        if (name && strcmp(name, L->names[i]) == 0)
            return i;
    char buf[400];
    nb_error(NB_ERR_ARG, "csv: %s: no column named \"%s\"; the columns are %s", c->path,
             name ? name : "(null)", list_names(L->names, L->n, buf, sizeof buf));
    return -1;
}

/* Column index i (negative: from the end when `from_end`), or -1 with an error. */
static int by_index(const csv *c, const layout *L, int i, bool from_end, const char *what)
{
    int k = from_end && i < 0 ? i + L->n : i;
    if (k >= 0 && k < L->n)
        return k;
    nb_error(NB_ERR_ARG, "csv: %s: %s %d is outside %s0..%d (the rows have %d columns)", c->path, what, i,
             from_end ? "-n..-1 and " : "", L->n - 1, L->n);
    return -1;
}

/* Resolves the chosen columns to indices: o's columns (or all), and with
 * `dataset` o's columns (or all but the target) then the target. NULL on error. */
static int *choose(const csv *c, const nb_csv_opts *o, const layout *L, bool dataset, int *n_cols)
{
    bool all = !o->columns && !o->column_indices;
    int target = -1;
    if (dataset && (target = o->target ? by_name(c, L, o->target)
                                       : by_index(c, L, o->target_index, true, "target_index")) < 0)
        return NULL;
    int n_x = !all ? o->n_columns : dataset ? L->n - 1 : L->n;
    *n_cols = n_x + dataset;
    int *cols = malloc((size_t)(*n_cols ? *n_cols : 1) * sizeof *cols);
    if (!cols)
        return nb_error(NB_ERR_MEMORY, "csv: %s: out of memory", c->path);
    for (int j = 0, i = 0; j < n_x; j++, i++) {
        if (all && i == target)
            i++; /* every column but the target */
        if (all)
            cols[j] = i;
        else if (o->columns)
            cols[j] = by_name(c, L, o->columns[j]);
        else
            cols[j] = by_index(c, L, o->column_indices[j], false, "column index");
        if (cols[j] < 0) {
            free(cols);
            return NULL;
        }
    }
    if (dataset)
        cols[n_x] = target;
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

/* ` ("RM")` after a column number in messages, or nothing without a header. */
static const char *label(const layout *L, int i, char *buf, size_t size)
{
    if (!L->names)
        return "";
    snprintf(buf, size, " (\"%.100s\")", L->names[i]);
    return buf;
}

/* The value of wanted cell f of column i on `line` into *v; false on error. */
static bool cell(const csv *c, const layout *L, int i, const char *f, int64_t line, double *v)
{
    char buf[128];
    if (i == L->class_col && L->cl) {
        if (!*f) {
            nb_error(NB_ERR_FORMAT, "csv: %s: line %lld, column %d%s: the class is empty", c->path,
                     (long long)line, i + 1, label(L, i, buf, sizeof buf));
            return false;
        }
        int64_t code = nb_csv_class_code(L->cl, f);
        *v = (double)code;
        return code >= 0;
    }
    char *endp;
    *v = strtod(f, &endp);
    if (*f == '\0' || *endp != '\0') {
        nb_error(NB_ERR_FORMAT, "csv: %s: line %lld, column %d%s: \"%.60s\" is not a number", c->path,
                 (long long)line, i + 1, label(L, i, buf, sizeof buf), f);
        return false;
    }
    if (i == L->class_col && !(*v >= 0 && *v < (double)L->n_known && *v == (double)(int64_t)*v)) {
        nb_error(NB_ERR_FORMAT,
                 "csv: %s: line %lld, column %d: class \"%.60s\" is not one of 0..%lld (the first line "
                 "names %lld classes)",
                 c->path, (long long)line, i + 1, f, (long long)L->n_known - 1, (long long)L->n_known);
        return false;
    }
    return true;
}

/* Parses the data rows (the rest of the input) into vs; false on error. */
static bool rows(csv *c, nb_records *rs, const layout *L, const int *cols, int n_cols, values *vs)
{
    double *row = malloc((size_t)L->n * sizeof *row);
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
            if (i < L->n && L->wanted[i] && !cell(c, L, i, f, line, &row[i]))
                goto fail;
        }
        if (i != L->n) {
            nb_error(NB_ERR_FORMAT, "csv: %s: line %lld has %d fields but %s", c->path, (long long)line, i,
                     L->expect);
            goto fail;
        }
        if (!add_row(vs, c, n_cols, row, cols))
            goto fail;
    }
fail:
    free(row);
    return false;
}

/* The next record that is not blank, c at its start: 1, 0 at the end of the
 * input, -1 on error (recorded). */
static int next_record(csv *c, nb_records *rs)
{
    int k;
    while ((k = nb_records_next(rs, c->line)) > 0) {
        c->p = rs->line;
        c->end = rs->line + rs->len;
        if (next_row(c))
            break;
    }
    return k;
}

static void no_data_rows(const char *path, const nb_csv_opts *o, int64_t first_line)
{
    nb_error(NB_ERR_FORMAT, "csv: %s: no data rows after the %s (line %lld)", path,
             o->header == NB_CSV_HEADER ? "header" : "first line", (long long)first_line);
}

/* A whole non-negative integer (the counts of scikit-learn's first line), or -1. */
static int64_t count(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    return *s >= '0' && *s <= '9' && !*end && v >= 0 && v < INT32_MAX ? v : -1;
}

/* scikit-learn's first line "N,F,class names..." (load_csv_data): F
 * features and a target in every row; trailing empty names (boston's
 * "506,13,,,,") are padding. False on error. */
static bool sklearn_line(const csv *c, char **f, int nf, int64_t first_line, layout *L, int *n_names)
{
    int64_t rows = nf >= 2 ? count(f[0]) : -1, features = nf >= 2 ? count(f[1]) : -1;
    if (rows < 0 || features < 1) {
        nb_error(NB_ERR_FORMAT,
                 "csv: %s: line %lld: \"%.60s%s%.60s\" is not scikit-learn's first line \"rows,features,"
                 "class names...\" (.header = NB_CSV_SKLEARN)",
                 c->path, (long long)first_line, nf ? f[0] : "", nf > 1 ? "," : "", nf > 1 ? f[1] : "");
        return false;
    }
    L->sklearn_rows = rows;
    L->n = (int)features + 1;
    for (*n_names = nf - 2; *n_names > 0 && !f[2 + *n_names - 1][0];)
        (*n_names)--;
    snprintf(L->expect, sizeof L->expect, "line %lld says %lld features and a target", (long long)first_line,
             (long long)features);
    return true;
}

/* The chosen columns' names: the header's, or their numbers ("0", "1", ...,
 * as pandas names the columns of header=None). */
static char **chosen_names(const char *path, const layout *L, const int *cols, int n_cols)
{
    const char **names = malloc((size_t)(n_cols ? n_cols : 1) * sizeof *names);
    char *digits = L->names ? NULL : malloc((size_t)(n_cols ? n_cols : 1) * 12);
    char **out = NULL;
    if (names && (L->names || digits)) {
        for (int j = 0; j < n_cols; j++) {
            if (L->names) {
                names[j] = L->names[cols[j]];
            } else {
                snprintf(digits + 12 * j, 12, "%d", cols[j]);
                names[j] = digits + 12 * j;
            }
        }
        out = nb_csv_names_block(path, names, n_cols);
    } else {
        nb_error(NB_ERR_MEMORY, "csv: %s: out of memory", path);
    }
    free(names);
    free(digits);
    return out;
}

static bool check_opts(const nb_csv_opts *o)
{
    if (!nb_opts_made("csv", o->nb_tag, "csv"))
        return false;
    if (o->n_columns > 0 && !o->columns && !o->column_indices)
        nb_error(NB_ERR_NULL, "csv: n_columns is %d but columns and column_indices are NULL", o->n_columns);
    else if ((o->columns || o->column_indices) && o->n_columns < 1)
        nb_error(NB_ERR_ARG, "csv: n_columns is %d: give at least one column, or no array for all of them",
                 o->n_columns);
    else if (o->delimiter == '\0' || o->delimiter == '"' || o->delimiter == '\n' || o->delimiter == '\r')
        nb_error(NB_ERR_ARG, "csv: delimiter %d cannot separate fields", (int)o->delimiter);
    else if (o->skip_rows < 0)
        nb_error(NB_ERR_ARG, "csv: skip_rows %d is negative", o->skip_rows);
    else if (o->header != NB_CSV_NO_HEADER && o->header != NB_CSV_HEADER && o->header != NB_CSV_SKLEARN)
        nb_error(NB_ERR_ARG, "csv: header %d is none of false, true (NB_CSV_HEADER) and NB_CSV_SKLEARN",
                 o->header);
    else
        return true;
    return false;
}

void nb_csv_table_free(nb_csv_table *t)
{
    free(t->v);
    free(t->names);
    free(t->classes);
    *t = (nb_csv_table){0};
}

int nb_csv_read(const char *path, const nb_csv_opts *o, bool dataset, bool want_names, bool want_classes,
                nb_csv_table *t)
{
    *t = (nb_csv_table){0};
    if (!check_opts(o))
        return -1;
    nb_reader r;
    if (nb_reader_open(&r, "csv", path) != 0)
        return -1;
    nb_records *rs = calloc(1, sizeof *rs);
    char **fields = NULL, *head = NULL;
    int *cols = NULL, n_names = 0, n_cols = 0;
    bool *wanted = NULL, ok = false;
    nb_csv_classes cl = {.path = path};
    layout L = {.class_col = -1, .n_known = -1, .sklearn_rows = -1};
    values vs = {0};
    locale_t cloc = (locale_t)0, prev = (locale_t)0;
    if (!rs) {
        nb_error(NB_ERR_MEMORY, "csv: %s: out of memory", path);
        goto out;
    }
    *rs = (nb_records){.r = &r, .delim = o->delimiter};
    csv c = {.path = path, .delim = rs->delim, .line = 1 + o->skip_rows};
    if (nb_records_skip_lines(rs, o->skip_rows) != 0)
        goto out;
    int k = next_record(&c, rs);
    if (k < 0)
        goto out;
    const char *what = o->header == NB_CSV_HEADER ? "header row" : o->header ? "first line" : "data rows";
    if (k == 0) {
        nb_error(NB_ERR_FORMAT, "csv: %s: no %s%s", path, what,
                 rs->consumed == 0 ? " (the file is empty)"
                 : o->skip_rows    ? " after the skipped lines"
                                   : "");
        goto out;
    }
    int64_t first_line = c.line;
    if (o->header == NB_CSV_NO_HEADER) { /* the first record is data: count its fields, read it below */
        if ((L.n = count_fields(&c)) < 0)
            goto out;
        snprintf(L.expect, sizeof L.expect, "line %lld has %d", (long long)first_line, L.n);
    } else {
        head = nb_records_take(rs); /* the names point into it */
        int nf;
        if (!(fields = split(&c, &nf)))
            goto out;
        c.p = c.end; /* this record is done */
        if (o->header == NB_CSV_HEADER) {
            L.n = nf;
            L.names = fields;
            snprintf(L.expect, sizeof L.expect, "the header has %d", nf);
        } else if (!sklearn_line(&c, fields, nf, first_line, &L, &n_names)) {
            goto out;
        } else { /* the first data row before the columns are allocated: L.n is only a claim */
            int n1 = (k = next_record(&c, rs)) > 0 ? count_fields(&c) : 0;
            if (k < 0 || n1 < 0)
                goto out;
            if (k == 0) {
                no_data_rows(path, o, first_line);
                goto out;
            }
            if (n1 != L.n) {
                nb_error(NB_ERR_FORMAT, "csv: %s: line %lld has %d fields but %s", path, (long long)c.line,
                         n1, L.expect);
                goto out;
            }
        }
    }
    if (!(cols = choose(&c, o, &L, dataset, &n_cols)) || !(wanted = calloc((size_t)L.n, sizeof *wanted))) {
        if (cols)
            nb_error(NB_ERR_MEMORY, "csv: %s: out of memory", path);
        goto out;
    }
    for (int j = 0; j < n_cols; j++)
        wanted[cols[j]] = true;
    L.wanted = wanted;
    if (want_classes) {
        L.class_col = cols[n_cols - 1];
        if (o->header == NB_CSV_SKLEARN)
            L.n_known = n_names;
        else
            L.cl = &cl;
        if (o->header == NB_CSV_SKLEARN && n_names == 0) {
            nb_error(NB_ERR_FORMAT, "csv: %s: line %lld names no classes", path, (long long)first_line);
            goto out;
        }
    }
    /* strtod reads the decimal point of the C locale, whatever the program's */
    cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    prev = cloc ? uselocale(cloc) : (locale_t)0;
    if (!rows(&c, rs, &L, cols, n_cols, &vs))
        goto out;
    if (vs.rows == 0) {
        no_data_rows(path, o, first_line);
        goto out;
    }
    if (L.sklearn_rows >= 0 && vs.rows != L.sklearn_rows) {
        nb_error(NB_ERR_FORMAT, "csv: %s: line %lld says %lld rows but the file has %lld", path,
                 (long long)first_line, (long long)L.sklearn_rows, (long long)vs.rows);
        goto out;
    }
    if (want_classes) {
        t->n_classes = L.cl ? cl.n : n_names;
        t->classes = L.cl ? nb_csv_classes_sort(&cl, vs.v + n_cols - 1, vs.rows, n_cols)
                          : nb_csv_names_block(path, (const char *const *)fields + 2, n_names);
        if (!t->classes)
            goto out;
    }
    if (want_names && !(t->names = chosen_names(path, &L, cols, n_cols)))
        goto out;
    t->v = vs.v;
    t->rows = vs.rows;
    t->n_cols = n_cols;
    vs.v = NULL;
    ok = true;
out:
    if (cloc) {
        uselocale(prev);
        freelocale(cloc);
    }
    if (rs)
        nb_records_free(rs);
    free(rs);
    nb_reader_close(&r);
    nb_csv_classes_free(&cl);
    free(vs.v);
    free(wanted);
    free(cols);
    free(fields);
    free(head);
    if (!ok)
        nb_csv_table_free(t);
    return ok ? 0 : -1;
}

nb_csv_opts nb_csv_defaults(void) { return NB_CSV_OPTS(); }

nb_tensor *nb_load_csv(const char *path, nb_csv_opts o, char ***names_out)
{
    if (names_out)
        *names_out = NULL;
    nb_csv_table t;
    if (nb_csv_read(path, &o, false, names_out != NULL, false, &t) != 0)
        return NULL;
    nb_tensor *x = nb_tensor_alloc("csv", 2, (int64_t[]){t.rows, t.n_cols}, true);
    if (x) {
        memcpy(x->data, t.v, (size_t)x->numel * sizeof(nb_real));
        if (names_out) {
            *names_out = t.names;
            t.names = NULL;
        }
    }
    nb_csv_table_free(&t);
    return x;
}
