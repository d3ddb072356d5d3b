/* tests/test_csv.c — CSV: all columns, columns by name and by index, quoting,
 * CRLF, blank lines and spaces, skipped lines (sklearn's Boston file), the C
 * locale, text columns left unparsed, files without a header, datasets with
 * class columns (pandas' codes) and scikit-learn's own files (tests/data),
 * and the errors: non-numeric cell, ragged row, unknown column, empty file,
 * unterminated quote, scikit-learn's counts. */
#include <locale.h>
#include "common.h"
#include "files.h"
#ifdef NABLA_HAVE_ZLIB
#include <zlib.h>
#endif

static void setup(void) { quiet(), tmp_make(); }
static void teardown(void) { tmp_clean(), end_step(); }
TestSuite(csv, .init = setup, .fini = teardown);

Test(csv, all_columns_and_their_names)
{
    const char *path = write_text("a.csv", "a,b,c\n1,2,3\n4.5,-5e-1,6\n");
    char **names;
    nb_tensor *t = nb_load_csv(path, NB_CSV_OPTS(), &names);
    assert_shape(t, 2, (int64_t[]){2, 3});
    assert_close_array(t->data, (double[]){1, 2, 3, 4.5, -0.5, 6}, 6, 0);
    cr_assert_str_eq(names[0], "a");
    cr_assert_str_eq(names[1], "b");
    cr_assert_str_eq(names[2], "c");
    cr_assert_null(names[3]);
    free(names);
    nb_free(t);
}

Test(csv, quotes_crlf_blank_lines_and_spaces)
{
    const char *path = write_text("q.csv", "\"x\", \"y,\"\"z\"\"\" ,  w \r\n"
                                           " 1 , \"2\" ,3\r\n"
                                           "\r\n"
                                           "4,5,6\r\n"
                                           "\r\n   \n\n");
    char **names;
    nb_tensor *t = nb_load_csv(path, NB_CSV_OPTS(), &names);
    cr_assert_not_null(t, "%s", nb_last_error_message());
    assert_shape(t, 2, (int64_t[]){2, 3});
    assert_close_array(t->data, (double[]){1, 2, 3, 4, 5, 6}, 6, 0);
    cr_assert_str_eq(names[0], "x");
    cr_assert_str_eq(names[1], "y,\"z\"");
    cr_assert_str_eq(names[2], "w");
    free(names);
    nb_free(t);
}

Test(csv, no_newline_at_the_end)
{
    nb_tensor *t = nb_load_csv(write_text("n.csv", "a;b\n1;2\n3;4"), NB_CSV_OPTS(.delimiter = ';'), NULL);
    assert_shape(t, 2, (int64_t[]){2, 2});
    assert_close_array(t->data, (double[]){1, 2, 3, 4}, 4, 0);
    nb_free(t);
}

Test(csv, columns_by_name_and_by_index)
{
    const char *path = write_text("c.csv", "a,b,c\n1,2,3\n4,5,6\n");
    char **names;
    nb_tensor *t =
        nb_load_csv(path, NB_CSV_OPTS(.columns = (const char *[]){"c", "a"}, .n_columns = 2), &names);
    assert_shape(t, 2, (int64_t[]){2, 2});
    assert_close_array(t->data, (double[]){3, 1, 6, 4}, 4, 0);
    cr_assert_str_eq(names[0], "c");
    cr_assert_str_eq(names[1], "a");
    cr_assert_null(names[2]);
    free(names);
    nb_free(t);
    t = nb_load_csv(path, NB_CSV_OPTS(.column_indices = (const int[]){1}, .n_columns = 1), NULL);
    assert_shape(t, 2, (int64_t[]){2, 1});
    assert_close_array(t->data, (double[]){2, 5}, 2, 0);
    nb_free(t);
}

