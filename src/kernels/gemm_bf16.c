/* kernels/gemm_bf16.c — the matmul precision setting (NABLA_MATMUL_PRECISION)
 * and the bfloat16 GEMM of "medium": its driver (blocking, packing into
 * k-pairs of bfloat16, threading), the portable micro-kernel and conversion,
 * and the choice of kernel. The layout and the arithmetic are described in
 * gemm_bf16.h; the AVX512_BF16 kernel is in gemm_bf16_x86.c.
 *
 * The loop nest is gemm.c's (Goto / BLIS: jc, pc, ic, jr, ir), simpler
 * because both operands are always packed (the conversion happens there):
 * no direct-B form, no edge scratch tile (the kernels write only mm x nn),
 * no narrow-C transposition. Threads split C along its longer side into
 * rectangles on micro-tile boundaries; the K blocks depend on K only, so
 * each C element sees the same operations for any thread count. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm_bf16.h"
#include "kernels/gemm_kernels.h"
#include "kernels/simd.h"
#include "nabla/threads.h"

/* ---- the setting ------------------------------------------------------- */

static const char *const g_names[] = {"highest", "high", "medium"};
static atomic_int g_precision = -1; /* -1: NABLA_MATMUL_PRECISION not read yet */

/* NABLA_MATMUL_PRECISION, said once on stderr when it cannot be used. */
static int precision_from_env(void)
{
    const char *e = getenv("NABLA_MATMUL_PRECISION");
    int p = NB_PRECISION_HIGHEST;
    const char *why = NULL;
    if (e && *e) {
        p = -1;
        for (int i = 0; i < 3; i++)
            if (strcmp(e, g_names[i]) == 0)
                p = i;
        if (p < 0)
            why = "is not highest, high or medium";
#ifdef NABLA_F64
        if (p == NB_PRECISION_MEDIUM)
            why = "asks for bfloat16 products, which the float64 build does not have";
#endif
        if (why)
            p = NB_PRECISION_HIGHEST;
    }
    int expected = -1;
    if (atomic_compare_exchange_strong(&g_precision, &expected, p) && why)
        fprintf(stderr, "nabla: NABLA_MATMUL_PRECISION=%s %s; using highest (%s products)\n", e, why,
                sizeof(nb_real) == 8 ? "float64" : "float32");
    return atomic_load(&g_precision);
}

int nb_gemm_precision(void)
{
    int p = atomic_load_explicit(&g_precision, memory_order_relaxed);
    return p >= 0 ? p : precision_from_env();
}

void nb_gemm_set_precision(int precision) { atomic_store(&g_precision, precision); }

#ifdef NB_GEMM_BF16

/* ---- portable conversion and kernel ------------------------------------ */

/* float32 -> bfloat16 as vcvtne2ps2bf16 (Intel SDM, convert_fp32_to_bfloat16):
 * zeros and denormals to a zero of their sign, NaN kept with its quiet bit
 * set, otherwise round to nearest, ties to even (overflow gives infinity). */
static inline uint16_t bf16_round(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7F800000u) == 0)
        return (uint16_t)((u >> 16) & 0x8000u);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u)
        return (uint16_t)((u >> 16) | 0x0040u);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

static inline float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* The even-k and odd-k halves of a packed pair, as float32 (exact). */
static inline float pair_lo(uint32_t w) { return bits_float(w << 16); }
static inline float pair_hi(uint32_t w) { return bits_float(w & 0xFFFF0000u); }

void nb_bf16_pairs_generic(const float *r0, const float *r1, int64_t n, uint32_t *dst)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = bf16_round(r0[i]) | (r1 ? (uint32_t)bf16_round(r1[i]) << 16 : 0);
}

/* The transposing panel (nb_bf16_crows_fn): each row converted into tmp
 * first (rows of 2 kp halves), then interleaved. */
