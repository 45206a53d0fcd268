// JPEG decoding and encoding over libjpeg(-turbo) with errors returned, never exit()ed.
// libjpeg reports errors by calling error_exit (default: exit the process) and corrupt-data
// warnings (e.g. "Premature end of JPEG file") by emit_message; both are caught here and
// returned as a non-zero status with libjpeg's message in `error`.
#ifndef FGASEG_CJPEG_H
#define FGASEG_CJPEG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Reads the header: width, height and the number of output channels (1 for grayscale, 3 otherwise).
/// CMYK and YCCK files are an error that names the colour space.
int fga_jpeg_info(const uint8_t *data, size_t length, int *width, int *height, int *channels,
                  char *error, size_t error_capacity);

/// Decodes into `pixels` (row-major, interleaved, 8-bit): `channels` is 1 (grayscale) or 3 (RGB);
/// libjpeg converts as needed. `capacity` must be at least width × height × channels.
/// A stream that libjpeg can only decode with warnings (truncated, corrupt) is an error, raised at
/// the first warning. libjpeg's own working memory (e.g. a progressive file's coefficients) is
/// limited to `max_memory` bytes; a file that needs more is an error.
int fga_jpeg_decode(const uint8_t *data, size_t length, int channels, uint8_t *pixels,
                    size_t capacity, size_t max_memory, char *error, size_t error_capacity);

/// Encodes 8-bit gray (channels 1) or RGB (channels 3) pixels as a baseline JPEG of `quality`
/// (1...100). On success *output is a malloc'ed buffer the caller releases with fga_jpeg_free.
int fga_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality,
                    uint8_t **output, size_t *output_length, char *error, size_t error_capacity);

void fga_jpeg_free(void *buffer);

#ifdef __cplusplus
}
#endif
#endif
