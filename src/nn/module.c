/* nn/module.c — the module tree: construction, named parameters, buffers and
 * children, forward, enumeration with dotted names (PyTorch's state_dict
 * order: own parameters, then own buffers, then each child's, depth first),
 * train/eval, seeding and freeing. */
#include <stdlib.h>
#include <string.h>
#include "nn/layer.h"

static _Thread_local nb_forward_hook hook;
static _Thread_local void *hook_ctx;

/* The modules whose forward runs on this thread, innermost first: one frame
 * on each nb_forward's stack, so entering a module costs two stores. */
typedef struct frame {
    const nb_module *m;
    const struct frame *up;
} frame;
static _Thread_local const frame *top;

nb_forward_hook nb_set_forward_hook(nb_forward_hook h, void *ctx, void **prev_ctx)
{
    nb_forward_hook prev = hook;
    if (prev_ctx)
        *prev_ctx = hook_ctx;
    hook = h;
    hook_ctx = ctx;
    return prev;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

nb_module *nb_module_new(const char *kind, nb_forward_fn forward, void *user)
{
    if (!kind || !forward)
        return nb_error(NB_ERR_NULL, "module_new: %s is NULL", kind ? "forward" : "kind");
    nb_module *m = calloc(1, sizeof *m);
    char *k = m ? dup_str(kind) : NULL;
    if (!k) {
        free(m);
        return nb_error(NB_ERR_MEMORY, "module_new: out of memory for module '%s'", kind);
    }
    m->kind = k;
    m->forward = forward;
    m->user = user;
    m->training = true;
    return m;
}

nb_module *nb_layer_new(const char *kind, nb_forward_fn forward, size_t state_size)
{
    void *state = calloc(1, state_size);
    if (!state)
        return nb_error(NB_ERR_MEMORY, "%s: out of memory for the layer", kind);
    nb_module *m = nb_module_new(kind, forward, state);
    if (!m) {
        free(state);
        return NULL;
    }
    m->free_user = free;
    return m;
}

/* A name for a parameter, buffer or child of m: non-empty, no dot, not yet taken. */
static bool valid_name(const nb_module *m, const char *op, const char *name)
{
    if (!name || !name[0] || strchr(name, '.')) {
        nb_error(NB_ERR_ARG, "%s: %s: name '%s' must be non-empty and contain no '.'", op, m->kind,
                 name ? name : "(null)");
        return false;
    }
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->param_names[i], name) == 0) {
            nb_error(NB_ERR_ARG, "%s: %s already has a parameter named '%s'", op, m->kind, name);
            return false;
        }
    for (int i = 0; i < m->n_buffers; i++)
        if (strcmp(m->buffer_names[i], name) == 0) {
            nb_error(NB_ERR_ARG, "%s: %s already has a buffer named '%s'", op, m->kind, name);
            return false;
        }
    for (int i = 0; i < m->n_children; i++)
        if (strcmp(m->child_names[i], name) == 0) {
            nb_error(NB_ERR_ARG, "%s: %s already has a child named '%s'", op, m->kind, name);
            return false;
        }
    return true;
}

/* Append (item, name) to a pair of parallel arrays of length *n. */
static bool append(void ***items, char ***names, int *n, void *item, const char *name)
{
    void **it = realloc(*items, (size_t)(*n + 1) * sizeof *it);
    if (it)
        *items = it;
    char **nm = it ? realloc(*names, (size_t)(*n + 1) * sizeof *nm) : NULL;
    if (nm)
        *names = nm;
    char *d = nm ? dup_str(name) : NULL;
    if (!d)
        return false;
    it[*n] = item;
    nm[*n] = d;
    (*n)++;
    return true;
}

/* Register t under name in one of m's tensor lists (parameters or buffers). */
static nb_tensor *register_tensor(nb_module *m, const char *op, const char *what, const char *name,
                                  nb_tensor *t, nb_tensor ***items, char ***names, int *n)
{
    if (!m) {
        nb_free(t);
        return nb_error(NB_ERR_NULL, "%s: module is NULL", op);
    }
    if (!nb_check_input(op, 3, t))
        return NULL;
    if (!t->persistent)
        return nb_error(NB_ERR_ARG,
                        "%s: %s: %s '%s' of shape %s is a step tensor; make it persistent with nb_keep()", op,
                        m->kind, what, name ? name : "(null)", nb_shape_fmt(t));
    if (!valid_name(m, op, name)) {
        nb_free(t);
        return NULL;
    }
    if (!append((void ***)items, names, n, t, name)) {
        nb_free(t);
        return nb_error(NB_ERR_MEMORY, "%s: out of memory registering '%s'", op, name);
    }
    return t;
}

