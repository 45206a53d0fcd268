// Corrects OpenBLAS's run-time kernel choice on CPUs newer than the OpenBLAS release.
//
// A DYNAMIC_ARCH OpenBLAS picks its kernels from the CPU's family and model when it is loaded. A
// release older than the CPU does not know the model and falls back to its generic SSE3 kernel,
// "Prescott": OpenBLAS 0.3.21 (Debian 12) on an Intel Xeon of family 6, model 207 ran sgemm
// 1024³ at 28 GFLOP/s with it and at 155–165 with its SkylakeX kernel. A constructor in this
// library runs after OpenBLAS's own and, when OPENBLAS_CORETYPE is unset and the kernel OpenBLAS
// chose uses a narrower vector extension than the CPU and the OS support, has OpenBLAS select
// again with OPENBLAS_CORETYPE naming the kernel family of the CPU's widest extension. It does
// nothing without OpenBLAS's dynamic-selection entry points (builds for one CPU) or off x86-64.
#ifndef COPENBLASKERNEL_H
#define COPENBLASKERNEL_H

/// The widest vector extension a kernel family uses: 0 SSE, 1 AVX, 2 AVX2 + FMA, 3 AVX-512
/// (F, VL, BW, DQ); -1 for a name this table does not know (never replaced).
int fgaseg_openblas_core_tier(const char *core);

/// The widest vector extension, in the same scale, that this CPU and its OS support (-1 off x86-64).
int fgaseg_openblas_cpu_tier(void);

/// The kernel family to select instead of `chosen`, or NULL to keep it: NULL when `requested`
/// (the value of OPENBLAS_CORETYPE) is not NULL, when `chosen` is unknown, or when its tier is
/// at least `cpu_tier`.
const char *fgaseg_openblas_replacement_core(const char *chosen, const char *requested, int cpu_tier);

/// The kernel OpenBLAS had chosen before this library had it select again, or NULL if it kept
/// OpenBLAS's choice.
const char *fgaseg_openblas_replaced_core(void);

#endif
