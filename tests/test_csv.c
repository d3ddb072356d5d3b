/* tests/test_csv.c — CSV: all columns, columns by name and by index, quoting,
 * CRLF, blank lines and spaces, skipped lines (sklearn's Boston file), the C
 * locale, and the errors: non-numeric cell, ragged row, unknown column, empty
 * file, unterminated quote. */
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
