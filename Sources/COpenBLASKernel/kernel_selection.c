// See COpenBLASKernel.h. OpenBLAS's entry points are looked up at run time, so this library links
// nothing and does nothing where OpenBLAS is absent or was built for a single CPU.
#include "COpenBLASKernel.h"

#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct { const char *name; int tier; } known_cores[] = {
    {"Katmai", 0}, {"Coppermine", 0}, {"Northwood", 0}, {"Prescott", 0}, {"Banias", 0}, {"Atom", 0},
    {"Core2", 0}, {"Penryn", 0}, {"Dunnington", 0}, {"Nehalem", 0}, {"Athlon", 0}, {"Opteron", 0},
    {"Opteron_SSE3", 0}, {"Barcelona", 0}, {"Nano", 0}, {"Bobcat", 0},
    {"Sandybridge", 1}, {"Bulldozer", 1}, {"Piledriver", 1}, {"Steamroller", 1}, {"Excavator", 1},
    {"Haswell", 2}, {"Zen", 2},
    {"SkylakeX", 3}, {"Cooperlake", 3}, {"SapphireRapids", 3},
};

/// The kernel family OpenBLAS's OPENBLAS_CORETYPE names for each tier (every DYNAMIC_ARCH x86-64
/// build since 0.3.10 has these four).
static const char *const core_for_tier[] = {"Prescott", "Sandybridge", "Haswell", "SkylakeX"};

int fgaseg_openblas_core_tier(const char *core) {
    if (core == NULL) return -1;
    for (size_t i = 0; i < sizeof known_cores / sizeof known_cores[0]; i++) {
        if (strcasecmp(core, known_cores[i].name) == 0) return known_cores[i].tier;
    }
    return -1;
}

int fgaseg_openblas_cpu_tier(void) {
#if defined(__x86_64__)
    // __builtin_cpu_supports also checks that the OS saves the vector registers (XCR0).
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq")) return 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
    if (__builtin_cpu_supports("avx")) return 1;
    return 0;
#else
    return -1;
#endif
}

const char *fgaseg_openblas_replacement_core(const char *chosen, const char *requested, int cpu_tier) {
    int tier = fgaseg_openblas_core_tier(chosen);
    if (requested != NULL || tier < 0 || cpu_tier <= tier || cpu_tier > 3) return NULL;
    return core_for_tier[cpu_tier];
}

static char replaced_core[32];

const char *fgaseg_openblas_replaced_core(void) {
    return replaced_core[0] != 0 ? replaced_core : NULL;
}

/// Runs after OpenBLAS's constructor (a library's constructors run after those of the libraries
/// it needs) and before main, while no thread of ours can be in OpenBLAS.
__attribute__((constructor)) static void fgaseg_openblas_select_kernel(void) {
    char *(*corename)(void) = (char *(*)(void))dlsym(RTLD_DEFAULT, "openblas_get_corename");
    void (*quit)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
    void (*init)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
    if (corename == NULL || quit == NULL || init == NULL) return;
    const char *chosen = corename();
    const char *replacement = fgaseg_openblas_replacement_core(chosen, getenv("OPENBLAS_CORETYPE"), fgaseg_openblas_cpu_tier());
    if (replacement == NULL) return;
    char previous[sizeof replaced_core];
    strncpy(previous, chosen, sizeof previous - 1);
    previous[sizeof previous - 1] = 0;
    // OpenBLAS selects again only after quit; OPENBLAS_CORETYPE is read once, then removed so the
    // environment child processes see is the one the user gave.
    setenv("OPENBLAS_CORETYPE", replacement, 1);
    quit();
    init();
    unsetenv("OPENBLAS_CORETYPE");
    if (fgaseg_openblas_core_tier(corename()) > fgaseg_openblas_core_tier(previous)) {
        memcpy(replaced_core, previous, sizeof replaced_core);
    }
}
