// See CAVX512Kernels.h. Row-wise softmax on 16 lanes: the Swift kernel's steps (mask, maximum,
// e^(x − max) by the FastMath formula, sum, scale by 1/sum) with fused multiply-adds and 16-lane
// partial sums.
#include "CAVX512Kernels.h"

#if defined(__x86_64__)
#include "vector_math.h"

AVX512 void fgaseg_softmax_rows_avx512(float *x, long rows, long columns, const float *mask) {
    for (long row = 0; row < rows; row++) {
        float *line = x + row * columns;
        const float *bias = mask ? mask + row * columns : NULL;
        __m512 maxima = _mm512_set1_ps(-__builtin_inff());
        for (long j = 0; j < columns; j += 16) {
            const __mmask16 lanes = tail_mask(columns - j);
            __m512 value = _mm512_maskz_loadu_ps(lanes, line + j);
            if (bias) {
                value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(lanes, bias + j));
                _mm512_mask_storeu_ps(line + j, lanes, value);
            }
            maxima = _mm512_mask_max_ps(maxima, lanes, maxima, value);
        }
        const __m512 maximum = _mm512_set1_ps(_mm512_reduce_max_ps(maxima));
        __m512 totals = _mm512_setzero_ps();
        for (long j = 0; j < columns; j += 16) {
            const __mmask16 lanes = tail_mask(columns - j);
            const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(lanes, line + j), maximum));
            _mm512_mask_storeu_ps(line + j, lanes, e);
            totals = _mm512_mask_add_ps(totals, lanes, totals, e);
        }
        const __m512 scale = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(totals));
        for (long j = 0; j < columns; j += 16) {
            const __mmask16 lanes = tail_mask(columns - j);
            _mm512_mask_storeu_ps(line + j, lanes, _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes, line + j), scale));
        }
    }
}

#else

// Unreachable: fgaseg_avx512_available() is 0 off x86-64.
void fgaseg_softmax_rows_avx512(float *x, long rows, long columns, const float *mask) {
    (void)x; (void)rows; (void)columns; (void)mask; __builtin_trap();
}

#endif
