/* nabla/plot.h — a small SVG plot writer with no dependency: line and scatter
 * series on linear or logarithmic axes, with "nice" 1-2-5 ticks, a grid and a
 * legend. For learning curves, data with a fitted curve, activation graphs.
 *
 *   nb_plot *p = nb_plot_new(NB_PLOT_OPTS(.title = "loss", .xlabel = "epoch", .log_y = true));
 *   nb_plot_add(p, NULL, losses, n, NB_SERIES_OPTS(.label = "train"));
 *   nb_plot_save(p, "loss.svg");      // written to a temp file, then renamed
 *   nb_plot_free(p);
 *
 * Non-finite points (and, on a log axis, values <= 0) are skipped and break a
 * line in two. Options are made by NB_PLOT_OPTS(...) and NB_SERIES_OPTS(...):
 * the defaults written beside each field, then the fields named. */
#ifndef NABLA_PLOT_H
#define NABLA_PLOT_H

#include <stdbool.h>
#include <stdint.h>
#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

typedef struct nb_plot nb_plot;

typedef enum nb_legend_pos {
    NB_LEGEND_TOP_RIGHT = 0, /* inside the plot area */
    NB_LEGEND_TOP_LEFT,
    NB_LEGEND_BOTTOM_RIGHT,
    NB_LEGEND_BOTTOM_LEFT,
    NB_LEGEND_NONE,
    NB_LEGEND_BEST /* the corner covering the fewest data points */
} nb_legend_pos;

typedef struct nb_plot_opts {
    uint32_t nb_tag;
    int width, height;                   /* pixels; 640 x 420 */
    const char *title, *xlabel, *ylabel; /* NULL: none */
    bool log_y;                          /* logarithmic y axis (decades) */
    nb_legend_pos legend;                /* NB_LEGEND_TOP_RIGHT */
} nb_plot_opts;
#define NB_PLOT_OPTS(...) NB_OPTS_(nb_plot_opts, .width = 640, .height = 420, __VA_ARGS__)
nb_plot_opts nb_plot_defaults(void);

typedef enum nb_series_style {
    NB_SERIES_LINE = 0,
    NB_SERIES_DASHED,
    NB_SERIES_POINTS, /* scatter: a dot per point */
    NB_SERIES_LINE_POINTS
} nb_series_style;

typedef struct nb_series_opts {
    uint32_t nb_tag;
    const char *label;     /* legend text; NULL: not in the legend */
    nb_series_style style; /* NB_SERIES_LINE */
    const char *color;     /* SVG colour ("#d62728", "teal"); NULL:
                              the next of a fixed 10-colour palette */
    double width;          /* line width, 2 */
    double radius;         /* dot radius, 3 */
} nb_series_opts;
#define NB_SERIES_OPTS(...) NB_OPTS_(nb_series_opts, .width = 2, .radius = 3, __VA_ARGS__)
nb_series_opts nb_series_defaults(void);

/* A new empty figure. NULL with an error on bad sizes. */
nb_plot *nb_plot_new(nb_plot_opts opts);
void nb_plot_free(nb_plot *p);

/* Add a series of n points (copied). x NULL means 0, 1, ..., n-1 (epochs).
 * Returns 0, or -1 with an error. */
int nb_plot_add(nb_plot *p, const double *x, const double *y, int64_t n, nb_series_opts opts);
/* The same from nb_real arrays (tensor data). */
int nb_plot_add_real(nb_plot *p, const nb_real *x, const nb_real *y, int64_t n, nb_series_opts opts);

/* Fix an axis range instead of fitting the data (lo < hi; on a log y axis
 * lo > 0). Series are clipped to it. Returns 0, or -1 with an error. */
int nb_plot_xrange(nb_plot *p, double lo, double hi);
int nb_plot_yrange(nb_plot *p, double lo, double hi);

/* Write the SVG to path: to "<path>.tmp.<pid>" first, then renamed over path,
 * so a reader never sees half a file. Returns 0, or -1 with an NB_ERR_IO error
 * naming the path. */
int nb_plot_save(const nb_plot *p, const char *path);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
