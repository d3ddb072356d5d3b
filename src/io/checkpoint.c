/* io/checkpoint.c — a training run saved to and restored from one safetensors
 * file (nabla/io.h writes it atomically):
 *   "model.<name>"   each parameter and buffer under its state_dict name
 *   "optim.<name>"   the first optimizer's state under its state_dict names
 *                    ("optim.state.0.exp_avg"); "optim<k>.<name>" the k-th one's
 *   metadata         the caller's keys and nabla's, in the reserved "nabla."
 *                    namespace (a caller's key there is refused):
 *     nabla.optim[<k>].param_groups.<g>  "<algorithm> params=<n> lr=... initial_lr=..." every option
 *     nabla.scheduler.<k>                "<kind> epoch=<e>"
 *     nabla.loader.<k>                   "epoch=<e> next=<row> rows=<n> batch=<b> shuffle=<0|1> ..."
 *     nabla.generator[.<module path>]    each dropout generator of the model
 *     nabla.default_generator, nabla.user_generator.<k>
 *   (a generator as xoshiro's four words, the spare-normal flag and value).
 * Loading parses and checks everything (missing, unexpected and mis-shaped
 * tensors, malformed metadata, options of another algorithm, loaders over
 * other data) before anything changes. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data/loader.h"
#include "io/safetensors.h"
#include "nabla/io.h"
#include "nn/layer.h"
#include "optim/optim.h"

#define RESERVED "nabla."

/* What one call saves or loads; default_gen: the default generator too
 * (nb_*_training), strict: nabla's metadata must be there (nb_load_training). */
typedef struct what {
    const char *op;
    const nb_training *run;
    bool default_gen, strict;
} what;

static char *concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

/* "optim." for the first optimizer, "optim<k>." for the others; the same with
 * "nabla." in front (with_nabla) for its metadata keys. */
static void optim_prefix(char *buf, size_t size, int k, bool with_nabla)
{
    if (k == 0)
        snprintf(buf, size, "%soptim.", with_nabla ? RESERVED : "");
    else
        snprintf(buf, size, "%soptim%d.", with_nabla ? RESERVED : "", k);
}

/* ---- the tensors ------------------------------------------------------------- */

/* Every named tensor of a checkpoint: the model's state_dict, then each optimizer's state. */
typedef struct entries {
    int n;
    char **names;
    nb_tensor **tensors;
    nb_param_list params;
} entries;

static void entries_free(entries *e)
{
    for (int i = 0; e->names && i < e->n; i++)
        free(e->names[i]);
    free(e->names);
    free(e->tensors);
    nb_param_list_free(&e->params);
}

static bool entries_make(const what *w, entries *e)
{
    *e = (entries){0};
    if (nb_module_state_dict(w->run->model, &e->params) < 0)
        return false;
    int total = e->params.count;
    for (int k = 0; k < w->run->n_optims; k++)
        total += nb_optim_state_count(w->run->optims[k]);
    e->names = calloc((size_t)total + 1, sizeof *e->names);
    e->tensors = calloc((size_t)total + 1, sizeof *e->tensors);
    if (!e->names || !e->tensors) {
        nb_error(NB_ERR_MEMORY, "%s: out of memory for %d tensors", w->op, total);
        return false;
    }
    for (int i = 0; i < e->params.count; i++, e->n++) {
        e->tensors[e->n] = e->params.tensors[i];
        if (!(e->names[e->n] = concat("model.", e->params.names[i])))
            return nb_error(NB_ERR_MEMORY, "%s: out of memory for %d tensors", w->op, total), false;
    }
    for (int k = 0; k < w->run->n_optims; k++) {
        char prefix[32];
        optim_prefix(prefix, sizeof prefix, k, false);
        for (int i = 0; i < nb_optim_state_count(w->run->optims[k]); i++, e->n++) {
            const char *name;
            e->tensors[e->n] = nb_optim_state(w->run->optims[k], i, &name);
            if (!(e->names[e->n] = concat(prefix, name)))
                return nb_error(NB_ERR_MEMORY, "%s: out of memory for %d tensors", w->op, total), false;
        }
    }
    return true;
}