Test(csv, boston_layout_with_a_line_before_the_header)
{
    const char *path = write_text("boston.csv", "3,2\n"
                                                "CRIM,ZN,MEDV\n"
                                                "0.00632,18,24\n"
                                                "0.02731,0,21.6\n"
                                                "0.02729,0,34.7\n");
    nb_tensor *x = nb_load_csv(
        path, NB_CSV_OPTS(.skip_rows = 1, .columns = (const char *[]){"CRIM", "ZN"}, .n_columns = 2), NULL);
    nb_tensor *y = nb_load_csv(
        path, NB_CSV_OPTS(.skip_rows = 1, .columns = (const char *[]){"MEDV"}, .n_columns = 1), NULL);
    assert_shape(x, 2, (int64_t[]){3, 2});
    assert_shape(y, 2, (int64_t[]){3, 1});
    assert_close_array(x->data, (double[]){0.00632, 18, 0.02731, 0, 0.02729, 0}, 6, TOL);
    assert_close_array(y->data, (double[]){24, 21.6, 34.7}, 3, TOL);
    nb_free(x), nb_free(y);
    /* without skip_rows the first line is the header and the real header is not a number */
    cr_assert_null(nb_load_csv(path, NB_CSV_OPTS(), NULL));
    assert_error(NB_ERR_FORMAT, "line 2, column 1 (\"3\"): \"CRIM\" is not a number");
}

Test(csv, numbers_in_the_c_locale_whatever_the_program_locale)
{
    const char *path = write_text("l.csv", "a,b\n1.5,nan\n-inf,2.25\n");
    char *saved = strdup(setlocale(LC_NUMERIC, NULL));
    setlocale(LC_NUMERIC, "de_DE.UTF-8"); /* decimal comma, where installed */
    nb_tensor *t = nb_load_csv(path, NB_CSV_OPTS(), NULL);
    setlocale(LC_NUMERIC, saved);
    free(saved);
    cr_assert_not_null(t, "%s", nb_last_error_message());
    cr_assert_eq(t->data[0], 1.5);
    cr_assert(isnan(t->data[1]));
    cr_assert(isinf(t->data[2]) && t->data[2] < 0);
    cr_assert_eq(t->data[3], 2.25);
    nb_free(t);
}

Test(csv, non_numeric_and_empty_cells)
{
    const char *path = write_text("bad.csv", "a,b,RM\n1,2,3\n4,5,abc\n");
    cr_assert_null(nb_load_csv(path, NB_CSV_OPTS(), NULL));
    assert_error(NB_ERR_FORMAT, "bad.csv: line 3, column 3 (\"RM\"): \"abc\" is not a number");
    nb_clear_error();
    cr_assert_null(nb_load_csv(write_text("e.csv", "a,b\n1,\n"), NB_CSV_OPTS(), NULL));
    assert_error(NB_ERR_FORMAT, "line 2, column 2 (\"b\"): \"\" is not a number");
    nb_clear_error();
    cr_assert_null(nb_load_csv(write_text("p.csv", "a\n1.5x\n"), NB_CSV_OPTS(), NULL));
    assert_error(NB_ERR_FORMAT, "\"1.5x\" is not a number");
}

Test(csv, ragged_rows)
{
    cr_assert_null(nb_load_csv(write_text("r.csv", "a,b,c\n1,2,3\n4,5\n"), NB_CSV_OPTS(), NULL));
    assert_error(NB_ERR_FORMAT, "r.csv: line 3 has 2 fields but the header has 3");
    nb_clear_error();
    cr_assert_null(nb_load_csv(write_text("r2.csv", "a,b\n1,2,3\n"), NB_CSV_OPTS(), NULL));
    assert_error(NB_ERR_FORMAT, "line 2 has 3 fields but the header has 2");
}

