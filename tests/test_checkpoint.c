/* tests/test_checkpoint.c — nb_save_checkpoint / nb_load_checkpoint: a run
 * resumed from a checkpoint (model with dropout, Adam) is bit-identical to the
 * uninterrupted run; the file's names and metadata; mismatch errors leave the
 * model untouched; the write leaves no temporary file behind. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "common.h"

static char dir[64];

static void setup(void)
{
    quiet();
    strcpy(dir, "/tmp/nb_ckpt_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            remove(p);
        }
    if (d)
        closedir(d);
    rmdir(dir);
    nb_step_end();
}

TestSuite(checkpoint, .init = setup, .fini = teardown);

static const char *file(const char *name)
{
    static char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

/* Linear(3, hidden) - tanh - Dropout(0.2) - Linear(hidden, 1), initialised and
 * its dropout seeded from `seed`. */
static nb_module *make_model(uint64_t seed, int64_t hidden)
{
    nb_generator g;
    nb_generator_seed(&g, seed);
    nb_module *m = nb_sequential(4, nb_linear_ex(3, hidden, true, &g), nb_act("tanh"), nb_dropout(0.2),
                                 nb_linear_ex(hidden, 1, true, &g));
    cr_assert_not_null(m);
    nb_module_seed(m, seed);
    return m;
}

typedef struct run {
    nb_module *model;
    nb_param_list params;
    nb_optim *opt;
} run;

static run start(uint64_t seed, double lr)
{
    run r = {.model = make_model(seed, 16)};
    cr_assert_eq(nb_module_parameters(r.model, &r.params), 4);
    r.opt = nb_adam(r.params.tensors, r.params.count, (nb_adam_opts){.lr = lr});
    cr_assert_not_null(r.opt);
    return r;
}

static void finish(run *r)
{
    nb_optim_free(r->opt);
    nb_param_list_free(&r->params);
    nb_module_free(r->model);
}

/* Full-batch MSE regression of y = sin(x0) + x1 x2 for `steps` steps. */
static void train(run *r, int steps)
{
    nb_generator g;
    nb_generator_seed(&g, 2024);
    nb_tensor *x = nb_randn(&g, NB_SHAPE(32, 3)), *y = nb_empty(NB_SHAPE(32, 1));
    for (int i = 0; i < 32; i++)
        y->data[i] = (nb_real)(sin((double)x->data[3 * i]) + (double)x->data[3 * i + 1] * x->data[3 * i + 2]);
    for (int s = 0; s < steps; s++) {
        nb_optim_zero_grad(r->opt);
        nb_tensor *d = nb_sub(nb_forward(r->model, x), y);
        cr_assert_eq(nb_backward(nb_mean(nb_mul(d, d))), 0);
        cr_assert_eq(nb_optim_step(r->opt), 0);
        nb_step_end();
    }
    nb_free(x), nb_free(y);
}

/* All parameters, concatenated. */
static nb_real *snapshot(run *r, int64_t *n)
{
    *n = nb_module_num_params(r->model);
    nb_real *v = malloc((size_t)*n * sizeof *v), *p = v;
    for (int i = 0; i < r->params.count; i++) {
        memcpy(p, r->params.tensors[i]->data, (size_t)r->params.tensors[i]->numel * sizeof *p);
        p += r->params.tensors[i]->numel;
    }
    return v;
}