/* ---- generators -------------------------------------------------------------- */

/* The generators saved: the model's with their module paths, the default one
 * and the program's own, each with its metadata key. */
typedef struct gen_list {
    int n;
    char **keys;
    nb_generator **gens;
} gen_list;

static void gens_free(gen_list *g)
{
    for (int i = 0; i < g->n; i++)
        free(g->keys[i]);
    free(g->keys);
    free(g->gens);
}

static bool gens_add(gen_list *g, char *key, nb_generator *gen)
{
    char **p = key ? realloc(g->keys, (size_t)(g->n + 1) * sizeof *p) : NULL;
    if (p)
        g->keys = p;
    nb_generator **q = p ? realloc(g->gens, (size_t)(g->n + 1) * sizeof *q) : NULL;
    if (q)
        g->gens = q;
    if (!q) {
        free(key);
        return false;
    }
    g->keys[g->n] = key;
    g->gens[g->n++] = gen;
    return true;
}

static bool gens_of_module(nb_module *m, const char *path, gen_list *g)
{
    if (m->generator &&
        !gens_add(g, concat(path[0] ? RESERVED "generator." : RESERVED "generator", path), m->generator))
        return false;
    for (int i = 0; i < m->n_children; i++) {
        char *prefix = path[0] ? concat(path, ".") : NULL;
        char *child = concat(prefix ? prefix : "", m->child_names[i]);
        bool ok = child && (!path[0] || prefix) && gens_of_module(m->children[i], child, g);
        free(prefix);
        free(child);
        if (!ok)
            return false;
    }
    return true;
}

static bool gens_collect(const what *w, gen_list *g)
{
    *g = (gen_list){0};
    bool ok = gens_of_module(w->run->model, "", g);
    if (ok && w->default_gen)
        ok = gens_add(g, concat(RESERVED, "default_generator"), nb_default_generator());
    for (int k = 0; ok && k < w->run->n_generators; k++) {
        char key[64];
        snprintf(key, sizeof key, RESERVED "user_generator.%d", k);
        ok = gens_add(g, concat(key, ""), w->run->generators[k]);
    }
    if (!ok)
        nb_error(NB_ERR_MEMORY, "%s: out of memory listing generators", w->op);
    return ok;
}

static void gen_text(const nb_generator *r, char *buf, size_t size)
{
    uint64_t spare;
    memcpy(&spare, &r->spare, sizeof spare);
    snprintf(buf, size, "%016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %d %016" PRIx64, r->s[0],
             r->s[1], r->s[2], r->s[3], r->has_spare ? 1 : 0, spare);
}

static bool parse_generator(const char *s, nb_generator *out)
{
    unsigned long long v[5];
    int spare_flag, used = -1;
    if (sscanf(s, "%16llx %16llx %16llx %16llx %d %16llx%n", &v[0], &v[1], &v[2], &v[3], &spare_flag, &v[4],
               &used) != 6 ||
        used != (int)strlen(s) || (spare_flag != 0 && spare_flag != 1))
        return false;
    /* xoshiro's all-zero state is a fixed point: every draw would be 0 */
    if ((v[0] | v[1] | v[2] | v[3]) == 0)
        return false;
    for (int i = 0; i < 4; i++)
        out->s[i] = v[i];
    uint64_t bits = v[4];
    memcpy(&out->spare, &bits, sizeof bits);
    out->has_spare = spare_flag;
    return !out->has_spare || isfinite(out->spare);
}

/* ---- options, schedulers, loaders as text -------------------------------------- */

/* The fields of a group's text, in order: name, then its value's place. */
typedef struct opt_field {
    const char *name;
    size_t offset;
    bool is_bool;
} opt_field;
#define OPT(f, b)                                                                                            \
    {                                                                                                        \
#f, offsetof(nb_optim_opts, f), b                                                                    \
    }
