/* examples/xor.c — why a network needs a non-linear activation.
 *
 * XOR is 1 when exactly one input is 1. No straight line separates its two
 * classes in the plane, so no linear model computes it. A network
 * Linear(2, 8) -> act -> Linear(8, 1) learns it with act = tanh or relu. With
 * the identity activation it cannot: W2 (W1 x + b1) + b2 = (W2 W1) x +
 * (W2 b1 + b2) is one linear layer whatever the sizes, and a stack of any
 * depth of linear layers still is. On XOR's four points the best linear
 * model, by cross-entropy, answers P(1) = 0.5 everywhere (loss log 2 = 0.6931):
 * any tilt of the plane that helps two points hurts the other two as much.
 *
 * Each activation is trained from the same seed with Adam on the four points
 * (binary cross-entropy on the logit), and the truth table of its predictions
 * printed. Exit status 0 only if tanh and relu get 4/4 and identity does not.
 *
 *   ./xor [--steps 2000] [--seed 1] [--act NAME (train only this one)] [--quick] */
#include <stdio.h>
#include <string.h>
#include <nabla/nabla.h>
#include "args.h"

/* Train a 2-8-1 network with activation `act`; returns the number of the four
 * inputs it classifies right. */
static int train_xor(const char *act, int steps, int seed)
{
    nb_tensor *x = nb_from_array((nb_real[]){0, 0, 0, 1, 1, 0, 1, 1}, NB_SHAPE(4, 2));
    nb_tensor *y = nb_from_array((nb_real[]){0, 1, 1, 0}, NB_SHAPE(4, 1));
    EX_CHECK(x && y);
    nb_manual_seed((uint64_t)seed);      /* same initial weights for every activation */
    nb_module *hidden = nb_linear(2, 8); /* one statement each: the weights are drawn in this order */
    nb_module *out = nb_linear(8, 1);
    nb_module *net = nb_sequential(3, hidden, nb_act(act), out);
    EX_CHECK(net);
    nb_param_list pl;
    EX_CHECK(nb_module_parameters(net, &pl) >= 0);
    nb_optim *opt = nb_adam(pl.tensors, pl.count, NB_ADAM_OPTS(.lr = 0.05));
    EX_CHECK(opt);

    double loss = 0;
    for (int step = 0; step < steps; step++) {
        nb_tensor *l = nb_bce_with_logits(nb_forward(net, x), y, NB_MEAN, NULL);
        EX_CHECK(l);
        loss = nb_item(l);
        nb_optim_zero_grad(opt);
        EX_CHECK(nb_backward(l) == 0);
        EX_CHECK(nb_optim_step(opt) == 0);
        nb_step_end();
    }

    int right = 0;
    printf("\n%s (final loss %.4f)\n   x1 x2  xor  P(1)  predicted\n", act, loss);
    NB_NO_GRAD
    {
        nb_tensor *p = nb_sigmoid(nb_forward(net, x));
        EX_CHECK(p);
        for (int i = 0; i < 4; i++) {
            int pred = p->data[i] > 0.5, want = (int)y->data[i];
            right += pred == want;
            printf("   %2.0f %2.0f  %3d  %.3f  %d%s\n", x->data[2 * i], x->data[2 * i + 1], want, p->data[i],
                   pred, pred == want ? "" : "   wrong");
        }
    }
    nb_step_end();
    printf("   %d/4 right\n", right);

    nb_optim_free(opt);
    nb_param_list_free(&pl);
    nb_module_free(net);
    nb_free(x);
    nb_free(y);
    return right;
}

int main(int argc, char **argv)
{
    int steps = 2000, seed = 1;
    bool quick = false;
    const char *only = NULL;
    const ex_arg args[] = {
        {"steps", EX_INT, &steps, "Adam steps on the four points"},
        {"seed", EX_INT, &seed, "seed of the initial weights"},
        {"act", EX_STR, &only, "train with this activation only (any registry name)"},
        {"quick", EX_FLAG, &quick, "500 steps"},
    };
    if (ex_given(argc, argv, args, EX_COUNT(args), "quick")) /* a preset: flags given with it win */
        steps = 500;
    ex_parse(argc, argv, args, EX_COUNT(args), "XOR needs a non-linear activation");

    if (only) {
        train_xor(only, steps, seed);
        return 0;
    }
    int tanh_ok = train_xor("tanh", steps, seed) == 4;
    int relu_ok = train_xor("relu", steps, seed) == 4;
    int identity_ok = train_xor("identity", steps, seed) == 4;
    printf("\ntanh %s, relu %s, identity %s\n", tanh_ok ? "learns XOR" : "FAILS",
           relu_ok ? "learns XOR" : "FAILS",
           identity_ok ? "LEARNS XOR (impossible for a linear model)" : "cannot (a linear model)");
    return tanh_ok && relu_ok && !identity_ok ? 0 : 1;
}
