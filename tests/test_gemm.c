/* tests/test_gemm.c — nb_gemm against a naive double-precision triple loop. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/gemm_kernels.h"
#include "kernels/simd.h"
#include "nabla/backend.h"
#include "nabla/threads.h"
#include "rand_fill.h"

#ifdef NABLA_F64
#define TOL 1e-12
#else
#define TOL 2e-5
#endif

/* Runs one case and checks every element of C (and that padding between rows
 * of C, beyond column N, is untouched). */
static void check_case(bool ta, bool tb, int64_t M, int64_t N, int64_t K, nb_real alpha, nb_real beta,
                       int64_t pad, bool nan_c)
{
    int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    int64_t arows = ta ? K : M, brows = tb ? N : K;
    nb_real *A = alloc_fill(arows * lda);
    nb_real *B = alloc_fill(brows * ldb);
    nb_real *C = alloc_fill(M * ldc);
    if (nan_c)
        for (int64_t i = 0; i < M * ldc; i++)
            if (i % ldc < N)
                C[i] = (nb_real)NAN;
    nb_real *C0 = malloc((size_t)(M * ldc > 0 ? M * ldc : 1) * sizeof(nb_real));
    cr_assert_not_null(C0);
    memcpy(C0, C, (size_t)(M * ldc) * sizeof(nb_real));

    nb_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);

    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < ldc; j++) {
            nb_real got = C[i * ldc + j];
            if (j >= N) {
                cr_assert(memcmp(&got, &C0[i * ldc + j], sizeof got) == 0, "padding C[%ld,%ld] modified",
                          (long)i, (long)j);
                continue;
            }
            double s = 0, mag = 0;
            for (int64_t k = 0; k < K; k++) {
                double a = ta ? A[k * lda + i] : A[i * lda + k];
                double b = tb ? B[j * ldb + k] : B[k * ldb + j];
                s += a * b;
                mag += fabs(a * b);
            }
            double want = (double)alpha * s;
            double wmag = fabs((double)alpha) * mag;
            if (beta != 0) {
                want += (double)beta * C0[i * ldc + j];
                wmag += fabs((double)beta * C0[i * ldc + j]);
            }
            double err = fabs((double)got - want);
            cr_assert(err <= TOL * (wmag + 1e-30) + 1e-30,
                      "ta=%d tb=%d M=%ld N=%ld K=%ld alpha=%g beta=%g pad=%ld: C[%ld,%ld]=%.9g want %.9g", ta,
                      tb, (long)M, (long)N, (long)K, (double)alpha, (double)beta, (long)pad, (long)i, (long)j,
                      (double)got, want);
        }
    }
    free(A);
    free(B);
    free(C);
    free(C0);
}

static const int64_t dims[] = {0, 1, 2, 3, 5, 6, 7, 8, 12, 13, 16, 17, 31, 32, 33, 47, 64, 100};
#define NDIMS ((int)(sizeof dims / sizeof dims[0]))

static void sweep_small(void)
{
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        for (int im = 0; im < NDIMS; im++)
            for (int in = 0; in < NDIMS; in += 2)
                for (int ik = 0; ik < NDIMS; ik += 3)
                    check_case(ta, tb, dims[im], dims[(in + im) % NDIMS], dims[ik], 1, 0, 0, true);
    }
}

Test(gemm, small_shapes_all_transposes) { sweep_small(); }

Test(gemm, alpha_beta_cases)
{
    const nb_real ab[][2] = {{1, 0}, {1, 1}, {2.5, 0}, {-0.5, 1}, {1, -2}, {0.75, 0.25}, {0, 0}, {0, 3}};
    for (int t = 0; t < 4; t++)
        for (size_t c = 0; c < sizeof ab / sizeof ab[0]; c++) {
            check_case(t & 1, t & 2, 37, 45, 29, ab[c][0], ab[c][1], 0, false);
            check_case(t & 1, t & 2, 130, 70, 300, ab[c][0], ab[c][1], 3, false);
            check_case(t & 1, t & 2, 9, 3, 1, ab[c][0], ab[c][1], 1, false);
            /* narrow C, computed transposed (C^T = op(B)^T op(A)^T): beta reads C through a transpose */
            check_case(t & 1, t & 2, 64, 24, 64, ab[c][0], ab[c][1], 0, false);
            check_case(t & 1, t & 2, 100, 10, 130, ab[c][0], ab[c][1], 2, false);
            check_case(t & 1, t & 2, 30, 12, 600, ab[c][0], ab[c][1], 0, false); /* 3 K blocks: C read back */
        }
}