static const opt_field opt_fields[] = {
    OPT(lr, false),
    OPT(weight_decay, false),
    OPT(maximize, true),
    OPT(momentum, false),
    OPT(dampening, false),
    OPT(nesterov, true),
    {"beta1", offsetof(nb_optim_opts, betas), false},
    {"beta2", offsetof(nb_optim_opts, betas) + sizeof(double), false},
    OPT(eps, false),
    OPT(amsgrad, true),
    OPT(alpha, false),
    OPT(centered, true),
    OPT(lr_decay, false),
    OPT(initial_accumulator_value, false),
};
enum { N_OPT_FIELDS = sizeof opt_fields / sizeof opt_fields[0] };

/* v in the fewest digits that read back as v (0.9, not 0.90000000000000002) */
static void put_double(FILE *f, double v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof buf, "%.17g", v);
    fputs(buf, f);
}

/* "<name> params=<n> initial_lr=<v|none> lr=... weight_decay=... ..." */
static void group_text(FILE *f, const nb_optim *o, int g)
{
    const nb_optim_group *gr = &o->groups[g];
    fprintf(f, "%s params=%d initial_lr=", o->name, gr->count);
    if (gr->has_initial_lr)
        put_double(f, gr->initial_lr);
    else
        fputs("none", f);
    for (int k = 0; k < N_OPT_FIELDS; k++) {
        const char *at = (const char *)&gr->opts + opt_fields[k].offset;
        fprintf(f, " %s=", opt_fields[k].name);
        if (opt_fields[k].is_bool)
            fputc(*(const bool *)at ? '1' : '0', f);
        else
            put_double(f, *(const double *)at);
    }
}

/* Reads "name=" then a number at *s; false when the text differs. */
static bool read_field(const char **s, const char *name, double *v)
{
    size_t n = strlen(name);
    if (**s != ' ' || strncmp(*s + 1, name, n) != 0 || (*s)[n + 1] != '=')
        return false;
    const char *p = *s + n + 2;
    char *end;
    *v = strtod(p, &end);
    if (end == p)
        return false;
    *s = end;
    return true;
}

/* The options and initial lr of group g of o from its text; false when the
 * text is not a group of o's algorithm with as many parameters. */
static bool group_parse(const char *text, const nb_optim *o, int g, nb_optim_opts *opts, double *initial_lr,
                        bool *has_initial_lr)
{
    size_t n = strlen(o->name);
    if (strncmp(text, o->name, n) != 0)
        return false;
    const char *s = text + n;
    double v;
    if (!read_field(&s, "params", &v) || v != o->groups[g].count)
        return false;
    if (strncmp(s, " initial_lr=none", 16) == 0) {
        *has_initial_lr = false, *initial_lr = 0;
        s += 16;
    } else if (read_field(&s, "initial_lr", initial_lr) && isfinite(*initial_lr) && *initial_lr >= 0) {
        *has_initial_lr = true;
    } else {
        return false;
    }
    *opts = o->groups[g].opts; /* the tag and kind */
    for (int k = 0; k < N_OPT_FIELDS; k++) {
        char *at = (char *)opts + opt_fields[k].offset;
        if (!read_field(&s, opt_fields[k].name, &v) || !isfinite(v) ||
            (opt_fields[k].is_bool && v != 0 && v != 1))
            return false;
        if (opt_fields[k].is_bool)
            *(bool *)at = v != 0;
        else
            *(double *)at = v;
    }
    return *s == '\0';
}

static void loader_text(char *buf, size_t size, const nb_loader_position *p)
{
    snprintf(buf, size,
             "epoch=%" PRIu64 " next=%" PRId64 " rows=%" PRId64 " batch=%" PRId64 " shuffle=%d seed=%" PRIu64
             " drop_last=%d replicas=%" PRId64 " rank=%" PRId64,
             p->epoch, p->next, p->rows, p->batch, p->shuffle ? 1 : 0, p->seed, p->drop_last ? 1 : 0,
             p->replicas, p->rank);
}