/* Grow m->param_tied (when there is one) to n_params, the new entries false. */
static bool grow_tied(nb_module *m)
{
    bool *t = realloc(m->param_tied, (size_t)m->n_params * sizeof *t);
    if (!t)
        return false;
    t[m->n_params - 1] = false;
    m->param_tied = t;
    return true;
}

nb_tensor *nb_module_param(nb_module *m, const char *name, nb_tensor *t)
{
    if (!register_tensor(m, "module_param", "parameter", name, t, m ? &m->params : NULL,
                         m ? &m->param_names : NULL, m ? &m->n_params : NULL))
        return NULL;
    if (m->param_tied && !grow_tied(m)) {
        m->n_params--;
        free(m->param_names[m->n_params]);
        nb_free(t);
        return nb_error(NB_ERR_MEMORY, "module_param: out of memory registering '%s'", name);
    }
    t->requires_grad = true;
    return t;
}

nb_tensor *nb_module_tie(nb_module *m, const char *name, nb_tensor *t)
{
    if (!m || !name || !t)
        return nb_error(NB_ERR_NULL, "module_tie: %s is NULL", !m ? "module" : !name ? "name" : "tensor");
    int i = 0;
    while (i < m->n_params && strcmp(m->param_names[i], name) != 0)
        i++;
    if (i == m->n_params)
        return nb_error(NB_ERR_ARG, "module_tie: %s has no parameter named '%s'", m->kind, name);
    nb_tensor *old = m->params[i];
    if (t == old)
        return t;
    if (!t->persistent || !t->requires_grad || t->ndim != old->ndim ||
        memcmp(t->shape, old->shape, (size_t)t->ndim * sizeof *t->shape) != 0)
        return nb_error(NB_ERR_ARG, "module_tie: %s.%s %s: the tensor %s must be a parameter of that shape",
                        m->kind, name, nb_shape_fmt(old), nb_shape_fmt(t));
    if (!m->param_tied) {
        m->param_tied = calloc((size_t)m->n_params, sizeof *m->param_tied);
        if (!m->param_tied)
            return nb_error(NB_ERR_MEMORY, "module_tie: out of memory");
    }
    if (!m->param_tied[i])
        nb_free(old);
    m->params[i] = t;
    m->param_tied[i] = true;
    return t;
}

nb_tensor *nb_module_buffer(nb_module *m, const char *name, nb_tensor *t)
{
    if (!register_tensor(m, "module_buffer", "buffer", name, t, m ? &m->buffers : NULL,
                         m ? &m->buffer_names : NULL, m ? &m->n_buffers : NULL))
        return NULL;
    t->requires_grad = false;
    return t;
}

int nb_module_add(nb_module *m, const char *name, nb_module *child)
{
    if (!child) {
        if (nb_last_error() == NB_OK)
            nb_error(NB_ERR_NULL, "module_add: child is NULL");
        return -1;
    }
    if (!m) {
        nb_module_free(child);
        nb_error(NB_ERR_NULL, "module_add: module is NULL");
        return -1;
    }
    if (child == m) {
        nb_error(NB_ERR_ARG, "module_add: %s cannot be its own child", m->kind);
        return -1;
    }
    if (!valid_name(m, "module_add", name)) {
        nb_module_free(child);
        return -1;
    }
    if (!append((void ***)&m->children, &m->child_names, &m->n_children, child, name)) {
        nb_module_free(child);
        nb_error(NB_ERR_MEMORY, "module_add: out of memory registering '%s'", name);
        return -1;
    }
    return 0;
}

/* Appends the path of f ("sequential.2.fc1") at buf + *k. */
static void path(const frame *f, char *buf, size_t size, size_t *k)
{
    const char *name = NULL;
    if (f->up) {
        path(f->up, buf, size, k);
        for (int i = 0; i < f->up->m->n_children && !name; i++)
            if (f->up->m->children[i] == f->m)
                name = f->up->m->child_names[i];
    }
    if (*k + 1 >= size)
        return;
    if (f->up) /* a module run by another that does not own it is named by its kind */
        *k += (size_t)snprintf(buf + *k, size - *k, ".%s", name ? name : f->m->kind);
    else
        for (const char *c = f->m->kind; *c && *k + 1 < size; c++)
            buf[(*k)++] = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
    buf[*k < size ? *k : size - 1] = '\0';
}

