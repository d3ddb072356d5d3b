/* examples/char_run.h — the progress of a character-level model's training
 * run (header only; char_lstm.c and char_gpt.c): the step, the training loss
 * summed since the last report, the history of reports, their rows in the
 * checkpoint's metadata (run_meta.h) and the learning curve drawn from them.
 *
 *     typedef struct config { int steps; ...; cr_progress progress; } config;
 *     static const ex_meta meta[] = {..., CR_PROGRESS_META(config, progress)};
 *     p->window_sum += loss, p->window_n++, p->step++;          // each step
 *     double train_bpc = cr_report(&c.progress, val_bpc);       // each report
 *     cr_curve(&c.progress, "char_gpt", out);                   // char_gpt_curve.svg */
#ifndef EXAMPLES_CHAR_RUN_H
#define EXAMPLES_CHAR_RUN_H

#include <math.h>
#include <stdio.h>
#include <nabla/nabla.h>
#include <nabla/plot.h>
#include "args.h"
#include "run_meta.h"

enum { CR_MAX_EVALS = 1000 };

typedef struct cr_progress {
    int step;          /* steps done */
    double window_sum; /* training loss summed since the last report (nats) */
    int window_n;      /* ... over this many steps */
    int evals;         /* reports so far (the first CR_MAX_EVALS kept), for the learning curve: */
    double eval_step[CR_MAX_EVALS], train_bpc[CR_MAX_EVALS], val_bpc[CR_MAX_EVALS];
} cr_progress;

/* The rows of a run_meta.h table for the cr_progress field p of struct type s. */
#define CR_PROGRESS_META(s, p)                                                                               \
    EX_META_FIELD(s, p.step, EX_META_INT), EX_META_FIELD(s, p.window_sum, EX_META_REAL),                     \
        EX_META_FIELD(s, p.window_n, EX_META_INT), EX_META_LIST_FIELD(s, p.eval_step, p.evals),              \
        EX_META_LIST_FIELD(s, p.train_bpc, p.evals), EX_META_LIST_FIELD(s, p.val_bpc, p.evals)

/* A report at the current step with the validation loss val (bits per
 * character): records it with the mean training loss since the last report,
 * in bits per character, which it returns, and starts a new window. */
static inline double cr_report(cr_progress *p, double val)
{
    double train_bpc = p->window_sum / p->window_n / log(2.0);
    if (p->evals < CR_MAX_EVALS) {
        p->eval_step[p->evals] = p->step;
        p->train_bpc[p->evals] = train_bpc;
        p->val_bpc[p->evals++] = val;
    }
    p->window_sum = 0, p->window_n = 0;
    return train_bpc;
}

/* The learning curve, training and validation loss at each report, into
 * <out>/<name>_curve.svg; prints the path. */
static inline void cr_curve(const cr_progress *c, const char *name, const char *out)
{
    char title[256], path[1024];
    snprintf(title, sizeof title, "%s: loss in bits per character", name);
    nb_plot *p = nb_plot_new(NB_PLOT_OPTS(.title = title, .xlabel = "training step",
                                          .ylabel = "bits / character", .legend = NB_LEGEND_BEST));
    EX_CHECK(p);
    EX_CHECK(nb_plot_add(p, c->eval_step, c->train_bpc, c->evals,
                         NB_SERIES_OPTS(.label = "train (mean since the last point)",
                                        .style = NB_SERIES_LINE_POINTS)) == 0);
    EX_CHECK(nb_plot_add(p, c->eval_step, c->val_bpc, c->evals,
                         NB_SERIES_OPTS(.label = "validation", .style = NB_SERIES_LINE_POINTS)) == 0);
    snprintf(path, sizeof path, "%s/%s_curve.svg", out, name);
    EX_CHECK(nb_plot_save(p, path) == 0);
    nb_plot_free(p);
    printf("wrote %s\n", path);
}

#endif
