/* tests/test_plot.c — the SVG plot writer: parse the file back and check the
 * polylines, tick labels, legend, escaping, log axis, well-formedness, that
 * no temporary is left behind, and the errors. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "common.h"
#include "nabla/plot.h"

TestSuite(plot, .init = quiet);

static char dir[64];
static char path[128];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/nb_plot_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/fig.svg", dir);
}

static void remove_dir(void)
{
    unlink(path);
    rmdir(dir);
}

static char *slurp(const char *p)
{
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f, "cannot read %s", p);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

/* The texts of <text class="CLS" ...>TEXT</text>, joined by '|'. */
static void texts(const char *s, const char *cls, char *out, size_t size)
{
    char key[64];
    snprintf(key, sizeof key, "<text class=\"%s\"", cls);
    out[0] = '\0';
    for (const char *p = strstr(s, key); p; p = strstr(p + 1, key)) {
        const char *b = strchr(p, '>') + 1, *e = strstr(b, "</text>");
        size_t len = strlen(out);
        snprintf(out + len, size - len, "%s%.*s", len ? "|" : "", (int)(e - b), b);
    }
}

/* Tags balance: every <x ...> is closed by </x> in order, or is <x .../>. */
static bool balanced(const char *s)
{
    char stack[64][32];
    int depth = 0;
    for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
        if (p[1] == '?')
            continue;
        const char *end = strchr(p, '>');
        if (!end)
            return false;
        bool closing = p[1] == '/', selfclose = end[-1] == '/';
        const char *name = p + 1 + closing;
        size_t len = strcspn(name, " />");
        if (closing) {
            if (depth == 0 || strlen(stack[depth - 1]) != len || strncmp(stack[depth - 1], name, len))
                return false;
            depth--;
        } else if (!selfclose) {
            if (depth == 64 || len >= 32)
                return false;
            snprintf(stack[depth++], 32, "%.*s", (int)len, name);
        }
    }
    return depth == 0;
}

Test(plot, lines_ticks_legend_and_balance, .fini = remove_dir)
{
    make_dir();
    nb_plot *p = nb_plot_new(NB_PLOT_OPTS(.title = "sine & co", .xlabel = "x", .ylabel = "y"));
    cr_assert_not_null(p);
    double x[50], y[50], z[50];
    for (int i = 0; i < 50; i++) {
        x[i] = 10.0 * i / 49;
        y[i] = sin(x[i]);
        z[i] = i == 20 ? NAN : cos(x[i]); /* a hole: two polylines */
    }
    cr_assert_eq(nb_plot_add(p, x, y, 50, NB_SERIES_OPTS(.label = "sin")), 0);
    cr_assert_eq(nb_plot_add(p, x, z, 50,
                             NB_SERIES_OPTS(.label = "a<b", .style = NB_SERIES_DASHED, .color = "#123456")),
                 0);
    cr_assert_eq(nb_plot_add(p, x, y, 10, NB_SERIES_OPTS(.style = NB_SERIES_POINTS)), 0);
    cr_assert_eq(nb_plot_save(p, path), 0, "%s", nb_last_error_message());
    nb_plot_free(p);
    char *s = slurp(path);
    cr_assert(balanced(s), "unbalanced tags");
    cr_assert_eq(count(s, "<polyline"), 3);
    /* the first polyline holds the 50 points of sin: 49 spaces between pairs */
    const char *pts = strstr(strstr(s, "<polyline"), "points=\"") + 8;
    int pairs = 1;
    for (const char *c = pts; *c != '"'; c++)
        pairs += *c == ' ';
    cr_assert_eq(pairs, 50);
    cr_assert_eq(count(s, "class=\"point\""), 10);
    cr_assert_eq(count(s, "stroke=\"#123456\""), 3, "two polylines and the legend sample");
    char buf[512];
    texts(s, "tick-x", buf, sizeof buf);
    cr_assert_str_eq(buf, "0|2|4|6|8|10");
    texts(s, "tick-y", buf, sizeof buf);
    cr_assert_str_eq(buf, "-1.0|-0.5|0.0|0.5|1.0");
    texts(s, "legend-label", buf, sizeof buf);
    cr_assert_str_eq(buf, "sin|a&lt;b");
    texts(s, "title", buf, sizeof buf);
    cr_assert_str_eq(buf, "sine &amp; co");
    free(s);
    /* no temporary left next to the file */
    DIR *d = opendir(dir);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));)
        files += e->d_name[0] != '.';
    closedir(d);
    cr_assert_eq(files, 1);
}

