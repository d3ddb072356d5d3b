/* kernels/gemm.c — the GEMM driver: blocking, packing, threading, small sizes.
 *
 * Structure after Goto & van de Geijn, "Anatomy of High-Performance Matrix
 * Multiplication" (ACM TOMS 2008) and Smith et al., "Anatomy of
 * High-Performance Many-Threaded Matrix Multiplication" (IPDPS 2014, BLIS):
 *
 *   for jc in N step NC            (B block kc x nc lives in L3)
 *     for pc in K step KC          pack op(B)[pc:, jc:] into NR-wide panels
 *       for ic in M step MC        pack op(A)[ic:, pc:] into MR-tall panels (L2)
 *         for jr in nc step NR     (B micro-panel stays in L1)
 *           for ir in mc step MR   micro-kernel on an MR x NR tile of C
 *
 * Threads split C into disjoint rectangles along M or N on micro-tile
 * boundaries (never along K); each runs the loop nest above with its own
 * packing buffers, except for the operand that all of them need when they
 * split one side only, which is packed once for all (shared_pack). Where
 * few tiles would reuse a packed operand, the kernel reads it in place
 * instead (direct_b, direct_a). The K blocking depends on K only and every tile (edge
 * tiles too, through a zero-padded scratch tile) goes through the same
 * micro-kernel, so each element of C sees the identical sequence of
 * operations for any thread count: results are bit-identical.
 *
 * Small products skip packing and threading (direct loops). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>

#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_kernels.h"
#include "nabla/threads.h"
#include "kernels/simd.h"

#if defined(NB_GEMM_X86)
#include <immintrin.h>
#endif

/* ---- portable micro-kernel (double build, non-x86, fallback) ---------- */

#ifdef NABLA_F64
#define G_MR 4
#define G_NR 8
#else
#define G_MR 4
#define G_NR 16
#endif

static void ukernel_generic(int64_t kc, const nb_real *restrict a, const nb_real *restrict b,
                            nb_real *restrict c, int64_t ldc, nb_real alpha, nb_real beta)
{
    nb_real acc[G_MR][G_NR];
    for (int r = 0; r < G_MR; r++)
        for (int j = 0; j < G_NR; j++)
            acc[r][j] = 0;
    for (int64_t k = 0; k < kc; k++) {
        const nb_real *bk = b + k * G_NR;
        const nb_real *ak = a + k * G_MR;
        for (int r = 0; r < G_MR; r++) {
            nb_real ar = ak[r];
            for (int j = 0; j < G_NR; j++)
                acc[r][j] += ar * bk[j];
        }
    }
    for (int r = 0; r < G_MR; r++) {
        nb_real *cr = c + r * ldc;
        if (beta == 0) {
            for (int j = 0; j < G_NR; j++)
                cr[j] = alpha * acc[r][j];
        } else {
            for (int j = 0; j < G_NR; j++)
                cr[j] = alpha * acc[r][j] + beta * cr[j];
        }
    }
}

static const nb_gemm_ukernel ukernel_generic_desc = {
    "generic", G_MR, G_NR, 256, 128, 4096, ukernel_generic, NULL, NULL, NULL,
};

/* ---- kernel selection ------------------------------------------------- */

static const nb_gemm_ukernel *g_kernel = NULL;
#ifdef NB_GEMM_X86
static bool has_avx2; /* packing: the CPU has AVX2, whichever kernel runs */
#endif
static pthread_once_t g_kernel_once = PTHREAD_ONCE_INIT;

static const nb_gemm_ukernel *best_kernel(void)
{
#ifdef NB_GEMM_X86
    if (nb_cpu_avx512())
        return &nb_gemm_ukernel_avx512;
    if (nb_cpu_avx2())
        return &nb_gemm_ukernel_avx2;
#endif
    return &ukernel_generic_desc;
}

static void kernel_init(void)
{
    if (!g_kernel)
        g_kernel = best_kernel();
#ifdef NB_GEMM_X86
    has_avx2 = __builtin_cpu_supports("avx2"); /* best_kernel() ran __builtin_cpu_init */
#endif
}

static const nb_gemm_ukernel *get_kernel(void)
{
    pthread_once(&g_kernel_once, kernel_init);
    return g_kernel;
}

int nb_gemm_set_kernel(const char *name)
{
    pthread_once(&g_kernel_once, kernel_init);
    if (!name) {
        g_kernel = best_kernel();
        return 0;
    }
    if (strcmp(name, "generic") == 0) {
        g_kernel = &ukernel_generic_desc;
        return 0;
    }
#ifdef NB_GEMM_X86
    if (strcmp(name, "avx2") == 0 && nb_cpu_avx2()) {
        g_kernel = &nb_gemm_ukernel_avx2;
        return 0;
    }
    if (strcmp(name, "avx512") == 0 && nb_cpu_avx512()) {
        g_kernel = &nb_gemm_ukernel_avx512;
        return 0;
    }
#endif
    return -1;
}

const char *nb_gemm_kernel_name(void) { return get_kernel()->name; }

/* ---- per-thread packing buffers --------------------------------------- */
/* Two 64-byte aligned buffers per thread, grown when needed and reused: the
 * thread's own panels, and the operand that an nb_gemm called on this thread
 * shares with the pool's threads (see shared_pack). Freed by a pthread key
 * destructor when the thread exits, and at exit for the thread that calls
 * exit(). */