/* ---- saving ---------------------------------------------------------------------- */

/* A JSON string literal. */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_key(FILE *f, bool *first, const char *key)
{
    if (!*first)
        fputc(',', f);
    *first = false;
    json_string(f, key);
    fputc(':', f);
}

static void json_pair(FILE *f, bool *first, const char *key, const char *value)
{
    json_key(f, first, key);
    json_string(f, value);
}

/* The caller's keys may not enter nabla's namespace. False with an error. */
static bool user_keys_allowed(const char *op, const char *user)
{
    char where[64];
    snprintf(where, sizeof where, "%s: metadata", op);
    nb_json j = {.s = user, .len = strlen(user), .where = where};
    char *strings = malloc(j.len + 1), *dst = strings;
    int n = 0;
    nb_st_meta *meta = strings ? nb_st_parse_metadata(&j, &dst, &n) : NULL;
    if (!strings)
        nb_error(NB_ERR_MEMORY, "%s: out of memory for the metadata", op);
    bool ok = meta != NULL;
    for (int i = 0; ok && i < n; i++)
        if (strncmp(meta[i].key, RESERVED, strlen(RESERVED)) == 0) {
            nb_error(NB_ERR_ARG,
                     "%s: metadata key '%s' is in the namespace '" RESERVED "', which "
                     "nabla reserves for its own keys (optimizer options, positions, generators)",
                     op, meta[i].key);
            ok = false;
        }
    free(meta);
    free(strings);
    return ok;
}

/* A group's text is JSON-safe (a name, numbers, '=' and spaces): written as is. */
static void put_groups(FILE *f, bool *first, const nb_training *run)
{
    for (int k = 0; k < run->n_optims; k++) {
        char prefix[32], key[64];
        optim_prefix(prefix, sizeof prefix, k, true);
        for (int g = 0; g < run->optims[k]->n_groups; g++) {
            snprintf(key, sizeof key, "%sparam_groups.%d", prefix, g);
            json_key(f, first, key);
            fputc('"', f);
            group_text(f, run->optims[k], g);
            fputc('"', f);
        }
    }
}

/* The caller's metadata object with nabla's keys appended; NULL with an error. */
static char *metadata(const what *w, const char *user, const gen_list *g)
{
    const char *open = user ? user + strspn(user, " \t\r\n") : "{}";
    const char *close = strrchr(open, '}');
    if (*open != '{' || !close || close[1 + strspn(close + 1, " \t\r\n")] != '\0')
        return nb_error(NB_ERR_ARG,
                        "%s: metadata must be a JSON object of strings, such as {\"epoch\": \"3\"}", w->op);
    if (user && !user_keys_allowed(w->op, user))
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return nb_error(NB_ERR_MEMORY, "%s: out of memory for the metadata", w->op);
    const char *inner = open + 1;
    bool first = strspn(inner, " \t\r\n") == (size_t)(close - inner);
    fputc('{', f);
    fwrite(inner, 1, (size_t)(close - inner), f);
    put_groups(f, &first, w->run);
    char key[64], value[256];
    for (int k = 0; k < w->run->n_schedulers; k++) {
        const nb_scheduler *s = w->run->schedulers[k];
        snprintf(key, sizeof key, RESERVED "scheduler.%d", k);
        snprintf(value, sizeof value, "%s epoch=%" PRId64, nb_scheduler_kind_name(s),
                 nb_scheduler_last_epoch(s));
        json_pair(f, &first, key, value);
    }
    for (int k = 0; k < w->run->n_loaders; k++) {
        nb_loader_position p = nb_loader_get_position(w->run->loaders[k]);
        snprintf(key, sizeof key, RESERVED "loader.%d", k);
        loader_text(value, sizeof value, &p);
        json_pair(f, &first, key, value);
    }
    for (int i = 0; i < g->n; i++) {
        gen_text(g->gens[i], value, sizeof value);
        json_pair(f, &first, g->keys[i], value);
    }
    fputc('}', f);
    if (fclose(f) != 0) {
        free(buf);
        return nb_error(NB_ERR_MEMORY, "%s: out of memory for the metadata", w->op);
    }
    return buf;
}