Test(gemm, beta_zero_ignores_nan)
{
    for (int t = 0; t < 4; t++) {
        check_case(t & 1, t & 2, 70, 90, 50, 1, 0, 0, true);
        check_case(t & 1, t & 2, 3, 2, 5, 2, 0, 0, true);
        check_case(t & 1, t & 2, 17, 33, 0, 1, 0, 0, true);  /* K == 0 */
        check_case(t & 1, t & 2, 17, 33, 20, 0, 0, 0, true); /* alpha == 0 */
    }
}

Test(gemm, tiny_products)
{
    for (int t = 0; t < 4; t++) {
        check_case(t & 1, t & 2, 506, 1, 1, 1, 0, 0, true);
        check_case(t & 1, t & 2, 1, 506, 1, 1, 1, 0, false);
        check_case(t & 1, t & 2, 1, 1, 506, 1, 0, 0, true);
        check_case(t & 1, t & 2, 300, 2, 301, 1, 0.5, 2, false);
        check_case(t & 1, t & 2, 2, 300, 301, 1, 0.5, 2, false);
    }
}

Test(gemm, strided_larger_shapes)
{
    const int64_t big[][3] = {{128, 256, 784}, {256, 784, 32}, {200, 301, 257}, {517, 130, 641},
                              {32, 784, 256},  {128, 10, 128}, {10, 128, 128},  {97, 1000, 5}};
    for (size_t s = 0; s < sizeof big / sizeof big[0]; s++)
        for (int t = 0; t < 4; t++)
            check_case(t & 1, t & 2, big[s][0], big[s][1], big[s][2], 1, (s % 2) ? 0.5 : 0,
                       (int64_t)(s % 3) * 5, s % 2 == 0);
}

/* The micro-kernels by name; the tests that loop over them skip those this
 * CPU lacks and select the best again at the end. */
static const char *const kernel_names[] = {"generic", "avx2", "avx512"};
enum { NKERNELS = sizeof kernel_names / sizeof kernel_names[0] };

/* Every micro-kernel this CPU has, on shapes that hit full and edge tiles and
 * several K blocks. */
Test(gemm, every_kernel)
{
    for (size_t n = 0; n < NKERNELS; n++) {
        if (nb_gemm_set_kernel(kernel_names[n]) != 0)
            continue;
        cr_assert_str_eq(nb_gemm_kernel_name(), kernel_names[n]);
        for (int t = 0; t < 4; t++) {
            check_case(t & 1, t & 2, 77, 83, 700, 1, 0, 1, true);
            check_case(t & 1, t & 2, 300, 5, 40, -1, 2, 0, false);
            check_case(t & 1, t & 2, 48, 64, 64, 1, 1, 0, false);
        }
    }
    cr_assert_eq(nb_gemm_set_kernel(NULL), 0);
    cr_assert_eq(nb_gemm_set_kernel("no-such-kernel"), -1);
}

