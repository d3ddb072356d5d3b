/* ops/matmul_precision.c — torch.set_float32_matmul_precision for nabla:
 * the public setter and getter of the internal precision of matrix products
 * and convolutions (the state and NABLA_MATMUL_PRECISION are in
 * kernels/gemm_bf16.c, which nb_gemm consults). */
#include <string.h>

#include "nabla/error.h"
#include "nabla/ops.h"
#include "kernels/gemm_bf16.h"

static const char *const names[] = {"highest", "high", "medium"};

int nb_set_float32_matmul_precision(const char *precision)
{
    if (!precision) {
        nb_error(NB_ERR_NULL, "set_float32_matmul_precision: precision is NULL (\"highest\", \"high\" or "
                              "\"medium\")");
        return -1;
    }
    for (int p = 0; p < 3; p++) {
        if (strcmp(precision, names[p]) != 0)
            continue;
#ifdef NABLA_F64
        if (p == NB_PRECISION_MEDIUM) {
            nb_error(NB_ERR_ARG,
                     "set_float32_matmul_precision: \"medium\" (bfloat16 operands) is not available "
                     "in the float64 build: its products are float64; the precision is unchanged (%s)",
                     names[nb_gemm_precision()]);
            return -1;
        }
#endif
        nb_gemm_set_precision(p);
        return 0;
    }
    nb_error(NB_ERR_ARG, "set_float32_matmul_precision: \"%s\" is not \"highest\", \"high\" or \"medium\"",
             precision);
    return -1;
}

const char *nb_get_float32_matmul_precision(void) { return names[nb_gemm_precision()]; }