typedef struct {
    nb_real *mem;
    size_t cap; /* elements */
} pack_buf;

typedef struct {
    pack_buf own, shared;
} thread_bufs;

static _Thread_local thread_bufs tl_bufs;
static pthread_key_t g_buf_key;
static pthread_once_t g_buf_once = PTHREAD_ONCE_INIT;

static void buf_destroy(void *p)
{
    thread_bufs *b = p;
    free(b->own.mem);
    free(b->shared.mem);
    *b = (thread_bufs){0};
}

static void buf_atexit(void)
{
    if (tl_bufs.own.mem || tl_bufs.shared.mem) {
        pthread_setspecific(g_buf_key, NULL);
        buf_destroy(&tl_bufs);
    }
}

static void buf_key_init(void)
{
    pthread_key_create(&g_buf_key, buf_destroy);
    atexit(buf_atexit);
}

/* b (one of tl_bufs') with room for n elements, or NULL. */
static nb_real *get_buf(pack_buf *b, size_t n)
{
    if (b->cap >= n)
        return b->mem;
    pthread_once(&g_buf_once, buf_key_init);
    size_t bytes = (n * sizeof(nb_real) + 63) & ~(size_t)63;
    nb_real *m = aligned_alloc(64, bytes);
    if (!m)
        return NULL;
    free(b->mem);
    b->mem = m;
    b->cap = bytes / sizeof(nb_real);
    pthread_setspecific(g_buf_key, &tl_bufs);
    return m;
}

void *nb_gemm_scratch(size_t bytes)
{
    return get_buf(&tl_bufs.own, (bytes + sizeof(nb_real) - 1) / sizeof(nb_real));
}

/* ---- packing ------------------------------------------------------------ */

/* dst[k*W + c] = src[k*ld + c] for a compile-time W (after inlining). */
static inline __attribute__((always_inline)) void copy_w(const nb_real *restrict src, int64_t ld, int64_t kc,
                                                         nb_real *restrict dst, const int W)
{
    for (int64_t k = 0; k < kc; k++)
        for (int c = 0; c < W; c++)
            dst[k * W + c] = src[k * ld + c];
}

/* The same for the first `cols` of W columns, zeros after them: inlined with
 * W known, a short loop instead of a memcpy and a memset call per row. */
static inline __attribute__((always_inline)) void copy_part(const nb_real *restrict src, int64_t ld, int cols,
                                                            int64_t kc, nb_real *restrict dst, const int W)
{
    for (int64_t k = 0; k < kc; k++)
        for (int c = 0; c < W; c++)
            dst[k * W + c] = c < cols ? src[k * ld + c] : 0;
}

/* Panel from rows of k: dst[k*w + c] = src[k*ld + c] for c < cols, 0 for cols <= c < w. */
static void pack_copy(const nb_real *restrict src, int64_t ld, int cols, int w, int64_t kc,
                      nb_real *restrict dst)
{
    if (cols == w) {
        switch (w) {
        case 4: copy_w(src, ld, kc, dst, 4); return;
        case 6: copy_w(src, ld, kc, dst, 6); return;
        case 8: copy_w(src, ld, kc, dst, 8); return;
        case 12: copy_w(src, ld, kc, dst, 12); return;
        case 16: copy_w(src, ld, kc, dst, 16); return;
        case 32: copy_w(src, ld, kc, dst, 32); return;
        default: break;
        }
    }
    switch (w) {
    case 6: copy_part(src, ld, cols, kc, dst, 6); return;
    case 12: copy_part(src, ld, cols, kc, dst, 12); return;
    case 16: copy_part(src, ld, cols, kc, dst, 16); return;
    case 32: copy_part(src, ld, cols, kc, dst, 32); return;
    default: break;
    }
    for (int64_t k = 0; k < kc; k++) {
        int c = 0;
        for (; c < cols; c++)
            dst[k * w + c] = src[k * ld + c];
        for (; c < w; c++)
            dst[k * w + c] = 0;
    }
}

#if defined(NB_GEMM_X86)
/* 8 x 8 blocks of nb_gemm_transpose_into with AVX2 (the usual unpack / shuffle /
 * permute2f128 network, three stages of 8 shuffles): 0.6 instructions an
 * element against 1 for the 4 x 4 SSE blocks. Returns the rows it did. */
