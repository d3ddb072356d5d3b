/* tests/test_dist.c — nabla/dist.h under mpirun (tests/mpi_run.sh runs it):
 *
 *   test_dist train OUT [--bucket-mb X] [--zero] [--save-at K FILE] [--resume FILE]
 *       a small MLP trained STEPS steps with Adam on a global batch of 16
 *       (16 / world per rank), with gradient clipping by global norm, the
 *       optimizer's state sharded over the ranks with --zero; checks that
 *       every rank ends with rank 0's parameters and writes them (rank 0) to
 *       OUT. --save-at: rank 0 saves the run (nb_save_training) after step K,
 *       mid-epoch; --resume: every rank restores such a file (on any number
 *       of ranks dividing 16) and trains the steps left;
 *   test_dist compare A B TOL             the largest difference of two such
 *       files, failing above TOL (0: bit-identical);
 *   test_dist syncbn                      SyncBatchNorm on 2 ranks of 4 rows
 *       against F.batch_norm on the 8 rows: outputs, input gradients, the
 *       parameters' gradients summed over the ranks, running statistics;
 *   test_dist errors                      the error paths, with their messages;
 *   test_dist fail exit|kill|hang         rank 1 fails before its backward
 *       (exits, is killed, hangs past a 2 s timeout): rank 0 must not wait
 *       for ever (mpi_run.sh checks that the job stops, and how). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <nabla/dist.h>
#include <nabla/nabla.h>

enum { ROWS = 64, FEATURES = 8, CLASSES = 3, GLOBAL_BATCH = 16, STEPS = 12 };

static int failures;
#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "rank %d: FAIL %s:%d: ", nb_dist_rank(), __FILE__, __LINE__);                    \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fprintf(stderr, "\n");                                                                           \
            failures++;                                                                                      \
        }                                                                                                    \
    } while (0)

static void check_error(nb_status code, const char *text)
{
    CHECK(nb_last_error() == code, "error code %d, expected %d (%s)", nb_last_error(), code,
          nb_last_error_message());
    CHECK(strstr(nb_last_error_message(), text), "message '%s' lacks '%s'", nb_last_error_message(), text);
    nb_clear_error();
}

/* Rows of a fixed pseudo-random problem: x uniform in [-1, 1), class = the
 * index of the largest of three fixed projections. */
static nb_dataset *problem(void)
{
    nb_generator g;
    nb_generator_seed(&g, 42);
    nb_tensor *x = nb_rand(&g, NB_SHAPE(ROWS, FEATURES)), *y = nb_zeros(NB_SHAPE(ROWS));
    for (int i = 0; i < ROWS; i++) {
        nb_real *r = x->data + i * FEATURES, best = -1e30f;
        for (int f = 0; f < FEATURES; f++)
            r[f] = 2 * r[f] - 1;
        for (int c = 0; c < CLASSES; c++) {
            nb_real s = 0;
            for (int f = 0; f < FEATURES; f++)
                s += r[f] * (nb_real)(((f * 7 + c * 3) % 5) - 2);
            if (s > best)
                best = s, y->data[i] = (nb_real)c;
        }
    }
    return nb_dataset_new(x, y, true);
}

/* Each rank starts from its own seed: nb_ddp_new must make them rank 0's. */
static nb_module *mlp(uint64_t seed, int64_t hidden)
{
    nb_manual_seed(seed);
    nb_module *m = nb_sequential(0);
    nb_sequential_add(m, nb_linear(FEATURES, hidden));
    nb_sequential_add(m, nb_act("tanh"));
    nb_sequential_add(m, nb_linear(hidden, hidden));
    nb_sequential_add(m, nb_act("relu"));
    nb_sequential_add(m, nb_linear(hidden, CLASSES));
    return m;
}

static nb_optim *adam(nb_tensor *const *params, int n, void *ctx)
{
    (void)ctx;
    return nb_adam(params, n, NB_ADAM_OPTS(.lr = 0.05));
}

