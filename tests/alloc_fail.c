/* tests/alloc_fail.c — allocation-failure injection (issue 10): linked with
 * -Wl,--wrap for malloc, calloc, realloc, aligned_alloc and posix_memalign,
 * so that every allocation the library makes goes through counters here; for
 * each scenario and every n, the n-th allocation fails. Each failing call must
 * return NULL/-1 with a message, never crash; a checkpoint being replaced must
 * stay intact; a model being loaded into must stay unchanged. Leaks are what
 * LeakSanitizer reports at exit in the sanitizer build (every scenario frees
 * all it made, failure or not). Allocations inside libc and zlib (fopen,
 * open_memstream, inflate's window) are not counted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "nabla/nabla.h"

static long count, fail_at; /* allocations so far in this run; which one fails (0: none) */
static bool failed;         /* the injected failure happened in this run */

static bool inject(void)
{
    if (++count != fail_at)
        return false;
    failed = true;
    return true;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);
void *__wrap_malloc(size_t n) { return inject() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t k, size_t n) { return inject() ? NULL : __real_calloc(k, n); }
void *__wrap_realloc(void *p, size_t n) { return inject() ? NULL : __real_realloc(p, n); }
void *__wrap_aligned_alloc(size_t a, size_t n) { return inject() ? NULL : __real_aligned_alloc(a, n); }
int __wrap_posix_memalign(void **p, size_t a, size_t n)
{
    return inject() ? 12 /* ENOMEM */ : __real_posix_memalign(p, a, n);
}

static char dir[64];
static const char *file(const char *name)
{
    static char ring[4][128];
    static int next;
    char *p = ring[next++ & 3];
    snprintf(p, sizeof ring[0], "%s/%s", dir, name);
    return p;
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static unsigned char buf[1 << 16];
    *n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return buf;
}

#define CHECK(c)                                                                                             \
    do {                                                                                                     \
        if (!(c)) {                                                                                          \
            fprintf(stderr, "alloc_fail: %s:%d: %s (failing allocation %ld)\n", __FILE__, __LINE__, #c,      \
                    fail_at);                                                                                \
            exit(1);                                                                                         \
        }                                                                                                    \
    } while (0)

/* ---- scenarios: true when everything worked, false after a clean failure ---- */

/* A success must be the right answer: the gradient is compared with the one
 * of the first run, made without failures. */
static nb_real ref_grad[40];
static bool have_ref;

static bool ops(void)
{
    nb_generator g;
    nb_generator_seed(&g, 11);
    nb_tensor *a = nb_randn(&g, NB_SHAPE(8, 5)), *b = nb_randn(&g, NB_SHAPE(5, 3));
    nb_tensor *c = nb_ones(NB_SHAPE(3));
    bool ok = false;
    if (a && b && c) {
        nb_requires_grad(a, true);
        nb_tensor *y = nb_sum(nb_relu(nb_add(nb_matmul(a, b), c)));
        nb_tensor *z = nb_mean_dim(nb_transpose(nb_cat(2, (nb_tensor *[]){a, a}, 0), 0, 1), 1, false);
        ok = y && z && nb_backward(y) == 0;
        CHECK(!ok || a->grad != NULL);
        if (ok && !have_ref)
            memcpy(ref_grad, a->grad, sizeof ref_grad), have_ref = true;
        CHECK(!ok || memcmp(ref_grad, a->grad, sizeof ref_grad) == 0);
    }
    nb_step_end();
    nb_free(a), nb_free(b), nb_free(c);
    return ok;
}

/* Each run's step is larger than every earlier one, so that the step arena
 * must grow (a new chunk) and nb_step_end merges the chunks into one. */
static bool arena_growth(void)
{
    static int64_t size = 1 << 17;
    size *= 2;
    nb_tensor *a = nb_ones(NB_SHAPE(size));
    bool ok = false;
    if (a) {
        nb_tensor *y = nb_mul(nb_exp(a), nb_add(a, a));
        nb_tensor *s = nb_sum(nb_mul(y, y));
        double want = (double)size * 4 * 7.38905609893065; /* (2e)^2 per element */
        ok = s && fabs((double)nb_item(s) - want) <= 1e-4 * want;
    }
    nb_step_end();
    nb_free(a);
    if (size > (1 << 22))
        size = 1 << 17;
    return ok;
}

/* Each run records more nodes than any before, so that the tape must grow;
 * a success must give x the gradient 1 (a chain of additions). */