__attribute__((target("avx2"))) static int transpose8_avx2(const float *restrict src, int64_t ld, int rows,
                                                           int64_t w, int64_t kc, float *restrict dst)
{
    int r = 0;
    for (; r + 8 <= rows; r += 8) {
        const float *s = src + r * ld;
        int64_t k = 0;
        for (; k + 8 <= kc; k += 8) {
            __m256 x0 = _mm256_loadu_ps(s + 0 * ld + k), x1 = _mm256_loadu_ps(s + 1 * ld + k);
            __m256 x2 = _mm256_loadu_ps(s + 2 * ld + k), x3 = _mm256_loadu_ps(s + 3 * ld + k);
            __m256 x4 = _mm256_loadu_ps(s + 4 * ld + k), x5 = _mm256_loadu_ps(s + 5 * ld + k);
            __m256 x6 = _mm256_loadu_ps(s + 6 * ld + k), x7 = _mm256_loadu_ps(s + 7 * ld + k);
            __m256 t0 = _mm256_unpacklo_ps(x0, x1), t1 = _mm256_unpackhi_ps(x0, x1);
            __m256 t2 = _mm256_unpacklo_ps(x2, x3), t3 = _mm256_unpackhi_ps(x2, x3);
            __m256 t4 = _mm256_unpacklo_ps(x4, x5), t5 = _mm256_unpackhi_ps(x4, x5);
            __m256 t6 = _mm256_unpacklo_ps(x6, x7), t7 = _mm256_unpackhi_ps(x6, x7);
            __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
            __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
            __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            float *d = dst + k * w + r;
            _mm256_storeu_ps(d + 0 * w, _mm256_permute2f128_ps(u0, u4, 0x20));
            _mm256_storeu_ps(d + 1 * w, _mm256_permute2f128_ps(u1, u5, 0x20));
            _mm256_storeu_ps(d + 2 * w, _mm256_permute2f128_ps(u2, u6, 0x20));
            _mm256_storeu_ps(d + 3 * w, _mm256_permute2f128_ps(u3, u7, 0x20));
            _mm256_storeu_ps(d + 4 * w, _mm256_permute2f128_ps(u0, u4, 0x31));
            _mm256_storeu_ps(d + 5 * w, _mm256_permute2f128_ps(u1, u5, 0x31));
            _mm256_storeu_ps(d + 6 * w, _mm256_permute2f128_ps(u2, u6, 0x31));
            _mm256_storeu_ps(d + 7 * w, _mm256_permute2f128_ps(u3, u7, 0x31));
        }
        for (; k < kc; k++)
            for (int i = 0; i < 8; i++)
                dst[k * w + r + i] = s[i * ld + k];
    }
    return r;
}
#endif

void nb_gemm_transpose_into(const nb_real *restrict src, int64_t ld, int rows, int64_t w, int64_t kc,
                            nb_real *restrict dst)
{
    int r = 0;
#if defined(NB_GEMM_X86)
    if (has_avx2)
        r = transpose8_avx2(src, ld, rows, w, kc, dst);
    /* 4 x 4 SSE transposes (SSE is baseline on x86-64) */
    for (; r + 4 <= rows; r += 4) {
        const float *s0 = src + r * ld, *s1 = s0 + ld, *s2 = s1 + ld, *s3 = s2 + ld;
        int64_t k = 0;
        for (; k + 4 <= kc; k += 4) {
            __m128 x0 = _mm_loadu_ps(s0 + k), x1 = _mm_loadu_ps(s1 + k);
            __m128 x2 = _mm_loadu_ps(s2 + k), x3 = _mm_loadu_ps(s3 + k);
            _MM_TRANSPOSE4_PS(x0, x1, x2, x3);
            _mm_storeu_ps(dst + (k + 0) * w + r, x0);
            _mm_storeu_ps(dst + (k + 1) * w + r, x1);
            _mm_storeu_ps(dst + (k + 2) * w + r, x2);
            _mm_storeu_ps(dst + (k + 3) * w + r, x3);
        }
        for (; k < kc; k++) {
            dst[k * w + r + 0] = s0[k];
            dst[k * w + r + 1] = s1[k];
            dst[k * w + r + 2] = s2[k];
            dst[k * w + r + 3] = s3[k];
        }
    }
#endif
    for (; r < rows; r++) {
        const nb_real *s = src + r * ld;
        for (int64_t k = 0; k < kc; k++)
            dst[k * w + r] = s[k];
    }
}

/* Panel from rows of r: nb_gemm_transpose_into a panel of width w, 0 for
 * rows <= r < w. */
static void pack_transpose(const nb_real *restrict src, int64_t ld, int rows, int w, int64_t kc,
                           nb_real *restrict dst)
{
    nb_gemm_transpose_into(src, ld, rows, w, kc, dst);
    for (int r = rows; r < w; r++)
        for (int64_t k = 0; k < kc; k++)
            dst[k * w + r] = 0;
}

/* op(A)[i0:i0+mc, p0:p0+kc] into ceil(mc/MR) panels of kc x MR (zero padded). */
static void pack_a(int mr, bool trans, const nb_real *A, int64_t lda, int64_t i0, int64_t p0, int64_t mc,
                   int64_t kc, nb_real *restrict dst)
{
    for (int64_t i = 0; i < mc; i += mr) {
        int m = (int)(mc - i < mr ? mc - i : mr);
        if (trans) /* op(A)[i][k] = A[k*lda + i] */
            pack_copy(A + p0 * lda + i0 + i, lda, m, mr, kc, dst);
        else /* op(A)[i][k] = A[i*lda + k] */
            pack_transpose(A + (i0 + i) * lda + p0, lda, m, mr, kc, dst);
        dst += kc * mr;
    }
}