void nb_bf16_crows_generic(const float *src, int64_t ld, int rows, int w, int64_t kc, uint16_t *restrict tmp,
                           uint32_t *restrict dst)
{
    const int64_t kp = (kc + 1) / 2;
    for (int r = 0; r < rows; r++) {
        for (int64_t k = 0; k < kc; k++)
            tmp[r * 2 * kp + k] = bf16_round(src[r * ld + k]);
        if (kc & 1)
            tmp[r * 2 * kp + kc] = 0;
    }
    for (int64_t p = 0; p < kp; p++, dst += w) {
        int r = 0;
        for (; r < rows; r++)
            dst[r] = tmp[r * 2 * kp + 2 * p] | (uint32_t)tmp[r * 2 * kp + 2 * p + 1] << 16;
        for (; r < w; r++)
            dst[r] = 0;
    }
}

/* What every kernel writes: alpha * sum (no multiply when alpha == 1), plus
 * beta * C fused (C not read when beta == 0). */
static inline float tile_value(float sum, float alpha, float beta, float c)
{
    float t = alpha == 1 ? sum : sum * alpha;
    return beta == 0 ? t : fmaf(c, beta, t);
}

#define GB_MR 4
#define GB_NR 16

/* One k-pair as vdpbf16ps does it: the odd product, then the even one, each
 * addition rounded (both products are exact in float32). */
NB_VECTORIZE static void kernel_generic(int64_t kp, const uint32_t *restrict a, const uint32_t *restrict b,
                                        float *restrict c, int64_t ldc, float alpha, float beta, int mm,
                                        int nn)
{
    float acc[GB_MR][GB_NR];
    for (int r = 0; r < GB_MR; r++)
        for (int j = 0; j < GB_NR; j++)
            acc[r][j] = 0;
    for (int64_t p = 0; p < kp; p++, a += GB_MR, b += GB_NR) {
        float b0[GB_NR], b1[GB_NR];
        for (int j = 0; j < GB_NR; j++) {
            b0[j] = pair_lo(b[j]);
            b1[j] = pair_hi(b[j]);
        }
        for (int r = 0; r < GB_MR; r++) {
            float a0 = pair_lo(a[r]), a1 = pair_hi(a[r]);
            for (int j = 0; j < GB_NR; j++) {
                acc[r][j] += a1 * b1[j];
                acc[r][j] += a0 * b0[j];
            }
        }
    }
    for (int r = 0; r < mm; r++)
        for (int j = 0; j < nn; j++)
            c[r * ldc + j] = tile_value(acc[r][j], alpha, beta, c[r * ldc + j]);
}

static const nb_bf16_ukernel kernel_generic_desc = {
    "generic", GB_MR, GB_NR, 192, 4096, kernel_generic, nb_bf16_crows_generic, nb_bf16_pairs_generic,
};

/* ---- kernel selection --------------------------------------------------- */

static const nb_bf16_ukernel *g_kernel;
static pthread_once_t g_kernel_once = PTHREAD_ONCE_INIT;

static bool has_avx512bf16(void)
{
#ifdef NB_GEMM_BF16_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
#else
    return false;
#endif
}

static const nb_bf16_ukernel *best_kernel(void)
{
#ifdef NB_GEMM_BF16_X86
    if (has_avx512bf16())
        return &nb_bf16_ukernel_avx512bf16;
    if (nb_cpu_avx2())
        return &nb_bf16_ukernel_avx2;
#endif
    return &kernel_generic_desc;
}

static void kernel_init(void) { g_kernel = best_kernel(); }

static const nb_bf16_ukernel *get_kernel(void)
{
    pthread_once(&g_kernel_once, kernel_init);
    return g_kernel;
}

int nb_gemm_bf16_set_kernel(const char *name)
{
    pthread_once(&g_kernel_once, kernel_init);
    if (!name)
        g_kernel = best_kernel();
    else if (strcmp(name, "generic") == 0)
        g_kernel = &kernel_generic_desc;
#ifdef NB_GEMM_BF16_X86
    else if (strcmp(name, "avx512bf16") == 0 && has_avx512bf16())
        g_kernel = &nb_bf16_ukernel_avx512bf16;
    else if (strcmp(name, "avx2") == 0 && nb_cpu_avx2())
        g_kernel = &nb_bf16_ukernel_avx2;
#endif
    else
        return -1;
    return 0;
}

