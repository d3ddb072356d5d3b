/* tests/test_bf16.c — matmul precision "medium" (bfloat16 operands, float32
 * sums): products within bfloat16's rounding bound of the exact ones, the
 * same bits for any thread count and for the portable and AVX512_BF16
 * kernels, the conversion's rounding, the convolution's row-offset form, the
 * setting's API and environment variable, and a training run that converges. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "nabla/nabla.h"
#include "rand_fill.h"

/* ---- the setting -------------------------------------------------------- */

Test(bf16, precision_default_set_get)
{
    unsetenv("NABLA_MATMUL_PRECISION");
    cr_assert_str_eq(nb_get_float32_matmul_precision(), "highest");
    cr_assert_eq(nb_set_float32_matmul_precision("high"), 0);
    cr_assert_str_eq(nb_get_float32_matmul_precision(), "high");
    cr_assert_eq(nb_set_float32_matmul_precision("highest"), 0);
    cr_assert_str_eq(nb_get_float32_matmul_precision(), "highest");
}

Test(bf16, precision_bad_values_are_errors)
{
    nb_set_error_handler(NULL, NULL);
    cr_assert_eq(nb_set_float32_matmul_precision("low"), -1);
    cr_assert_eq(nb_last_error(), NB_ERR_ARG);
    cr_assert_str_eq(nb_last_error_message(),
                     "set_float32_matmul_precision: \"low\" is not \"highest\", \"high\" or \"medium\"");
    cr_assert_eq(nb_set_float32_matmul_precision(NULL), -1);
    cr_assert_eq(nb_last_error(), NB_ERR_NULL);
    cr_assert_str_eq(nb_last_error_message(),
                     "set_float32_matmul_precision: precision is NULL (\"highest\", \"high\" or \"medium\")");
    cr_assert_str_eq(nb_get_float32_matmul_precision(), "highest");
}

Test(bf16, env_bad_value_is_reported_once, .init = cr_redirect_stderr)
{
    setenv("NABLA_MATMUL_PRECISION", "fast", 1);
    cr_assert_str_eq(nb_get_float32_matmul_precision(), "highest");
    cr_assert_str_eq(nb_get_float32_matmul_precision(), "highest");
    fflush(stderr);
    if (sizeof(nb_real) == 8)
        cr_assert_stderr_eq_str(
            "nabla: NABLA_MATMUL_PRECISION=fast is not highest, high or medium; using highest "
            "(float64 products)\n");
    else
        cr_assert_stderr_eq_str(
            "nabla: NABLA_MATMUL_PRECISION=fast is not highest, high or medium; using highest "
            "(float32 products)\n");
}

#ifdef NABLA_F64
Test(bf16, float64_build_refuses_medium)
{
    nb_set_error_handler(NULL, NULL);
    cr_assert_eq(nb_set_float32_matmul_precision("medium"), -1);
    cr_assert_eq(nb_last_error(), NB_ERR_ARG);
    cr_assert_str_eq(nb_last_error_message(),
                     "set_float32_matmul_precision: \"medium\" (bfloat16 operands) is not available in the "
                     "float64 build: its products are float64; the precision is unchanged (highest)");
    cr_assert_str_eq(nb_get_float32_matmul_precision(), "highest");
}

/* Said by the first product, before anything asks for the setting. */
Test(bf16, float64_build_env_medium_is_reported, .init = cr_redirect_stderr)
{
    setenv("NABLA_MATMUL_PRECISION", "medium", 1);
    double a[4] = {1, 2, 3, 4}, c[4];
    nb_gemm(false, false, 2, 2, 2, 1, a, 2, a, 2, 0, c, 2);
    cr_assert_eq(c[0], 7);
    fflush(stderr);
    cr_assert_stderr_eq_str("nabla: NABLA_MATMUL_PRECISION=medium asks for bfloat16 products, which the "
                            "float64 build does not have; using highest (float64 products)\n");
    cr_assert_str_eq(nb_get_float32_matmul_precision(), "highest");
}
#else

Test(bf16, env_medium_turns_it_on)
{
    setenv("NABLA_MATMUL_PRECISION", "medium", 1);
    cr_assert_str_eq(nb_get_float32_matmul_precision(), "medium");
    cr_assert(nb_gemm_bf16_on());
    cr_assert_eq(nb_set_float32_matmul_precision("highest"), 0);
    cr_assert(!nb_gemm_bf16_on());
}

/* ---- products ----------------------------------------------------------- */