static int train(const char *out, double bucket_mb, bool zero, int save_at, const char *save,
                 const char *resume)
{
    int rank = nb_dist_rank(), world = nb_dist_world_size();
    nb_dataset *ds = problem();
    nb_module *model = mlp(100 + (uint64_t)rank, 16);
    nb_ddp *ddp = nb_ddp_new(model, NB_DDP_OPTS(.bucket_cap_mb = bucket_mb));
    if (!ddp) {
        fprintf(stderr, "rank %d: %s\n", rank, nb_last_error_message());
        return 1;
    }
    nb_param_list pl;
    nb_module_parameters(model, &pl);
    nb_zero *z = zero ? nb_zero_new(pl.tensors, pl.count, adam, NULL) : NULL;
    nb_optim *opt = zero ? NULL : adam(pl.tensors, pl.count, NULL);
    if (zero) {
        CHECK(z, "zero_new: %s", nb_last_error_message());
        /* torch's partition, largest first to the rank with the fewest values:
         * 0.weight 128, 0.bias 16, 2.weight 256, 2.bias 16, 4.weight 48, 4.bias 3
         * give 2.weight to rank 0 (256), then all the others to rank 1 (211) */
        static const int owners[] = {1, 1, 0, 1, 1, 1};
        for (int i = 0; i < pl.count && world == 2; i++)
            CHECK(nb_zero_owner(z, i) == owners[i], "%s owned by rank %d", pl.names[i], nb_zero_owner(z, i));
    }
    nb_loader *ld = nb_loader_new(ds, GLOBAL_BATCH / world, NB_LOADER_OPTS(.shuffle = true, .seed = 3));
    if (nb_loader_shard(ld, world, rank, false) != 0)
        return 1;
    nb_training run = {.model = model, .optims = &opt, .n_optims = 1, .loaders = &ld, .n_loaders = 1};
    int first = 0;
    if (resume) { /* the step to go on from, then the model, Adam's state and the loader's position */
        nb_safetensors *st = nb_safetensors_open(resume);
        CHECK(st && nb_safetensors_metadata(st, "step"), "%s: %s", resume, nb_last_error_message());
        first = st ? atoi(nb_safetensors_metadata(st, "step")) : 0;
        nb_safetensors_close(st);
        CHECK(nb_load_training(resume, &run) == 0, "load_training: %s", nb_last_error_message());
        if (rank == 0)
            printf("world %d: resumed %s at step %d (epoch %llu, row %lld of its order)\n", world, resume,
                   first, (unsigned long long)nb_loader_epoch(ld),
                   (long long)(first % (ROWS / GLOBAL_BATCH)) * GLOBAL_BATCH);
    }
    nb_real first_norm = 0;
    for (int step = first; step < STEPS; step++) {
        nb_tensor *x, *y;
        if (!nb_loader_next(ld, &x, &y))
            nb_loader_next(ld, &x, &y); /* the next epoch */
        nb_tensor *loss = nb_cross_entropy(nb_ddp_forward(ddp, x), y, NB_CROSS_ENTROPY_OPTS());
        if (zero)
            nb_zero_zero_grad(z);
        else
            nb_optim_zero_grad(opt);
        CHECK(nb_ddp_backward(ddp, loss) == 0, "backward: %s", nb_last_error_message());
        /* clipping by the global norm sees the averaged gradients: what one
         * process sees (max_norm small enough to clip) */
        nb_real norm = nb_clip_grad_norm(pl.tensors, pl.count, 0.1f);
        if (step == 0)
            first_norm = norm;
        CHECK((zero ? nb_zero_step(z) : nb_optim_step(opt)) == 0, "step: %s", nb_last_error_message());
        nb_step_end();
        if (save && step + 1 == save_at && rank == 0) { /* every rank holds the same run: one writes it */
            char meta[64];
            snprintf(meta, sizeof meta, "{\"step\": \"%d\"}", save_at);
            CHECK(nb_save_training(save, &run, meta) == 0, "save_training: %s", nb_last_error_message());
        }
    }
    CHECK(resume || first_norm > 0.1f, "the first gradient norm %g should be clipped", (double)first_norm);
    nb_ddp_stats st = nb_ddp_get_stats(ddp);
    CHECK(st.steps == STEPS - first, "%lld steps counted", (long long)st.steps);
    /* with two buckets, the first (the last layers) starts before backward
     * reaches the first layer; with one, only once backward is over */
    CHECK(st.early_buckets == (st.buckets > 1 ? st.buckets - 1 : 0) * (STEPS - first),
          "%lld buckets of %d started early", (long long)st.early_buckets, st.buckets);
    if (rank == 0)
        printf("world %d: %d bucket(s), %lld bytes sent per step, %.3f ms waiting per step\n", world,
               st.buckets, (long long)st.bytes_per_step, 1e3 * st.wait_seconds / STEPS);
    /* every rank holds rank 0's parameters */
    FILE *f = rank == 0 ? fopen(out, "wb") : NULL;
    CHECK(rank != 0 || f, "cannot write %s", out);
    for (int i = 0; i < pl.count; i++) {
        nb_tensor *p = pl.tensors[i], *mine = nb_keep(p);
        nb_dist_broadcast(p, 0);
        CHECK(memcmp(p->data, mine->data, (size_t)p->numel * sizeof(nb_real)) == 0,
              "%s differs from rank 0's", pl.names[i]);
        if (f)
            fwrite(p->data, sizeof(nb_real), (size_t)p->numel, f);
        nb_free(mine);
    }
    if (f)
        fclose(f);
    nb_param_list_free(&pl);
    nb_loader_free(ld);
    nb_optim_free(opt);
    nb_zero_free(z);
    nb_ddp_free(ddp);
    nb_module_free(model);
    nb_dataset_free(ds);
    return failures != 0;
}