/* Every object of the run is there. */
static bool run_ok(const char *op, const nb_training *run)
{
    const char *missing =
        !run          ? "the run"
        : !run->model ? "model"
        : run->n_optims < 0 || run->n_schedulers < 0 || run->n_loaders < 0 || run->n_generators < 0
            ? "a count (negative)"
            : NULL;
    for (int k = 0; !missing && k < run->n_optims; k++)
        missing = run->optims && run->optims[k] ? NULL : "an optimizer";
    for (int k = 0; !missing && k < run->n_schedulers; k++)
        missing = run->schedulers && run->schedulers[k] ? NULL : "a scheduler";
    for (int k = 0; !missing && k < run->n_loaders; k++)
        missing = run->loaders && run->loaders[k] ? NULL : "a loader";
    for (int k = 0; !missing && k < run->n_generators; k++)
        missing = run->generators && run->generators[k] ? NULL : "a generator";
    if (missing)
        nb_error(NB_ERR_NULL, "%s: %s is NULL", op, missing);
    return !missing;
}

static int save(const char *path, const what *w, const char *metadata_json)
{
    if (!path) {
        nb_error(NB_ERR_NULL, "%s: path is NULL", w->op);
        return -1;
    }
    if (!run_ok(w->op, w->run))
        return -1;
    entries e;
    gen_list g = {0};
    char *meta = NULL;
    int rc = -1;
    if (entries_make(w, &e) && gens_collect(w, &g) && (meta = metadata(w, metadata_json, &g)))
        rc = nb_save_safetensors(path, e.n, (const char *const *)e.names, e.tensors, meta);
    free(meta);
    gens_free(&g);
    entries_free(&e);
    return rc;
}

int nb_save_training(const char *path, const nb_training *run, const char *metadata_json)
{
    return save(path, &(what){"save_training", run, true, true}, metadata_json);
}

int nb_save_checkpoint(const char *path, nb_module *model, nb_optim *optim, const char *metadata_json)
{
    nb_training run = {.model = model, .optims = &optim, .n_optims = optim != NULL};
    return save(path, &(what){"save_checkpoint", &run, false, false}, metadata_json);
}

/* ---- loading ---------------------------------------------------------------------- */

/* Tensors of the file under "model." (and the optimizer prefixes when loading
 * optimizers) that nothing of the run is named: PyTorch's unexpected keys. */
static bool no_unexpected(const what *w, const char *path, nb_safetensors *st, const entries *e)
{
    for (int i = 0; i < nb_safetensors_count(st); i++) {
        const char *name = nb_safetensors_entry_at(st, i)->name;
        size_t digits = strncmp(name, "optim", 5) == 0 ? strspn(name + 5, "0123456789") : 0;
        bool optim = strncmp(name, "optim", 5) == 0 && name[5 + digits] == '.';
        if (strncmp(name, "model.", 6) != 0 && (!w->run->n_optims || !optim))
            continue;
        bool found = false;
        for (int k = 0; k < e->n && !found; k++)
            found = strcmp(e->names[k], name) == 0;
        if (!found) {
            nb_error(NB_ERR_ARG, "%s: %s: tensor '%s' of the file has no counterpart in the %s", w->op, path,
                     name, optim ? "optimizers" : "model");
            return false;
        }
    }
    return true;
}

/* Everything the metadata restores, parsed before anything changes. */
typedef struct restore {
    nb_generator *gens; /* parallel to the gen_list */
    bool *has_gen;
    nb_optim_group **groups; /* [optimizer][group]: options and initial lr */
    bool *has_groups;        /* per optimizer */
    int64_t *epochs;         /* per scheduler */
    nb_loader_position *positions;
} restore;

