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
    r.opt = nb_adam(r.params.tensors, r.params.count, NB_ADAM_OPTS(.lr = lr));
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
    /* every option of every group, as PyTorch's param_groups in its state_dict */
    cr_assert_str_eq(
        nb_safetensors_metadata(st, "nabla.optim.param_groups.0"),
        "adam params=4 initial_lr=none lr=0.001 weight_decay=0 maximize=0 momentum=0 dampening=0 "
        "nesterov=0 beta1=0.9 beta2=0.999 eps=1e-08 amsgrad=0 alpha=0 centered=0 "
        "lr_decay=0 initial_accumulator_value=0");
    cr_assert_null(nb_safetensors_metadata(st, "nabla.default_generator")); /* a checkpoint, not a run */
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

/* Issue 10: the library's own keys are checked: finite options, a
 * generator state that can draw. A refused file changes nothing. */
Test(checkpoint, non_finite_lr_and_dead_generator_states_are_refused)
{
    run r = start(9, 1e-3);
    cr_assert_eq(nb_save_checkpoint(file("g.safetensors"), r.model, r.opt, NULL), 0);
    nb_safetensors *st = nb_safetensors_open(file("g.safetensors"));
    char gen[200];
    snprintf(gen, sizeof gen, "%s", nb_safetensors_metadata(st, "nabla.generator.2"));
    const char *group = nb_safetensors_metadata(st, "nabla.optim.param_groups.0");
    char inf_group[400];
    const char *lr = strstr(group, " lr=0.001 ");
    snprintf(inf_group, sizeof inf_group, "%.*s lr=1e999 %s", (int)(lr - group), group, lr + 10);
    char ok_group[400];
    snprintf(ok_group, sizeof ok_group, "%s", group);
    nb_safetensors_close(st);
    static const char zero[] = "0000000000000000 0000000000000000 0000000000000000 0000000000000000 0 "
                               "0000000000000000";
    char json[1200];
    snprintf(json, sizeof json, "{\"nabla.optim.param_groups.0\": \"%s\", \"nabla.generator.2\": \"%s\"}",
             inf_group, gen);
    rewrite("g.safetensors", "inf.safetensors", json);
    snprintf(json, sizeof json, "{\"nabla.optim.param_groups.0\": \"%s\", \"nabla.generator.2\": \"%s\"}",
             ok_group, zero);
    rewrite("g.safetensors", "zero.safetensors", json);
    snprintf(json, sizeof json,
             "{\"nabla.optim.param_groups.0\": \"%s\", \"nabla.generator.2\": \"%.68s1 7ff0000000000000\"}",
             ok_group, gen); /* a spare normal of +inf */
    rewrite("g.safetensors", "spare.safetensors", json);

    nb_optim_set_lr(r.opt, 0.5);
    int64_t n;
    nb_real *before = snapshot(&r, &n);
    nb_generator g0 = *r.model->children[2]->generator;
    cr_assert_eq(nb_load_checkpoint(file("inf.safetensors"), r.model, r.opt), -1);
    assert_error(NB_ERR_FORMAT,
                 "inf.safetensors: metadata 'nabla.optim.param_groups.0' is not the options of a group of 4 "
                 "parameters of adam");
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

/* ---- whole training runs (nb_save_training / nb_load_training) ------------------ */

/* A run with two optimizers (AdamW in two groups: weights decayed, biases not;
 * SGD with momentum on the last layer), a schedule on each, a shuffling
 * loader, dropout, and noise from the default generator in every step. */
typedef struct full_run {
    nb_module *model;
    nb_dataset *ds;
    nb_optim *adamw, *sgd;
    nb_scheduler *warm, *step;
    nb_loader *ld;
    nb_generator noise; /* the program's own generator */
    nb_optim *optims[2];
    nb_scheduler *scheds[2];
    nb_generator *gens[1];
    nb_training t; /* points into this struct */
} full_run;

static void full_start(full_run *r, uint64_t seed)
{
    nb_manual_seed(seed);
    r->model = make_model(seed, 8);
    nb_generator g;
    nb_generator_seed(&g, 77); /* the data: the same in every run */
    nb_tensor *x = nb_randn(&g, NB_SHAPE(50, 3)), *y = nb_randn(&g, NB_SHAPE(50, 1));
    r->ds = nb_dataset_new(x, y, true);
    nb_tensor *w0 = nb_module_get(r->model, "0.weight"), *b0 = nb_module_get(r->model, "0.bias");
    r->adamw = nb_adamw(&w0, 1, NB_ADAMW_OPTS(.lr = 0.01, .weight_decay = 0.1));
    cr_assert_eq(nb_optim_add_param_group(r->adamw, &b0, 1, NB_ADAMW_OPTS(.lr = 0.02, .weight_decay = 0)), 1);
    r->sgd = nb_sgd((nb_tensor *[]){nb_module_get(r->model, "3.weight"), nb_module_get(r->model, "3.bias")},
                    2, NB_SGD_OPTS(.lr = 0.05, .momentum = 0.9));
    r->warm = nb_warmup_cosine(r->adamw, 2, 6, 0.1, 1e-4);
    r->step = nb_step_lr(r->sgd, 2, 0.5);
    r->ld = nb_loader_new(r->ds, 8, NB_LOADER_OPTS(.shuffle = true, .seed = 5));
    nb_generator_seed(&r->noise, seed + 1000);
    cr_assert(r->adamw && r->sgd && r->warm && r->step && r->ld);
    r->optims[0] = r->adamw, r->optims[1] = r->sgd;
    r->scheds[0] = r->warm, r->scheds[1] = r->step;
    r->gens[0] = &r->noise;
    r->t = (nb_training){.model = r->model,
                         .optims = r->optims,
                         .n_optims = 2,
                         .schedulers = r->scheds,
                         .n_schedulers = 2,
                         .loaders = &r->ld,
                         .n_loaders = 1,
                         .generators = r->gens,
                         .n_generators = 1};
}

/* The training loop, from wherever the loader is; saves the run to `save` at
 * (save_epoch, save_batch) when save is not NULL. */
static void full_train(full_run *r, int epochs, const char *save, uint64_t save_epoch, int save_batch)
{
    for (uint64_t epoch = nb_loader_epoch(r->ld); epoch < (uint64_t)epochs; epoch++) {
        nb_module_train(r->model, true);
        nb_tensor *x, *y;
        for (int b = 0; nb_loader_next(r->ld, &x, &y); b++) {
            nb_tensor *n1 = nb_randn(NULL, 2, x->shape), *n2 = nb_randn(&r->noise, 2, y->shape);
            nb_tensor *noisy = nb_add(x, nb_mul_scalar(n1, (nb_real)0.01));
            nb_tensor *d = nb_sub(nb_forward(r->model, noisy), nb_add(y, nb_mul_scalar(n2, (nb_real)0.01)));
            nb_optim_zero_grad(r->adamw), nb_optim_zero_grad(r->sgd);
            cr_assert_eq(nb_backward(nb_mean(nb_mul(d, d))), 0, "%s", nb_last_error_message());
            nb_optim_step(r->adamw), nb_optim_step(r->sgd);
            nb_step_end();
            nb_free(n1), nb_free(n2);
            if (save && epoch == save_epoch && b == save_batch)
                cr_assert_eq(nb_save_training(save, &r->t, "{\"note\": \"mid-epoch\"}"), 0, "%s",
                             nb_last_error_message());
        }
        nb_scheduler_step(r->warm), nb_scheduler_step(r->step);
    }
}

static void full_finish(full_run *r)
{
    nb_scheduler_free(r->warm), nb_scheduler_free(r->step);
    nb_optim_free(r->adamw), nb_optim_free(r->sgd);
    nb_loader_free(r->ld);
    nb_dataset_free(r->ds);
    nb_module_free(r->model);
}

static nb_real *full_params(full_run *r, int64_t *n)
{
    nb_param_list pl;
    nb_module_parameters(r->model, &pl);
    run tmp = {.model = r->model, .params = pl};
    nb_real *v = snapshot(&tmp, n);
    nb_param_list_free(&pl);
    return v;
}

Test(checkpoint, a_whole_run_resumes_bit_identically)
{
    int64_t na, nb, nc;
    /* A: 6 epochs (7 batches each), saved at epoch 2, batch 3, never stopped */
    full_run a;
    full_start(&a, 1);
    full_train(&a, 6, file("run.safetensors"), 2, 3);
    nb_real *pa = full_params(&a, &na);
    double lr_a[3] = {nb_optim_group_opts(a.adamw, 0).lr, nb_optim_group_opts(a.adamw, 1).lr,
                      nb_optim_get_lr(a.sgd)};
    full_finish(&a);

    /* B: everything made again from another seed, restored, and the same loop */
    full_run b;
    full_start(&b, 42);
    nb_generator_next(nb_default_generator()); /* a different default generator state, too */
    cr_assert_eq(nb_load_training(file("run.safetensors"), &b.t), 0, "%s", nb_last_error_message());
    cr_assert_eq(nb_loader_epoch(b.ld), 2);
    cr_assert_eq(nb_scheduler_last_epoch(b.warm), 2);
    cr_assert_eq(nb_optim_group_opts(b.adamw, 1).weight_decay, 0);
    full_train(&b, 6, NULL, 0, 0);
    nb_real *pb = full_params(&b, &nb);
    cr_assert_eq(na, nb);
    cr_assert(memcmp(pa, pb, (size_t)na * sizeof *pa) == 0,
              "the resumed run differs from the uninterrupted one");
    cr_assert_eq(nb_optim_group_opts(b.adamw, 0).lr, lr_a[0]);
    cr_assert_eq(nb_optim_group_opts(b.adamw, 1).lr, lr_a[1]);
    cr_assert_eq(nb_optim_get_lr(b.sgd), lr_a[2]);
    full_finish(&b);

    /* C: the same restore, then the loader sent to the start of its epoch: other bits, so the
     * comparison above has teeth */
    full_run c;
    full_start(&c, 42);
    cr_assert_eq(nb_load_training(file("run.safetensors"), &c.t), 0);
    nb_loader_reset(c.ld, 2);
    full_train(&c, 6, NULL, 0, 0);
    nb_real *pc = full_params(&c, &nc);
    cr_assert(memcmp(pa, pc, (size_t)na * sizeof *pa) != 0);
    /* a run given fewer objects than the file holds is refused */
    nb_training t = c.t;
    t.n_loaders = 0;
    cr_assert_eq(nb_load_training(file("run.safetensors"), &t), -1);
    assert_error(NB_ERR_ARG, "the file holds more loaders than the 0 given ('nabla.loader.0')");
    full_finish(&c);
    free(pa), free(pb), free(pc);
}

Test(checkpoint, a_run_made_otherwise_is_refused_and_unchanged)
{
    full_run a;
    full_start(&a, 1);
    full_train(&a, 1, file("run.safetensors"), 0, 2);
    full_finish(&a);

    /* a loader over other data, or with another seed */
    full_run b;
    full_start(&b, 3);
    nb_loader_free(b.ld);
    b.ld = nb_loader_new(b.ds, 8, NB_LOADER_OPTS(.shuffle = true, .seed = 6));
    b.t.loaders = &b.ld;
    int64_t n0, n1;
    nb_real *before = full_params(&b, &n0);
    cr_assert_eq(nb_load_training(file("run.safetensors"), &b.t), -1);
    assert_error(NB_ERR_ARG, "load_training: ");
    assert_error(NB_ERR_ARG, "loader 0 is over other data or in another order than the saved one");
    nb_clear_error();
    /* an optimizer with another group layout */
    nb_optim *one =
        nb_adamw((nb_tensor *[]){nb_module_get(b.model, "0.weight"), nb_module_get(b.model, "0.bias")}, 2,
                 NB_ADAMW_OPTS());
    nb_training t = b.t;
    nb_loader *fresh = nb_loader_new(b.ds, 8, NB_LOADER_OPTS(.shuffle = true, .seed = 5));
    t.optims = (nb_optim *[]){one, b.sgd};
    t.loaders = &fresh;
    cr_assert_eq(nb_load_training(file("run.safetensors"), &t), -1);
    assert_error(NB_ERR_FORMAT, "metadata 'nabla.optim.param_groups.0' is not the options of a group of 2 "
                                "parameters of adamw");
    nb_clear_error();
    /* a scheduler of another kind */
    nb_scheduler *cos = nb_cosine_annealing_lr(b.adamw, 5, 0);
    t = b.t;
    t.loaders = &fresh;
    t.schedulers = (nb_scheduler *[]){cos, b.step};
    cr_assert_eq(nb_load_training(file("run.safetensors"), &t), -1);
    assert_error(NB_ERR_FORMAT, "metadata 'nabla.scheduler.0' is not a cosine_annealing_lr's epoch: "
                                "\"sequential_lr epoch=0\"");
    nb_real *after = full_params(&b, &n1);
    cr_assert(memcmp(before, after, (size_t)n0 * sizeof *before) == 0, "a refused file changed the model");
    cr_assert_eq(nb_loader_epoch(fresh), 0);
    nb_scheduler_free(cos);
    nb_optim_free(one);
    nb_loader_free(fresh);
    free(before), free(after);
    full_finish(&b);
}

/* The rows of ld's next batch, of the next epoch after the last one (x
 * holds each row's index). */
static void next_rows(nb_loader *ld, int64_t n, nb_real *rows)
{
    nb_tensor *x, *y;
    if (!nb_loader_next(ld, &x, &y))
        cr_assert(nb_loader_next(ld, &x, &y));
    cr_assert_eq(x->shape[0], n);
    memcpy(rows, x->data, (size_t)n * sizeof *rows);
}

/* A loader sharded over 2 replicas (nb_loader_shard, a data-parallel run),
 * saved by replica 0 mid-epoch, resumes in one process of the global batch
 * and on 4 replicas, each at the same row of the epoch's order. */
Test(checkpoint, a_sharded_loader_resumes_on_any_number_of_replicas)
{
    enum { ROWS = 32, GLOBAL = 8 };
    nb_tensor *x = nb_zeros(NB_SHAPE(ROWS, 1)), *y = nb_zeros(NB_SHAPE(ROWS));
    for (int i = 0; i < ROWS; i++)
        x->data[i] = (nb_real)i;
    nb_dataset *ds = nb_dataset_new(x, y, true);
    nb_module *model = nb_linear(1, 1);
    nb_loader_opts o = NB_LOADER_OPTS(.shuffle = true, .seed = 7);
    nb_real want[GLOBAL], got[GLOBAL];
    /* one process: global batch 2 of epoch 1 */
    nb_loader *one = nb_loader_new(ds, GLOBAL, o);
    for (int b = 0; b < ROWS / GLOBAL + 3; b++)
        next_rows(one, GLOBAL, want);
    /* replica 0 of 2, saved after global batch 1 of epoch 1 (row 16 of its order) */
    nb_loader *half = nb_loader_new(ds, GLOBAL / 2, o);
    cr_assert_eq(nb_loader_shard(half, 2, 0, false), 0);
    for (int b = 0; b < ROWS / GLOBAL + 2; b++)
        next_rows(half, GLOBAL / 2, got);
    nb_training run = {.model = model, .loaders = &half, .n_loaders = 1};
    cr_assert_eq(nb_save_training(file("sharded.safetensors"), &run, NULL), 0);

    nb_loader *whole = nb_loader_new(ds, GLOBAL, o);
    run.loaders = &whole;
    cr_assert_eq(nb_load_training(file("sharded.safetensors"), &run), 0);
    cr_assert_eq(nb_loader_epoch(whole), 1);
    next_rows(whole, GLOBAL, got);
    cr_assert(memcmp(got, want, sizeof want) == 0, "one process resumes at another batch");

    nb_loader *quarter = nb_loader_new(ds, GLOBAL / 4, o); /* replica 3 of 4: rows 3 and 7 of the batch */
    cr_assert_eq(nb_loader_shard(quarter, 4, 3, false), 0);
    run.loaders = &quarter;
    cr_assert_eq(nb_load_training(file("sharded.safetensors"), &run), 0);
    next_rows(quarter, GLOBAL / 4, got);
    cr_assert(got[0] == want[3] && got[1] == want[7], "replica 3 of 4 has rows %g %g, expected %g %g",
              (double)got[0], (double)got[1], (double)want[3], (double)want[7]);

    nb_loader *other = nb_loader_new(ds, GLOBAL / 2, o); /* another global batch: refused */
    run.loaders = &other;
    cr_assert_eq(nb_load_training(file("sharded.safetensors"), &run), -1);
    assert_error(NB_ERR_ARG, "loader 0 is over other data or in another order than the saved one: the file "
                             "has \"rows=32 global batch=8 shuffle=1 seed=7 drop_last=0\", the loader "
                             "\"rows=32 global batch=4 shuffle=1 seed=7 drop_last=0\"");
    nb_loader_free(one), nb_loader_free(half), nb_loader_free(whole), nb_loader_free(quarter);
    nb_loader_free(other);
    nb_module_free(model);
    nb_dataset_free(ds);
}
