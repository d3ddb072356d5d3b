/* print.c — torch-like printing: nested brackets, one number format for the
 * whole tensor, "..." summaries past 1000 elements, the shape at the end. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "core.h"

enum { SUMMARY_AT = 1000, EDGE = 3 };

typedef struct fmt {
    const char *spec; /* printf format of one number */
    int width;
    bool integral;
    bool summarize;
} fmt;

static bool shown(const fmt *f, int64_t i, int64_t n)
{
    return !f->summarize || n <= 2 * EDGE || i < EDGE || i >= n - EDGE;
}

static int number(char *buf, size_t size, const fmt *f, nb_real v)
{
    if (f->integral && isfinite(v))
        return snprintf(buf, size, "%.0f.", (double)v);
    return snprintf(buf, size, f->spec, (double)v);
}

static void choose_format(const nb_tensor *t, fmt *f)
{
    double maxabs = 0, minabs = INFINITY;
    bool integral = true;
    for (int64_t i = 0; i < t->numel; i++) {
        double v = t->data[i];
        if (!isfinite(v))
            continue;
        double a = fabs(v);
        maxabs = a > maxabs ? a : maxabs;
        if (a > 0 && a < minabs)
            minabs = a;
        if (v != floor(v))
            integral = false;
    }
    f->summarize = t->numel > SUMMARY_AT;
    f->integral = integral && maxabs < 1e8;
    f->spec = (maxabs >= 1e8 || (minabs < 1e-4 && !integral)) ? "%.4e" : "%.4f";
    f->width = 0;
    char buf[64];
    for (int64_t i = 0; i < t->numel; i++) {
        int w = number(buf, sizeof buf, f, t->data[i]);
        f->width = w > f->width ? w : f->width;
    }
}

static void print_dim(FILE *out, const nb_tensor *t, const fmt *f, int dim, int64_t offset, int indent)
{
    char buf[64];
    if (t->ndim == 0) {
        number(buf, sizeof buf, f, t->data[0]);
        fputs(buf, out);
        return;
    }
    int64_t n = t->shape[dim], stride = 1;
    for (int d = dim + 1; d < t->ndim; d++)
        stride *= t->shape[d];
    fputc('[', out);
    for (int64_t i = 0; i < n; i++) {
        if (!shown(f, i, n)) {
            if (i == EDGE)
                fputs(dim == t->ndim - 1 ? "..., " : "...,\n", out);
            if (i == EDGE && dim < t->ndim - 1)
                fprintf(out, "%*s", indent + 1, "");
            continue;
        }
        if (dim == t->ndim - 1) {
            number(buf, sizeof buf, f, t->data[offset + i]);
            fprintf(out, "%*s", f->width, buf);
        } else {
            print_dim(out, t, f, dim + 1, offset + i * stride, indent + 1);
        }
        if (i + 1 < n) {
            if (dim == t->ndim - 1) {
                fputs(", ", out);
            } else {
                fputc(',', out);
                for (int k = dim + 1; k < t->ndim; k++)
                    fputc('\n', out);
                fprintf(out, "%*s", indent + 1, "");
            }
        }
    }
    fputc(']', out);
}

void nb_fprint(FILE *out, const nb_tensor *t)
{
    if (!out) {
        nb_error(NB_ERR_NULL, "fprint: the stream is NULL (tensor of shape %s)", nb_shape_fmt(t));
        return;
    }
    if (!t) {
        fputs("tensor(NULL)\n", out);
        return;
    }
    fmt f;
    choose_format(t, &f);
    fputs("tensor(", out);
    print_dim(out, t, &f, 0, 0, (int)strlen("tensor("));
    fprintf(out, ", shape=%s", nb_shape_fmt(t));
    if (t->requires_grad)
        fputs(", requires_grad=true", out);
    fputs(")\n", out);
}

void nb_print(const nb_tensor *t) { nb_fprint(stdout, t); }