/* The bound. Rounding to bfloat16 (8 significant bits, round to nearest)
 * changes an operand by a relative 2^-9 at most, so the product of two
 * rounded operands is ab(1 + d), |d| <= 2 * 2^-9 + 2^-18 = 2^-8 + 2^-18, and
 * it is exact in float32 (8 x 8 bits). Summing K such products in float32,
 * one rounding (2^-24) each, adds at most about K 2^-24 of sum_k |a b|; alpha
 * and the fused beta C one more each. So
 *   |C - exact| <= (2^-8 + 2^-18 + (K + 2) 2^-24) (|alpha| S + |beta C0|),
 * S = sum_k |a_ik b_kj| (beta C0 is float32, only the last roundings). */
static double bound_factor(int64_t K)
{
    return ldexp(1, -8) + ldexp(1, -18) + (double)(K + 2) * ldexp(1, -24);
}

/* Checks C = alpha op(A) op(B) + beta C0 in bf16 mode against the exact
 * product (double), every element within the bound and padding untouched;
 * returns the largest error as a fraction of its element's bound. */
static double check_bound(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta,
                          int64_t pad)
{
    int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    float *A = alloc_fill((ta ? K : M) * lda), *B = alloc_fill((tb ? N : K) * ldb), *C = alloc_fill(M * ldc);
    float *C0 = malloc((size_t)(M * ldc) * sizeof(float));
    cr_assert_not_null(C0);
    memcpy(C0, C, (size_t)(M * ldc) * sizeof(float));
    cr_assert_eq(nb_set_float32_matmul_precision("medium"), 0);
    nb_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    cr_assert_eq(nb_set_float32_matmul_precision("highest"), 0);
    double worst = 0;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < ldc; j++) {
            if (j >= N) {
                cr_assert(memcmp(&C[i * ldc + j], &C0[i * ldc + j], sizeof(float)) == 0, "padding written");
                continue;
            }
            double s = 0, sa = 0;
            for (int64_t k = 0; k < K; k++) {
                double a = ta ? A[k * lda + i] : A[i * lda + k], b = tb ? B[j * ldb + k] : B[k * ldb + j];
                s += a * b;
                sa += fabs(a * b);
            }
            double c0 = beta == 0 ? 0 : (double)C0[i * ldc + j];
            double want = alpha * s + beta * c0;
            double tol = bound_factor(K) * (fabs(alpha) * sa + fabs(beta * c0)) + 1e-30;
            double err = fabs((double)C[i * ldc + j] - want);
            cr_assert(
                err <= tol, "ta=%d tb=%d M=%ld N=%ld K=%ld C[%ld,%ld] = %.9g, exact %.9g: error %.3g > %.3g",
                ta, tb, (long)M, (long)N, (long)K, (long)i, (long)j, (double)C[i * ldc + j], want, err, tol);
            worst = err / tol > worst ? err / tol : worst;
        }
    free(A), free(B), free(C), free(C0);
    return worst;
}

/* Shapes with full and edge tiles, odd K, several K blocks (K > 384), the
 * MLP's and narrow ones (the last, computed transposed over several K
 * blocks with beta 0.5, reads C back); the largest error is a sizeable part of the bound
 * (float32 products would be ~100 times inside it: bfloat16 really ran). */
static void bound_sweep(void)
{
    const int64_t shapes[][3] = {{128, 256, 784}, {256, 784, 32}, {77, 83, 701}, {13, 33, 1},
                                 {128, 10, 128},  {10, 128, 128}, {40, 40, 41},  {33, 300, 1200},
                                 {29, 31, 50},    {130, 10, 900}};
    double worst = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            double w = check_bound(t & 1, t & 2, shapes[s][0], shapes[s][1], shapes[s][2], s % 2 ? 0.7f : 1,
                                   s % 3 ? 0 : 0.5f, (int64_t)(s % 3) * 3);
            worst = w > worst ? w : worst;
        }
    cr_assert(worst > 0.05, "largest error %.3g of the bound: were the operands rounded to bfloat16?", worst);
}

Test(bf16, products_within_rounding_bound) { bound_sweep(); }

Test(bf16, products_within_rounding_bound_portable_kernel)
{
    cr_assert_eq(nb_gemm_bf16_set_kernel("generic"), 0);
    cr_assert_str_eq(nb_gemm_bf16_kernel_name(), "generic");
    bound_sweep();
    cr_assert_eq(nb_gemm_bf16_set_kernel("no-such-kernel"), -1);
    cr_assert_str_eq(nb_gemm_bf16_kernel_name(), "generic");
}