Test(csv, unknown_column_lists_the_columns)
{
    const char *path = write_text("u.csv", "CRIM,ZN,MEDV\n1,2,3\n");
    cr_assert_null(
        nb_load_csv(path, NB_CSV_OPTS(.columns = (const char *[]){"ZN", "PRICE"}, .n_columns = 2), NULL));
    assert_error(NB_ERR_ARG, "u.csv: no column named \"PRICE\"; the columns are \"CRIM\", \"ZN\", \"MEDV\"");
    nb_clear_error();
    cr_assert_null(nb_load_csv(path, NB_CSV_OPTS(.column_indices = (const int[]){3}, .n_columns = 1), NULL));
    assert_error(NB_ERR_ARG, "column index 3 is outside 0..2");
}

Test(csv, empty_file_header_only_and_open_quote)
{
    cr_assert_null(nb_load_csv(write_text("e.csv", ""), NB_CSV_OPTS(), NULL));
    assert_error(NB_ERR_FORMAT, "e.csv: no header row (the file is empty)");
    nb_clear_error();
    cr_assert_null(nb_load_csv(write_text("h.csv", "a,b\n\n"), NB_CSV_OPTS(), NULL));
    assert_error(NB_ERR_FORMAT, "no data rows after the header (line 1)");
    nb_clear_error();
    cr_assert_null(nb_load_csv(write_text("q.csv", "a,\"b\n1,2\n"), NB_CSV_OPTS(), NULL));
    assert_error(NB_ERR_FORMAT, "line 1, column 2: the quote opened here is never closed");
    nb_clear_error();
    cr_assert_null(nb_load_csv(tmp_path("absent.csv"), NB_CSV_OPTS(), NULL));
    assert_error(NB_ERR_IO, "absent.csv: cannot open");
}

/* Issue 10: the tensor is sized by the rows really present, not by the lines:
 * a 10,000-column header, one row and 3,000,000 blank lines is [1, 10000]. */
Test(csv, blank_lines_do_not_size_the_tensor)
{
    enum { COLS = 10000, BLANK = 3000000 };
    static char text[COLS * 8 + COLS * 2 + BLANK + 16];
    size_t k = 0;
    for (int j = 0; j < COLS; j++)
        k += (size_t)snprintf(text + k, sizeof text - k, j ? ",c%d" : "c%d", j);
    text[k++] = '\n';
    for (int j = 0; j < COLS; j++)
        k += (size_t)snprintf(text + k, sizeof text - k, j ? ",%d" : "%d", j % 10);
    char *p = text + k;
    memset(p, '\n', BLANK);
    p[BLANK] = '\0';
    const char *path = write_text("blank.csv", text);
    nb_tensor *t = nb_load_csv(path, NB_CSV_OPTS(), NULL);
    cr_assert_not_null(t, "%s", nb_last_error_message());
    assert_shape(t, 2, (int64_t[]){1, COLS});
    for (int j = 0; j < COLS; j++)
        cr_assert_eq(t->data[j], (nb_real)(j % 10));
    nb_free(t);
}

Test(csv, dev_zero_is_refused_as_not_text, .timeout = 20)
{
    cr_assert_null(nb_load_csv("/dev/zero", NB_CSV_OPTS(), NULL));
    assert_error(NB_ERR_FORMAT, "csv: /dev/zero: line 1: byte 0 is a NUL byte: not a text file");
}

Test(csv, pipe_is_streamed_and_quotes_span_lines)
{
    static const char text[] = "\"x\ny\",a\"b\n1,2\n\n3,4\n";
    pid_t pid;
    char **names;
    nb_tensor *t = nb_load_csv(fifo_feed("in.fifo", text, sizeof text - 1, &pid), NB_CSV_OPTS(), &names);
    fifo_done(pid);
    cr_assert_not_null(t, "%s", nb_last_error_message());
    assert_shape(t, 2, (int64_t[]){2, 2});
    assert_close_array(t->data, (double[]){1, 2, 3, 4}, 4, 0);
    cr_assert_str_eq(names[0], "x\ny");
    cr_assert_str_eq(names[1], "a\"b"); /* a quote inside an unquoted field is text */
    free(names);
    nb_free(t);
    /* line numbers count the newline inside the quoted name */
    cr_assert_null(nb_load_csv(write_text("l.csv", "\"x\ny\",z\n1,2\n3,q\n"), NB_CSV_OPTS(), NULL));
    assert_error(NB_ERR_FORMAT, "l.csv: line 4, column 2 (\"z\"): \"q\" is not a number");
}