const char *nb_gemm_bf16_kernel_name(void) { return get_kernel()->name; }

/* ---- packing ------------------------------------------------------------ */

/* The K block: at most BF16_KC, even, near-equal blocks, by K alone (so by
 * neither the kernel nor the thread count). 192 pairs of a 32-wide B panel
 * are 24 KB, within Zen 4's 32 KB L1. */
enum { BF16_KC = 384 };

static int64_t k_block(int64_t K)
{
    int64_t nkb = (K + BF16_KC - 1) / BF16_KC;
    int64_t kc = (K + nkb - 1) / nkb;
    return kc + (kc & 1);
}

/* Panel from rows of k: dst[p*w + c] = pair(row(2p)[c], row(2p+1)[c]) for
 * c < cols, 0 for cols <= c < w; row(k) = base + k ld, or base + off[k]. */
static void pack_krows(const nb_bf16_ukernel *uk, const float *base, int64_t ld, const int64_t *off, int cols,
                       int w, int64_t kc, uint32_t *restrict dst)
{
    for (int64_t k = 0; k < kc; k += 2, dst += w) {
        const float *r0 = base + (off ? off[k] : k * ld);
        const float *r1 = k + 1 == kc ? NULL : base + (off ? off[k + 1] : (k + 1) * ld);
        uk->pairs(r0, r1, cols, dst);
        for (int c = cols; c < w; c++)
            dst[c] = 0;
    }
}

typedef struct {
    const nb_bf16_ukernel *uk;
    bool ta, tb;
    int64_t M, N, K, kc;
    float alpha, beta;
    const float *A, *B;
    int64_t lda, ldb;
    const int64_t *boff; /* the row-offset form: row k of B at B + boff[k] */
    float *C;
    int64_t ldc;
    bool ct;      /* C transposed: the problem computes C^T = op(B)^T op(A)^T */
    int64_t nt;   /* threads */
    bool split_m; /* threads split C's rows (else its columns) */
} bf16_job;

/* op(A)[i0:i0+mc, p0:p0+kc] into ceil(mc/MR) panels. */
static void pack_a(const bf16_job *job, int64_t i0, int64_t p0, int64_t mc, int64_t kc, uint16_t *tmp,
                   uint32_t *dst)
{
    const int mr = job->uk->mr;
    const int64_t kp = (kc + 1) / 2, lda = job->lda;
    for (int64_t i = 0; i < mc; i += mr, dst += kp * mr) {
        int m = (int)(mc - i < mr ? mc - i : mr);
        if (job->ta) /* op(A)[i][k] = A[k lda + i] */
            pack_krows(job->uk, job->A + p0 * lda + i0 + i, lda, NULL, m, mr, kc, dst);
        else
            job->uk->crows(job->A + (i0 + i) * lda + p0, lda, m, mr, kc, tmp, dst);
    }
}

/* op(B)[p0:p0+kc, j0:j0+nc] into ceil(nc/NR) panels. */
static void pack_b(const bf16_job *job, int64_t p0, int64_t j0, int64_t kc, int64_t nc, uint16_t *tmp,
                   uint32_t *dst)
{
    const int nr = job->uk->nr;
    const int64_t kp = (kc + 1) / 2, ldb = job->ldb;
    for (int64_t j = 0; j < nc; j += nr, dst += kp * nr) {
        int n = (int)(nc - j < nr ? nc - j : nr);
        if (job->boff)
            pack_krows(job->uk, job->B + j0 + j, 0, job->boff + p0, n, nr, kc, dst);
        else if (!job->tb) /* op(B)[k][j] = B[k ldb + j] */
            pack_krows(job->uk, job->B + p0 * ldb + j0 + j, ldb, NULL, n, nr, kc, dst);
        else
            job->uk->crows(job->B + (j0 + j) * ldb + p0, ldb, n, nr, kc, tmp, dst);
    }
}

