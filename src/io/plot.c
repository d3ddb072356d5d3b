/* io/plot.c — the SVG plot writer of nabla/plot.h: axes with 1-2-5 ticks
 * (decades on a log axis), grid, zero lines, clipped series, legend, title and
 * labels; written atomically (io/atomic.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/atomic.h"
#include "nabla/plot.h"

enum { MAX_TICKS = 64, LEFT = 72, RIGHT = 24, TOP = 44, BOTTOM = 56 };

/* Tableau 10, matplotlib's default cycle */
static const char *const palette[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

typedef struct series {
    double *x, *y;
    int64_t n;
    char *label;
    char color[32];
    nb_series_style style;
    double width, radius;
} series;

struct nb_plot {
    int width, height;
    char *title, *xlabel, *ylabel;
    bool log_y;
    nb_legend_pos legend;
    series *s;
    int ns, cap;
    bool fixed[2];
    double lo[2], hi[2];
};

typedef struct axis {
    double lo, hi; /* in data units */
    bool log;
    double ticks[MAX_TICKS];
    int nt;
    int decimals; /* -1: %g labels */
} axis;

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

nb_plot_opts nb_plot_defaults(void) { return NB_PLOT_OPTS(); }
nb_series_opts nb_series_defaults(void) { return NB_SERIES_OPTS(); }

nb_plot *nb_plot_new(nb_plot_opts o)
{
    if (!nb_opts_made("plot_new", o.nb_tag, "plot"))
        return NULL;
    int w = o.width, h = o.height;
    if (w < LEFT + RIGHT + 40 || h < TOP + BOTTOM + 40 || w > 20000 || h > 20000)
        return nb_error(NB_ERR_ARG, "plot_new: size %dx%d is outside %dx%d..20000x20000", w, h,
                        LEFT + RIGHT + 40, TOP + BOTTOM + 40);
    if ((unsigned)o.legend > NB_LEGEND_BEST)
        return nb_error(NB_ERR_ARG, "plot_new: legend position %d is unknown", (int)o.legend);
    nb_plot *p = calloc(1, sizeof *p);
    if (!p)
        return nb_error(NB_ERR_MEMORY, "plot_new: out of memory");
    p->width = w;
    p->height = h;
    p->log_y = o.log_y;
    p->legend = o.legend;
    p->title = dup_or_null(o.title);
    p->xlabel = dup_or_null(o.xlabel);
    p->ylabel = dup_or_null(o.ylabel);
    if ((o.title && !p->title) || (o.xlabel && !p->xlabel) || (o.ylabel && !p->ylabel)) {
        nb_plot_free(p);
        return nb_error(NB_ERR_MEMORY, "plot_new: out of memory");
    }
    return p;
}

void nb_plot_free(nb_plot *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->ns; i++) {
        free(p->s[i].x);
        free(p->s[i].y);
        free(p->s[i].label);
    }
    free(p->s);
    free(p->title);
    free(p->xlabel);
    free(p->ylabel);
    free(p);
}

/* A colour goes into an attribute: allow what CSS colours use, nothing that
 * could end the attribute. */