#ifdef NABLA_HAVE_ZLIB
Test(csv, gzip_compressed)
{
    const char *path = tmp_path("z.csv.gz");
    gzFile gz = gzopen(path, "wb");
    cr_assert_not_null(gz);
    gzputs(gz, "a,b\n");
    for (int i = 0; i < 1000; i++)
        gzprintf(gz, "%d,%d.5\n", i, -i);
    gzclose(gz);
    nb_tensor *t = nb_load_csv(path, NB_CSV_OPTS(), NULL);
    assert_shape(t, 2, (int64_t[]){1000, 2});
    cr_assert_eq(t->data[2 * 999], 999);
    cr_assert_eq(t->data[2 * 999 + 1], -999.5);
    nb_free(t);
}
#endif

/* Issue 11: a text column that is not asked for is never parsed. */
Test(csv, text_columns_not_asked_for_are_skipped)
{
    const char *path = write_text("houses.csv", "name,rooms,date,price\n"
                                                "alpha,3,2024-01-05,100\n"
                                                "\"beta, the second\",4,,150.5\n");
    char **names;
    nb_tensor *t =
        nb_load_csv(path, NB_CSV_OPTS(.columns = (const char *[]){"rooms", "price"}, .n_columns = 2), &names);
    cr_assert_not_null(t, "%s", nb_last_error_message());
    assert_shape(t, 2, (int64_t[]){2, 2});
    assert_close_array(t->data, (double[]){3, 100, 4, 150.5}, 4, 0);
    cr_assert_str_eq(names[0], "rooms");
    cr_assert_str_eq(names[1], "price");
    free(names);
    nb_free(t);
    /* the rows are still split: a ragged one is an error, and a chosen text column too */
    cr_assert_null(nb_load_csv(write_text("r.csv", "name,rooms\nalpha,3\nbeta\n"),
                               NB_CSV_OPTS(.columns = (const char *[]){"rooms"}, .n_columns = 1), NULL));
    assert_error(NB_ERR_FORMAT, "r.csv: line 3 has 1 fields but the header has 2");
    nb_clear_error();
    cr_assert_null(
        nb_load_csv(path, NB_CSV_OPTS(.column_indices = (const int[]){3, 0}, .n_columns = 2), NULL));
    assert_error(NB_ERR_FORMAT, "houses.csv: line 2, column 1 (\"name\"): \"alpha\" is not a number");
}