Test(checkpoint, resume_is_bit_identical)
{
    const int k = 7, m = 9;
    int64_t na, nb, nc;
    /* run A: k steps, save, m more steps */
    run a = start(1, 1e-2);
    train(&a, k);
    cr_assert_eq(nb_save_checkpoint(file("a.safetensors"), a.model, a.opt, "{\"epoch\": \"7\"}"), 0);
    train(&a, m);
    nb_real *pa = snapshot(&a, &na);
    finish(&a);

    /* run B: k steps, save, free everything; rebuild from another seed and lr, load, m steps */
    run b = start(1, 1e-2);
    train(&b, k);
    cr_assert_eq(nb_save_checkpoint(file("b.safetensors"), b.model, b.opt, NULL), 0);
    finish(&b);
    b = start(99, 0.5);
    cr_assert_eq(nb_load_checkpoint(file("b.safetensors"), b.model, b.opt), 0, "%s", nb_last_error_message());
    cr_assert_eq(nb_optim_get_lr(b.opt), 1e-2);
    train(&b, m);
    nb_real *pb = snapshot(&b, &nb);
    finish(&b);
    cr_assert_eq(na, nb);
    cr_assert(memcmp(pa, pb, (size_t)na * sizeof *pa) == 0,
              "resumed parameters differ from the uninterrupted run");

    /* the same without the optimizer's state (or the dropout generator): different bits,
     * so the comparison above has teeth */
    run c = start(99, 1e-2);
    cr_assert_eq(nb_load_checkpoint(file("b.safetensors"), c.model, NULL), 0);
    train(&c, m);
    nb_real *pc = snapshot(&c, &nc);
    cr_assert(memcmp(pa, pc, (size_t)na * sizeof *pa) != 0);
    finish(&c);
    free(pa), free(pb), free(pc);
}