/* op(B)[p0:p0+kc, j0:j0+nc] into ceil(nc/NR) panels of kc x NR (zero padded). */
static void pack_b(int nr, bool trans, const nb_real *B, int64_t ldb, int64_t p0, int64_t j0, int64_t kc,
                   int64_t nc, nb_real *restrict dst)
{
    for (int64_t j = 0; j < nc; j += nr) {
        int n = (int)(nc - j < nr ? nc - j : nr);
        if (!trans) /* op(B)[k][j] = B[k*ldb + j] */
            pack_copy(B + p0 * ldb + j0 + j, ldb, n, nr, kc, dst);
        else /* op(B)[k][j] = B[j*ldb + k] */
            pack_transpose(B + (j0 + j) * ldb + p0, ldb, n, nr, kc, dst);
        dst += kc * nr;
    }
}

NB_VECTORIZE static void gemm_small(bool ta, bool tb, int64_t M, int64_t N, int64_t K, nb_real alpha,
                                    const nb_real *A, int64_t lda, const nb_real *B, int64_t ldb,
                                    nb_real beta, nb_real *C, int64_t ldc);

/* ---- blocked driver ----------------------------------------------------- */

/* The operand that every thread needs when threads split C along one side
 * only (all of op(A) when they split N, all of op(B) when they split M),
 * packed once instead of once per thread: op(X) whole, K block at pc and the
 * panel of row (or column) i at mem + pc pad + i kc, the layout pack_a and
 * pack_b give a block. A thread about to use a block claims each of its
 * panels that no thread has claimed, packs it and marks it ready, then waits
 * until every panel of the block is ready. Nothing waits on a claim before it
 * is packed, so a thread alone (the tasks run one after the other, or the
 * pool was busy) packs everything itself, and the packed values, hence C, are
 * those of one thread. */
enum { SHARED_FREE, SHARED_BUSY, SHARED_READY };

typedef struct {
    nb_real *mem;
    _Atomic int *state; /* per K block and panel, SHARED_* */
    int64_t pad;        /* M (or N) rounded up to the tile */
    int64_t npanels;    /* panels per K block */
} shared_pack;

typedef struct {
    const nb_gemm_ukernel *uk;
    bool ta, tb;
    int64_t M, N, K, kc; /* kc: K block, a function of K only */
    nb_real alpha, beta;
    const nb_real *A, *B;
    int64_t lda, ldb;
    const int64_t *boff; /* nb_gemm_b_rows: row k of B at B + boff[k] (read in place) */
    nb_real *C;
    int64_t ldc;
    bool ct; /* C transposed: the problem computes C^T = op(B)^T op(A)^T */
    /* thread grid: C split into tm x tn rectangles */
    int64_t tm, tn;
    shared_pack *sa, *sb; /* op(A) (tm == 1) or op(B) (tn == 1) packed once for all threads, or NULL */
} gemm_job;

static void split(int64_t n, int64_t unit, int64_t parts, int64_t idx, int64_t *b, int64_t *e)
{
    int64_t units = (n + unit - 1) / unit;
    int64_t q = units / parts, r = units % parts;
    int64_t ub = idx * q + (idx < r ? idx : r);
    int64_t ue = ub + q + (idx < r ? 1 : 0);
    *b = ub * unit < n ? ub * unit : n;
    *e = ue * unit < n ? ue * unit : n;
}

/* B is read in place instead of packed (tile form only) for up to this many
 * rows of C: the kernel then streams B from L2 once per 12 rows, which costs
 * less than packing it up to about 128 rows (bench/gemm: 62 -> 90 GFLOP/s on
 * dW of a 10-class layer, 102 -> 107 on 128 x 784 x 256). Not when B's rows
 * are a multiple of 2 KB apart: its rows would then share a few cache sets. */
enum { DIRECT_B_ROWS = 128, DIRECT_B_ALIAS = 512 };

/* Makes the panels of the K block (pc, kc) that cover rows (A) or columns (B)
 * lo..hi of s ready (see shared_pack) and returns true; task `task` starts
 * at its share of the panels, so threads pack disjoint parts. Waiting for a
 * panel another thread is packing (about a microsecond) is bounded: after
 * NB_SPIN_ITERS polls (that thread was descheduled) it returns false, and the
 * caller packs the block into its own buffer, the same values, so a late
 * thread never holds the others up by more than the spin. */
static bool share_ready(const gemm_job *job, shared_pack *s, bool is_a, int64_t pc, int64_t kc, int64_t lo,
                        int64_t hi, int64_t task)
{
    const int unit = is_a ? job->uk->mr : job->uk->nr;
    const int64_t total = is_a ? job->M : job->N;
    _Atomic int *st = s->state + pc / job->kc * s->npanels;
    const int64_t p0 = lo / unit, np = (hi + unit - 1) / unit - p0;
    const int64_t start = np * task / (job->tm * job->tn);
    for (int64_t q = 0; q < np; q++) {
        int64_t p = p0 + (start + q) % np;
        int expect = SHARED_FREE;
        if (atomic_load_explicit(&st[p], memory_order_relaxed) != SHARED_FREE ||
            !atomic_compare_exchange_strong_explicit(&st[p], &expect, SHARED_BUSY, memory_order_relaxed,
                                                     memory_order_relaxed))
            continue;
        int64_t r = p * unit, n = total - r < unit ? total - r : unit;
        nb_real *dst = s->mem + pc * s->pad + r * kc;
        if (is_a)
            pack_a(unit, job->ta, job->A, job->lda, r, pc, n, kc, dst);
        else
            pack_b(unit, job->tb, job->B, job->ldb, pc, r, kc, n, dst);
        atomic_store_explicit(&st[p], SHARED_READY, memory_order_release);
    }
    int spins = 0;
    for (int64_t p = p0; p < p0 + np; p++)
        while (atomic_load_explicit(&st[p], memory_order_acquire) != SHARED_READY) {
            if (++spins > NB_SPIN_ITERS)
                return false;
            NB_CPU_RELAX();
        }
    return true;
}

