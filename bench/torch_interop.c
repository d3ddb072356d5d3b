/* bench/torch_interop.c — PyTorch's state_dicts load one to one into the same
 * networks built from nabla's layers, which then give PyTorch's outputs: the
 * file written by bench/torch_export.py holds a BatchNorm CNN (the network of
 * examples/fashion_mnist_cnn.c) and an Embedding -> 2-layer LSTM -> Linear
 * language model (examples/char_lstm.c), each with inputs and torch's outputs
 * in eval mode. Every tensor under "cnn." ("lstm.") but the inputs and outputs
 * must be a state_dict key of the nabla model, with its shape, and every key of
 * the model must be in the file; then the outputs are compared.
 *
 *   torch_interop FILE.safetensors
 *
 * Prints the largest absolute difference of each output and that difference
 * relative to the largest |torch output|, and fails (status 1) unless every
 * element satisfies |nabla - torch| <= 1e-5 + 1e-4 |torch| (float32). The test
 * suite runs it on tests/data/torch_interop_small.safetensors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nabla/nabla.h>

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "torch_interop:%d: %s\n", __LINE__, nb_last_error_message());                    \
            exit(1);                                                                                         \
        }                                                                                                    \
    } while (0)

static int64_t size_of(nb_safetensors *st, const char *key)
{
    const char *v = nb_safetensors_metadata(st, key);
    if (!v) {
        fprintf(stderr, "torch_interop: no '%s' in the file's metadata (written by bench/torch_export.py?)\n",
                key);
        exit(1);
    }
    return atoll(v);
}

/* Load the file's "<prefix>.<key>" into every state_dict entry of m; the
 * file's other "<prefix>." tensors must be the inputs and outputs. Returns the
 * number of problems (each printed). */
static int load_state(nb_safetensors *st, const char *prefix, nb_module *m)
{
    nb_param_list sd;
    CHECK(nb_module_state_dict(m, &sd) >= 0);
    int bad = 0, matched = 0;
    char name[512];
    for (int i = 0; i < sd.count; i++) {
        snprintf(name, sizeof name, "%s.%s", prefix, sd.names[i]);
        if (!nb_safetensors_find(st, name)) {
            printf("  %s: not in the file\n", name);
            bad++;
        } else if (nb_safetensors_read_into(st, name, sd.tensors[i]) != 0) {
            printf("  %s: %s\n", name, nb_last_error_message());
            bad++;
        } else {
            matched++;
        }
    }
    size_t lp = strlen(prefix);
    for (int i = 0; i < nb_safetensors_count(st); i++) {
        const char *n = nb_safetensors_entry_at(st, i)->name;
        if (strncmp(n, prefix, lp) != 0 || n[lp] != '.')
            continue;
        const char *key = n + lp + 1;
        bool io = !strcmp(key, "input") || !strcmp(key, "output") || !strcmp(key, "h0") ||
                  !strcmp(key, "c0") || !strcmp(key, "h_n") || !strcmp(key, "c_n");
        if (io)
            continue;
        bool known = false;
        for (int j = 0; j < sd.count && !known; j++)
            known = !strcmp(sd.names[j], key);
        if (!known) {
            printf("  %s: in the file, not in nabla's state_dict\n", n);
            bad++;
        }
    }
    printf("%s: %d state_dict tensors of torch loaded by name into nabla's %d (%s)\n", prefix, matched,
           sd.count, bad ? "MISMATCH" : "one to one");
    nb_param_list_free(&sd);
    return bad;
}

/* Compare got with the file's reference; 1 if out of tolerance. */
static int compare(nb_safetensors *st, const char *name, const nb_tensor *got)
{
    nb_tensor *ref = nb_safetensors_get(st, name);
    CHECK(ref);
    if (ref->numel != got->numel) {
        printf("  %s: %lld values from nabla, %lld from torch\n", name, (long long)got->numel,
               (long long)ref->numel);
        nb_free(ref);
        return 1;
    }
    double max_abs = 0, max_ref = 0;
    int64_t outside = 0;
    for (int64_t i = 0; i < ref->numel; i++) {
        double d = fabs((double)got->data[i] - ref->data[i]), r = fabs((double)ref->data[i]);
        max_abs = fmax(max_abs, d);
        max_ref = fmax(max_ref, r);
        outside += !(d <= 1e-5 + 1e-4 * r);
    }
    printf("  %-12s %6lld values  max |nabla - torch| %.3g  relative to max |torch| (%.3g): %.3g%s\n", name,
           (long long)ref->numel, max_abs, max_ref, max_abs / max_ref, outside ? "  OUT OF TOLERANCE" : "");
    nb_free(ref);
    return outside > 0;
}