Test(checkpoint, file_contents_and_metadata)
{
    run r = start(3, 1e-3);
    train(&r, 2);
    cr_assert_eq(nb_save_checkpoint(file("c.safetensors"), r.model, r.opt, " { \"epoch\": \"2\" } "), 0);
    nb_safetensors *st = nb_safetensors_open(file("c.safetensors"));
    cr_assert_not_null(st);
    const char *want[] = {"model.0.weight",           "model.0.bias",
                          "model.3.weight",           "model.3.bias",
                          "optim.state.0.step",       "optim.state.0.exp_avg",
                          "optim.state.0.exp_avg_sq", "optim.state.3.exp_avg_sq"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_not_null(nb_safetensors_find(st, want[i]), "no '%s'", want[i]);
    cr_assert_eq(nb_safetensors_count(st), 4 + 4 * 3);
    const nb_safetensors_entry *e = nb_safetensors_find(st, "model.0.weight");
    cr_assert_eq(e->ndim, 2);
    cr_assert_eq(e->shape[0], 16);
    cr_assert_eq(e->shape[1], 3);
    cr_assert_str_eq(nb_safetensors_metadata(st, "epoch"), "2");
    cr_assert_str_eq(nb_safetensors_metadata(st, "nabla.optim.lr"), "0.001");
    cr_assert_not_null(nb_safetensors_metadata(st, "nabla.generator.2"));
    nb_tensor *step = nb_safetensors_get(st, "optim.state.0.step");
    cr_assert_eq(nb_item(step), 2);
    nb_free(step);
    nb_safetensors_close(st);
    /* the atomic write left only the two files asked for */
    cr_assert_eq(nb_save_checkpoint(file("d.safetensors"), r.model, NULL, NULL), 0);
    DIR *d = opendir(dir);
    int files = 0;
    for (struct dirent *de; (de = readdir(d));)
        files += de->d_name[0] != '.';
    closedir(d);
    cr_assert_eq(files, 2);
    finish(&r);
}

Test(checkpoint, mismatches_change_nothing)
{
    run r = start(4, 1e-3);
    cr_assert_eq(nb_save_checkpoint(file("e.safetensors"), r.model, r.opt, NULL), 0);
    cr_assert_eq(nb_save_checkpoint(file("model_only.safetensors"), r.model, NULL, NULL), 0);
    finish(&r);

    /* a hidden layer of 8 instead of 16 */
    nb_module *small = make_model(5, 8);
    nb_tensor *w = nb_module_get(small, "0.weight");
    nb_tensor *before = nb_keep(w);
    cr_assert_eq(nb_load_checkpoint(file("e.safetensors"), small, NULL), -1);
    assert_error(NB_ERR_SHAPE, "tensor 'model.0.weight' has shape [16,3] in the file but [8,3]");
    cr_assert(memcmp(before->data, w->data, (size_t)w->numel * sizeof(nb_real)) == 0);
    nb_clear_error();
    nb_free(before);
    nb_module_free(small);

    /* a model with a layer more: its parameters are missing from the file */
    nb_module *more = make_model(5, 16);
    cr_assert_eq(nb_sequential_add(more, nb_linear(1, 1)), 0);
    cr_assert_eq(nb_load_checkpoint(file("e.safetensors"), more, NULL), -1);
    assert_error(NB_ERR_ARG, "'model.4.weight' is not in the file");
    nb_clear_error();
    nb_module_free(more);

    /* a layer fewer: the file's model.3.* are unexpected */
    nb_generator g;
    nb_generator_seed(&g, 5);
    nb_module *fewer = nb_sequential(3, nb_linear_ex(3, 16, true, &g), nb_act("tanh"), nb_dropout(0.2));
    cr_assert_eq(nb_load_checkpoint(file("e.safetensors"), fewer, NULL), -1);
    assert_error(NB_ERR_ARG, "tensor 'model.3.bias' of the file has no counterpart in the model");
    nb_clear_error();
    nb_module_free(fewer);

    /* an optimizer to restore from a file that has none */
    r = start(6, 1e-3);
    cr_assert_eq(nb_load_checkpoint(file("model_only.safetensors"), r.model, r.opt), -1);
    assert_error(NB_ERR_ARG, "'optim.state.0.step' is not in the file");
    nb_clear_error();
    cr_assert_eq(nb_load_checkpoint(file("missing.safetensors"), r.model, r.opt), -1);
    assert_error(NB_ERR_IO, "missing.safetensors");
    nb_clear_error();
    finish(&r);
}

Test(checkpoint, save_errors)
{
    nb_module *m = make_model(7, 4);
    cr_assert_eq(nb_save_checkpoint(file("f.safetensors"), m, NULL, "[\"epoch\"]"), -1);
    assert_error(NB_ERR_ARG, "save_checkpoint: metadata must be a JSON object");
    nb_clear_error();
    cr_assert_eq(nb_save_checkpoint(file("f.safetensors"), m, NULL, "{\"epoch\": 3}"), -1);
    assert_error(NB_ERR_FORMAT, "metadata values must be strings");
    nb_clear_error();
    cr_assert_eq(nb_save_checkpoint("/nonexistent-dir/x.safetensors", m, NULL, NULL), -1);
    assert_error(NB_ERR_IO, "/nonexistent-dir/x.safetensors");
    nb_clear_error();
    cr_assert_eq(nb_save_checkpoint(file("f.safetensors"), NULL, NULL, NULL), -1);
    assert_error(NB_ERR_NULL, "save_checkpoint: model is NULL");
    cr_assert_eq(access(file("f.safetensors"), F_OK), -1, "no file after failed saves");
    nb_module_free(m);
}

/* Issue 10: a caller's metadata may not use nabla's own namespace. */
Test(checkpoint, caller_keys_in_the_nabla_namespace_are_refused)
{
    run r = start(8, 1e-3);
    cr_assert_eq(nb_save_checkpoint(file("n.safetensors"), r.model, r.opt, "{\"nabla.optim.lr\": \"1e999\"}"),
                 -1);
    assert_error(NB_ERR_ARG,
                 "save_checkpoint: metadata key 'nabla.optim.lr' is in the namespace 'nabla.', which "
                 "nabla reserves for its own keys");
    nb_clear_error();
    cr_assert_eq(
        nb_save_checkpoint(file("n.safetensors"), r.model, NULL, "{\"a\": \"1\", \"nabla.x\": \"2\"}"), -1);
    assert_error(NB_ERR_ARG, "metadata key 'nabla.x' is in the namespace 'nabla.'");
    nb_clear_error();
    cr_assert_eq(nb_save_checkpoint(file("n.safetensors"), r.model, NULL, "{\"a\": \"1\", \"a\": \"2\"}"),
                 -1);
    assert_error(NB_ERR_FORMAT, "save_checkpoint: metadata: metadata key 'a' appears twice");
    cr_assert_eq(access(file("n.safetensors"), F_OK), -1, "no file after refused saves");
    nb_clear_error();
    cr_assert_eq(nb_save_checkpoint(file("n.safetensors"), r.model, NULL, "{\"nabla\": \"ok\"}"), 0);
    finish(&r);
}

/* A copy of checkpoint src at dst with other metadata (written by the plain
 * safetensors writer, as another program could). */
static void rewrite(const char *src_name, const char *dst_name, const char *json)
{
    char dst[128];
    snprintf(dst, sizeof dst, "%s", file(dst_name));
    nb_safetensors *st = nb_safetensors_open(file(src_name));
    cr_assert_not_null(st);
    int n = nb_safetensors_count(st);
    const char **names = malloc((size_t)n * sizeof *names);
    nb_tensor **ts = malloc((size_t)n * sizeof *ts);
    for (int i = 0; i < n; i++) {
        names[i] = nb_safetensors_entry_at(st, i)->name;
        ts[i] = nb_safetensors_get(st, names[i]);
    }
    cr_assert_eq(nb_save_safetensors(dst, n, names, ts, json), 0, "%s", nb_last_error_message());
    for (int i = 0; i < n; i++)
        nb_free(ts[i]);
    free(names), free(ts);
    nb_safetensors_close(st);
}

/* Issue 10: the library's own keys are checked: a finite learning rate, a
 * generator state that can draw. A refused file changes nothing. */
Test(checkpoint, non_finite_lr_and_dead_generator_states_are_refused)
{
    run r = start(9, 1e-3);
    cr_assert_eq(nb_save_checkpoint(file("g.safetensors"), r.model, r.opt, NULL), 0);
    nb_safetensors *st = nb_safetensors_open(file("g.safetensors"));
    char gen[200];
    snprintf(gen, sizeof gen, "%s", nb_safetensors_metadata(st, "nabla.generator.2"));
    nb_safetensors_close(st);
    static const char zero[] = "0000000000000000 0000000000000000 0000000000000000 0000000000000000 0 "
                               "0000000000000000";
    char json[600];
    snprintf(json, sizeof json, "{\"nabla.optim.lr\": \"1e999\", \"nabla.generator.2\": \"%s\"}", gen);
    rewrite("g.safetensors", "inf.safetensors", json);
    snprintf(json, sizeof json, "{\"nabla.optim.lr\": \"0.001\", \"nabla.generator.2\": \"%s\"}", zero);
    rewrite("g.safetensors", "zero.safetensors", json);
    snprintf(json, sizeof json,
             "{\"nabla.optim.lr\": \"0.001\", \"nabla.generator.2\": \"%.68s1 7ff0000000000000\"}",
             gen); /* a spare normal of +inf */
    rewrite("g.safetensors", "spare.safetensors", json);

    nb_optim_set_lr(r.opt, 0.5);
    int64_t n;
    nb_real *before = snapshot(&r, &n);
    nb_generator g0 = *r.model->children[2]->generator;
    cr_assert_eq(nb_load_checkpoint(file("inf.safetensors"), r.model, r.opt), -1);
    assert_error(NB_ERR_FORMAT,
                 "inf.safetensors: metadata 'nabla.optim.lr' is not a finite learning rate >= 0: "
                 "\"1e999\"");
    nb_clear_error();
    cr_assert_eq(nb_load_checkpoint(file("zero.safetensors"), r.model, r.opt), -1);
    assert_error(NB_ERR_FORMAT,
                 "zero.safetensors: metadata 'nabla.generator.2' is not a valid generator state");
    nb_clear_error();
    cr_assert_eq(nb_load_checkpoint(file("spare.safetensors"), r.model, r.opt), -1);
    assert_error(NB_ERR_FORMAT,
                 "spare.safetensors: metadata 'nabla.generator.2' is not a valid generator state");
    nb_clear_error();
    nb_real *after = snapshot(&r, &n);
    cr_assert_arr_eq(before, after, (size_t)n * sizeof *before, "a refused file changed the model");
    cr_assert_eq(nb_optim_get_lr(r.opt), 0.5);
    nb_generator g1 = *r.model->children[2]->generator;
    cr_assert_arr_eq(&g0, &g1, sizeof g0);
    free(before), free(after);
    finish(&r);
}