static void restore_free(restore *r, int n_optims)
{
    for (int k = 0; r->groups && k < n_optims; k++)
        free(r->groups[k]);
    free(r->groups);
    free(r->has_groups);
    free(r->gens);
    free(r->has_gen);
    free(r->epochs);
    free(r->positions);
}

static bool fail_meta(const what *w, const char *path, const char *key, const char *text, const char *rule)
{
    if (text)
        nb_error(NB_ERR_FORMAT, "%s: %s: metadata '%s' is not %s: \"%s\"", w->op, path, key, rule, text);
    else
        nb_error(NB_ERR_FORMAT, "%s: %s: the file has no metadata '%s' (%s)", w->op, path, key, rule);
    return false;
}

/* The metadata key of kind `stem` number n: there must be none when the run
 * has n of them (the file's run had more); a checkpoint's load (not strict)
 * may leave out a kind altogether. */
static bool no_extra(const what *w, const char *path, nb_safetensors *st, const char *stem, int n,
                     const char *what_)
{
    char key[64];
    snprintf(key, sizeof key, RESERVED "%s.%d", stem, n);
    if ((w->strict || n > 0) && nb_safetensors_metadata(st, key)) {
        nb_error(NB_ERR_ARG, "%s: %s: the file holds more %s than the %d given ('%s')", w->op, path, what_, n,
                 key);
        return false;
    }
    return true;
}

static bool parse_optims(const what *w, const char *path, nb_safetensors *st, restore *r)
{
    const nb_training *run = w->run;
    for (int k = 0; k < run->n_optims; k++) {
        const nb_optim *o = run->optims[k];
        char prefix[32], key[64];
        optim_prefix(prefix, sizeof prefix, k, true);
        snprintf(key, sizeof key, "%sparam_groups.0", prefix);
        if (!nb_safetensors_metadata(st, key) && !w->strict)
            continue; /* a file from elsewhere: the options stay */
        r->has_groups[k] = true;
        if (!(r->groups[k] = calloc((size_t)o->n_groups, sizeof *r->groups[k]))) {
            nb_error(NB_ERR_MEMORY, "%s: out of memory", w->op);
            return false;
        }
        for (int g = 0; g < o->n_groups; g++) {
            snprintf(key, sizeof key, "%sparam_groups.%d", prefix, g);
            const char *text = nb_safetensors_metadata(st, key);
            char rule[160];
            snprintf(rule, sizeof rule,
                     "the options of a group of %d parameters of %s (optimizer %d, %d group(s))",
                     o->groups[g].count, o->name, k, o->n_groups);
            nb_optim_group *gr = &r->groups[k][g];
            if (!text || !group_parse(text, o, g, &gr->opts, &gr->initial_lr, &gr->has_initial_lr))
                return fail_meta(w, path, key, text, rule);
            if (!nb_optim_group_opts_fit(w->op, o, g, &gr->opts))
                return false;
        }
        snprintf(key, sizeof key, "%sparam_groups.%d", prefix, o->n_groups);
        if (nb_safetensors_metadata(st, key)) {
            nb_error(NB_ERR_ARG,
                     "%s: %s: the file's optimizer %d has more than the %d parameter group(s) given", w->op,
                     path, k, o->n_groups);
            return false;
        }
    }
    return true;
}

static bool parse_schedulers(const what *w, const char *path, nb_safetensors *st, restore *r)
{
    for (int k = 0; k < w->run->n_schedulers; k++) {
        char key[64], kind[32];
        snprintf(key, sizeof key, RESERVED "scheduler.%d", k);
        const char *text = nb_safetensors_metadata(st, key);
        const char *name = nb_scheduler_kind_name(w->run->schedulers[k]);
        long long e;
        int used = -1;
        snprintf(kind, sizeof kind, "a %s's epoch", name);
        size_t n = strlen(name);
        if (!text || strncmp(text, name, n) != 0 || sscanf(text + n, " epoch=%lld%n", &e, &used) != 1 ||
            used != (int)strlen(text + n) || e < 0)
            return fail_meta(w, path, key, text, kind);
        r->epochs[k] = e;
    }
    return no_extra(w, path, st, "scheduler", w->run->n_schedulers, "schedulers");
}