static bool color_ok(const char *c)
{
    size_t n = strlen(c);
    if (n == 0 || n >= 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789#(),.% ", c[i]))
            return false;
    return true;
}

/* Adds a series whose values are read through get(arr, i). */
static int add(nb_plot *p, const void *x, const void *y, int64_t n, nb_series_opts o,
               double (*get)(const void *, int64_t))
{
    if (!p)
        return nb_error(NB_ERR_NULL, "plot_add: plot is NULL"), -1;
    if (!y && n > 0)
        return nb_error(NB_ERR_NULL, "plot_add: y is NULL for %lld points", (long long)n), -1;
    if (n < 0)
        return nb_error(NB_ERR_ARG, "plot_add: negative point count %lld", (long long)n), -1;
    if (!nb_opts_made("plot_add", o.nb_tag, "series"))
        return -1;
    if (!(o.width > 0 && o.width < 1000 && o.radius > 0 && o.radius < 1000))
        return nb_error(NB_ERR_ARG, "plot_add: width %g and radius %g must be in (0, 1000)", o.width,
                        o.radius),
               -1;
    if ((unsigned)o.style > NB_SERIES_LINE_POINTS)
        return nb_error(NB_ERR_ARG, "plot_add: series style %d is unknown", (int)o.style), -1;
    if (o.color && !color_ok(o.color))
        return nb_error(NB_ERR_ARG, "plot_add: colour \"%.40s\" is not a CSS colour name or #rrggbb",
                        o.color),
               -1;
    if (p->ns == p->cap) {
        int cap = p->cap ? 2 * p->cap : 8;
        series *s = realloc(p->s, (size_t)cap * sizeof *s);
        if (!s)
            return nb_error(NB_ERR_MEMORY, "plot_add: out of memory"), -1;
        p->s = s;
        p->cap = cap;
    }
    series s = {.n = n, .style = o.style};
    size_t bytes = (size_t)(n ? n : 1) * sizeof(double);
    s.x = malloc(bytes);
    s.y = malloc(bytes);
    s.label = dup_or_null(o.label);
    if (!s.x || !s.y || (o.label && !s.label)) {
        free(s.x), free(s.y), free(s.label);
        return nb_error(NB_ERR_MEMORY, "plot_add: out of memory for %lld points", (long long)n), -1;
    }
    for (int64_t i = 0; i < n; i++) {
        s.x[i] = x ? get(x, i) : (double)i;
        s.y[i] = get(y, i);
    }
    snprintf(s.color, sizeof s.color, "%s", o.color ? o.color : palette[p->ns % 10]);
    s.width = o.width;
    s.radius = o.radius;
    p->s[p->ns++] = s;
    return 0;
}

static double get_double(const void *a, int64_t i) { return ((const double *)a)[i]; }
static double get_real(const void *a, int64_t i) { return (double)((const nb_real *)a)[i]; }

int nb_plot_add(nb_plot *p, const double *x, const double *y, int64_t n, nb_series_opts opts)
{
    return add(p, x, y, n, opts, get_double);
}

int nb_plot_add_real(nb_plot *p, const nb_real *x, const nb_real *y, int64_t n, nb_series_opts opts)
{
    return add(p, x, y, n, opts, get_real);
}

static int set_range(nb_plot *p, int which, double lo, double hi)
{
    const char *name = which ? "plot_yrange" : "plot_xrange";
    if (!p)
        return nb_error(NB_ERR_NULL, "%s: plot is NULL", name), -1;
    if (!(lo < hi) || !isfinite(lo) || !isfinite(hi))
        return nb_error(NB_ERR_ARG, "%s: [%g, %g] is not a finite range with lo < hi", name, lo, hi), -1;
    if (which && p->log_y && lo <= 0)
        return nb_error(NB_ERR_ARG, "%s: [%g, %g] on a log axis needs lo > 0", name, lo, hi), -1;
    p->fixed[which] = true;
    p->lo[which] = lo;
    p->hi[which] = hi;
    return 0;
}

int nb_plot_xrange(nb_plot *p, double lo, double hi) { return set_range(p, 0, lo, hi); }
int nb_plot_yrange(nb_plot *p, double lo, double hi) { return set_range(p, 1, lo, hi); }

/* ---- axes ------------------------------------------------------------- */

static bool usable(const nb_plot *p, double x, double y)
{
    return isfinite(x) && isfinite(y) && (!p->log_y || y > 0);
}

/* The smallest of 1, 2, 5 x 10^k at least span / target. */
static double nice_step(double span, int target)
{
    double raw = span / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

static void linear_axis(axis *a, double lo, double hi, bool fixed, int target)
{
    if (!fixed && lo == hi) {
        double d = lo == 0 ? 1 : fabs(lo) * 0.1;
        lo -= d;
        hi += d;
    }
    double step = nice_step(hi - lo, target);
    if (!fixed) {
        lo = floor(lo / step) * step;
        hi = ceil(hi / step) * step;
    }
    a->lo = lo;
    a->hi = hi;
    a->nt = 0;
    for (double k = ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9 && a->nt < MAX_TICKS; k++)
        a->ticks[a->nt++] = fabs(k) < 0.5 ? 0 : k * step; /* never "-0" */
    double big = fabs(lo) > fabs(hi) ? fabs(lo) : fabs(hi);
    a->decimals = big >= 1e6 || step < 1e-5 ? -1 : (int)fmax(0, -floor(log10(step) + 1e-9));
}

static void log_axis(axis *a, double lo, double hi, bool fixed)
{
    int k0 = (int)floor(log10(lo) + 1e-9), k1 = (int)ceil(log10(hi) - 1e-9);
    if (k1 <= k0)
        k1 = k0 + 1;
    if (!fixed) {
        lo = pow(10, k0);
        hi = pow(10, k1);
    }
    a->lo = lo;
    a->hi = hi;
    a->nt = 0;
    bool minor = k1 - k0 <= 2; /* few decades: label 2 and 5 too */
    for (int k = k0; k <= k1; k++)
        for (int m = 1; m <= 5; m += m == 1 ? 1 : 3) {
            double v = m * pow(10, k);
            if ((m == 1 || minor) && v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9) && a->nt < MAX_TICKS)
                a->ticks[a->nt++] = v;
        }
    a->decimals = -1;
}

static void make_axes(const nb_plot *p, axis *ax, axis *ay)
{
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (int i = 0; i < p->ns; i++)
        for (int64_t j = 0; j < p->s[i].n; j++) {
            double x = p->s[i].x[j], y = p->s[i].y[j];
            if (!usable(p, x, y) || (p->fixed[0] && (x < p->lo[0] || x > p->hi[0])))
                continue; /* y fits the points inside a fixed x range */
            lo[0] = fmin(lo[0], x), hi[0] = fmax(hi[0], x);
            lo[1] = fmin(lo[1], y), hi[1] = fmax(hi[1], y);
        }
    for (int w = 0; w < 2; w++) {
        if (p->fixed[w]) {
            lo[w] = p->lo[w];
            hi[w] = p->hi[w];
        } else if (lo[w] > hi[w]) { /* no data */
            lo[w] = w && p->log_y ? 1 : 0;
            hi[w] = w && p->log_y ? 10 : 1;
        }
    }
    int pw = p->width - LEFT - RIGHT, ph = p->height - TOP - BOTTOM;
    linear_axis(ax, lo[0], hi[0], p->fixed[0], pw / 90 > 3 ? pw / 90 : 3);
    ax->log = false;
    if (p->log_y)
        log_axis(ay, lo[1], hi[1], p->fixed[1]);
    else
        linear_axis(ay, lo[1], hi[1], p->fixed[1], ph / 50 > 3 ? ph / 50 : 3);
    ay->log = p->log_y;
}

/* ---- writing ---------------------------------------------------------- */

typedef struct frame {
    double left, top, w, h;
    axis ax, ay;
} frame;

static double px(const frame *f, double x) { return f->left + (x - f->ax.lo) / (f->ax.hi - f->ax.lo) * f->w; }

static double py(const frame *f, double y)
{
    double t = f->ay.log ? log10(y) : y, lo = f->ay.log ? log10(f->ay.lo) : f->ay.lo,
           hi = f->ay.log ? log10(f->ay.hi) : f->ay.hi;
    return f->top + f->h - (t - lo) / (hi - lo) * f->h;
}

static void put_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        default: fputc(*s, out);
        }
    }
}