Test(plot, log_axis_and_fixed_ranges, .fini = remove_dir)
{
    make_dir();
    nb_plot *p = nb_plot_new(NB_PLOT_OPTS(.log_y = true, .legend = NB_LEGEND_NONE));
    double y[5] = {100, 10, 1, 0.1, 0.01}, bad[3] = {1, -1, 2};
    cr_assert_eq(nb_plot_add(p, NULL, y, 5, NB_SERIES_OPTS()), 0);
    cr_assert_eq(nb_plot_add(p, NULL, bad, 3, NB_SERIES_OPTS()), 0); /* -1 has no log: skipped, line split */
    cr_assert_eq(nb_plot_save(p, path), 0);
    char *s = slurp(path), buf[512];
    texts(s, "tick-y", buf, sizeof buf);
    cr_assert_str_eq(buf, "0.01|0.1|1|10|100");
    texts(s, "tick-x", buf, sizeof buf);
    cr_assert_str_eq(buf, "0|1|2|3|4"); /* 4/6 per tick rounds up to 1 */
    cr_assert_eq(count(s, "<polyline"), 3);
    free(s);
    cr_assert_eq(nb_plot_xrange(p, -6, 6), 0);
    cr_assert_eq(nb_plot_yrange(p, 0.1, 10), 0);
    cr_assert_eq(nb_plot_save(p, path), 0);
    s = slurp(path);
    texts(s, "tick-x", buf, sizeof buf);
    cr_assert_str_eq(buf, "-6|-4|-2|0|2|4|6");
    texts(s, "tick-y", buf, sizeof buf);
    cr_assert_str_eq(buf, "0.1|0.2|0.5|1|2|5|10");
    cr_assert(strstr(s, "clip-path=\"url(#area)\""));
    cr_assert(balanced(s));
    free(s);
    nb_plot_free(p);
}

Test(plot, best_legend_corner_avoids_the_data, .fini = remove_dir)
{
    make_dir();
    nb_plot *p = nb_plot_new(NB_PLOT_OPTS(.legend = NB_LEGEND_BEST));
    double y[101];
    for (int i = 0; i <= 100; i++)
        y[i] = i; /* the diagonal: bottom-left and top-right are taken */
    cr_assert_eq(nb_plot_add(p, NULL, y, 101, NB_SERIES_OPTS(.label = "y = x")), 0);
    cr_assert_eq(nb_plot_save(p, path), 0);
    nb_plot_free(p);
    char *s = slurp(path);
    /* top-left: 8 px inside the plot area, whose corner is (72, 44) */
    cr_assert(strstr(s, "<g class=\"legend\">\n<rect x=\"80.0\" y=\"52.0\""), "%s",
              strstr(s, "<g class=\"legend\">"));
    free(s);
}

Test(plot, errors)
{
    nb_plot *p = nb_plot_new(NB_PLOT_OPTS());
    double y[2] = {1, 2};
    cr_assert_eq(nb_plot_add(p, NULL, y, 2, NB_SERIES_OPTS()), 0);
    cr_assert_eq(nb_plot_save(p, "/nonexistent-dir/fig.svg"), -1);
    assert_error(NB_ERR_IO, "/nonexistent-dir/fig.svg");
    nb_clear_error();
    cr_assert_eq(nb_plot_xrange(p, 1, 0), -1);
    assert_error(NB_ERR_ARG, "plot_xrange: [1, 0] is not a finite range with lo < hi");
    nb_clear_error();
    cr_assert_eq(nb_plot_add(p, NULL, NULL, 3, NB_SERIES_OPTS()), -1);
    assert_error(NB_ERR_NULL, "plot_add: y is NULL for 3 points");
    nb_clear_error();
    cr_assert_eq(nb_plot_add(p, NULL, y, 2, NB_SERIES_OPTS(.color = "red\"/><script")), -1);
    assert_error(NB_ERR_ARG, "plot_add: colour");
    nb_clear_error();
    nb_plot_free(p);
    p = nb_plot_new(NB_PLOT_OPTS(.log_y = true));
    cr_assert_eq(nb_plot_yrange(p, 0, 1), -1);
    assert_error(NB_ERR_ARG, "needs lo > 0");
    nb_clear_error();
    nb_plot_free(p);
    cr_assert_null(nb_plot_new(NB_PLOT_OPTS(.width = 10)));
    assert_error(NB_ERR_ARG, "plot_new: size 10x420");
}
