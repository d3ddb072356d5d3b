/* io/checkpoint.c — a training run saved to and restored from one safetensors
 * file (nabla/io.h writes it atomically):
 *   "model.<name>"  each parameter and buffer under its state_dict name
 *                   ("model.0.weight", "model.1.running_mean")
 *   "optim.<name>"  the optimizer's state under its state_dict names
 *                   ("optim.state.0.exp_avg", "optim.state.0.step")
 *   metadata        the caller's keys, "nabla.optim.lr", and one
 *                   "nabla.generator[.<module path>]" per dropout generator
 *                   (xoshiro state, so that a resumed run draws the same masks).
 *                   Keys starting "nabla." are the library's: a caller's key
 *                   there is refused.
 * Loading checks everything (missing, unexpected and mis-shaped tensors,
 * malformed metadata, a non-finite learning rate, an invalid generator state)
 * before anything changes. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "io/safetensors.h"
#include "nabla/io.h"
#include "nn/layer.h"

#define RESERVED "nabla."

/* Every named tensor of a checkpoint: the model's state_dict, then the optimizer's state. */
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

static bool entries_make(const char *op, nb_module *model, nb_optim *optim, entries *e)
{
    *e = (entries){0};
    if (nb_module_state_dict(model, &e->params) < 0)
        return false;
    int n_state = optim ? nb_optim_state_count(optim) : 0;
    int total = e->params.count + n_state;
    e->names = calloc((size_t)total + 1, sizeof *e->names);
    e->tensors = calloc((size_t)total + 1, sizeof *e->tensors);
    if (!e->names || !e->tensors) {
        nb_error(NB_ERR_MEMORY, "%s: out of memory for %d tensors", op, total);
        return false;
    }
    for (int i = 0; i < total; i++) {
        const char *name = NULL;
        nb_tensor *t;
        if (i < e->params.count) {
            t = e->params.tensors[i];
            e->names[i] = concat("model.", e->params.names[i]);
        } else {
            t = nb_optim_state(optim, i - e->params.count, &name);
            if (!t)
                return false;
            e->names[i] = concat("optim.", name);
        }
        if (!e->names[i]) {
            nb_error(NB_ERR_MEMORY, "%s: out of memory for %d tensors", op, total);
            return false;
        }
        e->tensors[i] = t;
        e->n = i + 1;
    }
    return true;
}

/* The generators of the tree with their module paths ("" for the root). */
typedef struct gen_list {
    int n;
    char **paths;
    nb_generator **gens;
} gen_list;

static void gens_free(gen_list *g)
{
    for (int i = 0; i < g->n; i++)
        free(g->paths[i]);
    free(g->paths);
    free(g->gens);
}

static bool gens_collect(nb_module *m, const char *path, gen_list *g)
{
    if (m->generator) {
        char **p = realloc(g->paths, (size_t)(g->n + 1) * sizeof *p);
        if (p)
            g->paths = p;
        nb_generator **q = p ? realloc(g->gens, (size_t)(g->n + 1) * sizeof *q) : NULL;
        if (q)
            g->gens = q;
        char *key = q ? concat(path[0] ? "nabla.generator." : "nabla.generator", path) : NULL;
        if (!key)
            return false;
        g->paths[g->n] = key;
        g->gens[g->n++] = m->generator;
    }
    for (int i = 0; i < m->n_children; i++) {
        char *prefix = path[0] ? concat(path, ".") : NULL;
        char *child = concat(prefix ? prefix : "", m->child_names[i]);
        bool ok = child && (!path[0] || prefix) && gens_collect(m->children[i], child, g);
        free(prefix);
        free(child);
        if (!ok)
            return false;
    }
    return true;
}

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

static void json_pair(FILE *f, bool *first, const char *key, const char *value)
{
    if (!*first)
        fputc(',', f);
    *first = false;
    json_string(f, key);
    fputc(':', f);
    json_string(f, value);
}

/* The caller's keys may not enter nabla's namespace. False with an error. */
static bool user_keys_allowed(const char *user)
{
    nb_json j = {.s = user, .len = strlen(user), .where = "save_checkpoint: metadata"};
    char *strings = malloc(j.len + 1), *dst = strings;
    int n = 0;
    nb_st_meta *meta = strings ? nb_st_parse_metadata(&j, &dst, &n) : NULL;
    if (!strings)
        nb_error(NB_ERR_MEMORY, "save_checkpoint: out of memory for the metadata");
    bool ok = meta != NULL;
    for (int i = 0; ok && i < n; i++)
        if (strncmp(meta[i].key, RESERVED, strlen(RESERVED)) == 0) {
            nb_error(NB_ERR_ARG,
                     "save_checkpoint: metadata key '%s' is in the namespace '" RESERVED "', which "
                     "nabla reserves for its own keys (learning rate, generators)",
                     meta[i].key);
            ok = false;
        }
    free(meta);
    free(strings);
    return ok;
}