/* The rows of a row-major op(A) are read in place (the tile_a form)
 * instead of packed (a transpose) for C up to this many columns: few B
 * panels reuse a packed A there, and the transposes cost more than the
 * kernel's broadcasts from MR rows (bench/gemm on Zen 5: square 256
 * 201 -> 210 GFLOP/s, X[128,256] W^T[256,128] 182 -> 201; bench/gpt 3 %
 * faster; on Zen 3, AVX2: bench/gpt 6 %, bench/mlp 8 % faster, with the
 * next tile's rows prefetched on the first pass, and no faster without).
 * Not when A's rows are a multiple of 4 KB apart: the MR rows would share
 * one set of L1. */
enum { DIRECT_A_COLS = 512, DIRECT_A_ALIAS = 1024 };

/* op(A) is read in place by a region of `cols` columns of C. */
static bool direct_a(const gemm_job *job, int64_t cols)
{
    return job->uk->tile_a && !job->ta && !job->ct && !job->boff && cols <= DIRECT_A_COLS &&
           job->lda % DIRECT_A_ALIAS != 0;
}

/* B is read in place (see DIRECT_B_ROWS) by a region of `rows` rows of C. */
static bool direct_b(const gemm_job *job, int64_t rows)
{
    return job->boff ||
           (job->uk->tile && !job->tb && !job->ct && rows <= DIRECT_B_ROWS && job->ldb % DIRECT_B_ALIAS != 0);
}