static long read_all(const char *path, nb_real *buf, long cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    long n = (long)fread(buf, sizeof *buf, (size_t)cap, f);
    fclose(f);
    return n;
}

static int compare(const char *a, const char *b, double tol)
{
    enum { CAP = 1 << 16 };
    static nb_real x[CAP], y[CAP];
    long n = read_all(a, x, CAP), m = read_all(b, y, CAP);
    if (n != m || n == 0) {
        fprintf(stderr, "FAIL: %s has %ld values, %s %ld\n", a, n, b, m);
        return 1;
    }
    double worst = 0;
    for (long i = 0; i < n; i++) {
        double d = (double)x[i] - (double)y[i];
        worst = d < 0 ? (-d > worst ? -d : worst) : (d > worst ? d : worst);
    }
    printf("%ld parameters, largest difference %.3g (tolerance %g)\n", n, worst, tol);
    if (tol == 0 ? memcmp(x, y, (size_t)n * sizeof *x) != 0 : worst > tol) {
        fprintf(stderr, "FAIL: %s and %s differ by %.3g\n", a, b, worst);
        return 1;
    }
    return 0;
}

static void check_close(const char *what, const nb_real *got, const nb_real *want, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double d = (double)got[i] - (double)want[i], tol = 1e-5 * (1 + (want[i] < 0 ? -want[i] : want[i]));
        if (d > tol || d < -tol) {
            CHECK(false, "%s[%lld] = %.8g, expected %.8g", what, (long long)i, (double)got[i],
                  (double)want[i]);
            return;
        }
    }
}