static nb_module *conv_block(int64_t in, int64_t out)
{
    nb_conv2d_opts o = NB_CONV2D_OPTS(.padding = {1, 1});
    return nb_sequential(4, nb_conv2d_layer_ex(in, out, 3, 3, o, false, NULL), nb_batch_norm2d(out),
                         nb_act("relu"), nb_max_pool2d_layer(2, 0));
}

static int check_cnn(nb_safetensors *st)
{
    int64_t c1 = size_of(st, "cnn.c1"), c2 = size_of(st, "cnn.c2"), h = size_of(st, "cnn.hidden");
    nb_module *m = nb_sequential(6, conv_block(1, c1), conv_block(c1, c2), nb_flatten_layer(1, -1),
                                 nb_linear(c2 * 7 * 7, h), nb_batch_norm1d(h),
                                 nb_sequential(3, nb_act("relu"), nb_dropout(0.3), nb_linear(h, 10)));
    CHECK(m);
    int bad = load_state(st, "cnn", m);
    nb_tensor *x = nb_safetensors_get(st, "cnn.input");
    CHECK(x);
    nb_module_train(m, false);
    NB_NO_GRAD
    {
        nb_tensor *y = nb_forward(m, x);
        CHECK(y);
        bad += compare(st, "cnn.output", y);
    }
    nb_step_end();
    nb_free(x);
    nb_module_free(m);
    return bad;
}

/* nb_forward(m, x), from the zero state; check_lstm runs the children itself to pass (h0, c0) */
static nb_tensor *lstm_forward(nb_module *m, nb_tensor *x)
{
    return nb_forward(nb_module_child(m, "fc"),
                      nb_lstm_forward(nb_module_child(m, "lstm"), nb_forward(nb_module_child(m, "embed"), x),
                                      NULL, NULL, NULL, NULL));
}

static int check_lstm(nb_safetensors *st)
{
    int64_t V = size_of(st, "lstm.vocab"), E = size_of(st, "lstm.embed"), H = size_of(st, "lstm.hidden");
    int layers = (int)size_of(st, "lstm.layers");
    nb_module *m = nb_module_new("CharLSTM", lstm_forward, NULL);
    CHECK(m);
    CHECK(nb_module_add(m, "embed", nb_embedding(V, E)) == 0);
    CHECK(nb_module_add(m, "lstm", nb_lstm(E, H, NB_RNN_OPTS(.num_layers = layers, .batch_first = true))) ==
          0);
    CHECK(nb_module_add(m, "fc", nb_linear(H, V)) == 0);
    int bad = load_state(st, "lstm", m);
    nb_tensor *x = nb_safetensors_get(st, "lstm.input"), *h0 = nb_safetensors_get(st, "lstm.h0"),
              *c0 = nb_safetensors_get(st, "lstm.c0");
    CHECK(x && h0 && c0);
    nb_module_train(m, false);
    NB_NO_GRAD
    {
        nb_tensor *h_n, *c_n;
        nb_tensor *e = nb_forward(nb_module_child(m, "embed"), x);
        nb_tensor *out = nb_lstm_forward(nb_module_child(m, "lstm"), e, h0, c0, &h_n, &c_n);
        nb_tensor *logits = nb_forward(nb_module_child(m, "fc"), out);
        CHECK(logits);
        bad += compare(st, "lstm.output", logits);
        bad += compare(st, "lstm.h_n", h_n);
        bad += compare(st, "lstm.c_n", c_n);
    }
    nb_step_end();
    nb_free(x), nb_free(h0), nb_free(c0);
    nb_module_free(m);
    return bad;
}

int main(int argc, char **argv)
{
    const char *usage = "usage: torch_interop FILE.safetensors (written by bench/torch_export.py)\n";
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("torch_interop — PyTorch's state_dicts loaded into nabla's layers reproduce PyTorch's "
               "outputs\n\n%s",
               usage);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        if (argc >= 2 && argv[1][0] == '-')
            fprintf(stderr, "torch_interop: unknown argument '%s'\n", argv[1]);
        fprintf(stderr, "%s", usage);
        return 2;
    }
    nb_safetensors *st = nb_safetensors_open(argv[1]);
    CHECK(st);
    const char *v = nb_safetensors_metadata(st, "torch");
    printf("%s (PyTorch %s)\n", argv[1], v ? v : "?");
    int bad = check_cnn(st);
    bad += check_lstm(st);
    nb_safetensors_close(st);
    printf("%s\n", bad ? "FAIL: nabla does not reproduce PyTorch" : "nabla reproduces PyTorch's outputs");
    return bad ? 1 : 0;
}