/* A loader's order in terms that do not depend on how many replicas share
 * it: every replica of nb_loader_shard walks the same order of the epoch, W
 * rows at a time, so W replicas of batch b at row j of their shards are at
 * row W j of the epoch's order with a global batch of W b, as one process of
 * batch W b would be. */
static void order_text(char *buf, size_t size, const nb_loader_position *p)
{
    snprintf(buf, size, "rows=%" PRId64 " global batch=%" PRId64 " shuffle=%d seed=%" PRIu64 " drop_last=%d",
             p->rows, p->batch * p->replicas, p->shuffle ? 1 : 0, p->seed, p->drop_last ? 1 : 0);
}

/* The saved position into a loader sharded over any number of replicas R
 * that divides the saved global position (a run saved on W ranks resumes on
 * R ranks, R dividing the global batch, each of batch global / R). */
static bool parse_loaders(const what *w, const char *path, nb_safetensors *st, restore *r)
{
    for (int k = 0; k < w->run->n_loaders; k++) {
        char key[64], want[256], have[256];
        snprintf(key, sizeof key, RESERVED "loader.%d", k);
        const char *text = nb_safetensors_metadata(st, key);
        nb_loader_position mine = nb_loader_get_position(w->run->loaders[k]), saved = mine;
        unsigned long long epoch, seed;
        long long next, rows, batch, replicas, rank;
        int shuffle, drop_last, used = -1;
        if (!text ||
            sscanf(
                text,
                "epoch=%llu next=%lld rows=%lld batch=%lld shuffle=%d seed=%llu drop_last=%d replicas=%lld rank=%lld%n",
                &epoch, &next, &rows, &batch, &shuffle, &seed, &drop_last, &replicas, &rank, &used) != 9 ||
            used != (int)strlen(text) || next < 0 || batch < 1 || replicas < 1 || rank < 0 ||
            rank >= replicas)
            return fail_meta(w, path, key, text, "a loader position (epoch=<e> next=<row> ...)");
        saved = (nb_loader_position){.epoch = epoch,
                                     .next = next,
                                     .rows = rows,
                                     .batch = batch,
                                     .shuffle = shuffle != 0,
                                     .drop_last = drop_last != 0,
                                     .seed = seed,
                                     .replicas = replicas,
                                     .rank = rank};
        order_text(want, sizeof want, &saved);
        order_text(have, sizeof have, &mine);
        if (strcmp(want, have) != 0 || next > rows) {
            nb_error(
                NB_ERR_ARG,
                "%s: %s: loader %d is over other data or in another order than the saved one: the file "
                "has \"%s\", the loader \"%s\" (rows, batch x replicas, shuffle, seed and drop_last must "
                "match)",
                w->op, path, k, want, have);
            return false;
        }
        int64_t global = next * replicas; /* rows of the epoch's order all replicas have had */
        if (global % mine.replicas != 0) {
            nb_error(
                NB_ERR_ARG,
                "%s: %s: loader %d was saved at row %lld of epoch %llu's order (%lld per replica on %lld "
                "replicas), which %lld replicas cannot share evenly",
                w->op, path, k, (long long)global, epoch, next, replicas, (long long)mine.replicas);
            return false;
        }
        mine.epoch = epoch;
        mine.next = global / mine.replicas;
        r->positions[k] = mine;
    }
    return no_extra(w, path, st, "loader", w->run->n_loaders, "loaders");
}