/* ---- the driver --------------------------------------------------------- */

/* No memory for the panels: element by element, the same operations (so the
 * same results), nothing written before. */
static void region_unpacked(const bf16_job *job, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    for (int64_t i = m0; i < m1; i++)
        for (int64_t j = n0; j < n1; j++) {
            float *c = job->ct ? job->C + j * job->ldc + i : job->C + i * job->ldc + j;
            for (int64_t pc = 0; pc < job->K; pc += job->kc) {
                int64_t kend = pc + job->kc < job->K ? pc + job->kc : job->K;
                float sum = 0;
                for (int64_t k = pc; k < kend; k += 2) {
                    float a[2] = {0, 0}, b[2] = {0, 0};
                    for (int64_t q = k; q < k + 2 && q < kend; q++) {
                        a[q - k] = job->ta ? job->A[q * job->lda + i] : job->A[i * job->lda + q];
                        b[q - k] = job->boff ? job->B[job->boff[q] + j]
                                   : job->tb ? job->B[j * job->ldb + q]
                                             : job->B[q * job->ldb + j];
                    }
                    sum += bits_float((uint32_t)bf16_round(a[1]) << 16) *
                           bits_float((uint32_t)bf16_round(b[1]) << 16);
                    sum += bits_float((uint32_t)bf16_round(a[0]) << 16) *
                           bits_float((uint32_t)bf16_round(b[0]) << 16);
                }
                *c = tile_value(sum, job->alpha, pc == 0 ? job->beta : 1, *c);
            }
        }
}

static void region(const bf16_job *job, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const nb_bf16_ukernel *uk = job->uk;
    const int mr = uk->mr, nr = uk->nr;
    const int64_t K = job->K, kcb = job->kc, kpb = (kcb + 1) / 2;
    if (m1 <= m0 || n1 <= n0)
        return;
    int64_t mcmax = m1 - m0 < uk->mc ? m1 - m0 : uk->mc;
    int64_t ncmax = n1 - n0 < uk->nc ? n1 - n0 : uk->nc;
    mcmax = (mcmax + mr - 1) / mr * mr;
    ncmax = (ncmax + nr - 1) / nr * nr;
    /* words, each part a multiple of 64 bytes */
    size_t asz = ((size_t)(mcmax * kpb) + 15) & ~(size_t)15;
    size_t bsz = ((size_t)(ncmax * kpb) + 15) & ~(size_t)15;
    size_t tsz = ((size_t)((mr > nr ? mr : nr) * kpb) + 15) & ~(size_t)15;
    uint32_t *abuf = nb_gemm_scratch((asz + bsz + tsz + (size_t)(mr * nr)) * sizeof(uint32_t));
    if (!abuf) {
        region_unpacked(job, m0, m1, n0, n1);
        return;
    }
    uint32_t *bbuf = abuf + asz;
    uint16_t *tmp = (uint16_t *)(bbuf + bsz);
    float *ctile = (float *)(bbuf + bsz + tsz); /* the transposed problem's tile */
    const int64_t ldc = job->ldc;
    for (int64_t jc = n0; jc < n1; jc += uk->nc) {
        int64_t nc = n1 - jc < uk->nc ? n1 - jc : uk->nc;
        for (int64_t pc = 0; pc < K; pc += kcb) {
            int64_t kc = K - pc < kcb ? K - pc : kcb, kp = (kc + 1) / 2;
            float beta = pc == 0 ? job->beta : 1;
            pack_b(job, pc, jc, kc, nc, tmp, bbuf);
            for (int64_t ic = m0; ic < m1; ic += uk->mc) {
                int64_t mc = m1 - ic < uk->mc ? m1 - ic : uk->mc;
                pack_a(job, ic, pc, mc, kc, tmp, abuf);
                for (int64_t jr = 0; jr < nc; jr += nr) {
                    int nn = (int)(nc - jr < nr ? nc - jr : nr);
                    for (int64_t ir = 0; ir < mc; ir += mr) {
                        int mm = (int)(mc - ir < mr ? mc - ir : mr);
                        const uint32_t *ap = abuf + ir * kp, *bp = bbuf + jr * kp;
                        if (!job->ct) {
                            uk->fn(kp, ap, bp, job->C + (ic + ir) * ldc + jc + jr, ldc, job->alpha, beta, mm,
                                   nn);
                            continue;
                        }
                        float *cp =
                            job->C + (jc + jr) * ldc + ic + ir; /* tile element (r, c) is cp[c ldc + r] */
                        if (beta != 0)
                            nb_gemm_transpose_into(cp, ldc, nn, nr, mm, ctile);
                        uk->fn(kp, ap, bp, ctile, nr, job->alpha, beta, mm, nn);
                        nb_gemm_transpose_into(ctile, nr, mm, ldc, nn, cp);
                    }
                }
            }
        }
    }
}

