// See CAVX512Kernels.h. GELU with the exact erf, x·Φ(x) = ½x(1 + erf(x/√2)), and CLIP's
// QuickGELU, x·σ(1.702x), on 16 lanes with fused multiply-adds: the Swift FastMath formulas (the
// same exponential, Abramowitz–Stegun erf and sigmoid), so the two differ only by the rounding
// the fused operations save.
#include "CAVX512Kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))

/// e^x as FastMath.exp: x = n·ln2 + r, a degree-6 polynomial in r, 2^n from the exponent bits;
/// 0 below −87.33 and +∞ above 88.72.
AVX512 static inline __m512 exp16(__m512 x) {
    const __m512 clamped = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33f)), _mm512_set1_ps(88.72f));
    const __m512 magic = _mm512_fmadd_ps(clamped, _mm512_set1_ps(1.44269504f), _mm512_set1_ps(12582912.0f));
    const __m512 n = _mm512_sub_ps(magic, _mm512_set1_ps(12582912.0f));
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.69314575f), clamped);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.4286068e-6f), r);
    __m512 p = _mm512_set1_ps(1.3888890e-3f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3333333e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1666667e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.16666666f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    const __m512i shifted = _mm512_sub_epi32(_mm512_castps_si512(magic), _mm512_set1_epi32(0x4B400000));
    const __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(shifted, _mm512_set1_epi32(127)), 23));
    __m512 result = _mm512_mul_ps(p, scale);
    result = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33f), _CMP_LT_OQ), result, _mm512_setzero_ps());
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(88.72f), _CMP_GT_OQ), result,
                                _mm512_set1_ps(__builtin_inff()));
}

/// erf(u) given gaussian = e^(−u²), as FastMath.erf(_:gaussian:) (Abramowitz & Stegun 7.1.26).
AVX512 static inline __m512 erf16(__m512 u, __m512 gaussian) {
    const __m512 magnitude = _mm512_abs_ps(u);
    const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(magnitude, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
    __m512 poly = _mm512_set1_ps(1.061405429f);
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(-1.453152027f));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(1.421413741f));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(-0.284496736f));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(0.254829592f));
    const __m512 y = _mm512_fnmadd_ps(_mm512_mul_ps(poly, t), gaussian, _mm512_set1_ps(1.0f));
    // Copy u's sign onto y (erf is odd).
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(u), _mm512_set1_epi32((int)0x80000000u));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(y), sign));
}

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

AVX512 static inline __mmask16 tail_mask(long remaining) {
    return remaining >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << remaining) - 1u);
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