static void gemm_region(gemm_job *job, int64_t m0, int64_t m1, int64_t n0, int64_t n1, int64_t task)
{
    const nb_gemm_ukernel *uk = job->uk;
    const int mr = uk->mr, nr = uk->nr;
    const int64_t K = job->K, kcb = job->kc;
    const int64_t MC = uk->mc, NC = uk->nc;
    if (m1 <= m0 || n1 <= n0)
        return;
    int64_t mcmax = m1 - m0 < MC ? m1 - m0 : MC;
    int64_t ncmax = n1 - n0 < NC ? n1 - n0 : NC;
    mcmax = (mcmax + mr - 1) / mr * mr;
    ncmax = (ncmax + nr - 1) / nr * nr;
    size_t asz = (size_t)(mcmax * kcb + 63) & ~(size_t)63;
    size_t bsz = (size_t)(ncmax * kcb + 63) & ~(size_t)63;
    nb_real *abuf = get_buf(&tl_bufs.own, asz + bsz + (size_t)(mr * nr) + 64);
    if (!abuf && job->ct) { /* no memory, transposed problem: element by element */
        for (int64_t i = m0; i < m1; i++)
            for (int64_t j = n0; j < n1; j++) {
                nb_real s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += (job->ta ? job->A[k * job->lda + i] : job->A[i * job->lda + k]) *
                         (job->tb ? job->B[j * job->ldb + k] : job->B[k * job->ldb + j]);
                nb_real *cij = job->C + j * job->ldc + i;
                *cij = job->beta == 0 ? job->alpha * s : job->alpha * s + job->beta * *cij;
            }
        return;
    }
    if (!abuf && job->boff) { /* no memory for packing A, rows of B at offsets: element by element */
        for (int64_t i = m0; i < m1; i++)
            for (int64_t j = n0; j < n1; j++) {
                nb_real s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += job->A[i * job->lda + k] * job->B[job->boff[k] + j];
                nb_real *cij = job->C + i * job->ldc + j;
                *cij = job->beta == 0 ? s : s + job->beta * *cij;
            }
        return;
    }
    if (!abuf) { /* no memory for packing: slow but correct, nothing written yet */
        const nb_real *A = job->ta ? job->A + m0 : job->A + m0 * job->lda;
        const nb_real *B = job->tb ? job->B + n0 * job->ldb : job->B + n0;
        gemm_small(job->ta, job->tb, m1 - m0, n1 - n0, K, job->alpha, A, job->lda, B, job->ldb, job->beta,
                   job->C + m0 * job->ldc + n0, job->ldc);
        return;
    }
    nb_real *bbuf = abuf + asz;
    nb_real *ctmp = bbuf + bsz;
    const nb_real alpha = job->alpha;
    nb_real *C = job->C;
    const int64_t ldc = job->ldc;

    /* B unpacked when few A panels would reuse its packed copy, A when few B
     * panels would (see gemm_kernels.h): rows of op(B) must be rows of B (of
     * op(A), rows of A), and C not transposed */
    const bool b_in_place = direct_b(job, m1 - m0), a_in_place = direct_a(job, n1 - n0);
    for (int64_t jc = n0; jc < n1; jc += NC) {
        int64_t nc = n1 - jc < NC ? n1 - jc : NC;
        for (int64_t pc = 0; pc < K; pc += kcb) {
            int64_t kc = K - pc < kcb ? K - pc : kcb;
            nb_real beta = pc == 0 ? job->beta : (nb_real)1;
            const nb_real *bblk = bbuf; /* op(B)'s block: shared, or packed here */
            if (!b_in_place && job->sb && share_ready(job, job->sb, false, pc, kc, jc, jc + nc, task))
                bblk = job->sb->mem + pc * job->sb->pad + jc * kc;
            else if (!b_in_place)
                pack_b(nr, job->tb, job->B, job->ldb, pc, jc, kc, nc, bbuf);
            for (int64_t ic = m0; ic < m1; ic += MC) {
                int64_t mc = m1 - ic < MC ? m1 - ic : MC;
                const nb_real *ablk = abuf; /* op(A)'s block, likewise */
                if (a_in_place)
                    ablk = job->A + ic * job->lda + pc;
                else if (job->sa && share_ready(job, job->sa, true, pc, kc, ic, ic + mc, task))
                    ablk = job->sa->mem + pc * job->sa->pad + ic * kc;
                else
                    pack_a(mr, job->ta, job->A, job->lda, ic, pc, mc, kc, abuf);
                for (int64_t jr = 0; jr < nc; jr += nr) {
                    int64_t nn = nc - jr < nr ? nc - jr : nr;
                    const nb_real *bp = job->boff    ? job->B + jc + jr
                                        : b_in_place ? job->B + pc * job->ldb + jc + jr
                                                     : bblk + jr * kc;
                    const int64_t ldbp = b_in_place ? job->ldb : nr;
                    for (int64_t ir = 0; ir < mc; ir += mr) {
                        int64_t mm = mc - ir < mr ? mc - ir : mr;
                        if (a_in_place) {
                            /* A comes cold on the first B panel's pass, MR rows at
                             * once: prefetched a tile ahead (gemm.c's DIRECT_A_COLS) */
                            if (jr == 0 && ir + mr < mc)
                                for (int64_t r = 0; r < mr && ir + mr + r < mc; r++)
                                    for (int64_t k = 0; k < kc; k += 64 / (int64_t)sizeof(nb_real))
                                        __builtin_prefetch(ablk + (ir + mr + r) * job->lda + k);
                            uk->tile_a(kc, ablk + ir * job->lda, job->lda, bp, ldbp,
                                       C + (ic + ir) * ldc + jc + jr, ldc, alpha, beta, (int)mm, (int)nn);
                            continue;
                        }
                        const nb_real *ap = ablk + ir * kc;
                        if (job->boff) {
                            uk->tile_off(kc, ap, bp, job->boff + pc, C + (ic + ir) * ldc + jc + jr, ldc,
                                         alpha, beta, (int)mm, (int)nn);
                            continue;
                        }
                        if (uk->tile && !job->ct) {
                            uk->tile(kc, ap, bp, ldbp, C + (ic + ir) * ldc + jc + jr, ldc, alpha, beta,
                                     (int)mm, (int)nn);
                            continue;
                        }
                        if (!job->ct) {
                            nb_real *cp = C + (ic + ir) * ldc + jc + jr;
                            if (mm == mr && nn == nr) {
                                uk->fn(kc, ap, bp, cp, ldc, alpha, beta);
                                continue;
                            }
                            /* edge tile: same kernel on a scratch tile */
                            if (beta != 0)
                                for (int64_t r = 0; r < mm; r++)
                                    memcpy(ctmp + r * nr, cp + r * ldc, (size_t)nn * sizeof(nb_real));
                            uk->fn(kc, ap, bp, ctmp, nr, alpha, beta);
                            for (int64_t r = 0; r < mm; r++)
                                memcpy(cp + r * ldc, ctmp + r * nr, (size_t)nn * sizeof(nb_real));
                        } else {
                            /* transposed problem: tile element (r, c) is C[c, r] */
                            nb_real *cp = C + (jc + jr) * ldc + ic + ir;
                            if (beta != 0)
                                nb_gemm_transpose_into(cp, ldc, (int)nn, nr, mm, ctmp);
                            if (uk->tile)
                                uk->tile(kc, ap, bp, nr, ctmp, nr, alpha, beta, (int)mm, (int)nn);
                            else
                                uk->fn(kc, ap, bp, ctmp, nr, alpha, beta);
                            nb_gemm_transpose_into(ctmp, nr, (int)mm, ldc, nn, cp);
                        }
                    }
                }
            }
        }
    }
}

static void gemm_task(void *ctx, int64_t begin, int64_t end)
{
    gemm_job *job = ctx;
    for (int64_t t = begin; t < end; t++) {
        int64_t ti = t / job->tn, tj = t % job->tn;
        int64_t m0, m1, n0, n1;
        split(job->M, job->uk->mr, job->tm, ti, &m0, &m1);
        split(job->N, job->uk->nr, job->tn, tj, &n0, &n1);
        gemm_region(job, m0, m1, n0, n1, t);
    }
}

/* ---- small products: direct loops, no packing, one thread -------------- */

#define SMALL_NB 256

