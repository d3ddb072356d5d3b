/* nabla/backend.h — what this build runs on: the CPU and the instruction set
 * its kernels chose at run time (torch.backends.cpu.get_cpu_capability,
 * torch.__config__.show). Benchmarks print it next to every figure. */
#ifndef NABLA_BACKEND_H
#define NABLA_BACKEND_H

#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif
NB_API_BEGIN

/* The instruction set this CPU offers nabla's dispatched kernels: "avx512"
 * (AVX-512 F, VL, DQ and BW), "avx2" (AVX2 and FMA) or "default"
 * (torch.backends.cpu.get_cpu_capability(), lower case); the float64 build
 * and non-x86 builds say "default". It is what the GEMM chooses by and the
 * hand-written AVX-512 paths of convolution and pooling need; which GEMM
 * kernel runs (a build may force one) is in nb_config_show. */
const char *nb_get_cpu_capability(void);

/* One line describing the build and the machine (torch.__config__.show()):
 *   nabla float32; CPU AMD EPYC (family 25 model 17), 2 logical CPUs;
 *   capability avx512; GEMM kernel avx512; threads 2
 * ("; denormals flushed" at the end under nb_set_flush_denormal). The
 * calling thread's own buffer, rebuilt at each call (the settings may
 * change). */
const char *nb_config_show(void);

NB_API_END
#ifdef __cplusplus
}
#endif

#endif
