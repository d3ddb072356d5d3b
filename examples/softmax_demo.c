/* examples/softmax_demo.c — softmax, cross-entropy and their gradient on three
 * pictures of birds, and why softmax subtracts the maximum.
 *
 * A classifier gave each picture one score (logit) per class: chicken, duck,
 * goose. softmax turns a row of logits into probabilities, p_j = e^{z_j} /
 * sum_k e^{z_k}; cross-entropy is -log p[true class], averaged over the
 * pictures; its gradient with respect to the logits is (p - onehot) / N —
 * what nb_backward leaves in logits->grad.
 *
 * Then the logits [1000, 1001, 1002]: e^1000 overflows (float32 holds up to
 * 3.4e38, e^89 already is more), so the textbook formula gives inf / inf =
 * NaN. Softmax is unchanged by subtracting a constant from every logit, so
 * nb_softmax computes e^{z_j - max z}: the largest term is e^0 = 1, nothing
 * overflows, and the answer is softmax([-2, -1, 0]) = [0.0900, 0.2447, 0.6652].
 *
 * The program checks its numbers against the ones in docs/tutorial.md and
 * exits with status 1 if one differs (so `--quick`, accepted for uniformity
 * with the other examples, changes nothing). */
#include <math.h>
#include <stdio.h>
#include <nabla/nabla.h>
#include "args.h"

static const char *const names[3] = {"chicken", "duck", "goose"};

static int failures = 0;

/* Compare a computed table with the expected one (4 decimals, as printed). */
static void expect(const char *what, const nb_real *got, const double *want, int n)
{
    for (int i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= 6e-5)) {
            fprintf(stderr, "FAIL: %s[%d] = %.6f, expected %.4f\n", what, i, (double)got[i], want[i]);
            failures++;
        }
}

static void print_rows(const char *title, const nb_real *v)
{
    printf("%s\n            %9s %9s %9s\n", title, names[0], names[1], names[2]);
    for (int i = 0; i < 3; i++)
        printf("  picture %d %9.4f %9.4f %9.4f\n", i, v[3 * i], v[3 * i + 1], v[3 * i + 2]);
}

int main(int argc, char **argv)
{
    bool quick = false;
    const ex_arg args[] = {{"quick", EX_FLAG, &quick, "accepted; the demo is always quick"}};
    ex_parse(argc, argv, args, EX_COUNT(args), "softmax, cross-entropy and the max trick");

    /* Row i: the scores of picture i for chicken, duck, goose. */
    nb_tensor *logits = nb_from_array((nb_real[]){10, 8, 6, 7, 9, 5, 5, 4, 10}, NB_SHAPE(3, 3));
    nb_tensor *labels = nb_from_array((nb_real[]){0, 1, 2}, NB_SHAPE(3)); /* chicken, duck, goose */
    EX_CHECK(logits && labels);
    nb_requires_grad(logits, true);

    print_rows("logits", logits->data);

    nb_tensor *probs = nb_softmax(logits, 1);
    EX_CHECK(probs);
    print_rows("\nsoftmax(logits, dim 1): each row sums to 1", probs->data);
    expect("softmax", probs->data,
           (const double[]){0.8668, 0.1173, 0.0159, 0.1173, 0.8668, 0.0159, 0.0067, 0.0025, 0.9909}, 9);

    nb_tensor *loss = nb_cross_entropy(logits, labels, NB_CROSS_ENTROPY_OPTS());
    EX_CHECK(loss);
    printf("\ncross-entropy = mean(-log p[true class])\n"
           "  = -(log %.4f + log %.4f + log %.4f) / 3 = %.4f\n",
           probs->data[0], probs->data[4], probs->data[8], nb_item(loss));
    expect("loss", loss->data, (const double[]){0.0983}, 1);

    EX_CHECK(nb_backward(loss) == 0);
    print_rows("\nd loss / d logits = (softmax - onehot(label)) / 3", logits->grad);
    expect("grad", logits->grad,
           (const double[]){-0.0444, 0.0391, 0.0053, 0.0391, -0.0444, 0.0053, 0.0022, 0.0008, -0.0030}, 9);
    nb_step_end();

    /* Large logits: the formula as written, in float32, then nb_softmax. */
    const float z[3] = {1000, 1001, 1002};
    float e[3], sum = 0;
    for (int j = 0; j < 3; j++)
        sum += e[j] = expf(z[j]);
    printf("\nlogits [1000, 1001, 1002]\n  naive exp(z) / sum exp(z): exp(1000) = %g, so"
           " [%g, %g, %g]\n",
           (double)e[0], (double)(e[0] / sum), (double)(e[1] / sum), (double)(e[2] / sum));
    if (!isnan(e[0] / sum)) {
        fprintf(stderr, "FAIL: the naive softmax did not overflow\n");
        failures++;
    }
    nb_tensor *big = nb_from_array((nb_real[]){1000, 1001, 1002}, NB_SHAPE(3));
    EX_CHECK(big);
    nb_tensor *p = nb_softmax(big, 0);
    EX_CHECK(p);
    printf("  nb_softmax, exp(z - max z):  [%.4f, %.4f, %.4f]\n", p->data[0], p->data[1], p->data[2]);
    expect("softmax(big)", p->data, (const double[]){0.0900, 0.2447, 0.6652}, 3);
    nb_step_end();

    nb_free(big);
    nb_free(labels);
    nb_free(logits);
    if (failures)
        fprintf(stderr, "%d value(s) differ from docs/tutorial.md\n", failures);
    return failures ? 1 : 0;
}
