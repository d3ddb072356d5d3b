/* examples/char_gpt.c — a character-level GPT: a small decoder-only
 * Transformer that reads the fortunes text (the same text and loading as
 * char_lstm, examples/char_data.h) one character (byte) at a time, learns to
 * predict the next one, and writes new text from a prompt.
 *
 *   wte Embedding(V, d) + wpe Embedding(block, d) -> Dropout
 *   -> layers x TransformerEncoderLayer(d, heads, 4 d, norm_first, causal, activation)
 *   -> ln_f LayerNorm(d) -> lm_head Linear(d, V, bias=False), its weight tied to wte's
 *
 * (GPT-2's layout, Radford et al. 2019: pre-LayerNorm blocks, learned
 * positions, the output layer sharing the token embedding; the model, its
 * optimizer, batches and step are in examples/gpt_model.h, which bench/gpt
 * times against PyTorch). What a real training run has, each in a few lines:
 *
 *   - batches of --batch windows of --block characters at random offsets of
 *     the training split (drawn from the seed and the step, so a resumed run
 *     reads the same batches), the target of each position the next character;
 *   - AdamW in two parameter groups: decoupled weight decay on the matrices,
 *     none on norms, biases and embeddings (nanoGPT's rule); clipping; a
 *     linear warm-up then a cosine decay of the learning rate (nb_warmup_cosine);
 *   - the validation loss in bits per character, -log2 p(next character),
 *     over the held-out text read in windows of --block characters, as
 *     char_lstm measures it (log2 of the vocabulary for a uniform guess);
 *     --val-windows N reads only the first N windows, for speed;
 *   - sampling from a prompt with a temperature and top-k: only the k likeliest
 *     characters can be drawn, p ~ exp(logit / temperature) among them;
 *   - checkpoints (--checkpoint, --resume) that continue the run exactly:
 *     nb_save_training and nb_load_training, the settings, the step and the
 *     history as metadata (examples/run_meta.h);
 *   - --compare: the same model, seed and steps with each MLP activation
 *     (gelu, gelu_tanh, relu, silu, and swish with a learnable beta), the
 *     validation curves in char_gpt_compare.svg.
 *
 *   ./char_gpt [--text /usr/share/games/fortunes] [--steps 1000] [--batch 32] [--block 64]
 *              [--embed 96] [--heads 4] [--layers 3] [--dropout 0] [--activation gelu]
 *              [--lr 2e-3] [--weight-decay 0.1] [--clip 1] [--warmup 100] [--eval-every 250]
 *              [--val-windows 0]
 *              [--prompt "The "] [--temperature 0.8] [--top-k 20] [--sample-len 300]
 *              [--checkpoint PATH] [--resume PATH] [--stop-after N] [--compare]
 *              [--threads N] [--seed 1] [--out .] [--quick]
 *
 * --quick trains embed 64, 2 layers for 200 steps of 16 x 32 characters and
 * fails unless the validation loss is below 4.3 bits per character (the byte
 * frequencies alone give 4.79); it is what `meson test` runs. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nabla/nabla.h>
#include <nabla/plot.h>
#include "char_data.h"
#include "char_run.h"
#include "common.h"
#include "gpt_model.h"
#include "run_meta.h"

#define FORTUNES "/usr/share/games/fortunes"
enum { VAL_EVERY = 10, VAL_BATCH = 32, MAX_PROMPT = 4096 };

/* What defines a run: saved in the checkpoint's metadata, so --resume needs nothing else. */
typedef struct config {
    int steps, batch, block, embed, heads, layers, warmup, eval_every, seed, val_windows;
    double lr, weight_decay, clip, dropout;
    char text[1024], activation[64];
    cr_progress progress; /* the step, the history */
} config;

/* The model of c (examples/gpt_model.h), initialised from the seed. */
static nb_module *build(const config *c, int vocab)
{
    nb_manual_seed((uint64_t)c->seed); /* layers initialise from the default generator */
    return gpt_build(&(gpt_shape){.vocab = vocab,
                                  .block = c->block,
                                  .embed = c->embed,
                                  .heads = c->heads,
                                  .layers = c->layers,
                                  .dropout = c->dropout,
                                  .activation = c->activation});
}