/* The caller's metadata object with nabla's keys appended; NULL with an error. */
static char *metadata(const char *user, nb_optim *optim, const gen_list *g)
{
    const char *open = user ? user + strspn(user, " \t\r\n") : "{}";
    const char *close = strrchr(open, '}');
    if (*open != '{' || !close || close[1 + strspn(close + 1, " \t\r\n")] != '\0')
        return nb_error(NB_ERR_ARG, "save_checkpoint: metadata must be a JSON object of strings, "
                                    "such as {\"epoch\": \"3\"}");
    if (user && !user_keys_allowed(user))
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return nb_error(NB_ERR_MEMORY, "save_checkpoint: out of memory for the metadata");
    const char *inner = open + 1;
    bool first = strspn(inner, " \t\r\n") == (size_t)(close - inner);
    fputc('{', f);
    fwrite(inner, 1, (size_t)(close - inner), f);
    char value[128];
    if (optim) {
        snprintf(value, sizeof value, "%.17g", nb_optim_get_lr(optim));
        json_pair(f, &first, "nabla.optim.lr", value);
    }
    for (int i = 0; i < g->n; i++) {
        const nb_generator *r = g->gens[i];
        uint64_t spare;
        memcpy(&spare, &r->spare, sizeof spare);
        snprintf(value, sizeof value,
                 "%016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %d %016" PRIx64, r->s[0],
                 r->s[1], r->s[2], r->s[3], r->has_spare ? 1 : 0, spare);
        json_pair(f, &first, g->paths[i], value);
    }
    fputc('}', f);
    if (fclose(f) != 0) {
        free(buf);
        return nb_error(NB_ERR_MEMORY, "save_checkpoint: out of memory for the metadata");
    }
    return buf;
}

int nb_save_checkpoint(const char *path, nb_module *model, nb_optim *optim, const char *metadata_json)
{
    if (!path || !model) {
        nb_error(NB_ERR_NULL, "save_checkpoint: %s is NULL", path ? "model" : "path");
        return -1;
    }
    entries e;
    gen_list g = {0};
    char *meta = NULL;
    int rc = -1;
    if (!entries_make("save_checkpoint", model, optim, &e))
        goto done;
    if (!gens_collect(model, "", &g)) {
        nb_error(NB_ERR_MEMORY, "save_checkpoint: out of memory listing generators");
        goto done;
    }
    meta = metadata(metadata_json, optim, &g);
    if (meta)
        rc = nb_save_safetensors(path, e.n, (const char *const *)e.names, e.tensors, meta);
done:
    free(meta);
    gens_free(&g);
    entries_free(&e);
    return rc;
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

/* Tensors of the file under "model." (and "optim." when loading an optimizer)
 * that nothing of the model or optimizer is named: PyTorch's unexpected keys. */
static bool no_unexpected(const char *path, nb_safetensors *st, const entries *e, bool with_optim)
{
    for (int i = 0; i < nb_safetensors_count(st); i++) {
        const char *name = nb_safetensors_entry_at(st, i)->name;
        if (strncmp(name, "model.", 6) != 0 && (!with_optim || strncmp(name, "optim.", 6) != 0))
            continue;
        bool found = false;
        for (int k = 0; k < e->n && !found; k++)
            found = strcmp(e->names[k], name) == 0;
        if (!found) {
            nb_error(NB_ERR_ARG, "load_checkpoint: %s: tensor '%s' of the file has no counterpart in the %s",
                     path, name, name[0] == 'm' ? "model" : "optimizer");
            return false;
        }
    }
    return true;
}

int nb_load_checkpoint(const char *path, nb_module *model, nb_optim *optim)
{
    if (!path || !model) {
        nb_error(NB_ERR_NULL, "load_checkpoint: %s is NULL", path ? "model" : "path");
        return -1;
    }
    entries e;
    gen_list g = {0};
    nb_safetensors *st = NULL;
    nb_generator *states = NULL;
    int rc = -1;
    double lr = 0;
    if (!entries_make("load_checkpoint", model, optim, &e))
        goto done;
    if (!gens_collect(model, "", &g) || !(states = calloc((size_t)g.n + 1, sizeof *states))) {
        nb_error(NB_ERR_MEMORY, "load_checkpoint: out of memory listing generators");
        goto done;
    }
    if (!(st = nb_safetensors_open(path)) || !no_unexpected(path, st, &e, optim != NULL))
        goto done;
    for (int i = 0; i < g.n; i++) {
        const char *s = nb_safetensors_metadata(st, g.paths[i]);
        states[i] = *g.gens[i]; /* absent (a file from elsewhere): left as is */
        if (s && !parse_generator(s, &states[i])) {
            nb_error(NB_ERR_FORMAT,
                     "load_checkpoint: %s: metadata '%s' is not a valid generator state "
                     "(four 64-bit hex words not all zero, a 0/1 flag, a finite spare normal): \"%s\"",
                     path, g.paths[i], s);
            goto done;
        }
    }
    const char *lr_text = optim ? nb_safetensors_metadata(st, "nabla.optim.lr") : NULL;
    char *end = NULL;
    if (lr_text &&
        (lr = strtod(lr_text, &end), end == lr_text || *end != '\0' || !(lr >= 0) || !isfinite(lr))) {
        nb_error(NB_ERR_FORMAT,
                 "load_checkpoint: %s: metadata 'nabla.optim.lr' is not a finite learning rate "
                 ">= 0: \"%s\"",
                 path, lr_text);
        goto done;
    }
    if (nb_load_into(path, e.n, (const char *const *)e.names, e.tensors) != 0)
        goto done;
    for (int i = 0; i < g.n; i++)
        *g.gens[i] = states[i];
    if (lr_text)
        nb_optim_set_lr(optim, lr);
    rc = 0;
done:
    nb_safetensors_close(st);
    free(states);
    gens_free(&g);
    entries_free(&e);
    return rc;
}
