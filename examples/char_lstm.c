/* examples/char_lstm.c — a character-level language model: it reads text one
 * character (byte) at a time and learns to predict the next one, then writes
 * new text in the same style. The text is the Debian package fortunes
 * (/usr/share/games/fortunes: 2.4 MB of quotations, jokes and poems), or any
 * file given with --text.
 *
 *   Embedding(V, 64) -> LSTM(64, 128, num_layers 2, batch_first) -> Linear(128, V)
 *
 * V is the number of distinct bytes of the text. What a real language-model
 * run has, each in a few lines:
 *
 *   - truncated backpropagation through time: the training text is cut into
 *     --batch parallel streams, read in consecutive chunks of --bptt
 *     characters; the LSTM's state (h, c) at the end of a chunk is the initial
 *     state of the next, carried over as a value (detached: the gradient stops
 *     at the chunk's start), and zeroed when the streams start over;
 *   - AdamW, gradient clipping (nb_clip_grad_norm), and a learning rate
 *     warmed up linearly then annealed by a cosine (nb_warmup_cosine);
 *   - the validation loss in bits per character, -log2 p(next character),
 *     on held-out text (every 10th block of 8 KiB, so it samples every file;
 *     log2 of the vocabulary size for a uniform guess, 4.79 for the best
 *     guess that ignores the context: the text's byte frequencies);
 *   - sampling from a prompt at a temperature: p ∝ exp(logit / temperature),
 *     so below 1 the likely characters win more often and above 1 the choice
 *     flattens (0: always the most likely);
 *   - checkpoints (--checkpoint, --resume) that continue the run exactly:
 *     nb_save_training saves the model, AdamW's moments, the schedule's step
 *     and the generators, with the settings, the step and the history as
 *     metadata (examples/run_meta.h), and the carried state, which is a
 *     buffer of the model (state_h, state_c) for that reason.
 *
 *   ./char_lstm [--text /usr/share/games/fortunes] [--steps 2500] [--batch 64] [--bptt 64]
 *               [--embed 64] [--hidden 128] [--layers 2] [--dropout 0] [--lr 3e-3]
 *               [--weight-decay 0.01] [--clip 1] [--warmup 100] [--eval-every 500]
 *               [--prompt "The "] [--temperature 0.8] [--sample-len 300]
 *               [--checkpoint PATH] [--resume PATH] [--stop-after N]
 *               [--threads N] [--seed 1] [--out .] [--quick]
 *
 * --quick trains with hidden 128, embed 32 for 250 steps of 32 x 32
 * characters and fails unless the validation loss is below 4.3 bits per
 * character, under the 4.79 of the byte frequencies (the model has learnt to
 * use the context); it is what `meson test` runs. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nabla/nabla.h>
#include "char_data.h"
#include "char_run.h"
#include "common.h"
#include "run_meta.h"

#define FORTUNES "/usr/share/games/fortunes"
enum { VAL_EVERY = 10, VAL_BATCH = 64 };

/* What defines a run: saved in the checkpoint's metadata, so --resume needs nothing else. */
typedef struct config {
    int steps, batch, bptt, embed, hidden, layers, warmup, eval_every, seed;
    double lr, weight_decay, clip, dropout;
    char text[1024];
    cr_progress progress; /* the step, the history */
} config;

/* ---- the model ------------------------------------------------------------ */

/* logits [B T, V] of x [B, T] from the state (h0, c0) (NULL: zeros), the final
 * state into h_n, c_n. */
static nb_tensor *char_forward(nb_module *m, nb_tensor *x, nb_tensor *h0, nb_tensor *c0, nb_tensor **h_n,
                               nb_tensor **c_n)
{
    nb_tensor *e = nb_forward(nb_module_child(m, "embed"), x);                         /* [B, T, E] */
    nb_tensor *out = nb_lstm_forward(nb_module_child(m, "lstm"), e, h0, c0, h_n, c_n); /* [B, T, H] */
    if (!out)
        return NULL;
    return nb_forward(nb_module_child(m, "fc"), nb_reshape(out, NB_SHAPE(-1, out->shape[2])));
}

/* nb_forward(model, x): from the zero state. */
static nb_tensor *module_forward(nb_module *m, nb_tensor *x)
{
    return char_forward(m, x, NULL, NULL, NULL, NULL);
}