/* ---- evaluation and sampling ----------------------------------------------- */

/* Mean -log2 p(next character) over the validation split read as VAL_BATCH
 * streams, in chunks of block characters (at most val_windows windows in all,
 * 0: all the chunks; eval mode, no gradient). */
static double validation_bpc(nb_module *m, const cd_corpus *corpus, const config *c)
{
    cd_streams s = cd_streams_make(corpus->ids + corpus->n_train, corpus->len - corpus->n_train, VAL_BATCH);
    int64_t chunks = cd_chunks(&s, c->block);
    if (c->val_windows > 0 && chunks > c->val_windows / VAL_BATCH)
        chunks = c->val_windows / VAL_BATCH > 0 ? c->val_windows / VAL_BATCH : 1;
    nb_tensor *x = nb_zeros(NB_SHAPE(VAL_BATCH, c->block)), *y = nb_zeros(NB_SHAPE(VAL_BATCH * c->block));
    EX_CHECK(x && y);
    nb_module_train(m, false);
    double sum = 0;
    for (int64_t k = 0; k < chunks; k++) {
        cd_chunk(&s, k, c->block, x, y);
        NB_NO_GRAD
        {
            nb_tensor *loss = nb_cross_entropy(nb_forward(m, x), y, NB_CROSS_ENTROPY_OPTS());
            EX_CHECK(loss);
            sum += nb_item(loss);
        }
        nb_step_end();
    }
    nb_module_train(m, true);
    nb_free(x), nb_free(y);
    return sum / (double)chunks / log(2.0);
}

/* An id from softmax(logits / temperature) over the top_k largest logits
 * (top_k 0: all; temperature 0: the argmax). */
static int draw(const nb_real *logits, int vocab, double temperature, int top_k, nb_generator *g)
{
    int order[256];
    for (int i = 0; i < vocab; i++)
        order[i] = i;
    for (int i = 1; i < vocab; i++) /* insertion sort, largest first */
        for (int j = i; j > 0 && logits[order[j]] > logits[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1], order[j - 1] = t;
        }
    if (temperature <= 0)
        return order[0];
    int k = top_k > 0 && top_k < vocab ? top_k : vocab;
    double p[256], total = 0;
    for (int i = 0; i < k; i++)
        total += p[i] = exp((logits[order[i]] - logits[order[0]]) / temperature);
    double u = nb_generator_uniform(g) * total;
    for (int i = 0; i < k; i++)
        if ((u -= p[i]) < 0)
            return order[i];
    return order[0];
}

/* Print the prompt and n characters sampled after it, each line indented;
 * bytes other than printable ASCII, tab and newline as \xNN. Each character
 * is predicted from the last `block` characters. */
static void sample(nb_module *m, const cd_corpus *corpus, const config *c, const char *prompt, int n,
                   double temperature, int top_k, uint64_t seed)
{
    nb_generator g;
    nb_generator_seed(&g, seed);
    int64_t plen = (int64_t)strlen(prompt), len = plen; /* main checked: 1 to MAX_PROMPT known characters */
    int64_t *ids = malloc((size_t)(plen + n) * sizeof *ids);
    EX_CHECK(ids);
    for (int64_t i = 0; i < plen; i++)
        ids[i] = cd_id(corpus, (unsigned char)prompt[i]);
    nb_module_train(m, false);
    printf("    %s", prompt);
    for (int i = 0; i < n; i++) {
        int64_t T = len < c->block ? len : c->block;
        nb_tensor *x = nb_from_int64(ids + len - T, NB_SHAPE(1, T));
        EX_CHECK(x);
        int id;
        NB_NO_GRAD
        {
            nb_tensor *logits = nb_forward(m, x);
            EX_CHECK(logits);
            id = draw(logits->data + (T - 1) * corpus->vocab, corpus->vocab, temperature, top_k, &g);
        }
        nb_step_end();
        nb_free(x);
        ids[len++] = id;
        unsigned char ch = corpus->ch[id];
        if (ch == '\n')
            printf("\n    ");
        else if (ch == '\t' || (ch >= ' ' && ch < 0x7f))
            putchar(ch);
        else /* a control byte, or a byte of a UTF-8 sequence: drawn one at a time, they need not form one */
            printf("\\x%02x", ch);
    }
    printf("\n");
    nb_module_train(m, true);
    free(ids);
}

