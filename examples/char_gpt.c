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
 * positions, the output layer sharing the token embedding). What a real
 * training run has, each in a few lines:
 *
 *   - batches of --batch windows of --block characters at random offsets of
 *     the training split (drawn from the seed and the step, so a resumed run
 *     reads the same batches), the target of each position the next character;
 *   - AdamW in two parameter groups: decoupled weight decay on the matrices,
 *     none on norms, biases and embeddings (nanoGPT's rule); clipping; a
 *     linear warm-up then a cosine decay of the learning rate (nb_warmup_cosine);
 *   - the validation loss in bits per character, -log2 p(next character),
 *     over held-out windows (log2 of the vocabulary for a uniform guess);
 *   - sampling from a prompt with a temperature and top-k: only the k likeliest
 *     characters can be drawn, p ~ exp(logit / temperature) among them;
 *   - checkpoints (--checkpoint, --resume) that continue the run exactly;
 *   - --compare: the same model, seed and steps with each MLP activation
 *     (gelu, gelu_tanh, relu, silu, and swish with a learnable beta), the
 *     validation curves in char_gpt_compare.svg.
 *
 *   ./char_gpt [--text /usr/share/games/fortunes] [--steps 1000] [--batch 32] [--block 64]
 *              [--embed 96] [--heads 4] [--layers 3] [--dropout 0] [--activation gelu]
 *              [--lr 2e-3] [--weight-decay 0.1] [--clip 1] [--warmup 100] [--eval-every 250]
 *              [--prompt "The "] [--temperature 0.8] [--top-k 20] [--sample-len 300]
 *              [--checkpoint PATH] [--resume PATH] [--stop-after N] [--compare]
 *              [--threads N] [--seed 1] [--out .] [--quick]
 *
 * --quick trains embed 64, 2 layers for 200 steps of 16 x 32 characters and
 * fails unless the validation loss is below 4.3 bits per character (the byte
 * frequencies alone give 4.79); it is what `meson test` runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nabla/nabla.h>
#include <nabla/plot.h>
#include "char_data.h"
#include "common.h"

#define FORTUNES "/usr/share/games/fortunes"
enum { VAL_EVERY = 10, VAL_BATCH = 32, MAX_EVALS = 1000, MAX_PROMPT = 4096 };

/* What defines a run: saved in the checkpoint's metadata, so --resume needs nothing else. */
typedef struct config {
    int steps, batch, block, embed, heads, layers, warmup, eval_every, seed, val_windows;
    double lr, weight_decay, clip, dropout;
    char text[1024], activation[64];
    /* progress */
    int step;          /* steps done */
    double window_sum; /* training loss summed since the last evaluation (nats) */
    int window_n;      /* ... over this many steps */
    int evals;         /* history, for the learning curve: */
    double eval_step[MAX_EVALS], train_bpc[MAX_EVALS], val_bpc[MAX_EVALS];
} config;

/* ---- the model ------------------------------------------------------------ */

typedef struct gpt {
    nb_tensor *positions; /* 0, 1, ..., block - 1: wpe's indices */
} gpt;

static void gpt_free(void *p)
{
    gpt *g = p;
    nb_free(g->positions);
    free(g);
}

/* logits [B T, V] of x [B, T] (T <= block). */
static nb_tensor *gpt_forward(nb_module *m, nb_tensor *x)
{
    gpt *g = m->user;
    int64_t T = x->shape[x->ndim - 1];
    nb_tensor *pos = nb_forward(nb_module_child(m, "wpe"), nb_slice(g->positions, 0, 0, T)); /* [T, d] */
    nb_tensor *h =
        nb_forward(nb_module_child(m, "drop"), nb_add(nb_forward(nb_module_child(m, "wte"), x), pos));
    nb_module *blocks = nb_module_child(m, "h");
    for (int i = 0; h && i < blocks->n_children; i++)
        h = nb_forward(blocks->children[i], h);
    h = nb_forward(nb_module_child(m, "ln_f"), h);
    return h ? nb_forward(nb_module_child(m, "lm_head"), nb_reshape(h, NB_SHAPE(-1, h->shape[h->ndim - 1])))
             : NULL;
}

static nb_module *build(const config *c, int vocab)
{
    nb_manual_seed((uint64_t)c->seed); /* layers initialise from the default generator */
    gpt *g = calloc(1, sizeof *g);
    EX_CHECK(g);
    int64_t *ids = malloc((size_t)c->block * sizeof *ids);
    EX_CHECK(ids);
    for (int i = 0; i < c->block; i++)
        ids[i] = i;
    g->positions = nb_from_int64(ids, NB_SHAPE(c->block));
    free(ids);
    nb_module *m = nb_module_new("CharGPT", gpt_forward, g);
    EX_CHECK(m && g->positions);
    m->free_user = gpt_free;
    EX_CHECK(nb_module_add(m, "wte", nb_embedding(vocab, c->embed)) == 0);
    EX_CHECK(nb_module_add(m, "wpe", nb_embedding(c->block, c->embed)) == 0);
    EX_CHECK(nb_module_add(m, "drop", nb_dropout(c->dropout)) == 0);
    nb_transformer_opts o = nb_transformer_defaults();
    o.dim_feedforward = 4 * c->embed;
    o.dropout = c->dropout;
    o.activation = c->activation;
    o.batch_first = true;
    o.norm_first = true;
    o.is_causal = true;
    nb_module *blocks = nb_sequential(0);
    EX_CHECK(blocks);
    for (int i = 0; i < c->layers; i++)
        EX_CHECK(nb_sequential_add(blocks, nb_transformer_encoder_layer(c->embed, c->heads, o)) == 0);
    EX_CHECK(nb_module_add(m, "h", blocks) == 0);
    EX_CHECK(nb_module_add(m, "ln_f", nb_layer_norm_layer(NB_SHAPE(c->embed))) == 0);
    EX_CHECK(nb_module_add(m, "lm_head", nb_linear_ex(c->embed, vocab, false, NULL)) == 0);
    /* GPT-2's initialisation of the embeddings, N(0, 0.02) (nn.Embedding's N(0, 1) would make the
     * tied output layer's first logits huge), then the tie */
    nb_tensor *wte = nb_module_get(m, "wte.weight");
    EX_CHECK(nb_init_normal_(wte, 0, 0.02, NULL) &&
             nb_init_normal_(nb_module_get(m, "wpe.weight"), 0, 0.02, NULL));
    EX_CHECK(nb_module_tie(nb_module_child(m, "lm_head"), "weight", wte));
    return m;
}

/* nanoGPT's rule: weight decay on the matrices of the linear and attention
 * layers, none on norms, biases and embeddings (and so not on the tied
 * output layer, which is wte). */
static bool decays(const char *name, const nb_tensor *t)
{
    return t->ndim == 2 && strncmp(name, "wte.", 4) != 0 && strncmp(name, "wpe.", 4) != 0;
}

/* ---- data, evaluation and sampling ----------------------------------------- */

/* The training batch of a step: B windows at offsets drawn from (seed, step). */
static void train_batch(const cd_corpus *corpus, const config *c, int step, nb_tensor *x, nb_tensor *y)
{
    nb_generator g;
    nb_generator_seed(&g, (uint64_t)c->seed * 1000003u + (uint64_t)step);
    for (int b = 0; b < c->batch; b++) {
        int64_t at = (int64_t)nb_generator_below(&g, (uint64_t)(corpus->n_train - c->block));
        for (int t = 0; t < c->block; t++) {
            x->data[b * c->block + t] = (nb_real)corpus->ids[at + t];
            y->data[b * c->block + t] = (nb_real)corpus->ids[at + t + 1];
        }
    }
}

/* Mean -log2 p(next character) over the validation split read as VAL_BATCH
 * streams, in chunks of block characters (at most val_windows windows in all;
 * eval mode, no gradient). */
static double validation_bpc(nb_module *m, const cd_corpus *corpus, const config *c)
{
    cd_streams s = cd_streams_make(corpus->ids + corpus->n_train, corpus->len - corpus->n_train, VAL_BATCH);
    int64_t chunks = cd_chunks(&s, c->block);
    if (chunks > c->val_windows / VAL_BATCH)
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

static char *config_json(const config *c)
{
    size_t cap = 2048 + (size_t)c->evals * 3 * 26, n = 0;
    char *s = malloc(cap);
    EX_CHECK(s);
    n += (size_t)snprintf(
        s + n, cap - n,
        "{\"text\": \"%s\", \"activation\": \"%s\", \"steps\": \"%d\", \"batch\": \"%d\", \"block\": \"%d\", "
        "\"embed\": \"%d\", \"heads\": \"%d\", \"layers\": \"%d\", \"warmup\": \"%d\", \"eval_every\": \"%d\", "
        "\"seed\": \"%d\", \"val_windows\": \"%d\", \"lr\": \"%.17g\", \"weight_decay\": \"%.17g\", "
        "\"clip\": \"%.17g\", \"dropout\": \"%.17g\", \"step\": \"%d\", \"window_sum\": \"%.17g\", "
        "\"window_n\": \"%d\"",
        c->text, c->activation, c->steps, c->batch, c->block, c->embed, c->heads, c->layers, c->warmup,
        c->eval_every, c->seed, c->val_windows, c->lr, c->weight_decay, c->clip, c->dropout, c->step,
        c->window_sum, c->window_n);
    const double *hist[3] = {c->eval_step, c->train_bpc, c->val_bpc};
    static const char *const keys[3] = {"eval_step", "train_bpc", "val_bpc"};
    for (int k = 0; k < 3; k++) {
        n += (size_t)snprintf(s + n, cap - n, ", \"%s\": \"", keys[k]);
        for (int e = 0; e < c->evals; e++)
            n += (size_t)snprintf(s + n, cap - n, "%s%.17g", e ? "," : "", hist[k][e]);
        n += (size_t)snprintf(s + n, cap - n, "\"");
    }
    snprintf(s + n, cap - n, "}");
    return s;
}

static const char *meta(nb_safetensors *st, const char *key, const char *path)
{
    const char *v = nb_safetensors_metadata(st, key);
    if (!v) {
        fprintf(stderr, "%s: not a char_gpt checkpoint (no '%s' in its metadata)\n", path, key);
        exit(1);
    }
    return v;
}

static void config_load(config *c, const char *path)
{
    nb_safetensors *st = nb_safetensors_open(path);
    EX_CHECK(st);
    snprintf(c->text, sizeof c->text, "%s", meta(st, "text", path));
    snprintf(c->activation, sizeof c->activation, "%s", meta(st, "activation", path));
    int *ints[] = {&c->steps,  &c->batch,      &c->block, &c->embed,       &c->heads, &c->layers,
                   &c->warmup, &c->eval_every, &c->seed,  &c->val_windows, &c->step,  &c->window_n};
    static const char *const int_keys[] = {"steps", "batch",       "block",  "embed",
                                           "heads", "layers",      "warmup", "eval_every",
                                           "seed",  "val_windows", "step",   "window_n"};
    for (int i = 0; i < EX_COUNT(int_keys); i++)
        *ints[i] = atoi(meta(st, int_keys[i], path));
    double *reals[] = {&c->lr, &c->weight_decay, &c->clip, &c->dropout, &c->window_sum};
    static const char *const real_keys[] = {"lr", "weight_decay", "clip", "dropout", "window_sum"};
    for (int i = 0; i < EX_COUNT(real_keys); i++)
        *reals[i] = strtod(meta(st, real_keys[i], path), NULL);
    double *hist[3] = {c->eval_step, c->train_bpc, c->val_bpc};
    static const char *const keys[3] = {"eval_step", "train_bpc", "val_bpc"};
    c->evals = 0;
    for (int k = 0; k < 3; k++) {
        const char *v = meta(st, keys[k], path);
        int e = 0;
        for (char *end; *v && e < MAX_EVALS; v = *end ? end + 1 : end)
            hist[k][e++] = strtod(v, &end);
        c->evals = e;
    }
    nb_safetensors_close(st);
}

/* ---- training --------------------------------------------------------------- */

typedef struct run_opts {
    const char *prompt, *ckpt, *resume;
    double temperature;
    int top_k, sample_len, stop_after;
    bool samples; /* print samples at each evaluation */
} run_opts;

/* Train (or continue) the run c; returns the model, trained to c->step. */
static nb_module *train(config *c, const cd_corpus *corpus, const run_opts *r, double *seconds)
{
    nb_module *model = build(c, corpus->vocab);
    nb_param_list pl;
    EX_CHECK(nb_module_parameters(model, &pl) >= 0);
    /* two parameter groups, as nanoGPT's configure_optimizers: the matrices with weight decay (group
     * 0), the norms, biases and embeddings without (group 1) */
    nb_tensor **decay = malloc(2 * (size_t)pl.count * sizeof *decay), **no_decay = decay + pl.count;
    EX_CHECK(decay);
    int n_decay = 0, n_no_decay = 0;
    for (int i = 0; i < pl.count; i++)
        if (decays(pl.names[i], pl.tensors[i]))
            decay[n_decay++] = pl.tensors[i];
        else
            no_decay[n_no_decay++] = pl.tensors[i];
    nb_optim *opt = nb_adamw(decay, n_decay, NB_ADAMW_OPTS(.lr = c->lr, .weight_decay = c->weight_decay));
    EX_CHECK(opt && nb_optim_add_param_group(opt, no_decay, n_no_decay,
                                             NB_ADAMW_OPTS(.lr = c->lr, .weight_decay = 0)) == 1);
    free(decay);
    nb_scheduler *sched = nb_warmup_cosine(opt, c->warmup, c->steps, 0.01, c->lr / 10);
    EX_CHECK(sched);
    if (r->resume) {
        EX_CHECK(nb_load_checkpoint(r->resume, model, opt) == 0);
        nb_scheduler_set_last_epoch(sched, c->step);
        printf("resumed %s at step %d of %d\n", r->resume, c->step, c->steps);
    }
    nb_tensor *x = nb_zeros(NB_SHAPE(c->batch, c->block)), *y = nb_zeros(NB_SHAPE(c->batch * c->block));
    EX_CHECK(x && y);
    int last = r->stop_after > 0 && c->step + r->stop_after < c->steps ? c->step + r->stop_after : c->steps;
    double t_window = ex_now(), t_train = 0;
    int64_t chars = 0;
    while (c->step < last) {
        double t0 = ex_now();
        train_batch(corpus, c, c->step, x, y);
        nb_tensor *loss = nb_cross_entropy(nb_forward(model, x), y, NB_CROSS_ENTROPY_OPTS());
        EX_CHECK(loss);
        nb_optim_zero_grad(opt);
        EX_CHECK(nb_backward(loss) == 0);
        nb_clip_grad_norm(pl.tensors, pl.count, (nb_real)c->clip);
        EX_CHECK(nb_optim_step(opt) == 0);
        nb_scheduler_step(sched);
        c->window_sum += nb_item(loss);
        c->window_n++;
        c->step++;
        nb_step_end();
        t_train += ex_now() - t0;
        chars += (int64_t)c->batch * c->block;

        bool eval = c->step % c->eval_every == 0 || c->step == c->steps;
        if (eval) {
            double val = validation_bpc(model, corpus, c), dt = ex_now() - t_window;
            double train_bpc = c->window_sum / c->window_n / log(2.0);
            if (c->evals < MAX_EVALS) {
                c->eval_step[c->evals] = c->step;
                c->train_bpc[c->evals] = train_bpc;
                c->val_bpc[c->evals++] = val;
            }
            printf("step %5d/%d  lr %.2e  train %.3f bits/char  validation %.3f bits/char  %6.1f s  %6.0f "
                   "chars/s\n",
                   c->step, c->steps, nb_optim_get_lr(opt), train_bpc, val, dt, (double)chars / t_train);
            if (r->samples) {
                sample(model, corpus, c, r->prompt, r->sample_len, r->temperature, r->top_k,
                       (uint64_t)c->seed * 1000003u + (uint64_t)c->step);
                printf("\n");
            }
            fflush(stdout);
            c->window_sum = 0, c->window_n = 0;
            t_window = ex_now();
        }
        if (r->ckpt && (eval || c->step == last)) {
            char *json = config_json(c);
            EX_CHECK(nb_save_checkpoint(r->ckpt, model, opt, json) == 0);
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

static void curve(const config *c, const char *out)
{
    nb_plot *p =
        nb_plot_new(NB_PLOT_OPTS(.title = "char_gpt: loss in bits per character", .xlabel = "training step",
                                 .ylabel = "bits / character", .legend = NB_LEGEND_BEST));
    EX_CHECK(p);
    EX_CHECK(nb_plot_add(p, c->eval_step, c->train_bpc, c->evals,
                         NB_SERIES_OPTS(.label = "train (mean since the last point)",
                                        .style = NB_SERIES_LINE_POINTS)) == 0);
    EX_CHECK(nb_plot_add(p, c->eval_step, c->val_bpc, c->evals,
                         NB_SERIES_OPTS(.label = "validation", .style = NB_SERIES_LINE_POINTS)) == 0);
    char path[1024];
    snprintf(path, sizeof path, "%s/char_gpt_curve.svg", out);
    EX_CHECK(nb_plot_save(p, path) == 0);
    nb_plot_free(p);
    printf("wrote %s\n", path);
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
        EX_CHECK(nb_plot_add(p, runs[a].eval_step, runs[a].val_bpc, runs[a].evals,
                             NB_SERIES_OPTS(.label = acts[a], .style = NB_SERIES_LINE_POINTS)) == 0);
    }
    printf("activation   validation bits/char after %d steps\n", base->steps);
    for (int a = 0; a < N; a++)
        printf("%-12s %.3f%s\n", acts[a], runs[a].val_bpc[runs[a].evals - 1],
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
                .val_windows = 512,
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
    ex_parse(argc, argv, args, EX_COUNT(args), "a character-level GPT");
    if (quick)
        c.steps = 200, c.batch = 16, c.block = 32, c.embed = 64, c.heads = 2, c.layers = 2, c.warmup = 20,
        c.eval_every = 100, c.val_windows = 128, r.sample_len = 120;
    snprintf(c.text, sizeof c.text, "%s", text);
    snprintf(c.activation, sizeof c.activation, "%s", activation);
    if (r.resume)
        config_load(&c, r.resume);
    if (c.steps < 1 || c.batch < 1 || c.block < 1 || c.embed < 1 || c.heads < 1 || c.embed % c.heads != 0 ||
        c.layers < 1 || c.eval_every < 1 || c.warmup < 0 || c.warmup >= c.steps || !(c.lr > 0) ||
        !(c.clip > 0) || r.sample_len < 0 || !(r.temperature >= 0) || r.top_k < 0) {
        fprintf(stderr,
                "sizes, --steps, --eval-every, --lr and --clip must be positive, --heads divide --embed, "
                "--warmup below --steps, --temperature and --top-k at least 0\n");
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
    if (c.step < c.steps) {
        printf("stopped at step %d of %d%s%s\n", c.step, c.steps,
               r.ckpt ? "; continue with --resume " : " (no --checkpoint: nothing to resume)",
               r.ckpt ? r.ckpt : "");
        goto done;
    }
    curve(&c, out);
    double val = c.val_bpc[c.evals - 1];
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