/* "sequential.2 Linear(in_features=64, out_features=32, bias=True): " */
static void where(char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = '\0';
    if (!top)
        return;
    if (top->up) /* the root is named by its repr alone */
        path(top, buf, size, &k);
    char extra[256] = "";
    if (top->m->extra_repr)
        top->m->extra_repr(top->m, extra, sizeof extra);
    if (k + 1 < size)
        snprintf(buf + k, size - k, "%s%s(%s): ", k ? " " : "", top->m->kind, extra);
}

bool nb_forward_hooked(void) { return hook != NULL; }

nb_tensor *nb_forward(nb_module *m, nb_tensor *x) { return nb_forward_fused(m, x, NULL, NULL); }

nb_tensor *nb_forward_fused(nb_module *m, nb_tensor *x, nb_fused_forward_fn fn, const nb_module *after)
{
    if (!m)
        return nb_error(NB_ERR_NULL, "forward: module is NULL");
    if (!nb_check_input(m->kind, 1, x))
        return NULL;
    uint64_t errors = nb_error_count();
    frame f = {m, top};
    top = &f;
    nb_error_prefix_fn prev = nb_set_error_prefix(where);
    nb_tensor *y = fn ? fn(m, x, after) : m->forward(m, x);
    if (!y && nb_error_count() == errors)
        nb_error(NB_ERR_STATE, "%s: forward returned NULL on input %s", m->kind, nb_shape_fmt(x));
    nb_set_error_prefix(prev);
    top = f.up;
    if (y && hook)
        hook(m, y, hook_ctx);
    return y;
}

void nb_module_free(nb_module *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_params; i++) {
        if (!m->param_tied || !m->param_tied[i])
            nb_free(m->params[i]);
        free(m->param_names[i]);
    }
    free(m->param_tied);
    for (int i = 0; i < m->n_buffers; i++) {
        nb_free(m->buffers[i]);
        free(m->buffer_names[i]);
    }
    for (int i = 0; i < m->n_children; i++) {
        nb_module_free(m->children[i]);
        free(m->child_names[i]);
    }
    if (m->free_user)
        m->free_user(m->user);
    free(m->params);
    free(m->param_names);
    free(m->buffers);
    free(m->buffer_names);
    free(m->children);
    free(m->child_names);
    free(m->kind);
    free(m);
}

/* Which of a module's tensors a listing takes. */
enum { WITH_PARAMS = 1, WITH_BUFFERS = 2 };

static int count_tensors(const nb_module *m, int what)
{
    int n = (what & WITH_PARAMS ? m->n_params : 0) + (what & WITH_BUFFERS ? m->n_buffers : 0);
    for (int i = 0; i < m->n_children; i++)
        n += count_tensors(m->children[i], what);
    return n;
}

/* Fill list from index *k on with m's tensors (own parameters, own buffers,
 * then each child's), names prefixed "prefix". */
static bool collect(nb_module *m, const char *prefix, int what, nb_param_list *list, int *k)
{
    int np = what & WITH_PARAMS ? m->n_params : 0, nbuf = what & WITH_BUFFERS ? m->n_buffers : 0;
    size_t plen = strlen(prefix);
    for (int i = 0; i < np + nbuf + m->n_children; i++) {
        const char *name = i < np          ? m->param_names[i]
                           : i < np + nbuf ? m->buffer_names[i - np]
                                           : m->child_names[i - np - nbuf];
        char *full = malloc(plen + strlen(name) + 2);
        if (!full)
            return false;
        memcpy(full, prefix, plen);
        strcpy(full + plen, name);
        bool ok = true;
        if (i < np + nbuf) {
            list->tensors[*k] = i < np ? m->params[i] : m->buffers[i - np];
            list->names[(*k)++] = full;
        } else {
            strcat(full, ".");
            ok = collect(m->children[i - np - nbuf], full, what, list, k);
            free(full);
        }
        if (!ok)
            return false;
    }
    return true;
}

static int list_tensors(const char *op, nb_module *m, int what, nb_param_list *out)
{
    if (!out) {
        nb_error(NB_ERR_NULL, "%s: out is NULL", op);
        return -1;
    }
    *out = (nb_param_list){0};
    if (!m) {
        nb_error(NB_ERR_NULL, "%s: module is NULL", op);
        return -1;
    }
    int n = count_tensors(m, what), k = 0;
    out->tensors = calloc((size_t)(n ? n : 1), sizeof *out->tensors);
    out->names = calloc((size_t)(n ? n : 1), sizeof *out->names);
    if (!out->tensors || !out->names || !collect(m, "", what, out, &k)) {
        out->count = k;
        nb_param_list_free(out);
        nb_error(NB_ERR_MEMORY, "%s: out of memory listing %d tensors", op, n);
        return -1;
    }
    out->count = n;
    if (what == WITH_PARAMS) /* a tied tensor once, under its first name */
        for (int i = out->count - 1; i > 0; i--)
            for (int j = 0; j < i; j++)
                if (out->tensors[j] == out->tensors[i]) {
                    free(out->names[i]);
                    memmove(out->tensors + i, out->tensors + i + 1,
                            (size_t)(out->count - i - 1) * sizeof *out->tensors);
                    memmove(out->names + i, out->names + i + 1,
                            (size_t)(out->count - i - 1) * sizeof *out->names);
                    out->count--;
                    break;
                }
    return out->count;
}

