// See CAVX512Kernels.h: whether the AVX-512 kernels of this target may run.
#include "CAVX512Kernels.h"

#if defined(__x86_64__)

int fgaseg_avx512_available(void) {
    // __builtin_cpu_supports also checks that the OS saves the zmm registers (XCR0).
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? 1 : 0;
}

#else

int fgaseg_avx512_available(void) { return 0; }

#endif
