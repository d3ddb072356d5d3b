/* kernels/cpu.c — the CPU nabla runs on (cpuid's brand string, family and
 * model) and the instruction set its kernels dispatched to: the public
 * nb_get_cpu_capability and nb_config_show of nabla/backend.h. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nabla/backend.h"
#include "nabla/threads.h"
#include "kernels/gemm_kernels.h"
#include "kernels/simd.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

const char *nb_get_cpu_capability(void)
{
#if defined(NB_X86_SIMD)
    /* the features the GEMM kernels are chosen by (kernels/gemm.c), the core
     * of the x86-64-v4 and v3 levels of NB_VECTORIZE's clones */
    if (nb_cpu_avx512())
        return "avx512";
    if (nb_cpu_avx2())
        return "avx2";
#endif
    return "default";
}

/* "AMD EPYC (family 25 model 17)": the brand string of cpuid leaves
 * 0x80000002-4 and the display family and model of leaf 1 (Intel SDM vol. 2A,
 * CPUID, "Feature Information": the extended family is added when the base
 * family is 15, the extended model prepended when it is 6 or 15). */
static void cpu_name(char *out, size_t n)
{
    snprintf(out, n, "unknown");
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    unsigned brand[12] = {0};
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000004u)
        for (unsigned leaf = 0; leaf < 3; leaf++)
            __get_cpuid(0x80000002u + leaf, &brand[4 * leaf], &brand[4 * leaf + 1], &brand[4 * leaf + 2],
                        &brand[4 * leaf + 3]);
    char name[49];
    memcpy(name, brand, 48);
    name[48] = 0;
    char *s = name;
    while (*s == ' ')
        s++;
    for (size_t len = strlen(s); len > 0 && s[len - 1] == ' '; len--)
        s[len - 1] = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    unsigned family = (a >> 8) & 0xf, model = (a >> 4) & 0xf;
    if (family == 0xf)
        family += (a >> 20) & 0xff;
    if (family == 0x6 || family >= 0xf)
        model |= ((a >> 16) & 0xf) << 4;
    snprintf(out, n, "%s (family %u model %u)", *s ? s : "x86", family, model);
#endif
}

const char *nb_config_show(void)
{
    static _Thread_local char line[256];
    char cpu[96];
    cpu_name(cpu, sizeof cpu);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(line, sizeof line,
             "nabla %s; CPU %s, %ld logical CPUs; capability %s; GEMM kernel %s; threads %d%s", NB_REAL_NAME,
             cpu, ncpu, nb_get_cpu_capability(), nb_gemm_kernel_name(), nb_get_num_threads(),
             nb_get_flush_denormal() ? "; denormals flushed" : "");
    return line;
}
