// Kernels written for AVX-512 (16 float lanes, 32 vector registers), chosen at run time.
//
// The Swift kernels are built for AVX2 (8 lanes, 16 registers) so that one binary runs on every
// x86-64 server CPU since 2013; Swift cannot compile one function for a wider target than the
// rest of its module. These C functions carry the target attribute instead, and the Swift side
// calls them only where `fgaseg_avx512_available` says the CPU and the OS support AVX-512F.
#ifndef CAVX512KERNELS_H
#define CAVX512KERNELS_H

/// 1 when this CPU and its OS support AVX-512F (the registers are saved on context switches), else 0.
int fgaseg_avx512_available(void);

/// Output channels one register tile of `fgaseg_direct3x3_avx512` covers.
#define FGASEG_DIRECT_AVX512_TILE_CHANNELS 8
/// Output pixels (of one row) one register tile covers: three 16-lane vectors.
#define FGASEG_DIRECT_AVX512_TILE_WIDTH 48
/// Floats past the end of the bordered map the kernel may read (the last tile's overhang).
#define FGASEG_DIRECT_AVX512_SLACK 48

/// Rows [first_row, end_row) of `output` [out_channels, height, width] = the 3×3 cross-correlation
/// of `bordered` [channels, height + 2, width + 2] (a zero-bordered map, readable
/// FGASEG_DIRECT_AVX512_SLACK floats past its end) with `taps` [⌈out_channels / 8⌉, channels, 3, 3, 8]
/// (each tile's weights contiguous, zero past the last output channel). Each output element is
/// one chain of fused multiply-adds over channels, then kernel rows, then kernel columns, the same
/// chain as the Swift kernel's, so both give identical bits. Call only where
/// `fgaseg_avx512_available()` is 1.
void fgaseg_direct3x3_avx512(const float *bordered, long channels, long height, long width,
                             const float *taps, long out_channels, float *output,
                             long first_row, long end_row);

/// Output channels one register tile of `fgaseg_direct3x3_weight_gradient_avx512` covers.
#define FGASEG_DIRECT_AVX512_GRADIENT_TILE_CHANNELS 3

/// The 3×3 convolution's weight gradient for one image, per tap: `tap_gradients` [9, out_channels,
/// channels] gets, for output channels in tiles [first_tile, end_tile) of
/// FGASEG_DIRECT_AVX512_GRADIENT_TILE_CHANNELS, the sum over pixels of the output gradient times
/// the input shifted by the tap. `bordered_gradient` [out_channels, height + 2, width + 2] and
/// `bordered_input` [channels, height + 2, width + 2] are zero-bordered maps (the input readable 2
/// floats past its end). Each element sums the flat rows i·(width + 2) + j, j < width + 2, of the
/// two maps' shifted views (the gradient's border makes the extra columns zero) in 16 lanes, then
/// adds the lanes, all on one thread. Call only where `fgaseg_avx512_available()` is 1.
void fgaseg_direct3x3_weight_gradient_avx512(const float *bordered_gradient, const float *bordered_input,
                                             long channels, long height, long width, long out_channels,
                                             float *tap_gradients, long first_tile, long end_tile);

/// GELU with the exact erf, `y[i] = x[i]·Φ(x[i])`, for `count` floats (`y` may be `x`): the
/// formulas of the Swift FastMath (exp, Abramowitz–Stegun erf) on 16 lanes with fused
/// multiply-adds. Call only where `fgaseg_avx512_available()` is 1.
void fgaseg_gelu_avx512(const float *x, float *y, long count);

/// `dx[i] = gradient[i]·GELU′(x[i])` (`dx` may be `gradient`).
void fgaseg_gelu_chain_rule_avx512(const float *x, const float *gradient, float *dx, long count);

/// CLIP's QuickGELU `y[i] = x[i]·σ(1.702·x[i])` (`y` may be `x`), as FastMath.sigmoid on 16 lanes.
void fgaseg_quick_gelu_avx512(const float *x, float *y, long count);

/// `dx[i] = gradient[i]·QuickGELU′(x[i])` (`dx` may be `gradient`).
void fgaseg_quick_gelu_chain_rule_avx512(const float *x, const float *gradient, float *dx, long count);

/// Row-wise softmax of `x` [rows, columns] in place, after adding `mask` [rows, columns] (or
/// NULL): as the Swift `Kernels.softmaxRows`, on 16 lanes with fused multiply-adds.
void fgaseg_softmax_rows_avx512(float *x, long rows, long columns, const float *mask);

#endif