Test(csv, no_header_row_columns_by_index)
{
    const char *path = write_text("nh.csv", "1,2,3\n\n4,5,6\n");
    char **names;
    nb_tensor *t = nb_load_csv(path, NB_CSV_OPTS(.header = false), &names);
    cr_assert_not_null(t, "%s", nb_last_error_message());
    assert_shape(t, 2, (int64_t[]){2, 3});
    assert_close_array(t->data, (double[]){1, 2, 3, 4, 5, 6}, 6, 0);
    cr_assert_str_eq(names[0], "0"); /* pandas' names for header=None */
    cr_assert_str_eq(names[2], "2");
    cr_assert_null(names[3]);
    free(names);
    nb_free(t);
    t = nb_load_csv(path, NB_CSV_OPTS(.header = false, .column_indices = (const int[]){2, 0}, .n_columns = 2),
                    &names);
    assert_close_array(t->data, (double[]){3, 1, 6, 4}, 4, 0);
    cr_assert_str_eq(names[0], "2");
    cr_assert_str_eq(names[1], "0");
    free(names);
    nb_free(t);
    cr_assert_null(nb_load_csv(
        path, NB_CSV_OPTS(.header = false, .columns = (const char *[]){"a"}, .n_columns = 1), NULL));
    assert_error(NB_ERR_ARG, "nh.csv: column \"a\" asked by name, but the file has no header row (.header = "
                             "false): choose columns by index (column_indices, target_index)");
    nb_clear_error();
    cr_assert_null(nb_load_csv(write_text("nr.csv", "1,2\n3\n"), NB_CSV_OPTS(.header = false), NULL));
    assert_error(NB_ERR_FORMAT, "nr.csv: line 2 has 1 fields but line 1 has 2");
    nb_clear_error();
    cr_assert_null(nb_load_csv(write_text("nx.csv", "1,2\n3,x\n"), NB_CSV_OPTS(.header = false), NULL));
    assert_error(NB_ERR_FORMAT, "nx.csv: line 2, column 2: \"x\" is not a number");
    nb_clear_error();
    cr_assert_null(nb_load_csv(write_text("ne.csv", "\n\n"), NB_CSV_OPTS(.header = false), NULL));
    assert_error(NB_ERR_FORMAT, "ne.csv: no data rows");
    nb_clear_error();
    cr_assert_null(nb_load_csv(path, NB_CSV_OPTS(.header = 3), NULL));
    assert_error(NB_ERR_ARG, "csv: header 3 is none of false, true (NB_CSV_HEADER) and NB_CSV_SKLEARN");
}

/* A text class column: codes in sorted order (pandas' astype("category").cat.codes). */
Test(csv, dataset_with_a_class_column_codes_sorted_classes)
{
    const char *path = write_text("sp.csv", "species,len,width\n"
                                            "virginica,6.3,3.3\n"
                                            "setosa,5.1,3.5\n"
                                            "versicolor,7.0,3.2\n"
                                            "setosa,4.9,3.0\n");
    char **classes;
    int64_t k;
    nb_dataset *ds = nb_load_csv_dataset(path, NB_CSV_OPTS(.target = "species"), &classes, &k);
    cr_assert_not_null(ds, "%s", nb_last_error_message());
    assert_shape(ds->x, 2, (int64_t[]){4, 2});
    assert_shape(ds->y, 1, (int64_t[]){4});
    assert_close_array(ds->x->data, (double[]){6.3, 3.3, 5.1, 3.5, 7.0, 3.2, 4.9, 3.0}, 8, TOL);
    assert_close_array(ds->y->data, (double[]){2, 0, 1, 0}, 4, 0);
    cr_assert_eq(k, 3);
    cr_assert_str_eq(classes[0], "setosa");
    cr_assert_str_eq(classes[1], "versicolor");
    cr_assert_str_eq(classes[2], "virginica");
    cr_assert_null(classes[3]);
    free(classes);
    nb_dataset_free(ds);
    /* chosen features, the target by index; numbers as classes sort numerically */
    path = write_text("num.csv", "a,b,label\n1,2,10\n3,4,9\n5,6,10\n7,8,2\n");
    ds = nb_load_csv_dataset(path, NB_CSV_OPTS(.columns = (const char *[]){"b"}, .n_columns = 1), &classes,
                             NULL);
    cr_assert_not_null(ds, "%s", nb_last_error_message());
    assert_shape(ds->x, 2, (int64_t[]){4, 1});
    assert_close_array(ds->x->data, (double[]){2, 4, 6, 8}, 4, 0);
    assert_close_array(ds->y->data, (double[]){2, 1, 2, 0}, 4, 0);
    cr_assert_str_eq(classes[0], "2");
    cr_assert_str_eq(classes[1], "9");
    cr_assert_str_eq(classes[2], "10");
    free(classes);
    nb_dataset_free(ds);
    /* without classes: a regression target [rows, 1], the last column by default */
    ds = nb_load_csv_dataset(path, NB_CSV_OPTS(.target_index = 0), NULL, NULL);
    assert_shape(ds->x, 2, (int64_t[]){4, 2});
    assert_shape(ds->y, 2, (int64_t[]){4, 1});
    assert_close_array(ds->x->data, (double[]){2, 10, 4, 9, 6, 10, 8, 2}, 8, 0);
    assert_close_array(ds->y->data, (double[]){1, 3, 5, 7}, 4, 0);
    nb_dataset_free(ds);
    /* errors */
    cr_assert_null(nb_load_csv_dataset(path, NB_CSV_OPTS(.target = "price"), NULL, NULL));
    assert_error(NB_ERR_ARG, "num.csv: no column named \"price\"; the columns are \"a\", \"b\", \"label\"");
    nb_clear_error();
    cr_assert_null(nb_load_csv_dataset(path, NB_CSV_OPTS(.target_index = 3), NULL, NULL));
    assert_error(NB_ERR_ARG, "num.csv: target_index 3 is outside -n..-1 and 0..2 (the rows have 3 columns)");
    nb_clear_error();
    cr_assert_null(
        nb_load_csv_dataset(write_text("ec.csv", "a,c\n1,x\n2,\n"), NB_CSV_OPTS(), &classes, NULL));
    assert_error(NB_ERR_FORMAT, "ec.csv: line 3, column 2 (\"c\"): the class is empty");
    cr_assert_null(classes);
}