/* One product in bf16 mode into a new array. */
static float *product(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, const float *B,
                      const float *Cin, float beta)
{
    float *C = malloc((size_t)(M * N) * sizeof(float));
    cr_assert_not_null(C);
    memcpy(C, Cin, (size_t)(M * N) * sizeof(float));
    cr_assert_eq(nb_set_float32_matmul_precision("medium"), 0);
    nb_gemm(ta, tb, M, N, K, 0.7f, A, ta ? M : K, B, tb ? K : N, beta, C, N);
    cr_assert_eq(nb_set_float32_matmul_precision("highest"), 0);
    return C;
}

/* Each C element the same operations whatever the thread count, and (when
 * the CPU has AVX512_BF16) whichever kernel: vdpbf16ps adds the odd
 * product, then the even one, rounding each sum (Intel SDM), as the portable
 * kernel does; only denormal sums, which it flushes, could differ. */
static void same_bits(const char *kernel_b, int threads_b)
{
    const int64_t shapes[][3] = {
        {128, 256, 784}, {256, 784, 32}, {1000, 999, 333}, {37, 1200, 701}, {1200, 37, 500}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            bool ta = t & 1, tb = t & 2;
            int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            float *A = alloc_fill(M * K), *B = alloc_fill(K * N), *Cin = alloc_fill(M * N);
            float beta = s % 2 ? 0 : 0.5f;
            nb_set_num_threads(1);
            cr_assert_eq(nb_gemm_bf16_set_kernel(NULL), 0);
            float *C1 = product(ta, tb, M, N, K, A, B, Cin, beta);
            nb_set_num_threads(threads_b);
            cr_assert_eq(nb_gemm_bf16_set_kernel(kernel_b), 0);
            float *C2 = product(ta, tb, M, N, K, A, B, Cin, beta);
            cr_assert(memcmp(C1, C2, (size_t)(M * N) * sizeof(float)) == 0,
                      "%s kernel, %d threads differs: ta=%d tb=%d M=%ld N=%ld K=%ld",
                      nb_gemm_bf16_kernel_name(), threads_b, ta, tb, (long)M, (long)N, (long)K);
            free(A), free(B), free(Cin), free(C1), free(C2);
        }
    nb_set_num_threads(0);
    nb_gemm_bf16_set_kernel(NULL);
}

Test(bf16, bit_identical_across_threads)
{
    same_bits(NULL, 2);
    same_bits(NULL, 3);
}

/* A narrow C (computed transposed, C^T = op(B)^T op(A)^T) has the bits of
 * the same columns within a wide product (computed as it is). */
Test(bf16, narrow_c_equals_the_columns_of_a_wide_one)
{
    const int64_t M = 300, K = 333, NW = 64;
    for (int64_t n = 4; n <= 15; n += 11)
        for (int t = 0; t < 4; t++) {
            bool ta = t & 1, tb = t & 2;
            float *A = alloc_fill(M * K), *B = alloc_fill(K * NW),
                  *Bn = malloc((size_t)(K * n) * sizeof(float));
            float *Cw = alloc_fill(M * NW), *Cn = malloc((size_t)(M * n) * sizeof(float));
            cr_assert(Bn && Cn);
            for (int64_t k = 0; k < K; k++) /* op(B)'s first n columns */
                for (int64_t j = 0; j < n; j++)
                    Bn[tb ? j * K + k : k * n + j] = B[tb ? j * K + k : k * NW + j];
            for (int64_t i = 0; i < M; i++)
                memcpy(Cn + i * n, Cw + i * NW, (size_t)n * sizeof(float));
            cr_assert_eq(nb_set_float32_matmul_precision("medium"), 0);
            nb_gemm(ta, tb, M, NW, K, 0.7f, A, ta ? M : K, B, tb ? K : NW, 0.5f, Cw, NW);
            nb_gemm(ta, tb, M, n, K, 0.7f, A, ta ? M : K, Bn, tb ? K : n, 0.5f, Cn, n);
            cr_assert_eq(nb_set_float32_matmul_precision("highest"), 0);
            for (int64_t i = 0; i < M; i++)
                cr_assert(memcmp(Cn + i * n, Cw + i * NW, (size_t)n * sizeof(float)) == 0,
                          "ta=%d tb=%d N=%ld: row %ld differs", ta, tb, (long)n, (long)i);
            free(A), free(B), free(Bn), free(Cw), free(Cn);
        }
}