static bool tape_growth(void)
{
    static int nodes = 1024;
    nodes = nodes * 2 > 1 << 15 ? 1100 : nodes * 2;
    nb_tensor *x = nb_zeros(NB_SHAPE(4)), *c = nb_ones(NB_SHAPE(4)), *w = nb_ones(NB_SHAPE(4));
    bool ok = false;
    if (x && c && w && nb_requires_grad(x, true) && nb_requires_grad(w, true)) {
        nb_tensor *y = x;
        for (int i = 0; i < nodes; i++)
            y = nb_add(y, c);
        /* a second branch: the loss needs a gradient even if the chain lost its nodes */
        nb_tensor *loss = nb_add(nb_sum(y), nb_sum(nb_mul(w, w)));
        ok = loss && nb_backward(loss) == 0;
        CHECK(!ok || (x->grad && x->grad[3] == 1 && w->grad[0] == 2 && y->data[0] == nodes));
    }
    nb_step_end();
    nb_free(x), nb_free(c), nb_free(w);
    return ok;
}

static nb_module *mlp(void)
{
    nb_generator g;
    nb_generator_seed(&g, 3);
    return nb_sequential(4, nb_linear_ex(6, 8, true, &g), nb_act("relu"), nb_dropout(0.25),
                         nb_linear_ex(8, 3, true, &g));
}

static bool train_step(void)
{
    nb_module *m = mlp();
    nb_param_list p = {0};
    nb_optim *o =
        m && nb_module_parameters(m, &p) >= 0 ? nb_adam(p.tensors, p.count, NB_ADAM_OPTS(.lr = 1e-2)) : NULL;
    nb_tensor *x = nb_randn(NULL, NB_SHAPE(4, 6)), *y = nb_from_array((nb_real[]){0, 2, 1, 2}, NB_SHAPE(4));
    bool ok = false;
    if (o && x && y) {
        nb_optim_zero_grad(o);
        nb_tensor *loss = nb_cross_entropy(nb_forward(m, x), y, NB_CROSS_ENTROPY_OPTS());
        ok = loss && nb_backward(loss) == 0 && nb_optim_step(o) == 0;
    }
    nb_step_end();
    nb_free(x), nb_free(y);
    nb_optim_free(o);
    nb_param_list_free(&p);
    nb_module_free(m);
    return ok;
}

/* Saving over a good checkpoint: a failure leaves it byte for byte. */
static unsigned char good[1 << 16];
static size_t good_len;

static bool checkpoint_save(void)
{
    nb_module *m = mlp();
    bool ok = m && nb_save_checkpoint(file("c.st"), m, NULL, "{\"epoch\": \"1\"}") == 0;
    size_t n;
    unsigned char *now = slurp(file("c.st"), &n);
    if (!ok)
        CHECK(now && n == good_len && memcmp(now, good, n) == 0);
    else if (now && n <= sizeof good) /* the new file is the good one now */
        memcpy(good, now, good_len = n);
    nb_module_free(m);
    return ok;
}

/* Loading into a model: a failure leaves its parameters unchanged. */
static bool checkpoint_load(void)
{
    nb_module *m = mlp();
    nb_tensor *w = m ? nb_module_get(m, "0.weight") : NULL;
    nb_tensor *before = w ? nb_clone(w) : NULL;
    bool ok = before && nb_load_checkpoint(file("other.st"), m, NULL) == 0;
    if (!ok && before)
        CHECK(memcmp(before->data, w->data, (size_t)w->numel * sizeof(nb_real)) == 0);
    if (ok)
        CHECK(w->data[0] == 0.5); /* other.st holds 0.5 everywhere */
    nb_free(before);
    nb_module_free(m);
    return ok;
}

static bool load_idx_plain(void)
{
    nb_tensor *t = nb_load_idx(file("a.idx"));
    CHECK(!t || (t->numel == 6 && t->data[5] == 6));
    nb_free(t);
    return t != NULL;
}

static bool load_idx_gzip(void)
{
    nb_tensor *t = nb_load_idx(file("a.idx.gz"));
    CHECK(!t || (t->numel == 6 && t->data[5] == 6));
    nb_free(t);
    return t != NULL;
}

static bool load_csv(void)
{
    char **names = NULL;
    nb_tensor *t =
        nb_load_csv(file("a.csv"), NB_CSV_OPTS(.columns = (const char *[]){"b"}, .n_columns = 1), &names);
    CHECK(!t || (t->numel == 2 && t->data[1] == 4 && names && strcmp(names[0], "b") == 0));
    CHECK(t || !names);
    free(names);
    nb_free(t);
    return t != NULL;
}

static bool load_safetensors(void)
{
    nb_safetensors *st = nb_safetensors_open(file("c.st"));
    nb_tensor *t = st ? nb_safetensors_get(st, "model.3.bias") : NULL;
    bool ok = t && nb_safetensors_metadata(st, "epoch") != NULL;
    nb_free(t);
    nb_safetensors_close(st);
    return ok;
}