/* ---- checkpoints: the config and the history in the metadata --------------- */

/* What nb_save_training does not know of the run: the fields of config. */
static const ex_meta run_meta[] = {
    EX_META_FIELD(config, text, EX_META_TEXT),  EX_META_FIELD(config, activation, EX_META_TEXT),
    EX_META_FIELD(config, steps, EX_META_INT),  EX_META_FIELD(config, batch, EX_META_INT),
    EX_META_FIELD(config, block, EX_META_INT),  EX_META_FIELD(config, embed, EX_META_INT),
    EX_META_FIELD(config, heads, EX_META_INT),  EX_META_FIELD(config, layers, EX_META_INT),
    EX_META_FIELD(config, warmup, EX_META_INT), EX_META_FIELD(config, eval_every, EX_META_INT),
    EX_META_FIELD(config, seed, EX_META_INT),   EX_META_FIELD(config, val_windows, EX_META_INT),
    EX_META_FIELD(config, lr, EX_META_REAL),    EX_META_FIELD(config, weight_decay, EX_META_REAL),
    EX_META_FIELD(config, clip, EX_META_REAL),  EX_META_FIELD(config, dropout, EX_META_REAL),
    CR_PROGRESS_META(config, progress),
};

/* ---- training --------------------------------------------------------------- */

typedef struct run_opts {
    const char *prompt, *ckpt, *resume;
    double temperature;
    int top_k, sample_len, stop_after;
    bool samples; /* print samples at each evaluation */
} run_opts;

/* Train (or continue) the run c; returns the model, trained to c->progress.step. */
static nb_module *train(config *c, const cd_corpus *corpus, const run_opts *r, double *seconds)
{
    nb_module *model = build(c, corpus->vocab);
    nb_param_list pl;
    EX_CHECK(nb_module_parameters(model, &pl) >= 0);
    nb_optim *opt = gpt_adamw(&pl, c->lr, c->weight_decay);
    nb_scheduler *sched = nb_warmup_cosine(opt, c->warmup, c->steps, 0.01, c->lr / 10);
    EX_CHECK(sched);
    /* the model, AdamW's state and groups, the schedule's step and the generators: saved and restored
     * in one call each (the model's dropout generators among them) */
    nb_training run = {
        .model = model, .optims = &opt, .n_optims = 1, .schedulers = &sched, .n_schedulers = 1};
    if (r->resume) {
        EX_CHECK(nb_load_training(r->resume, &run) == 0);
        printf("resumed %s at step %d of %d\n", r->resume, c->progress.step, c->steps);
    }
    nb_tensor *x = nb_zeros(NB_SHAPE(c->batch, c->block)), *y = nb_zeros(NB_SHAPE(c->batch * c->block));
    EX_CHECK(x && y);
    cr_progress *prog = &c->progress;
    int last =
        r->stop_after > 0 && prog->step + r->stop_after < c->steps ? prog->step + r->stop_after : c->steps;
    double t_window = ex_now(), t_train = 0;
    int64_t chars = 0;
    while (prog->step < last) {
        double t0 = ex_now();
        gpt_batch(corpus, (uint64_t)c->seed, prog->step, x, y);
        prog->window_sum += gpt_step(model, opt, &pl, x, y, c->clip);
        nb_scheduler_step(sched);
        prog->window_n++;
        prog->step++;
        nb_step_end();
        t_train += ex_now() - t0;
        chars += (int64_t)c->batch * c->block;

        bool eval = prog->step % c->eval_every == 0 || prog->step == c->steps;
        if (eval) {
            double val = validation_bpc(model, corpus, c), dt = ex_now() - t_window;
            double train_bpc = cr_report(prog, val);
            printf("step %5d/%d  lr %.2e  train %.3f bits/char  validation %.3f bits/char  %6.1f s  %6.0f "
                   "chars/s\n",
                   prog->step, c->steps, nb_optim_get_lr(opt), train_bpc, val, dt, (double)chars / t_train);
            if (r->samples) {
                sample(model, corpus, c, r->prompt, r->sample_len, r->temperature, r->top_k,
                       (uint64_t)c->seed * 1000003u + (uint64_t)prog->step);
                printf("\n");
            }
            fflush(stdout);
            t_window = ex_now();
        }
        if (r->ckpt && (eval || prog->step == last)) {
            char *json = ex_meta_json(run_meta, EX_COUNT(run_meta), c);
            EX_CHECK(nb_save_training(r->ckpt, &run, json) == 0);
            free(json);
        }
    }
    *seconds = t_train;
    nb_free(x), nb_free(y);
    nb_scheduler_free(sched);
    nb_optim_free(opt);
    nb_param_list_free(&pl);
    return model;
}

