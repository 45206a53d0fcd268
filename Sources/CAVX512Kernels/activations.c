// See CAVX512Kernels.h. GELU with the exact erf, x·Φ(x) = ½x(1 + erf(x/√2)), and CLIP's
// QuickGELU, x·σ(1.702x), on 16 lanes with fused multiply-adds: the Swift FastMath formulas (the
// same exponential, Abramowitz–Stegun erf and sigmoid), so the two differ only by the rounding
// the fused operations save.
#include "CAVX512Kernels.h"

#if defined(__x86_64__)
#include "vector_math.h"

/// GELU and (when `derivative` is not NULL) its derivative Φ(x) + x·φ(x), from one exponential.
AVX512 static inline __m512 gelu16(__m512 x, __m512 *derivative) {
    const __m512 u = _mm512_mul_ps(x, _mm512_set1_ps(0.70710677f));
    const __m512 gaussian = exp16(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), u), u));
    const __m512 cdf = _mm512_mul_ps(_mm512_set1_ps(0.5f), _mm512_add_ps(_mm512_set1_ps(1.0f), erf16(u, gaussian)));
    if (derivative) *derivative = _mm512_fmadd_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.3989423f)), gaussian, cdf);
    return _mm512_mul_ps(x, cdf);
}

/// QuickGELU x·σ(1.702x) and (when `derivative` is not NULL) its derivative s + 1.702x·s(1 − s),
/// with σ(z) = 1/(1 + e^−|z|), times e^−|z| for z < 0, as FastMath.sigmoid.
AVX512 static inline __m512 quick_gelu16(__m512 x, __m512 *derivative) {
    const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(1.702f));
    const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_abs_ps(z)));
    const __m512 positive = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
    const __m512 s = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ), positive, _mm512_mul_ps(e, positive));
    if (derivative) *derivative = _mm512_fmadd_ps(_mm512_mul_ps(z, s), _mm512_sub_ps(_mm512_set1_ps(1.0f), s), s);
    return _mm512_mul_ps(x, s);
}

/// A 16-lane function that returns f(x) and, when `derivative` is not NULL, stores f′(x).
typedef __m512 (*activation16)(__m512 x, __m512 *derivative);

// The two loops, each inlined with its activation (the pointer is a constant at every call).
AVX512 static inline void apply_loop(activation16 f, const float *x, float *y, long count) {
    for (long i = 0; i < count; i += 16) {
        const __mmask16 mask = tail_mask(count - i);
        _mm512_mask_storeu_ps(y + i, mask, f(_mm512_maskz_loadu_ps(mask, x + i), NULL));
    }
}

AVX512 static inline void chain_rule_loop(activation16 f, const float *x, const float *gradient, float *dx, long count) {
    for (long i = 0; i < count; i += 16) {
        const __mmask16 mask = tail_mask(count - i);
        __m512 derivative;
        (void)f(_mm512_maskz_loadu_ps(mask, x + i), &derivative);
        _mm512_mask_storeu_ps(dx + i, mask, _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, gradient + i), derivative));
    }
}

AVX512 void fgaseg_gelu_avx512(const float *x, float *y, long count) { apply_loop(gelu16, x, y, count); }

AVX512 void fgaseg_gelu_chain_rule_avx512(const float *x, const float *gradient, float *dx, long count) {
    chain_rule_loop(gelu16, x, gradient, dx, count);
}

AVX512 void fgaseg_quick_gelu_avx512(const float *x, float *y, long count) { apply_loop(quick_gelu16, x, y, count); }

AVX512 void fgaseg_quick_gelu_chain_rule_avx512(const float *x, const float *gradient, float *dx, long count) {
    chain_rule_loop(quick_gelu16, x, gradient, dx, count);
}

#else

// Unreachable: fgaseg_avx512_available() is 0 off x86-64.
void fgaseg_gelu_avx512(const float *x, float *y, long count) { (void)x; (void)y; (void)count; __builtin_trap(); }
void fgaseg_gelu_chain_rule_avx512(const float *x, const float *gradient, float *dx, long count) {
    (void)x; (void)gradient; (void)dx; (void)count; __builtin_trap();
}
void fgaseg_quick_gelu_avx512(const float *x, float *y, long count) { (void)x; (void)y; (void)count; __builtin_trap(); }
void fgaseg_quick_gelu_chain_rule_avx512(const float *x, const float *gradient, float *dx, long count) {
    (void)x; (void)gradient; (void)dx; (void)count; __builtin_trap();
}

#endif