int nb_module_parameters(nb_module *m, nb_param_list *out)
{
    return list_tensors("module_parameters", m, WITH_PARAMS, out);
}

int nb_module_buffers(nb_module *m, nb_param_list *out)
{
    return list_tensors("module_buffers", m, WITH_BUFFERS, out);
}

int nb_module_state_dict(nb_module *m, nb_param_list *out)
{
    return list_tensors("module_state_dict", m, WITH_PARAMS | WITH_BUFFERS, out);
}

void nb_param_list_free(nb_param_list *list)
{
    if (!list)
        return;
    for (int i = 0; list->names && i < list->count; i++)
        free(list->names[i]);
    free(list->names);
    free(list->tensors);
    *list = (nb_param_list){0};
}

/* The module at the first `len` characters of a dotted path. */
static nb_module *walk(nb_module *m, const char *path, size_t len)
{
    while (len > 0) {
        const char *dot = memchr(path, '.', len);
        size_t seg = dot ? (size_t)(dot - path) : len;
        nb_module *next = NULL;
        for (int i = 0; i < m->n_children && !next; i++)
            if (strlen(m->child_names[i]) == seg && memcmp(m->child_names[i], path, seg) == 0)
                next = m->children[i];
        if (!next)
            return NULL;
        m = next;
        path += seg + (dot != NULL);
        len -= seg + (dot != NULL);
    }
    return m;
}

nb_module *nb_module_child(nb_module *m, const char *name)
{
    if (!m || !name)
        return nb_error(NB_ERR_NULL, "module_child: %s is NULL", m ? "name" : "module");
    nb_module *c = name[0] ? walk(m, name, strlen(name)) : NULL;
    return c ? c : nb_error(NB_ERR_ARG, "module_child: %s has no child '%s'", m->kind, name);
}

nb_tensor *nb_module_get(nb_module *m, const char *name)
{
    if (!m || !name)
        return nb_error(NB_ERR_NULL, "module_get: %s is NULL", m ? "name" : "module");
    const char *dot = strrchr(name, '.');
    nb_module *owner = dot ? walk(m, name, (size_t)(dot - name)) : m;
    const char *leaf = dot ? dot + 1 : name;
    for (int i = 0; owner && i < owner->n_params; i++)
        if (strcmp(owner->param_names[i], leaf) == 0)
            return owner->params[i];
    for (int i = 0; owner && i < owner->n_buffers; i++)
        if (strcmp(owner->buffer_names[i], leaf) == 0)
            return owner->buffers[i];
    return nb_error(NB_ERR_ARG, "module_get: %s has no parameter or buffer '%s'", m->kind, name);
}

int64_t nb_module_num_params(const nb_module *m)
{
    if (!m)
        return 0;
    int64_t n = 0;
    for (int i = 0; i < m->n_params; i++)
        n += m->param_tied && m->param_tied[i] ? 0 : m->params[i]->numel;
    for (int i = 0; i < m->n_children; i++)
        n += nb_module_num_params(m->children[i]);
    return n;
}

void nb_module_zero_grad(nb_module *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_params; i++)
        nb_zero_grad(m->params[i]);
    for (int i = 0; i < m->n_children; i++)
        nb_module_zero_grad(m->children[i]);
}

void nb_module_train(nb_module *m, bool training)
{
    if (!m)
        return;
    m->training = training;
    for (int i = 0; i < m->n_children; i++)
        nb_module_train(m->children[i], training);
}

static void seed_tree(nb_module *m, uint64_t seed, uint64_t *k)
{
    if (m->generator)
        nb_generator_seed(m->generator, seed + (*k)++);
    for (int i = 0; i < m->n_children; i++)
        seed_tree(m->children[i], seed, k);
}

void nb_module_seed(nb_module *m, uint64_t seed)
{
    uint64_t k = 0;
    if (m)
        seed_tree(m, seed, &k);
}
