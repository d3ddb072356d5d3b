/* io/csv.h — what the files of the CSV loader share: the reader of a file
 * into a table of the chosen columns (csv.c), the coding of a class column
 * into sorted class indices (csv_classes.c), and name blocks. */
#ifndef NB_IO_CSV_H
#define NB_IO_CSV_H

#include "io/records.h"

/* The chosen columns of every row, read by nb_csv_read. */
typedef struct nb_csv_table {
    nb_real *v; /* rows x n_cols values, row-major (malloc) */
    int64_t rows;
    int n_cols;
    char **names;   /* the chosen columns' names (a block from nb_csv_names_block), if asked */
    char **classes; /* the class column's classes in code order (a block), if asked */
    int64_t n_classes;
} nb_csv_table;

/* Read path with o's header mode, delimiter and skipped lines. Without
 * `dataset`, the columns are o's columns (or all); with it, they are o's
 * columns (or every column but the target) followed by the target column
 * (o->target or o->target_index). With `classes`, the target's cells are
 * class names coded as sorted class indices (with NB_CSV_SKLEARN: integers
 * below the number of classes the first line names). 0, or -1 with an error
 * recorded and *t empty. Free t with nb_csv_table_free. */
int nb_csv_read(const char *path, const nb_csv_opts *o, bool dataset, bool names, bool classes,
                nb_csv_table *t);
void nb_csv_table_free(nb_csv_table *t);

/* The distinct texts of a class column, coded in order of first appearance. */
typedef struct nb_csv_classes {
    const char *path; /* for messages */
    char **names;     /* [n] copies, by code */
    int64_t n;
    int64_t *table; /* open addressing: code + 1, or 0 for an empty slot */
    int64_t table_cap;
} nb_csv_classes;

/* The code of text (a new one if it is new), or -1 with an error recorded. */
int64_t nb_csv_class_code(nb_csv_classes *cl, const char *text);
/* Renumber the codes at codes[0], codes[stride], ... codes[(n-1) stride] in
 * sorted order of their names (numeric when all are numbers, else strcmp)
 * and return the sorted names as a block; NULL with an error (codes unchanged). */
char **nb_csv_classes_sort(nb_csv_classes *cl, nb_real *codes, int64_t n, int64_t stride);
void nb_csv_classes_free(nb_csv_classes *cl);

/* names[0..n) copied into one allocation, NULL-terminated (free it once). */
char **nb_csv_names_block(const char *path, const char *const *names, int64_t n);

#endif