/* Compiled for AVX-512, AVX2 and baseline (NB_VECTORIZE); no FMA contraction in
 * C11 mode, so every clone rounds alike. */
NB_VECTORIZE static void gemm_small(bool ta, bool tb, int64_t M, int64_t N, int64_t K, nb_real alpha,
                                    const nb_real *A, int64_t lda, const nb_real *B, int64_t ldb,
                                    nb_real beta, nb_real *C, int64_t ldc)
{
    if (!tb) {
        /* row of C = sum_k op(A)[i,k] * B[k,:], vectorized along N */
        nb_real acc[SMALL_NB];
        for (int64_t i = 0; i < M; i++) {
            nb_real *ci = C + i * ldc;
            for (int64_t j0 = 0; j0 < N; j0 += SMALL_NB) {
                int64_t nb = N - j0 < SMALL_NB ? N - j0 : SMALL_NB;
                for (int64_t j = 0; j < nb; j++)
                    acc[j] = 0;
                for (int64_t k = 0; k < K; k++) {
                    nb_real a = ta ? A[k * lda + i] : A[i * lda + k];
                    const nb_real *bk = B + k * ldb + j0;
                    for (int64_t j = 0; j < nb; j++)
                        acc[j] += a * bk[j];
                }
                if (beta == 0)
                    for (int64_t j = 0; j < nb; j++)
                        ci[j0 + j] = alpha * acc[j];
                else
                    for (int64_t j = 0; j < nb; j++)
                        ci[j0 + j] = alpha * acc[j] + beta * ci[j0 + j];
            }
        }
    } else {
        /* C[i,j] = dot(op(A)[i,:], B[j,:]) with 8 partial sums */
        for (int64_t i = 0; i < M; i++) {
            nb_real *ci = C + i * ldc;
            for (int64_t j = 0; j < N; j++) {
                const nb_real *bj = B + j * ldb;
                nb_real s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                int64_t k = 0;
                if (!ta) {
                    const nb_real *ai = A + i * lda;
                    for (; k + 8 <= K; k += 8)
                        for (int u = 0; u < 8; u++)
                            s[u] += ai[k + u] * bj[k + u];
                    for (; k < K; k++)
                        s[0] += ai[k] * bj[k];
                } else {
                    for (; k < K; k++)
                        s[0] += A[k * lda + i] * bj[k];
                }
                nb_real d = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
                ci[j] = beta == 0 ? alpha * d : alpha * d + beta * ci[j];
            }
        }
    }
}

static void scale_c(int64_t M, int64_t N, nb_real beta, nb_real *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++) {
        nb_real *ci = C + i * ldc;
        if (beta == 0)
            for (int64_t j = 0; j < N; j++)
                ci[j] = 0;
        else if (beta != 1)
            for (int64_t j = 0; j < N; j++)
                ci[j] *= beta;
    }
}

/* ---- entry points ------------------------------------------------------- */

/* Products small enough for the direct loops. */
static bool is_small(int64_t M, int64_t N, int64_t K)
{
    return (double)M * (double)N * (double)K <= 32.0 * 32 * 32 || M < 4 || N < 4;
}

/* Narrow C (e.g. N = 10 against NR = 32): C^T = op(B)^T op(A)^T when that
 * wastes much less of the register tiles. */
static bool transpose_c(const nb_gemm_ukernel *uk, int64_t M, int64_t N)
{
    double um = (double)M / (double)((M + uk->mr - 1) / uk->mr * uk->mr);
    double un = (double)N / (double)((N + uk->nr - 1) / uk->nr * uk->nr);
    double um2 = (double)N / (double)((N + uk->mr - 1) / uk->mr * uk->mr);
    double un2 = (double)M / (double)((M + uk->nr - 1) / uk->nr * uk->nr);
    return um2 * un2 > 1.25 * um * un;
}

/* K blocks of near-equal size, at most uk->kc: depends on K only. */
static int64_t k_block(const nb_gemm_ukernel *uk, int64_t K)
{
    int64_t nkb = (K + uk->kc - 1) / uk->kc;
    return (K + nkb - 1) / nkb;
}

bool nb_gemm_b_rows_ok(int64_t M, int64_t N, int64_t K)
{
    const nb_gemm_ukernel *uk = get_kernel();
    return uk->tile_off && M > 0 && N > 0 && K > 0 && M <= DIRECT_B_ROWS && !is_small(M, N, K) &&
           !transpose_c(uk, M, N);
}

void nb_gemm_b_rows(int64_t M, int64_t N, int64_t K, const nb_real *A, int64_t lda, const nb_real *B,
                    const int64_t *boff, nb_real beta, nb_real *C, int64_t ldc)
{
#ifdef NB_GEMM_BF16
    if (nb_gemm_bf16_on()) {
        nb_gemm_bf16_rows(M, N, K, A, lda, B, boff, beta, C, ldc);
        return;
    }
#endif
    const nb_gemm_ukernel *uk = get_kernel();
    gemm_job job = {.uk = uk,
                    .M = M,
                    .N = N,
                    .K = K,
                    .kc = k_block(uk, K),
                    .alpha = 1,
                    .beta = beta,
                    .A = A,
                    .lda = lda,
                    .B = B,
                    .boff = boff,
                    .C = C,
                    .ldc = ldc,
                    .tm = 1,
                    .tn = 1};
    gemm_region(&job, 0, M, 0, N, 0);
}

