// PNG decoding and encoding over libpng with errors returned, never longjmp'ed into Swift.
#ifndef FGASEG_CPNG_H
#define FGASEG_CPNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// How to decode.
enum {
    /// Samples as stored: palette images give their indices (1 channel), gray 1, gray+alpha 2,
    /// RGB 3, RGBA 4; 16-bit samples stay 16-bit (host byte order); 1/2/4-bit samples widen to 8.
    FGA_PNG_RAW = 0,
    /// 8-bit RGB whatever the file holds (palette expanded, gray replicated, alpha dropped).
    FGA_PNG_RGB = 1,
};

/// Width, height, channels and bytes per sample that fga_png_decode produces in `mode`.
int fga_png_info(const uint8_t *data, size_t length, int mode, int *width, int *height,
                 int *channels, int *bytes_per_sample, char *error, size_t error_capacity);

/// Decodes into `pixels` (row-major, interleaved). `capacity` must hold
/// width × height × channels × bytes_per_sample bytes as fga_png_info reports them.
int fga_png_decode(const uint8_t *data, size_t length, int mode, uint8_t *pixels, size_t capacity,
                   char *error, size_t error_capacity);

/// Encodes 8-bit samples: channels 1 (gray, or palette indices when `palette` is given with
/// `palette_entries` RGB triplets, at most 256), 3 (RGB) or 4 (RGBA). On success *output is a
/// malloc'ed buffer the caller releases with fga_png_free.
int fga_png_encode(const uint8_t *pixels, int width, int height, int channels,
                   const uint8_t *palette, int palette_entries, uint8_t **output,
                   size_t *output_length, char *error, size_t error_capacity);

void fga_png_free(void *buffer);

#ifdef __cplusplus
}
#endif
#endif
