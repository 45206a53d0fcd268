// See CAVX512Kernels.h. Each register tile is 8 output channels × 48 pixels of one output row:
// 24 accumulators, three input vectors and one broadcast weight in the 32 zmm registers. Per
// input channel and tap it loads 3 vectors and 8 weights for 24 fused multiply-adds, so the two
// FMA ports, not the loads, set the pace.
#include "CAVX512Kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

enum { tile_channels = FGASEG_DIRECT_AVX512_TILE_CHANNELS, tile_width = FGASEG_DIRECT_AVX512_TILE_WIDTH, lanes = 16 };

/// The first `count` lanes of a row tile, as one store mask per vector.
__attribute__((target("avx512f")))
static inline __mmask16 lane_mask(long count) {
    if (count >= lanes) return (__mmask16)0xFFFF;
    if (count <= 0) return 0;
    return (__mmask16)((1u << count) - 1u);
}

__attribute__((target("avx512f")))
void fgaseg_direct3x3_avx512(const float *bordered, long channels, long height, long width,
                             const float *taps, long out_channels, float *output,
                             long first_row, long end_row) {
    const long row_length = width + 2, plane = (height + 2) * row_length, channel_stride = height * width;
    const long block_stride = channels * 9 * tile_channels;
    for (long row = first_row; row < end_row; row++) {
        for (long block = 0; block < out_channels; block += tile_channels) {
            for (long column = 0; column < width; column += tile_width) {
                __m512 sums[tile_channels][3];
                for (int j = 0; j < tile_channels; j++) {
                    sums[j][0] = _mm512_setzero_ps(); sums[j][1] = _mm512_setzero_ps(); sums[j][2] = _mm512_setzero_ps();
                }
                const float *weights = taps + block / tile_channels * block_stride;
                const float *source = bordered + row * row_length + column;
                for (long channel = 0; channel < channels; channel++, source += plane) {
                    for (int kernel_row = 0; kernel_row < 3; kernel_row++) {
                        const float *line = source + kernel_row * row_length;
                        for (int kernel_column = 0; kernel_column < 3; kernel_column++, weights += tile_channels) {
                            const __m512 x0 = _mm512_loadu_ps(line + kernel_column);
                            const __m512 x1 = _mm512_loadu_ps(line + kernel_column + lanes);
                            const __m512 x2 = _mm512_loadu_ps(line + kernel_column + 2 * lanes);
                            for (int j = 0; j < tile_channels; j++) {
                                const __m512 w = _mm512_set1_ps(weights[j]);
                                sums[j][0] = _mm512_fmadd_ps(x0, w, sums[j][0]);
                                sums[j][1] = _mm512_fmadd_ps(x1, w, sums[j][1]);
                                sums[j][2] = _mm512_fmadd_ps(x2, w, sums[j][2]);
                            }
                        }
                    }
                }
                const long count = width - column;
                const __mmask16 masks[3] = {lane_mask(count), lane_mask(count - lanes), lane_mask(count - 2 * lanes)};
                float *target = output + row * width + column + block * channel_stride;
                for (int j = 0; j < tile_channels && block + j < out_channels; j++, target += channel_stride) {
                    _mm512_mask_storeu_ps(target, masks[0], sums[j][0]);
                    _mm512_mask_storeu_ps(target + lanes, masks[1], sums[j][1]);
                    _mm512_mask_storeu_ps(target + 2 * lanes, masks[2], sums[j][2]);
                }
            }
        }
    }
}

enum { gradient_tile = FGASEG_DIRECT_AVX512_GRADIENT_TILE_CHANNELS, taps_per_kernel = 9 };

