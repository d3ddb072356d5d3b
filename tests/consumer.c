/* tests/consumer.c — a program outside the tree, built against the installed
 * nabla with `pkg-config --cflags --libs nabla`: one gradient, printed. */
#include <nabla/nabla.h>
#include <stdio.h>

int main(void)
{
    nb_tensor *x = nb_requires_grad(nb_scalar(3), true);
    nb_tensor *y = nb_mul(x, x); /* dy/dx = 2x = 6 */
    if (nb_backward(y) != 0)
        return 1;
    printf("y = %g, dy/dx = %g\n", (double)nb_item(y), (double)x->grad[0]);
    nb_step_end();
    nb_free(x);
    return 0;
}