/* The same C, bit for bit, with 1 and 2 threads (and 3). */
static void check_bit_identical(bool ta, bool tb, int64_t M, int64_t N, int64_t K, nb_real beta)
{
    int64_t lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
    nb_real *A = alloc_fill((ta ? K : M) * lda);
    nb_real *B = alloc_fill((tb ? N : K) * ldb);
    nb_real *Cin = alloc_fill(M * ldc);
    nb_real *C1 = malloc((size_t)(M * ldc) * sizeof(nb_real));
    nb_real *C2 = malloc((size_t)(M * ldc) * sizeof(nb_real));
    cr_assert(C1 && C2);
    int nts[] = {2, 3};
    memcpy(C1, Cin, (size_t)(M * ldc) * sizeof(nb_real));
    nb_set_num_threads(1);
    nb_gemm(ta, tb, M, N, K, (nb_real)0.7, A, lda, B, ldb, beta, C1, ldc);
    for (int i = 0; i < 2; i++) {
        memcpy(C2, Cin, (size_t)(M * ldc) * sizeof(nb_real));
        nb_set_num_threads(nts[i]);
        cr_assert_eq(nb_get_num_threads(), nts[i]);
        nb_gemm(ta, tb, M, N, K, (nb_real)0.7, A, lda, B, ldb, beta, C2, ldc);
        cr_assert(memcmp(C1, C2, (size_t)(M * ldc) * sizeof(nb_real)) == 0,
                  "threads=%d differs: ta=%d tb=%d M=%ld N=%ld K=%ld", nts[i], ta, tb, (long)M, (long)N,
                  (long)K);
    }
    nb_set_num_threads(0);
    free(A);
    free(B);
    free(Cin);
    free(C1);
    free(C2);
}

/* Threads splitting N share one packed op(A) ({128, 256, 784}: 4 K blocks;
 * {300, 1000, 700}: 2 blocks of rows), splitting M one packed op(B)
 * ({1000, 999, 333}), or nothing when they read B in place ({200, 100, 300}:
 * 100 rows each). */