static bool mnist_and_loader(void)
{
    nb_dataset *ds = nb_mnist_load(dir, true, NB_MNIST_OPTS());
    nb_loader *ld = ds ? nb_loader_new(ds, 1, NB_LOADER_OPTS()) : NULL;
    nb_tensor *x, *y;
    bool ok = ld && nb_loader_next(ld, &x, &y) && x->shape[1] == 4;
    nb_loader_free(ld);
    nb_dataset_free(ds);
    return ok;
}

/* ---- the files the loaders read ---- */

static void write_file(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(b, 1, n, f) == n && fclose(f) == 0);
}

static void write_gz(const char *path, const void *b, size_t n)
{
    gzFile g = gzopen(path, "wb");
    CHECK(g && gzwrite(g, b, (unsigned)n) == (int)n && gzclose(g) == Z_OK);
}

static void make_files(void)
{
    static const unsigned char idx[] = {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6};
    write_file(file("a.idx"), idx, sizeof idx);
    write_gz(file("a.idx.gz"), idx, sizeof idx);
    write_file(file("a.csv"), "a,b\n1,2\n\n3,4\n", 13);
    static const unsigned char images[] = {0, 0, 8, 3, 0, 0,  0,   2,   0, 0, 0, 2,
                                           0, 0, 0, 2, 0, 64, 128, 255, 1, 2, 3, 4};
    static const unsigned char labels[] = {0, 0, 8, 1, 0, 0, 0, 2, 3, 7};
    write_gz(file("train-images-idx3-ubyte.gz"), images, sizeof images);
    write_gz(file("train-labels-idx1-ubyte.gz"), labels, sizeof labels);
    nb_module *m = mlp();
    CHECK(m && nb_save_checkpoint(file("c.st"), m, NULL, "{\"epoch\": \"0\"}") == 0);
    unsigned char *b = slurp(file("c.st"), &good_len);
    memcpy(good, b, good_len);
    nb_param_list p;
    CHECK(nb_module_parameters(m, &p) >= 0);
    for (int i = 0; i < p.count; i++)
        nb_fill_(p.tensors[i], 0.5);
    CHECK(nb_save_checkpoint(file("other.st"), m, NULL, NULL) == 0);
    nb_param_list_free(&p);
    nb_module_free(m);
}

typedef struct scenario {
    const char *name;
    bool (*run)(void);
} scenario;

int main(void)
{
    static const scenario scenarios[] = {
        {"tensor ops and backward", ops},
        {"a step that outgrows the step arena", arena_growth},
        {"a step that outgrows the tape", tape_growth},
        {"a training step (MLP, dropout, cross-entropy, Adam)", train_step},
        {"checkpoint save over a good one", checkpoint_save},
        {"checkpoint load", checkpoint_load},
        {"IDX plain", load_idx_plain},
        {"IDX gzip", load_idx_gzip},
        {"CSV", load_csv},
        {"safetensors open and read", load_safetensors},
        {"MNIST directory and a loader", mnist_and_loader},
    };
    nb_set_error_handler(NULL, NULL);
    nb_set_num_threads(1); /* the thread pool's own allocations happen once; keep runs repeatable */
    snprintf(dir, sizeof dir, "/tmp/nabla-allocfail-XXXXXX");
    CHECK(mkdtemp(dir));
    make_files();
    long total = 0;
    for (size_t s = 0; s < sizeof scenarios / sizeof scenarios[0]; s++) {
        const scenario *sc = &scenarios[s];
        fail_at = 0, count = 0;
        CHECK(sc->run()); /* without failures it works */
        long n_allocs = count, n;
        for (n = 1;; n++) {
            fail_at = n, count = 0, failed = false;
            nb_clear_error();
            bool ok = sc->run();
            if (!failed)
                break; /* fewer than n allocations: every one has failed once */
            if (!ok && (nb_last_error() == NB_OK || !nb_last_error_message()[0])) {
                fprintf(stderr,
                        "alloc_fail: %s: allocation %ld failed and the call failed without a message\n",
                        sc->name, n);
                return 1;
            }
            if (!ok && nb_last_error() != NB_ERR_MEMORY && !strstr(nb_last_error_message(), "memory"))
                fprintf(stderr, "alloc_fail: note: %s, allocation %ld: %s\n", sc->name, n,
                        nb_last_error_message());
        }
        printf("%-52s %4ld allocations, each failed once\n", sc->name, n_allocs);
        total += n - 1;
    }
    fail_at = 0;
    printf("%ld runs with one failing allocation: no crash, every failure reported\n", total);
    static const char *names[] = {"a.idx",
                                  "a.idx.gz",
                                  "a.csv",
                                  "c.st",
                                  "other.st",
                                  "train-images-idx3-ubyte.gz",
                                  "train-labels-idx1-ubyte.gz"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(file(names[i]));
    CHECK(rmdir(dir) == 0); /* also: no temporary file was left behind */
    return 0;
}