/* Thread t of nt: its share of C's rows or columns, whole micro-tiles. */
static void task(void *ctx, int64_t begin, int64_t end)
{
    const bf16_job *job = ctx;
    const int64_t unit = job->split_m ? job->uk->mr : job->uk->nr, n = job->split_m ? job->M : job->N;
    const int64_t units = (n + unit - 1) / unit;
    for (int64_t t = begin; t < end; t++) {
        int64_t b = units * t / job->nt * unit, e = units * (t + 1) / job->nt * unit;
        b = b < n ? b : n;
        e = e < n ? e : n;
        if (job->split_m)
            region(job, b, e, 0, job->N);
        else
            region(job, 0, job->M, b, e);
    }
}

static bf16_job make_job(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                         int64_t lda, const float *B, int64_t ldb, const int64_t *boff, float beta, float *C,
                         int64_t ldc)
{
    return (bf16_job){get_kernel(), ta,  tb,   M, N,   K,     k_block(K), alpha, beta, A, B,
                      lda,          ldb, boff, C, ldc, false, 1,          false};
}

void nb_gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                  int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    bf16_job job = make_job(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, NULL, beta, C, ldc);
    const nb_bf16_ukernel *uk = job.uk;
    /* Narrow C (N = 10 against NR = 32): C^T = op(B)^T op(A)^T, op(B)^T being
     * op'(B) with the flag flipped. The same results: a b = b a exactly, and
     * the k-pairs and K blocks are the same. */
    if (2 * N < uk->nr && M > N) {
        job.ct = true;
        job.M = N, job.N = M;
        job.A = B, job.lda = ldb, job.ta = !trans_b;
        job.B = A, job.ldb = lda, job.tb = !trans_a;
        M = job.M, N = job.N;
    }
    /* threads as in gemm.c: at most one per ~2 MFLOP; split C's rows when
     * that re-packs the smaller operand (each thread packs all of op(B)) */
    int64_t nt = nb_get_num_threads(), by_work = (int64_t)((double)M * (double)N * (double)K / (1 << 20));
    job.split_m = N <= M;
    int64_t tiles = job.split_m ? (M + uk->mr - 1) / uk->mr : (N + uk->nr - 1) / uk->nr;
    nt = nt < by_work ? nt : by_work;
    nt = nt < tiles ? nt : tiles;
    if (nt > 1) {
        job.nt = nt;
        nb_parallel_for(nt, 1, task, &job);
    } else {
        region(&job, 0, M, 0, N);
    }
}

void nb_gemm_bf16_rows(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                       const int64_t *boff, float beta, float *C, int64_t ldc)
{
    bf16_job job = make_job(false, false, M, N, K, 1, A, lda, B, 0, boff, beta, C, ldc);
    region(&job, 0, M, 0, N);
}

#endif /* NB_GEMM_BF16 */