Test(gemm, bit_identical_across_threads)
{
    const int64_t shapes[][3] = {{128, 256, 784}, {256, 784, 32},  {1000, 999, 333}, {37, 1200, 700},
                                 {1200, 37, 500}, {512, 512, 512}, {300, 1000, 700}, {200, 100, 300}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            check_bit_identical(t & 1, t & 2, shapes[s][0], shapes[s][1], shapes[s][2],
                                (s % 2) ? 0 : (nb_real)0.5);
}

/* nb_gemm inside the pool's tasks (the pool then runs it on the calling
 * thread alone, with its own shared operand): each task's C is what one
 * thread computes. */
typedef struct {
    const nb_real *A, *B;
    nb_real *C;
} nested_job;

enum { NEST_M = 200, NEST_N = 300, NEST_K = 400, NEST_TASKS = 4 };

static void nested_task(void *ctx, int64_t b, int64_t e)
{
    const nested_job *j = ctx;
    for (int64_t t = b; t < e; t++)
        nb_gemm(false, t % 2 == 1, NEST_M, NEST_N, NEST_K, 1, j->A, NEST_K, j->B, t % 2 ? NEST_K : NEST_N, 0,
                j->C + t * NEST_M * NEST_N, NEST_N);
}

Test(gemm, nested_in_pool_tasks)
{
    nb_real *A = alloc_fill(NEST_M * NEST_K), *B = alloc_fill(NEST_K * NEST_N);
    nb_real *C = malloc(sizeof(nb_real) * NEST_TASKS * NEST_M * NEST_N);
    nb_real *want = malloc(sizeof(nb_real) * 2 * NEST_M * NEST_N);
    cr_assert(C && want);
    nb_set_num_threads(1);
    nested_task(&(nested_job){A, B, want}, 0, 2);
    nb_set_num_threads(2);
    nb_parallel_for(NEST_TASKS, 1, nested_task, &(nested_job){A, B, C});
    for (int t = 0; t < NEST_TASKS; t++)
        cr_assert(memcmp(C + t * NEST_M * NEST_N, want + (t % 2) * NEST_M * NEST_N,
                         sizeof(nb_real) * NEST_M * NEST_N) == 0,
                  "task %d differs", t);
    nb_set_num_threads(0);
    free(A);
    free(B);
    free(C);
    free(want);
}

/* C does not depend on how it is cut into tiles, nor on whether B was
 * packed or read in place, nor on whether op(A) was packed or its rows read
 * in place: the first m rows and n columns of an M x N product equal, bit
 * for bit, the m x n product of those rows and columns alone, both written
 * with row stride N. Sizes above the small-product path, which has an
 * arithmetic of its own. */
static void check_part_path_free(bool tb, int64_t M, int64_t N, int64_t m, int64_t n, int64_t K,
                                 nb_real alpha, nb_real beta)
{
    const int64_t ldb = tb ? K : N;
    nb_real *A = alloc_fill(M * K), *B = alloc_fill((tb ? N : K) * ldb), *Cin = alloc_fill(M * N);
    nb_real *Cbig = malloc((size_t)(M * N) * sizeof(nb_real)),
            *Cpart = malloc((size_t)(M * N) * sizeof(nb_real));
    cr_assert(Cbig && Cpart);
    memcpy(Cbig, Cin, (size_t)(M * N) * sizeof(nb_real));
    memcpy(Cpart, Cin, (size_t)(M * N) * sizeof(nb_real));
    nb_gemm(false, tb, M, N, K, alpha, A, K, B, ldb, beta, Cbig, N);
    nb_gemm(false, tb, m, n, K, alpha, A, K, B, ldb, beta, Cpart, N);
    for (int64_t i = 0; i < m; i++)
        cr_assert(memcmp(Cbig + i * N, Cpart + i * N, (size_t)n * sizeof(nb_real)) == 0,
                  "tb=%d M=%ld N=%ld m=%ld n=%ld K=%ld alpha=%g beta=%g: row %ld differs", tb, (long)M,
                  (long)N, (long)m, (long)n, (long)K, (double)alpha, (double)beta, (long)i);
    free(A);
    free(B);
    free(Cin);
    free(Cbig);
    free(Cpart);
}

/* The first m rows of a 200-row product (B packed: more than 128 rows)
 * against those rows alone (B read in place where the kernel has the tile
 * form, edge tiles of 1..12 rows), with every kernel this CPU has. */
Test(gemm, rows_independent_of_tiling_and_packing)
{
    nb_set_num_threads(1); /* threads would split the 200 rows into regions read in place too */
    for (size_t n = 0; n < NKERNELS; n++) {
        if (nb_gemm_set_kernel(kernel_names[n]) != 0)
            continue;
        for (int64_t m = 5; m <= 13; m++)
            for (int tb = 0; tb < 2; tb++) {
                check_part_path_free(tb, 200, 128, m, 128, 300, 1, 0);
                check_part_path_free(tb, 200, 77, m, 77, 100, (nb_real)0.7, (nb_real)0.5);
            }
        check_part_path_free(false, 200, 45, 100, 45, 600, 1, 1);
        check_part_path_free(false, 200, 61, 128, 61, 333, (nb_real)0.5, (nb_real)2);
    }
    cr_assert_eq(nb_gemm_set_kernel(NULL), 0);
    nb_set_num_threads(0);
}

/* The first n columns of a 600-column product (A packed: wider than 512
 * columns) against those columns alone (A read in place where the kernel
 * has that form), with every kernel this CPU has. */
Test(gemm, cols_independent_of_packing_a)
{
    nb_set_num_threads(1); /* threads would split the 600 columns into regions read in place too */
    for (size_t n = 0; n < NKERNELS; n++) {
        if (nb_gemm_set_kernel(kernel_names[n]) != 0)
            continue;
        for (int tb = 0; tb < 2; tb++) {
            check_part_path_free(tb, 100, 600, 100, 96, 300, 1, 0);
            check_part_path_free(tb, 37, 600, 37, 40, 29, (nb_real)0.7, (nb_real)0.5);
            check_part_path_free(tb, 128, 600, 128, 288, 96, 1, 1);
            check_part_path_free(tb, 61, 600, 61, 512, 520, (nb_real)-1.5, 0);
            check_part_path_free(tb, 23, 600, 23, 7, 333, (nb_real)0.5, (nb_real)2);
        }
    }
    cr_assert_eq(nb_gemm_set_kernel(NULL), 0);
    nb_set_num_threads(0);
}

/* nb_gemm_b_rows (rows of B at offsets: a convolution's receptive fields in
 * the padded image) gives exactly what nb_gemm gives with those rows copied
 * into a matrix, also when the caller computes more columns than nb_gemm's N
 * (the padded width). Checked where the kernel has the row-offset form. */
Test(gemm, b_rows_at_offsets_equal_the_copied_matrix)
{
    const int64_t shapes[][3] = {
        {16, 784, 9},  {32, 196, 144}, {7, 232, 40}, {12, 300, 600},
        {100, 64, 33}, {9, 195, 40},   {11, 200, 50}}; /* with AVX2: 3 and 5 rows, 8 columns */
    int checked = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], NP = N + 5;
        if (!nb_gemm_b_rows_ok(M, N, K))
            continue;
        int64_t span = K * 3 + NP + 64;
        nb_real *A = alloc_fill(M * K), *buf = alloc_fill(span), *Bc = alloc_fill(K * NP);
        nb_real *C1 = alloc_fill(M * NP), *C2 = malloc((size_t)(M * NP) * sizeof(nb_real));
        int64_t *off = malloc((size_t)K * sizeof *off);
        cr_assert(C2 && off);
        memcpy(C2, C1, (size_t)(M * NP) * sizeof(nb_real));
        for (int64_t k = 0; k < K; k++) {
            off[k] = (k * 7919) % (span - NP); /* uneven, overlapping rows */
            memcpy(Bc + k * NP, buf + off[k], (size_t)NP * sizeof(nb_real));
        }
        for (int beta = 0; beta < 2; beta++) {
            nb_gemm(false, false, M, NP, K, 1, A, K, Bc, NP, beta, C1, NP);
            nb_gemm_b_rows(M, NP, K, A, K, buf, off, beta, C2, NP);
            cr_assert_eq(memcmp(C1, C2, (size_t)(M * NP) * sizeof(nb_real)), 0, "M %ld N %ld K %ld beta %d",
                         (long)M, (long)N, (long)K, beta);
        }
        free(A), free(buf), free(Bc), free(C1), free(C2), free(off);
        checked++;
    }