static void tick_label(char *buf, size_t size, const axis *a, double v)
{
    if (a->decimals < 0)
        snprintf(buf, size, "%g", v);
    else
        snprintf(buf, size, "%.*f", a->decimals, v);
}

static void write_series(FILE *out, const nb_plot *p, const frame *f, const series *s)
{
    bool line = s->style != NB_SERIES_POINTS, dots = s->style >= NB_SERIES_POINTS;
    if (line) {
        bool open = false;
        for (int64_t j = 0; j <= s->n; j++) {
            bool ok = j < s->n && usable(p, s->x[j], s->y[j]);
            if (ok && !open) {
                fprintf(out,
                        "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"%g\"%s "
                        "stroke-linejoin=\"round\" points=\"",
                        s->color, s->width, s->style == NB_SERIES_DASHED ? " stroke-dasharray=\"6,4\"" : "");
                open = true;
            } else if (ok) {
                fputc(' ', out);
            }
            if (ok)
                fprintf(out, "%.2f,%.2f", px(f, s->x[j]), py(f, s->y[j]));
            if (!ok && open) {
                fputs("\"/>\n", out);
                open = false;
            }
        }
    }
    if (dots)
        for (int64_t j = 0; j < s->n; j++)
            if (usable(p, s->x[j], s->y[j]))
                fprintf(out, "<circle class=\"point\" cx=\"%.2f\" cy=\"%.2f\" r=\"%g\" fill=\"%s\"/>\n",
                        px(f, s->x[j]), py(f, s->y[j]), s->radius, s->color);
}

