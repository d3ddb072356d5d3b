/* tests/fuzz/fuzz_checkpoint.c — nb_load_checkpoint of arbitrary bytes into a
 * model (Linear - tanh - Dropout - Linear) and its Adam optimizer: a rejected
 * file must leave every parameter, the learning rate and the dropout
 * generator exactly as they were. */
#include "fuzz.h"

static nb_module *model;
static nb_optim *optim;
static nb_param_list params;

static uint64_t fingerprint(void)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < params.count; i++) {
        const nb_tensor *t = params.tensors[i];
        const unsigned char *b = (const unsigned char *)t->data;
        for (size_t k = 0; k < (size_t)t->numel * sizeof(nb_real); k++)
            h = (h ^ b[k]) * 1099511628211ull;
    }
    double lr = nb_optim_get_lr(optim);
    const unsigned char *b = (const unsigned char *)&lr;
    for (size_t k = 0; k < sizeof lr; k++)
        h = (h ^ b[k]) * 1099511628211ull;
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!model) {
        nb_generator g;
        nb_generator_seed(&g, 1);
        model = nb_sequential(4, nb_linear_ex(3, 4, true, &g), nb_act("tanh"), nb_dropout(0.5),
                              nb_linear_ex(4, 1, true, &g));
        if (!model || nb_module_parameters(model, &params) < 0)
            abort();
        optim = nb_adam(params.tensors, params.count, NB_ADAM_OPTS(.lr = 1e-3));
        if (!optim)
            abort();
        nb_module_seed(model, 7);
    }
    uint64_t before = fingerprint();
    if (nb_load_checkpoint(fuzz_file(".ckpt", data, size), model, optim) != 0) {
        fuzz_failed();
        if (fingerprint() != before)
            abort();
    }
    nb_step_end();
    return 0;
}