Test(bf16, portable_kernel_equals_avx512bf16)
{
    if (nb_gemm_bf16_set_kernel("avx512bf16") != 0)
        cr_skip_test("no AVX512_BF16 on this CPU");
    same_bits("generic", 1);
    same_bits("generic", 2);
}

Test(bf16, portable_kernel_equals_avx2)
{
    if (nb_gemm_bf16_set_kernel("avx2") != 0)
        cr_skip_test("no AVX2 on this CPU");
    same_bits("generic", 1);
    same_bits("generic", 2);
}

/* The rounding of the packing, of A's and of B's elements, in both
 * layouts of each: round to nearest even, denormals to zero, NaN stays NaN,
 * overflow to infinity. The value under test is the only non-zero of its k
 * (A's column 0, or B's row 0) and the other operand is all ones, so each C
 * element is that one rounded value times 1.0 (plus zeros). By bits: the
 * input and the bfloat16 value as a float32. */
static const uint32_t conversions[][2] = {
    {0x3F808000u, 0x3F800000u}, /* 1 + 2^-8: a tie, to the even 1 */
    {0x3F818000u, 0x3F820000u}, /* 1 + 3 2^-8: a tie, to the even 1 + 2^-6 */
    {0x3F808001u, 0x3F810000u}, /* just above a tie: up */
    {0x3F807FFFu, 0x3F800000u}, /* just below: down */
    {0xBF80FFFFu, 0xBF810000u}, /* negative: by magnitude */
    {0x007FFFFFu, 0x00000000u}, /* largest denormal: zero */
    {0x00800000u, 0x00800000u}, /* smallest normal: kept */
    {0x7F7FFFFFu, 0x7F800000u}, /* largest float: rounds to infinity */
    {0xFF800000u, 0xFF800000u}, /* -infinity */
    {0x40490FDBu, 0x40490000u}, /* pi: 3.140625 */
    {0x7FC00001u, 0x7FC00000u}, /* NaN */
    {0x7F800001u, 0x7FC00000u}, /* signalling NaN: still a NaN */
};

static void check_conversion_of(bool of_a, bool trans)
{
    const int64_t n = sizeof conversions / sizeof conversions[0], M = 16, N = 16, K = 256;
    float *A = calloc((size_t)(M * K), sizeof(float)), *B = calloc((size_t)(K * N), sizeof(float));
    float *C = malloc((size_t)(M * N) * sizeof(float));
    cr_assert(A && B && C);
    for (int64_t i = 0; i < M * K; i++)
        A[i] = of_a ? 0 : 1;
    for (int64_t i = 0; i < K * N; i++)
        B[i] = of_a ? 1 : 0;
    for (int64_t v = 0; v < M; v++) { /* A[v][0] or B[0][v], in either layout */
        float *at = of_a ? &A[trans ? v : v * K] : &B[trans ? v * K : v];
        memcpy(at, &conversions[v % n][0], sizeof(float));
    }
    cr_assert_eq(nb_set_float32_matmul_precision("medium"), 0);
    nb_gemm(of_a && trans, !of_a && trans, M, N, K, 1, A, of_a && trans ? M : K, B, !of_a && trans ? K : N, 0,
            C, N);
    cr_assert_eq(nb_set_float32_matmul_precision("highest"), 0);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            const uint32_t *cv = conversions[(of_a ? i : j) % n];
            float want, got = C[i * N + j];
            memcpy(&want, &cv[1], sizeof want);
            if (isnan(want))
                cr_assert(isnan(got), "%s: %08x gave %.9g, want a NaN", nb_gemm_bf16_kernel_name(), cv[0],
                          (double)got);
            else
                cr_assert(got == want, "%s, %s%s: %08x gave %.9g, want %.9g", nb_gemm_bf16_kernel_name(),
                          of_a ? "A" : "B", trans ? " transposed" : "", cv[0], (double)got, (double)want);
        }
    free(A), free(B), free(C);
}

static void check_conversion(void)
{
    for (int t = 0; t < 4; t++)
        check_conversion_of(t & 1, t & 2);
}

Test(bf16, conversion_rounds_to_nearest_even)
{
    check_conversion();
    cr_assert_eq(nb_gemm_bf16_set_kernel("generic"), 0);
    check_conversion();
}

/* The convolution's form (rows of B at offsets) gives what nb_gemm gives
 * with those rows copied into a matrix, in bf16 mode too. */