/* At most this many elements of a shared operand (16 MiB in float32, four times a
 * thread's own buffers): above it, where packing is a small part of the
 * work anyway, each thread packs its own blocks, as with more than one
 * split direction. */
enum { SHARED_MAX = 1 << 22 };

/* Sets s up for the operand the threads of job share (shared_pack), in the
 * calling thread's buffer: op(A) when they split N only, op(B) when they
 * split M only and pack it. False when there is none, or no memory. */
static bool share_operand(const gemm_job *job, shared_pack *s)
{
    bool is_a = job->tm == 1;
    if (is_a && direct_a(job, (job->N + job->tn - 1) / job->tn))
        return false;
    if (!is_a && (job->tn != 1 || direct_b(job, (job->M + job->tm - 1) / job->tm)))
        return false;
    const int unit = is_a ? job->uk->mr : job->uk->nr;
    int64_t total = is_a ? job->M : job->N;
    s->pad = (total + unit - 1) / unit * unit;
    s->npanels = s->pad / unit;
    int64_t nkb = (job->K + job->kc - 1) / job->kc;
    if ((double)s->pad * (double)job->K > SHARED_MAX)
        return false;
    size_t vals = ((size_t)(s->pad * job->K) + 15) & ~(size_t)15; /* the flags 64-byte aligned */
    size_t flags = (size_t)(nkb * s->npanels);
    size_t words = (flags * sizeof(_Atomic int) + sizeof(nb_real) - 1) / sizeof(nb_real);
    s->mem = get_buf(&tl_bufs.shared, vals + words);
    if (!s->mem)
        return false;
    s->state = (_Atomic int *)(void *)(s->mem + vals);
    for (size_t i = 0; i < flags; i++)
        atomic_init(&s->state[i], SHARED_FREE);
    return true;
}

void nb_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, nb_real alpha, const nb_real *A,
             int64_t lda, const nb_real *B, int64_t ldb, nb_real beta, nb_real *C, int64_t ldc)
{
#ifndef NB_GEMM_BF16
    (void)nb_gemm_precision(); /* float64: NABLA_MATMUL_PRECISION=medium said at the first product */
#endif
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0 || alpha == 0) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    /* The path depends on the shape only (never on the thread count). */
    double work = (double)M * (double)N * (double)K;
    if (is_small(M, N, K)) {
        gemm_small(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#ifdef NB_GEMM_BF16
    if (nb_gemm_bf16_on()) { /* matmul precision "medium" (gemm_bf16.h); small products stay float32 */
        nb_gemm_bf16(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#endif
    const nb_gemm_ukernel *uk = get_kernel();
    gemm_job job = {
        .uk = uk,
        .ta = trans_a,
        .tb = trans_b,
        .M = M,
        .N = N,
        .K = K,
        .alpha = alpha,
        .beta = beta,
        .A = A,
        .B = B,
        .lda = lda,
        .ldb = ldb,
        .C = C,
        .ldc = ldc,
        .ct = false,
        .tm = 1,
        .tn = 1,
    };
    /* Narrow C: computed as C^T = op(B)^T op(A)^T (see transpose_c). op(B)^T
     * is op'(B) with the flag flipped, likewise op(A)^T. */
    {
        if (transpose_c(uk, M, N)) {
            job.ct = true;
            job.M = N;
            job.N = M;
            job.A = B;
            job.lda = ldb;
            job.ta = !trans_b;
            job.B = A;
            job.ldb = lda;
            job.tb = !trans_a;
            M = job.M;
            N = job.N;
        }
    }
    job.kc = k_block(uk, K);

    /* threads: at most one per ~2 MFLOP, split along the longer side of C */
    int64_t nt = nb_get_num_threads();
    int64_t by_work = (int64_t)(work / (1 << 20));
    if (nt > by_work)
        nt = by_work;
    int64_t mt = (M + uk->mr - 1) / uk->mr, ntl = (N + uk->nr - 1) / uk->nr;
    if (nt > mt * ntl)
        nt = mt * ntl;
    if (nt < 1)
        nt = 1;
    if (nt > 1) {
        /* choose tm x tn = nt (tm | nt) minimizing the duplicated packing
         * tn*M + tm*N, tiles allowing */
        int64_t best_tm = 1;
        double best = -1;
        for (int64_t tm = 1; tm <= nt; tm++) {
            if (nt % tm)
                continue;
            int64_t tn = nt / tm;
            if (tm > mt || tn > ntl)
                continue;
            double cost = (double)tn * M + (double)tm * N;
            if (best < 0 || cost < best) {
                best = cost;
                best_tm = tm;
            }
        }
        if (best < 0) {
            nt = 1;
        } else {
            job.tm = best_tm;
            job.tn = nt / best_tm;
        }
    }
    shared_pack shared;
    if (nt > 1 && share_operand(&job, &shared))
        *(job.tm == 1 ? &job.sa : &job.sb) = &shared;
    if (nt > 1)
        nb_parallel_for(job.tm * job.tn, 1, gemm_task, &job);
    else
        gemm_region(&job, 0, M, 0, N, 0);
}