static const char *sklearn_file(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", NB_TEST_DATA, name);
    return path;
}

/* scikit-learn's iris.csv (tests/data): one call gives x, y and the class names. */
Test(csv, sklearn_iris_in_one_call)
{
    char **classes;
    int64_t k;
    nb_dataset *ds =
        nb_load_csv_dataset(sklearn_file("iris.csv"), NB_CSV_OPTS(.header = NB_CSV_SKLEARN), &classes, &k);
    cr_assert_not_null(ds, "%s", nb_last_error_message());
    assert_shape(ds->x, 2, (int64_t[]){150, 4});
    assert_shape(ds->y, 1, (int64_t[]){150});
    /* the first row "5.1,3.5,1.4,0.2,0" and the last "5.9,3.0,5.1,1.8,2" */
    assert_close_array(ds->x->data, (double[]){5.1, 3.5, 1.4, 0.2}, 4, TOL);
    assert_close_array(ds->x->data + 149 * 4, (double[]){5.9, 3.0, 5.1, 1.8}, 4, TOL);
    int counts[3] = {0};
    for (int i = 0; i < 150; i++)
        counts[(int)ds->y->data[i]]++;
    cr_assert(counts[0] == 50 && counts[1] == 50 && counts[2] == 50);
    cr_assert_eq(k, 3);
    cr_assert_str_eq(classes[0], "setosa");
    cr_assert_str_eq(classes[1], "versicolor");
    cr_assert_str_eq(classes[2], "virginica");
    cr_assert_null(classes[3]);
    free(classes);
    nb_dataset_free(ds);
    /* as a plain table: [150, 5], the class index in the last column */
    nb_tensor *t = nb_load_csv(sklearn_file("iris.csv"), NB_CSV_OPTS(.header = NB_CSV_SKLEARN), NULL);
    assert_shape(t, 2, (int64_t[]){150, 5});
    cr_assert_eq(t->data[149 * 5 + 4], 2);
    nb_free(t);
}

