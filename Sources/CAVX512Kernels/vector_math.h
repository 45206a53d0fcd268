// 16-lane building blocks shared by the AVX-512 kernels (internal to CAVX512Kernels): the
// Swift FastMath formulas with fused multiply-adds, and masks for row tails. x86-64 only.
#ifndef FGASEG_VECTOR_MATH_H
#define FGASEG_VECTOR_MATH_H

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

AVX512 static inline __mmask16 tail_mask(long remaining) {
    return remaining >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << remaining) - 1u);
}

#endif