static int syncbn(void)
{
    enum { N = 8, C = 3, H = 2, W = 2, ROW = C * H * W };
    int rank = nb_dist_rank();
    nb_generator g;
    nb_generator_seed(&g, 5);
    nb_tensor *x = nb_requires_grad(nb_randn(&g, NB_SHAPE(N, C, H, W)), true);
    nb_tensor *wout = nb_randn(&g, NB_SHAPE(N, C, H, W));
    for (int64_t i = 0; i < x->numel; i++)
        x->data[i] = 3 * x->data[i] + (nb_real)(i % 5); /* a mean away from 0 */
    static const nb_real wv[C] = {0.5f, 1.5f, -1}, bv[C] = {0.1f, 0.2f, 0.3f};
    /* the reference: F.batch_norm over all 8 rows */
    nb_tensor *w = nb_requires_grad(nb_from_array(wv, NB_SHAPE(C)), true);
    nb_tensor *b = nb_requires_grad(nb_from_array(bv, NB_SHAPE(C)), true);
    nb_tensor *rm = nb_zeros(NB_SHAPE(C)), *rv = nb_ones(NB_SHAPE(C));
    nb_tensor *y = nb_batch_norm(x, rm, rv, w, b, true, 0.1, 1e-5);
    nb_tensor *yref = nb_keep(y);
    CHECK(nb_backward(nb_sum(nb_mul(y, wout))) == 0, "reference backward");
    nb_step_end();
    /* this rank's 4 rows through SyncBatchNorm */
    nb_module *bn = nb_sync_batch_norm(C);
    memcpy(nb_module_get(bn, "weight")->data, wv, sizeof wv);
    memcpy(nb_module_get(bn, "bias")->data, bv, sizeof bv);
    nb_tensor *xl = nb_requires_grad(nb_from_array(x->data + rank * 4 * ROW, NB_SHAPE(4, C, H, W)), true);
    nb_tensor *wl = nb_from_array(wout->data + rank * 4 * ROW, NB_SHAPE(4, C, H, W));
    nb_tensor *yl = nb_forward(bn, xl);
    CHECK(yl && yl->ndim == 4 && yl->shape[0] == 4, "forward: %s", nb_last_error_message());
    if (yl) {
        check_close("y", yl->data, yref->data + rank * 4 * ROW, 4 * ROW);
        CHECK(nb_backward(nb_sum(nb_mul(yl, wl))) == 0, "backward: %s", nb_last_error_message());
        check_close("dx", xl->grad, x->grad + rank * 4 * ROW, 4 * ROW);
        nb_tensor *dw = nb_keep(nb_module_get(bn, "weight")), *db = nb_keep(nb_module_get(bn, "bias"));
        memcpy(dw->data, nb_module_get(bn, "weight")->grad, sizeof wv);
        memcpy(db->data, nb_module_get(bn, "bias")->grad, sizeof bv);
        nb_dist_all_reduce_sum(dw);
        nb_dist_all_reduce_sum(db);
        check_close("dweight", dw->data, w->grad, C);
        check_close("dbias", db->data, b->grad, C);
        check_close("running_mean", nb_module_get(bn, "running_mean")->data, rm->data, C);
        check_close("running_var", nb_module_get(bn, "running_var")->data, rv->data, C);
        nb_free(dw), nb_free(db);
    }
    nb_step_end();
    /* eval mode: the running statistics, no communication */
    nb_module_train(bn, false);
    nb_tensor *ye = nb_forward(bn, xl);
    nb_tensor *yeref = nb_batch_norm(xl, rm, rv, w, b, false, 0.1, 1e-5);
    CHECK(ye && yeref, "eval forward");
    if (ye && yeref)
        check_close("eval y", ye->data, yeref->data, 4 * ROW);
    nb_step_end();
    nb_module_train(bn, true);
    nb_tensor *bad = nb_zeros(NB_SHAPE(2, 4));
    CHECK(!nb_forward(bn, bad), "wrong channels");
    check_error(NB_ERR_SHAPE, "SyncBatchNorm: expected input [N, 3, *], got [2,4]");
    nb_free(bad), nb_free(x), nb_free(wout), nb_free(w), nb_free(b), nb_free(rm), nb_free(rv), nb_free(yref);
    nb_free(xl), nb_free(wl);
    nb_module_free(bn);
    if (rank == 0)
        printf("SyncBatchNorm on 2 ranks of 4 rows = BatchNorm on 8: %s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}

static int errors(void)
{
    int rank = nb_dist_rank(), world = nb_dist_world_size();
    CHECK(nb_dist_init(NULL, NULL, nb_dist_defaults()) == -1, "second init");
    check_error(NB_ERR_STATE, "dist_init: already initialised");
    CHECK(nb_dist_init(NULL, NULL, (nb_dist_opts){.timeout = 5}) == -1, "a struct literal");
    check_error(NB_ERR_ARG, "dist_init: options were not made by NB_DIST_OPTS() or nb_dist_defaults()");
    CHECK(nb_dist_defaults().timeout == 1800 && NB_DIST_OPTS().timeout == 1800, "torch's 30 minutes");
    CHECK(!nb_ddp_new(NULL, NB_DDP_OPTS()), "NULL model");
    check_error(NB_ERR_NULL, "ddp_new: model is NULL");
    nb_module *m = mlp(1, 4);
    CHECK(!nb_ddp_new(m, (nb_ddp_opts){.bucket_cap_mb = 1}), "a struct literal");
    check_error(NB_ERR_ARG, "ddp_new: options were not made by NB_DDP_OPTS() or nb_ddp_defaults()");
    nb_ddp_opts o = nb_ddp_defaults();
    CHECK(o.bucket_cap_mb == 25 && o.broadcast_buffers, "torch's defaults");
    o.bucket_cap_mb = -1;
    CHECK(!nb_ddp_new(m, o), "bucket_cap_mb -1");
    check_error(NB_ERR_ARG, "ddp_new: bucket_cap_mb -1 must be in [0, 1e6]");
    /* a literal 0 is 0: every parameter in a bucket of its own */
    nb_ddp *each = nb_ddp_new(m, NB_DDP_OPTS(.bucket_cap_mb = 0));
    CHECK(each && nb_ddp_get_stats(each).buckets == 6, "bucket_cap_mb 0: %d buckets for 6 parameters",
          nb_ddp_get_stats(each).buckets);
    nb_ddp_free(each);
    CHECK(nb_ddp_backward(NULL, NULL) == -1, "NULL ddp");
    check_error(NB_ERR_NULL, "ddp_backward: ddp is NULL");
    nb_tensor *t = nb_full(NB_SHAPE(3), (nb_real)(rank + 1));
    CHECK(nb_dist_broadcast(t, world) == -1, "src out of range");
    check_error(NB_ERR_ARG, "dist_broadcast: src 2 is not a rank of [0, 2)");
    /* the rank-ordered sum: 1 + 2 */
    CHECK(nb_dist_all_reduce_sum(t) == 0 && t->data[0] == 3 && t->data[2] == 3, "all_reduce_sum");
    nb_free(t);
    /* rank 1 builds a wider model: both ranks refuse, neither hangs */
    nb_module *other = mlp(1, rank == 1 ? 5 : 4);
    CHECK(!nb_ddp_new(other, NB_DDP_OPTS()), "different models");
    check_error(NB_ERR_SHAPE, "ddp_new: rank 1 has 6 parameters of 93 values in all, rank 0 has 6 of 71: "
                              "every rank must build the same model");
    nb_module_free(other);
    /* a backward that fails on rank 1 only (NULL loss): the reduction still
     * completes on both ranks, rank 1 reports the error */
    nb_ddp *d = nb_ddp_new(m, NB_DDP_OPTS());
    CHECK(d, "ddp_new: %s", nb_last_error_message());
    nb_tensor *x = nb_ones(NB_SHAPE(2, FEATURES));
    nb_tensor *loss = rank == 1 ? NULL : nb_sum(nb_ddp_forward(d, x));
    if (rank == 1)
        nb_ddp_forward(d, x); /* the buffers' broadcast, matched (no buffers here) */
    int rc = nb_ddp_backward(d, loss);
    CHECK(rc == (rank == 1 ? -1 : 0), "backward returned %d", rc);
    if (rank == 1)
        check_error(NB_ERR_NULL, "backward");
    nb_step_end();
    nb_free(x);
    nb_ddp_free(d);
    /* ZeRO needs a parameter per rank */
    nb_param_list pl;
    nb_module_parameters(m, &pl);
    CHECK(!nb_zero_new(pl.tensors, 1, adam, NULL), "one parameter for two ranks");
    check_error(NB_ERR_ARG, "zero_new: 1 parameters cannot be shared by 2 ranks (each needs one)");
    CHECK(!nb_zero_new(pl.tensors, pl.count, NULL, NULL), "no maker");
    check_error(NB_ERR_NULL, "zero_new: params or make is NULL");
    nb_param_list_free(&pl);
    nb_module_free(m);
    if (rank == 0)
        printf("error paths: %s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}

static int fail(const char *how)
{
    int rank = nb_dist_rank();
    nb_module *m = mlp(1, 4);
    nb_ddp *d = nb_ddp_new(m, NB_DDP_OPTS());
    nb_tensor *x = nb_ones(NB_SHAPE(2, FEATURES));
    nb_tensor *loss = nb_sum(nb_ddp_forward(d, x));
    if (rank == 1) {
        fprintf(stderr, "rank 1: failing (%s) before its backward\n", how);
        if (strcmp(how, "exit") == 0)
            exit(3);
        if (strcmp(how, "kill") == 0)
            raise(SIGKILL);
        sleep(60); /* hang */
    }
    nb_ddp_backward(d, loss); /* rank 0 waits here: it must be stopped, not hang */
    fprintf(stderr, "rank %d: FAIL: the backward returned although rank 1 never took part\n", rank);
    return 1;
}

static void quiet(nb_status code, const char *message, void *user)
{
    (void)code, (void)message, (void)user; /* the checks read the errors */
}

int main(int argc, char **argv)
{
    nb_set_error_handler(quiet, NULL);
    if (argc >= 2 && strcmp(argv[1], "compare") == 0 && argc == 5)
        return compare(argv[2], argv[3], atof(argv[4]));
    nb_dist_opts o = NB_DIST_OPTS(.timeout = argc >= 3 && strcmp(argv[1], "fail") == 0 ? 2 : 1800);
    /* before init: an error, not a crash */
    if (nb_dist_barrier() != -1 ||
        !strstr(nb_last_error_message(), "dist_barrier: the process group is not "
                                         "initialised (call nb_dist_init first)")) {
        fprintf(stderr, "FAIL: barrier before init: %s\n", nb_last_error_message());
        return 1;
    }
    nb_clear_error();
    if (nb_dist_init(&argc, &argv, o) != 0) {
        fprintf(stderr, "%s\n", nb_last_error_message());
        return 1;
    }
    nb_set_num_threads(1);
    int rc = 2;
    if (argc >= 3 && strcmp(argv[1], "train") == 0) {
        double mb = 25;
        bool zero = false;
        int save_at = 0;
        const char *save = NULL, *resume = NULL;
        for (int i = 3; i < argc; i++)
            if (strcmp(argv[i], "--bucket-mb") == 0 && i + 1 < argc)
                mb = atof(argv[++i]);
            else if (strcmp(argv[i], "--zero") == 0)
                zero = true;
            else if (strcmp(argv[i], "--save-at") == 0 && i + 2 < argc)
                save_at = atoi(argv[i + 1]), save = argv[i + 2], i += 2;
            else if (strcmp(argv[i], "--resume") == 0 && i + 1 < argc)
                resume = argv[++i];
        rc = train(argv[2], mb, zero, save_at, save, resume);
    } else if (argc == 2 && strcmp(argv[1], "syncbn") == 0)
        rc = nb_dist_world_size() == 2 ? syncbn() : 2;
    else if (argc == 2 && strcmp(argv[1], "errors") == 0)
        rc = nb_dist_world_size() == 2 ? errors() : 2;
    else if (argc == 3 && strcmp(argv[1], "fail") == 0)
        rc = fail(argv[2]);
    else
        fprintf(
            stderr,
            "usage: test_dist train OUT [--bucket-mb X] [--zero] [--save-at K FILE] [--resume FILE] | compare A "
            "B TOL | syncbn | errors | fail exit|kill|hang\n");
    /* every rank's verdict: a failure on any rank fails the run */
    nb_tensor *bad = nb_full(NB_SHAPE(1), (nb_real)(rc != 0));
    nb_dist_all_reduce_sum(bad);
    int any = bad->data[0] != 0;
    nb_free(bad);
    nb_dist_finalize();
    return rc ? rc : any;
}