static nb_module *build(const config *c, int vocab)
{
    nb_manual_seed((uint64_t)c->seed); /* layers initialise from the default generator */
    nb_module *m = nb_module_new("CharLSTM", module_forward, NULL);
    EX_CHECK(m);
    nb_rnn_opts o = NB_RNN_OPTS(.num_layers = c->layers, .batch_first = true, .dropout = c->dropout);
    EX_CHECK(nb_module_add(m, "embed", nb_embedding(vocab, c->embed)) == 0);
    EX_CHECK(nb_module_add(m, "lstm", nb_lstm(c->embed, c->hidden, o)) == 0);
    EX_CHECK(nb_module_add(m, "fc", nb_linear(c->hidden, vocab)) == 0);
    /* the state carried from one chunk of the training streams to the next */
    EX_CHECK(nb_module_buffer(m, "state_h", nb_zeros(NB_SHAPE(c->layers, c->batch, c->hidden))));
    EX_CHECK(nb_module_buffer(m, "state_c", nb_zeros(NB_SHAPE(c->layers, c->batch, c->hidden))));
    return m;
}

/* ---- evaluation and sampling ---------------------------------------------- */

/* Mean -log2 p(next character) over the validation split, read as VAL_BATCH
 * streams in chunks of bptt, the state carried along (no gradient, eval mode). */
static double validation_bpc(nb_module *m, const cd_corpus *corpus, const config *c)
{
    cd_streams s = cd_streams_make(corpus->ids + corpus->n_train, corpus->len - corpus->n_train, VAL_BATCH);
    int64_t chunks = cd_chunks(&s, c->bptt);
    nb_tensor *x = nb_zeros(NB_SHAPE(VAL_BATCH, c->bptt)), *y = nb_zeros(NB_SHAPE(VAL_BATCH * c->bptt));
    nb_tensor *h = nb_zeros(NB_SHAPE(c->layers, VAL_BATCH, c->hidden)), *cs = nb_clone(h);
    EX_CHECK(x && y && h && cs);
    nb_module_train(m, false);
    double sum = 0;
    for (int64_t k = 0; k < chunks; k++) {
        cd_chunk(&s, k, c->bptt, x, y);
        NB_NO_GRAD
        {
            nb_tensor *hn, *cn;
            nb_tensor *loss =
                nb_cross_entropy(char_forward(m, x, h, cs, &hn, &cn), y, NB_CROSS_ENTROPY_OPTS());
            EX_CHECK(loss && nb_copy_(h, hn) && nb_copy_(cs, cn));
            sum += nb_item(loss);
        }
        nb_step_end();
    }
    nb_module_train(m, true);
    nb_free(x), nb_free(y), nb_free(h), nb_free(cs);
    return sum / (double)chunks / log(2.0);
}

/* An id drawn from softmax(logits / temperature) (temperature 0: the argmax). */
static int draw(const nb_real *logits, int vocab, double temperature, nb_generator *g)
{
    int best = 0;
    for (int i = 1; i < vocab; i++)
        if (logits[i] > logits[best])
            best = i;
    if (temperature <= 0)
        return best;
    double p[256], total = 0;
    for (int i = 0; i < vocab; i++)
        total += p[i] = exp((logits[i] - logits[best]) / temperature);
    double u = nb_generator_uniform(g) * total;
    for (int i = 0; i < vocab; i++)
        if ((u -= p[i]) < 0)
            return i;
    return best;
}

/* Print the prompt and n characters sampled after it, each line indented;
 * bytes other than printable ASCII, tab and newline as \xNN. */
static void sample(nb_module *m, const cd_corpus *corpus, const config *c, const char *prompt, int n,
                   double temperature, uint64_t seed)
{
    nb_generator g;
    nb_generator_seed(&g, seed);
    int64_t plen = (int64_t)strlen(prompt), ids[4096]; /* main checked: 1 to 4096 known characters */
    for (int64_t i = 0; i < plen; i++)
        ids[i] = cd_id(corpus, (unsigned char)prompt[i]);
    nb_tensor *h = nb_zeros(NB_SHAPE(c->layers, 1, c->hidden)), *cs = nb_clone(h);
    nb_tensor *x = nb_from_int64(ids, NB_SHAPE(1, plen)), *next = nb_zeros(NB_SHAPE(1, 1));
    EX_CHECK(h && cs && x && next);
    nb_module_train(m, false);
    printf("    %s", prompt);
    nb_tensor *in = x;
    for (int i = 0; i < n; i++) {
        int id;
        NB_NO_GRAD
        {
            nb_tensor *hn, *cn, *logits = char_forward(m, in, h, cs, &hn, &cn);
            EX_CHECK(logits && nb_copy_(h, hn) && nb_copy_(cs, cn));
            id = draw(logits->data + (logits->shape[0] - 1) * corpus->vocab, corpus->vocab, temperature, &g);
        }
        nb_step_end();
        unsigned char ch = corpus->ch[id];
        if (ch == '\n')
            printf("\n    ");
        else if (ch == '\t' || (ch >= ' ' && ch < 0x7f))
            putchar(ch);
        else /* a control byte, or a byte of a UTF-8 sequence: drawn one at a time, they need not form one */
            printf("\\x%02x", ch);
        next->data[0] = (nb_real)id;
        in = next;
    }
    printf("\n");
    nb_module_train(m, true);
    nb_free(h), nb_free(cs), nb_free(x), nb_free(next);
}