/// Adds one 16-pixel step of the flat views at `offset` to the tile's per-tap sums: the
/// gradients of `tile_rows` output channels (`gradient_plane` apart) times the 9 shifted inputs.
/// `mask` selects the pixels that are inside the views (the rest load as zero).
__attribute__((target("avx512f"), always_inline))
static inline void accumulate_taps(__m512 sums[gradient_tile][taps_per_kernel], const float *gradient, long gradient_plane,
                                   const float *input, long row_length, long offset, __mmask16 mask, int tile_rows) {
    __m512 outputs[gradient_tile];
    for (int r = 0; r < tile_rows; r++) outputs[r] = _mm512_maskz_loadu_ps(mask, gradient + r * gradient_plane + offset);
    for (int tap = 0; tap < taps_per_kernel; tap++) {
        const __m512 x = _mm512_maskz_loadu_ps(mask, input + (tap / 3) * row_length + tap % 3 + offset);
        for (int r = 0; r < tile_rows; r++) sums[r][tap] = _mm512_fmadd_ps(outputs[r], x, sums[r][tap]);
    }
}

/// The per-tap weight gradients of `tile_rows` (1…3) output channels from `first_output` on, for
/// every input channel: 27 accumulators, three gradient vectors and one input vector in registers.
__attribute__((target("avx512f"), always_inline))
static inline void weight_gradient_tile(const float *bordered_gradient, const float *bordered_input, long channels,
                                        long height, long width, long out_channels, long first_output, int tile_rows,
                                        float *tap_gradients) {
    const long row_length = width + 2, plane = (height + 2) * row_length, length = height * row_length;
    const long full = length / lanes * lanes;
    const float *gradient = bordered_gradient + first_output * plane + row_length + 1;
    for (long channel = 0; channel < channels; channel++) {
        const float *input = bordered_input + channel * plane;
        __m512 sums[gradient_tile][taps_per_kernel];
        for (int r = 0; r < gradient_tile; r++) {
            for (int tap = 0; tap < taps_per_kernel; tap++) sums[r][tap] = _mm512_setzero_ps();
        }
        for (long offset = 0; offset < full; offset += lanes) {
            accumulate_taps(sums, gradient, plane, input, row_length, offset, (__mmask16)0xFFFF, tile_rows);
        }
        if (full < length) accumulate_taps(sums, gradient, plane, input, row_length, full, lane_mask(length - full), tile_rows);
        for (int r = 0; r < tile_rows; r++) {
            for (int tap = 0; tap < taps_per_kernel; tap++) {
                tap_gradients[(tap * out_channels + first_output + r) * channels + channel] = _mm512_reduce_add_ps(sums[r][tap]);
            }
        }
    }
}

__attribute__((target("avx512f")))
void fgaseg_direct3x3_weight_gradient_avx512(const float *bordered_gradient, const float *bordered_input,
                                             long channels, long height, long width, long out_channels,
                                             float *tap_gradients, long first_tile, long end_tile) {
    for (long tile = first_tile; tile < end_tile; tile++) {
        const long first_output = tile * gradient_tile, rows = out_channels - first_output;
        // Constant tile heights, so each call is compiled with its accumulators in registers.
        if (rows >= 3) {
            weight_gradient_tile(bordered_gradient, bordered_input, channels, height, width, out_channels, first_output, 3, tap_gradients);
        } else if (rows == 2) {
            weight_gradient_tile(bordered_gradient, bordered_input, channels, height, width, out_channels, first_output, 2, tap_gradients);
        } else if (rows == 1) {
            weight_gradient_tile(bordered_gradient, bordered_input, channels, height, width, out_channels, first_output, 1, tap_gradients);
        }
    }
}

#else

void fgaseg_direct3x3_weight_gradient_avx512(const float *bordered_gradient, const float *bordered_input,
                                             long channels, long height, long width, long out_channels,
                                             float *tap_gradients, long first_tile, long end_tile) {
    (void)bordered_gradient; (void)bordered_input; (void)channels; (void)height; (void)width; (void)out_channels;
    (void)tap_gradients; (void)first_tile; (void)end_tile;
    __builtin_trap();  // unreachable: fgaseg_avx512_available() is 0 off x86-64
}

void fgaseg_direct3x3_avx512(const float *bordered, long channels, long height, long width,
                             const float *taps, long out_channels, float *output,
                             long first_row, long end_row) {
    (void)bordered; (void)channels; (void)height; (void)width; (void)taps; (void)out_channels; (void)output;
    (void)first_row; (void)end_row;
    __builtin_trap();  // unreachable: fgaseg_avx512_available() is 0 off x86-64
}

#endif