#if defined(NB_GEMM_X86)
    if (nb_cpu_avx512() || nb_cpu_avx2())
        cr_assert_geq(checked, 3); /* both have the form (AVX2's: 6-row edges, K past one block of 320) */
#endif
}

/* nb_config_show (nabla/backend.h) names what runs: the real type, the GEMM
 * kernel nb_gemm dispatches to, the thread count, and the capability, which
 * follows the CPU's features as the GEMM kernel's choice does. */
Test(gemm, config_show_names_the_kernel_the_capability_and_the_threads)
{
    nb_set_num_threads(2);
    char want[128];
    const char *line = nb_config_show();
    cr_assert(strncmp(line, "nabla " NB_REAL_NAME "; CPU ", strlen("nabla " NB_REAL_NAME "; CPU ")) == 0,
              "%s", line);
    snprintf(want, sizeof want, "; capability %s; GEMM kernel %s; threads 2", nb_get_cpu_capability(),
             nb_gemm_kernel_name());
    cr_assert(strstr(line, want) != NULL, "'%s' lacks '%s'", line, want);
    cr_assert(nb_gemm_set_kernel("generic") == 0);
    cr_assert(strstr(nb_config_show(), "GEMM kernel generic; ") != NULL, "%s", nb_config_show());
    cr_assert(nb_gemm_set_kernel(NULL) == 0);
    const char *cap = nb_get_cpu_capability();
#if defined(__x86_64__) && !defined(NABLA_F64)
    __builtin_cpu_init();
    bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                  __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const char *expect = avx512 ? "avx512" : avx2 ? "avx2" : "default";
    cr_assert_str_eq(cap, expect);
#else
    cr_assert_str_eq(cap, "default");
#endif
    nb_set_num_threads(0);
}
