/* tests/consumer.cpp — a C++ program outside the tree, built with g++ against the
 * installed nabla (`pkg-config --cflags --libs nabla`): the headers' extern "C"
 * guards and NB_SHAPE's C++ form, one layer's gradient checked by value. */
#include <nabla/nabla.h>
#include <cstdio>

int main()
{
    nb_tensor *x = nb_ones(NB_SHAPE(2, 3));
    nb_requires_grad(x, true);
    nb_tensor *y = nb_sum(nb_mul(x, x)); /* y = sum x^2 = 6, dy/dx = 2x = 2 */
    if (!y || nb_backward(y) != 0)
        return 1;
    std::printf("y = %g, dy/dx[5] = %g\n", (double)nb_item(y), (double)x->grad[5]);
    nb_step_end();
    nb_free(x);
    return 0;
}