Test(bf16, b_rows_at_offsets_equal_the_copied_matrix)
{
    const int64_t shapes[][3] = {{16, 784, 9}, {32, 196, 144}, {7, 232, 41}, {12, 300, 600}};
    cr_assert_eq(nb_set_float32_matmul_precision("medium"), 0);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], span = K * 3 + N + 64;
        float *A = alloc_fill(M * K), *buf = alloc_fill(span), *Bc = alloc_fill(K * N);
        float *C1 = alloc_fill(M * N), *C2 = malloc((size_t)(M * N) * sizeof(float));
        int64_t *off = malloc((size_t)K * sizeof *off);
        cr_assert(C2 && off);
        memcpy(C2, C1, (size_t)(M * N) * sizeof(float));
        for (int64_t k = 0; k < K; k++) {
            off[k] = (k * 7919) % (span - N);
            memcpy(Bc + k * N, buf + off[k], (size_t)N * sizeof(float));
        }
        for (int beta = 0; beta < 2; beta++) {
            nb_gemm(false, false, M, N, K, 1, A, K, Bc, N, (float)beta, C1, N);
            nb_gemm_b_rows(M, N, K, A, K, buf, off, (float)beta, C2, N);
            cr_assert_eq(memcmp(C1, C2, (size_t)(M * N) * sizeof(float)), 0, "M %ld N %ld K %ld beta %d",
                         (long)M, (long)N, (long)K, beta);
        }
        free(A), free(buf), free(Bc), free(C1), free(C2), free(off);
    }
    cr_assert_eq(nb_set_float32_matmul_precision("highest"), 0);
}

/* ---- training ------------------------------------------------------------ */

/* 150 full-batch Adam steps of an MLP 32-64-4 on 256 points labelled by a
 * random linear teacher (argmax of x T); returns the last loss and the
 * losses' sum (which tells runs apart). */
static double train(const char *precision, double *sum)
{
    enum { NS = 256, D = 32, H = 64, NC = 4, STEPS = 150 };
    cr_assert_eq(nb_set_float32_matmul_precision(precision), 0);
    nb_generator g;
    nb_generator_seed(&g, 7);
    nb_tensor *x = nb_randn(&g, NB_SHAPE(NS, D)), *t = nb_randn(&g, NB_SHAPE(D, NC));
    cr_assert(x && t);
    nb_real labels[NS];
    for (int i = 0; i < NS; i++) {
        int best = 0;
        double bv = -1e30;
        for (int c = 0; c < NC; c++) {
            double v = 0;
            for (int d = 0; d < D; d++)
                v += x->data[i * D + d] * t->data[d * NC + c];
            if (v > bv)
                bv = v, best = c;
        }
        labels[i] = (nb_real)best;
    }
    nb_tensor *y = nb_from_array(labels, NB_SHAPE(NS));
    nb_module *m =
        nb_sequential(3, nb_linear_ex(D, H, true, &g), nb_act("relu"), nb_linear_ex(H, NC, true, &g));
    nb_param_list p = {0};
    cr_assert(m && y && nb_module_parameters(m, &p) >= 0);
    nb_optim *o = nb_adam(p.tensors, p.count, NB_ADAM_OPTS(.lr = 1e-2));
    cr_assert_not_null(o);
    double last = 0;
    *sum = 0;
    for (int s = 0; s < STEPS; s++) {
        nb_optim_zero_grad(o);
        nb_tensor *loss = nb_cross_entropy(nb_forward(m, x), y, NB_CROSS_ENTROPY_OPTS());
        cr_assert(loss && nb_backward(loss) == 0 && nb_optim_step(o) == 0, "%s", nb_last_error_message());
        last = nb_item(loss);
        *sum += last;
        nb_step_end();
    }
    nb_optim_free(o);
    nb_param_list_free(&p);
    nb_module_free(m);
    nb_free(x), nb_free(t), nb_free(y);
    cr_assert_eq(nb_set_float32_matmul_precision("highest"), 0);
    return last;
}

Test(bf16, training_converges)
{
    double sum32, sum16;
    double l32 = train("highest", &sum32), l16 = train("medium", &sum16);
    cr_log_info("final loss: float32 %.5f, bfloat16 %.5f", l32, l16);
    cr_assert(l16 < 0.1, "bfloat16 run: final loss %.4f, want < 0.1 (float32: %.4f)", l16, l32);
    cr_assert(fabs(l16 - l32) < 0.05, "bfloat16 %.4f vs float32 %.4f", l16, l32);
    cr_assert(sum16 != sum32, "the bfloat16 run is the float32 run: was it on?");
}
#endif