/* ---- checkpoints: the config and the history in the metadata --------------- */

/* What nb_save_training does not know of the run: the fields of config. */
static const ex_meta run_meta[] = {
    EX_META_FIELD(config, text, EX_META_TEXT),
    EX_META_FIELD(config, steps, EX_META_INT),
    EX_META_FIELD(config, batch, EX_META_INT),
    EX_META_FIELD(config, bptt, EX_META_INT),
    EX_META_FIELD(config, embed, EX_META_INT),
    EX_META_FIELD(config, hidden, EX_META_INT),
    EX_META_FIELD(config, layers, EX_META_INT),
    EX_META_FIELD(config, warmup, EX_META_INT),
    EX_META_FIELD(config, eval_every, EX_META_INT),
    EX_META_FIELD(config, seed, EX_META_INT),
    EX_META_FIELD(config, lr, EX_META_REAL),
    EX_META_FIELD(config, weight_decay, EX_META_REAL),
    EX_META_FIELD(config, clip, EX_META_REAL),
    EX_META_FIELD(config, dropout, EX_META_REAL),
    CR_PROGRESS_META(config, progress),
};

/* ---- training --------------------------------------------------------------- */

int main(int argc, char **argv)
{
    config c = {.steps = 2500,
                .batch = 64,
                .bptt = 64,
                .embed = 64,
                .hidden = 128,
                .layers = 2,
                .warmup = 100,
                .eval_every = 500,
                .seed = 1,
                .lr = 3e-3,
                .weight_decay = 0.01,
                .clip = 1.0};
    const char *text = FORTUNES, *prompt = "The ", *out = ".", *ckpt = NULL, *resume = NULL;
    double temperature = 0.8;
    int sample_len = 300, threads = 0, stop_after = 0;
    bool quick = false;
    const ex_arg args[] = {
        {"text", EX_STR, &text, "a text file, or a directory of them (its files without a '.' in the name)"},
        {"steps", EX_INT, &c.steps, "training steps (chunks of --batch x --bptt characters)"},
        {"batch", EX_INT, &c.batch, "parallel streams of the training text"},
        {"bptt", EX_INT, &c.bptt, "characters per chunk: how far back the gradient goes"},
        {"embed", EX_INT, &c.embed, "embedding size"},
        {"hidden", EX_INT, &c.hidden, "LSTM hidden size"},
        {"layers", EX_INT, &c.layers, "LSTM layers"},
        {"dropout", EX_DOUBLE, &c.dropout, "dropout between the LSTM layers"},
        {"lr", EX_DOUBLE, &c.lr, "AdamW's peak learning rate"},
        {"weight-decay", EX_DOUBLE, &c.weight_decay, "AdamW's decoupled weight decay"},
        {"clip", EX_DOUBLE, &c.clip, "clip the gradient norm to this"},
        {"warmup", EX_INT, &c.warmup, "steps of linear warm-up before the cosine decay"},
        {"eval-every", EX_INT, &c.eval_every, "steps between validation losses, samples and checkpoints"},
        {"prompt", EX_STR, &prompt, "text the samples start from"},
        {"temperature", EX_DOUBLE, &temperature, "sampling temperature (0: the most likely character)"},
        {"sample-len", EX_INT, &sample_len, "characters per sample"},
        {"checkpoint", EX_STR, &ckpt, "save the run here at every evaluation and when stopping"},
        {"resume", EX_STR, &resume, "continue the run saved in this checkpoint (with its settings)"},
        {"stop-after", EX_INT, &stop_after,
         "stop after this many steps of this run, as an interrupted run would"},
        {"threads", EX_INT, &threads, "threads; 0: NABLA_NUM_THREADS or the number of cores"},
        {"seed", EX_INT, &c.seed, "seed of the initial weights and of the samples"},
        {"out", EX_STR, &out, "directory for char_lstm_curve.svg"},
        {"quick", EX_FLAG, &quick, "250 short steps, embed 32 (what meson test runs)"},
    };
    if (ex_given(argc, argv, args, EX_COUNT(args), "quick")) /* a preset: flags given with it win */
        c.steps = 250, c.batch = 32, c.bptt = 32, c.embed = 32, c.warmup = 10, c.eval_every = 125,
        sample_len = 120;
    ex_parse(argc, argv, args, EX_COUNT(args), "a character-level LSTM language model");
    snprintf(c.text, sizeof c.text, "%s", text);
    if (resume) {
        ex_meta_read(resume, "char_lstm", run_meta, EX_COUNT(run_meta), &c);
        ex_meta_ignored(argc, argv, args, EX_COUNT(args), run_meta, EX_COUNT(run_meta), "char_lstm");
    }
    if (c.steps < 1 || c.batch < 1 || c.bptt < 1 || c.embed < 1 || c.hidden < 1 || c.layers < 1 ||
        c.eval_every < 1 || c.warmup < 0 || c.warmup >= c.steps || !(c.lr > 0) || !(c.clip > 0) ||
        sample_len < 0 || !(temperature >= 0)) {
        fprintf(stderr, "sizes, --steps, --eval-every, --lr and --clip must be positive, --warmup below "
                        "--steps, --temperature at least 0\n");
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
    if (!*prompt || strlen(prompt) > 4096) {
        fprintf(stderr, "--prompt: 1 to 4096 characters\n");
        return 2;
    }
    for (const char *p = prompt; *p; p++)
        if (cd_id(corpus, (unsigned char)*p) < 0) {
            fprintf(stderr, "--prompt: the character '%c' never occurs in %s\n", *p, c.text);
            cd_free(corpus);
            return 2;
        }
    cd_streams train = cd_streams_make(corpus->ids, corpus->n_train, c.batch);
    int64_t chunks = cd_chunks(&train, c.bptt);
    if (chunks < 1) {
        fprintf(stderr, "%s: too little text for %d streams of %d characters\n", c.text, c.batch, c.bptt);
        cd_free(corpus);
        return 2;
    }

    nb_module *model = build(&c, corpus->vocab);
    nb_param_list pl;
    EX_CHECK(nb_module_parameters(model, &pl) >= 0);
    nb_optim *opt = nb_adamw(pl.tensors, pl.count, NB_ADAMW_OPTS(.lr = c.lr, .weight_decay = c.weight_decay));
    EX_CHECK(opt);
    /* per step: lr / 100 rising linearly to lr over the warm-up, then a cosine down to lr / 100 */
    nb_scheduler *sched = nb_warmup_cosine(opt, c.warmup, c.steps, 0.01, c.lr / 100);
    EX_CHECK(sched);
    /* the model (its carried state among the buffers), AdamW's state, the schedule's step and the
     * generators: saved and restored in one call each */
    nb_training run = {
        .model = model, .optims = &opt, .n_optims = 1, .schedulers = &sched, .n_schedulers = 1};
    if (resume) {
        EX_CHECK(nb_load_training(resume, &run) == 0);
        printf("resumed %s at step %d of %d\n", resume, c.progress.step, c.steps);
    }
    nb_tensor *state_h = nb_module_get(model, "state_h"), *state_c = nb_module_get(model, "state_c");
    nb_tensor *x = nb_zeros(NB_SHAPE(c.batch, c.bptt)), *y = nb_zeros(NB_SHAPE(c.batch * c.bptt));
    EX_CHECK(state_h && state_c && x && y);

    printf(
        "%s: %lld characters in %d file(s), %d distinct; %lld for training, %lld held out (every %dth block "
        "of %lld); %d thread(s)\n",
        c.text, (long long)corpus->len, corpus->files, corpus->vocab, (long long)corpus->n_train,
        (long long)(corpus->len - corpus->n_train), VAL_EVERY, (long long)corpus->block,
        nb_get_num_threads());
    printf("Embedding(%d, %d) -> LSTM(%d, %d, num_layers=%d) -> Linear(%d, %d): %lld parameters\n",
           corpus->vocab, c.embed, c.embed, c.hidden, c.layers, c.hidden, corpus->vocab,
           (long long)nb_module_num_params(model));
    printf("AdamW lr %g (warm-up %d steps, cosine to %g), weight decay %g, clip %g; %d steps of %d streams x "
           "%d characters (%lld chunks per pass over the text)\n\n",
           c.lr, c.warmup, c.lr / 100, c.weight_decay, c.clip, c.steps, c.batch, c.bptt, (long long)chunks);
    fflush(stdout);

    cr_progress *prog = &c.progress;
    int last = stop_after > 0 && prog->step + stop_after < c.steps ? prog->step + stop_after : c.steps;
    double t_start = ex_now(), t_window = ex_now(), t_train = 0;
    int64_t chars = 0;
    while (prog->step < last) {
        double t0 = ex_now();
        int64_t k = prog->step % chunks;
        if (k == 0) { /* the streams start over: so does the state */
            nb_fill_(state_h, 0);
            nb_fill_(state_c, 0);
        }
        cd_chunk(&train, k, c.bptt, x, y);
        nb_tensor *h_n, *c_n;
        nb_tensor *loss = nb_cross_entropy(char_forward(model, x, state_h, state_c, &h_n, &c_n), y,
                                           NB_CROSS_ENTROPY_OPTS());
        EX_CHECK(loss);
        nb_optim_zero_grad(opt);
        EX_CHECK(nb_backward(loss) == 0);
        nb_clip_grad_norm(pl.tensors, pl.count, (nb_real)c.clip);
        EX_CHECK(nb_optim_step(opt) == 0);
        nb_scheduler_step(sched);
        /* the next chunk starts from this one's final state: a copy, so no gradient flows back */
        EX_CHECK(nb_copy_(state_h, h_n) && nb_copy_(state_c, c_n));
        prog->window_sum += nb_item(loss);
        prog->window_n++;
        prog->step++;
        nb_step_end();
        t_train += ex_now() - t0;
        chars += (int64_t)c.batch * c.bptt;

        bool eval = prog->step % c.eval_every == 0 || prog->step == c.steps;
        if (eval) {
            double val = validation_bpc(model, corpus, &c), dt = ex_now() - t_window;
            double train_bpc = cr_report(prog, val);
            printf("step %5d/%d  lr %.2e  train %.3f bits/char  validation %.3f bits/char  %6.1f s  %6.0f "
                   "chars/s\n",
                   prog->step, c.steps, nb_optim_get_lr(opt), train_bpc, val, dt, (double)chars / t_train);
            sample(model, corpus, &c, prompt, sample_len, temperature,
                   (uint64_t)c.seed * 1000003u + (uint64_t)prog->step);
            printf("\n");
            fflush(stdout);
            t_window = ex_now();
        }
        if (ckpt && (eval || prog->step == last)) {
            char *json = ex_meta_json(run_meta, EX_COUNT(run_meta), &c);
            EX_CHECK(nb_save_training(ckpt, &run, json) == 0);
            free(json);
        }
    }
    printf("training: %.1f s (%.1f s in all with evaluation and sampling)\n", t_train, ex_now() - t_start);
    int status = 0;
    if (c.progress.step < c.steps) {
        printf("stopped at step %d of %d%s%s\n", c.progress.step, c.steps,
               ckpt ? "; continue with --resume " : " (no --checkpoint: nothing to resume)",
               ckpt ? ckpt : "");
        goto done;
    }
    cr_curve(&c.progress, "char_lstm", out);
    double val =
        c.progress.evals ? c.progress.val_bpc[c.progress.evals - 1] : validation_bpc(model, corpus, &c);
    printf("\nvalidation loss %.3f bits per character; the same prompt at three temperatures:\n", val);
    const double temps[3] = {temperature / 2, temperature, temperature * 1.5};
    for (int i = 0; i < 3; i++) {
        printf("\ntemperature %g:\n", temps[i]);
        sample(model, corpus, &c, prompt, sample_len, temps[i], (uint64_t)c.seed);
    }
    if (quick && !(val < 4.3)) {
        fprintf(stderr, "FAIL: the validation loss %.3f bits/char is not below 4.3\n", val);
        status = 1;
    }
done:
    nb_free(x), nb_free(y);
    nb_scheduler_free(sched);
    nb_optim_free(opt);
    nb_param_list_free(&pl);
    nb_module_free(model);
    cd_free(corpus);
    return status;
}