/* The legend box at corner `pos`. */
static void legend_box(const frame *f, nb_legend_pos pos, double w, double h, double *x, double *y)
{
    bool right = pos == NB_LEGEND_TOP_RIGHT || pos == NB_LEGEND_BOTTOM_RIGHT;
    bool top = pos == NB_LEGEND_TOP_RIGHT || pos == NB_LEGEND_TOP_LEFT;
    *x = right ? f->left + f->w - w - 8 : f->left + 8;
    *y = top ? f->top + 8 : f->top + f->h - h - 8;
}

/* NB_LEGEND_BEST: the corner whose box covers the fewest points (first of
 * top-right, top-left, bottom-right, bottom-left on a tie). */
static nb_legend_pos best_corner(const nb_plot *p, const frame *f, double w, double h)
{
    nb_legend_pos best = NB_LEGEND_TOP_RIGHT;
    int64_t fewest = INT64_MAX;
    for (int c = NB_LEGEND_TOP_RIGHT; c <= NB_LEGEND_BOTTOM_LEFT; c++) {
        double x, y;
        legend_box(f, (nb_legend_pos)c, w, h, &x, &y);
        int64_t inside = 0;
        for (int i = 0; i < p->ns; i++)
            for (int64_t j = 0; j < p->s[i].n; j++) {
                if (!usable(p, p->s[i].x[j], p->s[i].y[j]))
                    continue;
                double u = px(f, p->s[i].x[j]), v = py(f, p->s[i].y[j]);
                inside += u >= x - 4 && u <= x + w + 4 && v >= y - 4 && v <= y + h + 4;
            }
        if (inside < fewest) {
            fewest = inside;
            best = (nb_legend_pos)c;
        }
    }
    return best;
}

static void write_legend(FILE *out, const nb_plot *p, const frame *f)
{
    int n = 0;
    size_t longest = 0;
    for (int i = 0; i < p->ns; i++)
        if (p->s[i].label) {
            n++;
            size_t len = strlen(p->s[i].label);
            longest = len > longest ? len : longest;
        }
    if (n == 0 || p->legend == NB_LEGEND_NONE)
        return;
    double w = 44 + 7.0 * (double)longest, h = 8 + 18.0 * n, x, y;
    legend_box(f, p->legend == NB_LEGEND_BEST ? best_corner(p, f, w, h) : p->legend, w, h, &x, &y);
    fprintf(out,
            "<g class=\"legend\">\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"white\" fill-opacity=\"0.85\" stroke=\"#bbbbbb\"/>\n",
            x, y, w, h);
    int row = 0;
    for (int i = 0; i < p->ns; i++) {
        const series *s = &p->s[i];
        if (!s->label)
            continue;
        double cy = y + 13 + 18.0 * row++;
        if (s->style != NB_SERIES_POINTS)
            fprintf(
                out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"%g\"%s/>\n",
                x + 8, cy, x + 32, cy, s->color, s->width,
                s->style == NB_SERIES_DASHED ? " stroke-dasharray=\"6,4\"" : "");
        if (s->style >= NB_SERIES_POINTS)
            fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", x + 20, cy, s->color);
        fprintf(out, "<text class=\"legend-label\" x=\"%.1f\" y=\"%.1f\">", x + 38, cy + 4);
        put_text(out, s->label);
        fputs("</text>\n", out);
    }
    fputs("</g>\n", out);
}