Test(csv, sklearn_first_line_is_checked)
{
    const nb_csv_opts o = NB_CSV_OPTS(.header = NB_CSV_SKLEARN);
    cr_assert_null(nb_load_csv_dataset(write_text("n.csv", "3,2,a,b\n1,2,0\n3,4,1\n"), o, NULL, NULL));
    assert_error(NB_ERR_FORMAT, "n.csv: line 1 says 3 rows but the file has 2");
    nb_clear_error();
    cr_assert_null(nb_load_csv_dataset(write_text("f.csv", "2,2,a,b\n1,2,0\n3,4\n"), o, NULL, NULL));
    assert_error(NB_ERR_FORMAT, "f.csv: line 3 has 2 fields but line 1 says 2 features and a target");
    nb_clear_error();
    /* a first line that claims 255,555,555 features is checked against the first data row before
     * anything of that size is allocated (fuzz_csv: malloc of 1 GB from a 50-byte file) */
    cr_assert_null(nb_load_csv_dataset(
        write_text("w.csv", "3,255555555,setosa,versiolor\n5.1,0,6\n1.2,3.4,1\n"), o, NULL, NULL));
    assert_error(NB_ERR_FORMAT, "w.csv: line 2 has 3 fields but line 1 says 255555555 features and a target");
    nb_clear_error();
    cr_assert_null(nb_load_csv_dataset(write_text("e.csv", "3,255555555,setosa,ver,3.4,1\n"), o, NULL, NULL));
    assert_error(NB_ERR_FORMAT, "e.csv: no data rows after the first line (line 1)");
    nb_clear_error();
    char **classes;
    cr_assert_null(nb_load_csv_dataset(write_text("c.csv", "2,2,a,b\n1,2,0\n3,4,2\n"), o, &classes, NULL));
    assert_error(NB_ERR_FORMAT,
                 "c.csv: line 3, column 3: class \"2\" is not one of 0..1 (the first line names 2 "
                 "classes)");
    nb_clear_error();
    cr_assert_null(nb_load_csv_dataset(write_text("h.csv", "a,b,c\n1,2,0\n"), o, NULL, NULL));
    assert_error(NB_ERR_FORMAT, "h.csv: line 1: \"a,b\" is not scikit-learn's first line");
    nb_clear_error();
    /* boston's "506,13,,,": no class names, so no classes to ask for */
    cr_assert_null(nb_load_csv_dataset(write_text("b.csv", "1,1,,,\n5,6\n"), o, &classes, NULL));
    assert_error(NB_ERR_FORMAT, "b.csv: line 1 names no classes");
    nb_clear_error();
    nb_dataset *ds = nb_load_csv_dataset(write_text("b.csv", "1,1,,,\n5,6\n"), o, NULL, NULL);
    cr_assert_not_null(ds, "%s", nb_last_error_message());
    cr_assert_eq(ds->y->data[0], 6);
    nb_dataset_free(ds);
}

#ifdef NABLA_HAVE_ZLIB
/* scikit-learn's digits.csv.gz layout (gzip, no header, the digit last): its first 12 rows. */
Test(csv, sklearn_digits_gzip_without_header)
{
    char **classes;
    int64_t k;
    nb_dataset *ds =
        nb_load_csv_dataset(sklearn_file("digits_head.csv.gz"), NB_CSV_OPTS(.header = false), &classes, &k);
    cr_assert_not_null(ds, "%s", nb_last_error_message());
    assert_shape(ds->x, 2, (int64_t[]){12, 64});
    assert_shape(ds->y, 1, (int64_t[]){12});
    /* the digits 0..9, 0, 1: classes "0".."9" in numeric order, so the code is the digit */
    assert_close_array(ds->y->data, (double[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1}, 12, 0);
    cr_assert_eq(k, 10);
    cr_assert_str_eq(classes[9], "9");
    /* row 0 starts 0,0,5,13,9,1 */
    assert_close_array(ds->x->data, (double[]){0, 0, 5, 13, 9, 1}, 6, 0);
    free(classes);
    nb_dataset_free(ds);
}
#else
Test(csv, gzip_without_zlib_says_so)
{
    cr_assert_null(nb_load_csv(sklearn_file("digits_head.csv.gz"), NB_CSV_OPTS(.header = false), NULL));
    assert_error(NB_ERR_IO,
                 "digits_head.csv.gz: the file is gzip-compressed but nabla was built without zlib; "
                 "decompress it (gunzip)");
}
#endif