/* The same run with each MLP activation: validation bits/char, and the curves. */
static int compare(const config *base, const cd_corpus *corpus, const char *out)
{
    static const char *const acts[] = {"gelu", "gelu_tanh", "relu", "silu", "swish"};
    enum { N = sizeof acts / sizeof *acts };
    static config runs[N];
    nb_plot *p = nb_plot_new(NB_PLOT_OPTS(.title = "char_gpt: validation loss by MLP activation",
                                          .xlabel = "training step", .ylabel = "validation bits / character",
                                          .legend = NB_LEGEND_BEST));
    EX_CHECK(p);
    run_opts r = {.samples = false};
    printf("the same GPT, seed and %d steps with each activation in the MLP:\n\n", base->steps);
    for (int a = 0; a < N; a++) {
        runs[a] = *base;
        snprintf(runs[a].activation, sizeof runs[a].activation, "%s", acts[a]);
        printf("%s:\n", acts[a]);
        double seconds;
        nb_module *m = train(&runs[a], corpus, &r, &seconds);
        printf("  %.1f s of training\n\n", seconds);
        nb_module_free(m);
        const cr_progress *done = &runs[a].progress;
        EX_CHECK(nb_plot_add(p, done->eval_step, done->val_bpc, done->evals,
                             NB_SERIES_OPTS(.label = acts[a], .style = NB_SERIES_LINE_POINTS)) == 0);
    }
    printf("activation   validation bits/char after %d steps\n", base->steps);
    for (int a = 0; a < N; a++)
        printf("%-12s %.3f%s\n", acts[a], runs[a].progress.val_bpc[runs[a].progress.evals - 1],
               a == N - 1 ? "  (x sigmoid(beta x), beta learnt per block)" : "");
    char path[1024];
    snprintf(path, sizeof path, "%s/char_gpt_compare.svg", out);
    EX_CHECK(nb_plot_save(p, path) == 0);
    nb_plot_free(p);
    printf("wrote %s\n", path);
    return 0;
}