static bool parse_gens(const what *w, const char *path, nb_safetensors *st, const gen_list *g, restore *r)
{
    for (int i = 0; i < g->n; i++) {
        const char *s = nb_safetensors_metadata(st, g->keys[i]);
        r->gens[i] = *g->gens[i];
        r->has_gen[i] = s != NULL;
        bool model_gen = strncmp(g->keys[i], RESERVED "generator", strlen(RESERVED "generator")) == 0;
        if (!s &&
            (w->strict || !model_gen)) /* a model's generator may be absent from a file from elsewhere */
            return fail_meta(w, path, g->keys[i], NULL, "a generator state");
        if (s && !parse_generator(s, &r->gens[i]))
            return fail_meta(w, path, g->keys[i], s,
                             "a valid generator state (four 64-bit hex words not all zero, a 0/1 flag, a "
                             "finite spare normal)");
    }
    return no_extra(w, path, st, "user_generator", w->run->n_generators, "generators");
}

static void apply(const what *w, const gen_list *g, const restore *r)
{
    const nb_training *run = w->run;
    for (int i = 0; i < g->n; i++)
        if (r->has_gen[i])
            *g->gens[i] = r->gens[i];
    for (int k = 0; k < run->n_optims; k++)
        for (int gi = 0; r->has_groups[k] && gi < run->optims[k]->n_groups; gi++) {
            nb_optim_group *gr = &run->optims[k]->groups[gi];
            gr->opts = r->groups[k][gi].opts;
            gr->initial_lr = r->groups[k][gi].initial_lr;
            gr->has_initial_lr = r->groups[k][gi].has_initial_lr;
        }
    for (int k = 0; k < run->n_schedulers; k++)
        nb_scheduler_restore_epoch(run->schedulers[k], r->epochs[k]);
    for (int k = 0; k < run->n_loaders; k++)
        nb_loader_set_position(run->loaders[k], &r->positions[k]);
}

static int load(const char *path, const what *w)
{
    if (!path) {
        nb_error(NB_ERR_NULL, "%s: path is NULL", w->op);
        return -1;
    }
    if (!run_ok(w->op, w->run))
        return -1;
    const nb_training *run = w->run;
    entries e;
    gen_list g = {0};
    nb_safetensors *st = NULL;
    restore r = {0};
    int rc = -1;
    if (!entries_make(w, &e) || !gens_collect(w, &g))
        goto done;
    r.gens = calloc((size_t)g.n + 1, sizeof *r.gens);
    r.has_gen = calloc((size_t)g.n + 1, sizeof *r.has_gen);
    r.groups = calloc((size_t)run->n_optims + 1, sizeof *r.groups);
    r.has_groups = calloc((size_t)run->n_optims + 1, sizeof *r.has_groups);
    r.epochs = calloc((size_t)run->n_schedulers + 1, sizeof *r.epochs);
    r.positions = calloc((size_t)run->n_loaders + 1, sizeof *r.positions);
    if (!r.gens || !r.has_gen || !r.groups || !r.has_groups || !r.epochs || !r.positions) {
        nb_error(NB_ERR_MEMORY, "%s: out of memory", w->op);
        goto done;
    }
    if (!(st = nb_safetensors_open(path)) || !no_unexpected(w, path, st, &e) ||
        !parse_gens(w, path, st, &g, &r) || !parse_optims(w, path, st, &r) ||
        !parse_schedulers(w, path, st, &r) || !parse_loaders(w, path, st, &r))
        goto done;
    if (nb_load_into(path, e.n, (const char *const *)e.names, e.tensors) != 0)
        goto done;
    apply(w, &g, &r);
    rc = 0;
done:
    nb_safetensors_close(st);
    restore_free(&r, run->n_optims);
    gens_free(&g);
    entries_free(&e);
    return rc;
}

int nb_load_training(const char *path, const nb_training *run)
{
    return load(path, &(what){"load_training", run, true, true});
}

int nb_load_checkpoint(const char *path, nb_module *model, nb_optim *optim)
{
    nb_training run = {.model = model, .optims = &optim, .n_optims = optim != NULL};
    return load(path, &(what){"load_checkpoint", &run, false, false});
}