static void write_svg(FILE *out, const nb_plot *p)
{
    frame f = {.left = LEFT, .top = TOP, .w = p->width - LEFT - RIGHT, .h = p->height - TOP - BOTTOM};
    make_axes(p, &f.ax, &f.ay);
    fprintf(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
        "font-family=\"sans-serif\" font-size=\"12\">\n"
        "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
        "<defs><clipPath id=\"area\"><rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\"/></clipPath></defs>\n",
        p->width, p->height, p->width, p->height, f.left, f.top, f.w, f.h);
    char buf[64];
    fputs("<g class=\"grid\" stroke=\"#e5e5e5\" stroke-width=\"1\">\n", out);
    for (int i = 0; i < f.ax.nt; i++)
        fprintf(out, "<line x1=\"%.2f\" y1=\"%g\" x2=\"%.2f\" y2=\"%g\"/>\n", px(&f, f.ax.ticks[i]), f.top,
                px(&f, f.ax.ticks[i]), f.top + f.h);
    for (int i = 0; i < f.ay.nt; i++)
        fprintf(out, "<line x1=\"%g\" y1=\"%.2f\" x2=\"%g\" y2=\"%.2f\"/>\n", f.left, py(&f, f.ay.ticks[i]),
                f.left + f.w, py(&f, f.ay.ticks[i]));
    fputs("</g>\n<g class=\"zero\" stroke=\"#999999\" stroke-width=\"1\">\n", out);
    if (f.ax.lo < 0 && f.ax.hi > 0)
        fprintf(out, "<line x1=\"%.2f\" y1=\"%g\" x2=\"%.2f\" y2=\"%g\"/>\n", px(&f, 0), f.top, px(&f, 0),
                f.top + f.h);
    if (!f.ay.log && f.ay.lo < 0 && f.ay.hi > 0)
        fprintf(out, "<line x1=\"%g\" y1=\"%.2f\" x2=\"%g\" y2=\"%.2f\"/>\n", f.left, py(&f, 0), f.left + f.w,
                py(&f, 0));
    fputs("</g>\n<g clip-path=\"url(#area)\">\n", out);
    for (int i = 0; i < p->ns; i++)
        write_series(out, p, &f, &p->s[i]);
    fprintf(out,
            "</g>\n<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#333333\"/>\n",
            f.left, f.top, f.w, f.h);
    fputs("<g class=\"ticks\" fill=\"#333333\">\n", out);
    for (int i = 0; i < f.ax.nt; i++) {
        tick_label(buf, sizeof buf, &f.ax, f.ax.ticks[i]);
        fprintf(out, "<text class=\"tick-x\" x=\"%.2f\" y=\"%g\" text-anchor=\"middle\">%s</text>\n",
                px(&f, f.ax.ticks[i]), f.top + f.h + 18, buf);
    }
    for (int i = 0; i < f.ay.nt; i++) {
        tick_label(buf, sizeof buf, &f.ay, f.ay.ticks[i]);
        fprintf(out, "<text class=\"tick-y\" x=\"%g\" y=\"%.2f\" text-anchor=\"end\">%s</text>\n", f.left - 6,
                py(&f, f.ay.ticks[i]) + 4, buf);
    }
    fputs("</g>\n", out);
    if (p->title) {
        fprintf(out, "<text class=\"title\" x=\"%g\" y=\"26\" text-anchor=\"middle\" font-size=\"16\">",
                f.left + f.w / 2);
        put_text(out, p->title);
        fputs("</text>\n", out);
    }
    if (p->xlabel) {
        fprintf(out, "<text class=\"xlabel\" x=\"%g\" y=\"%d\" text-anchor=\"middle\">", f.left + f.w / 2,
                p->height - 14);
        put_text(out, p->xlabel);
        fputs("</text>\n", out);
    }
    if (p->ylabel) {
        fprintf(out,
                "<text class=\"ylabel\" x=\"18\" y=\"%g\" text-anchor=\"middle\" "
                "transform=\"rotate(-90 18 %g)\">",
                f.top + f.h / 2, f.top + f.h / 2);
        put_text(out, p->ylabel);
        fputs("</text>\n", out);
    }
    write_legend(out, p, &f);
    fputs("</svg>\n", out);
}

int nb_plot_save(const nb_plot *p, const char *path)
{
    if (!p || !path)
        return nb_error(NB_ERR_NULL, "plot_save: %s is NULL", p ? "path" : "plot"), -1;
    nb_atomic_file a;
    if (nb_atomic_begin(&a, "plot_save", path) != 0)
        return -1;
    write_svg(a.f, p);
    return nb_atomic_commit(&a);
}