int main(int argc, char **argv)
{
    config c = {.steps = 1000,
                .batch = 32,
                .block = 64,
                .embed = 96,
                .heads = 4,
                .layers = 3,
                .warmup = 100,
                .eval_every = 250,
                .seed = 1,
                .val_windows = 0,
                .lr = 2e-3,
                .weight_decay = 0.1,
                .clip = 1.0};
    const char *text = FORTUNES, *activation = "gelu", *out = ".";
    run_opts r = {.prompt = "The ", .temperature = 0.8, .top_k = 20, .sample_len = 300, .samples = true};
    int threads = 0;
    bool quick = false, cmp = false;
    const ex_arg args[] = {
        {"text", EX_STR, &text, "a text file, or a directory of them (its files without a '.' in the name)"},
        {"steps", EX_INT, &c.steps, "training steps (batches of --batch windows of --block characters)"},
        {"batch", EX_INT, &c.batch, "windows per batch"},
        {"block", EX_INT, &c.block, "characters of context (the window length)"},
        {"embed", EX_INT, &c.embed, "model width d (the MLP has 4 d)"},
        {"heads", EX_INT, &c.heads, "attention heads (a divisor of --embed)"},
        {"layers", EX_INT, &c.layers, "Transformer blocks"},
        {"dropout", EX_DOUBLE, &c.dropout,
         "dropout on the embeddings, the attention and each block's outputs"},
        {"activation", EX_STR, &activation, "the MLP's activation, any name of the registry"},
        {"lr", EX_DOUBLE, &c.lr, "AdamW's peak learning rate"},
        {"weight-decay", EX_DOUBLE, &c.weight_decay, "decoupled weight decay of the matrices"},
        {"clip", EX_DOUBLE, &c.clip, "clip the gradient norm to this"},
        {"warmup", EX_INT, &c.warmup, "steps of linear warm-up before the cosine decay"},
        {"eval-every", EX_INT, &c.eval_every, "steps between validation losses, samples and checkpoints"},
        {"val-windows", EX_INT, &c.val_windows,
         "validation windows of --block characters (0: the whole held-out text)"},
        {"prompt", EX_STR, &r.prompt, "text the samples start from"},
        {"temperature", EX_DOUBLE, &r.temperature, "sampling temperature (0: the most likely character)"},
        {"top-k", EX_INT, &r.top_k, "draw among the k likeliest characters only (0: all)"},
        {"sample-len", EX_INT, &r.sample_len, "characters per sample"},
        {"checkpoint", EX_STR, &r.ckpt, "save the run here at every evaluation and when stopping"},
        {"resume", EX_STR, &r.resume, "continue the run saved in this checkpoint (with its settings)"},
        {"stop-after", EX_INT, &r.stop_after,
         "stop after this many steps of this run, as an interrupted run would"},
        {"compare", EX_FLAG, &cmp, "train with each MLP activation and compare (char_gpt_compare.svg)"},
        {"threads", EX_INT, &threads, "threads; 0: NABLA_NUM_THREADS or the number of cores"},
        {"seed", EX_INT, &c.seed, "seed of the weights, the batches and the samples"},
        {"out", EX_STR, &out, "directory for the SVGs"},
        {"quick", EX_FLAG, &quick, "200 short steps of a small model (what meson test runs)"},
    };
    if (ex_given(argc, argv, args, EX_COUNT(args), "quick")) /* a preset: flags given with it win */
        c.steps = 200, c.batch = 16, c.block = 32, c.embed = 64, c.heads = 2, c.layers = 2, c.warmup = 20,
        c.eval_every = 100, c.val_windows = 128, r.sample_len = 120;
    ex_parse(argc, argv, args, EX_COUNT(args), "a character-level GPT");
    snprintf(c.text, sizeof c.text, "%s", text);
    snprintf(c.activation, sizeof c.activation, "%s", activation);
    if (r.resume) {
        ex_meta_read(r.resume, "char_gpt", run_meta, EX_COUNT(run_meta), &c);
        ex_meta_ignored(argc, argv, args, EX_COUNT(args), run_meta, EX_COUNT(run_meta), "char_gpt");
    }
    if (c.steps < 1 || c.batch < 1 || c.block < 1 || c.embed < 1 || c.heads < 1 || c.embed % c.heads != 0 ||
        c.layers < 1 || c.eval_every < 1 || c.val_windows < 0 || c.warmup < 0 || c.warmup >= c.steps ||
        !(c.lr > 0) || !(c.clip > 0) || r.sample_len < 0 || !(r.temperature >= 0) || r.top_k < 0) {
        fprintf(stderr,
                "sizes, --steps, --eval-every, --lr and --clip must be positive, --heads divide --embed, "
                "--warmup below --steps, --val-windows, --temperature and --top-k at least 0\n");
        return 2;
    }
    if (!nb_activation_find(c.activation)) {
        fprintf(stderr, "--activation: %s\n", nb_last_error_message());
        return 2;
    }
    if (threads > 0)
        nb_set_num_threads(threads);
    cd_corpus *corpus = cd_load(c.text, VAL_EVERY);
    if (!corpus) {
        if (strcmp(c.text, FORTUNES) == 0)
            fprintf(stderr, "\nThe fortunes text was not found. Install it with\n"
                            "    sudo apt-get install fortunes\n"
                            "or pass --text FILE, any text file (or a directory of them).\n");
        return 1;
    }
    if (!*r.prompt || strlen(r.prompt) > MAX_PROMPT) {
        fprintf(stderr, "--prompt: 1 to %d characters\n", MAX_PROMPT);
        return 2;
    }
    for (const char *p = r.prompt; *p; p++)
        if (cd_id(corpus, (unsigned char)*p) < 0) {
            fprintf(stderr, "--prompt: the character '%c' never occurs in %s\n", *p, c.text);
            return 2;
        }
    if (corpus->n_train <= c.block + 1 || (corpus->len - corpus->n_train) / VAL_BATCH < c.block + 1) {
        fprintf(stderr, "%s: too little text for windows of %d characters\n", c.text, c.block);
        return 2;
    }
    printf(
        "%s: %lld characters in %d file(s), %d distinct; %lld for training, %lld held out (every %dth block "
        "of %lld); %d thread(s)\n",
        c.text, (long long)corpus->len, corpus->files, corpus->vocab, (long long)corpus->n_train,
        (long long)(corpus->len - corpus->n_train), VAL_EVERY, (long long)corpus->block,
        nb_get_num_threads());
    if (cmp) {
        int status = compare(&c, corpus, out);
        cd_free(corpus);
        return status;
    }
    {
        nb_module *probe = build(&c, corpus->vocab);
        printf(
            "GPT: %d blocks of width %d, %d heads, MLP %d (%s), context %d, vocabulary %d: %lld parameters "
            "(lm_head tied to wte)\n",
            c.layers, c.embed, c.heads, 4 * c.embed, c.activation, c.block, corpus->vocab,
            (long long)nb_module_num_params(probe));
        nb_module_free(probe);
    }
    printf("AdamW lr %g (warm-up %d steps, cosine to %g), weight decay %g on the matrices only, clip %g; "
           "%d steps of %d x %d characters\n\n",
           c.lr, c.warmup, c.lr / 10, c.weight_decay, c.clip, c.steps, c.batch, c.block);
    fflush(stdout);
    double t_start = ex_now(), t_train;
    nb_module *model = train(&c, corpus, &r, &t_train);
    printf("training: %.1f s (%.1f s in all with evaluation and sampling)\n", t_train, ex_now() - t_start);
    int status = 0;
    if (c.progress.step < c.steps) {
        printf("stopped at step %d of %d%s%s\n", c.progress.step, c.steps,
               r.ckpt ? "; continue with --resume " : " (no --checkpoint: nothing to resume)",
               r.ckpt ? r.ckpt : "");
        goto done;
    }
    cr_curve(&c.progress, "char_gpt", out);
    double val = c.progress.val_bpc[c.progress.evals - 1];
    printf("\nvalidation loss %.3f bits per character; the same prompt at three temperatures (top-k %d):\n",
           val, r.top_k);
    const double temps[3] = {r.temperature / 2, r.temperature, r.temperature * 1.5};
    for (int i = 0; i < 3; i++) {
        printf("\ntemperature %g:\n", temps[i]);
        sample(model, corpus, &c, r.prompt, r.sample_len, temps[i], r.top_k, (uint64_t)c.seed);
    }
    if (quick && !(val < 4.3)) {
        fprintf(stderr, "FAIL: the validation loss %.3f bits/char is not below 4.3\n", val);
        status = 1;
    }
done:
    nb_module_free(model);
    cd_free(corpus);
    return status;
}
