// Single-channel 8/16-bit TIFF label maps (ADE20K-847, PASCAL Context-459) over libtiff, with
// errors returned as messages instead of printed.
#ifndef FGASEG_CTIFF_H
#define FGASEG_CTIFF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Width, height and bits per sample (8 or 16) of the first directory of the single-channel
/// TIFF at `path`. Returns 0 on success, otherwise writes a message into `error`.
int fga_tiff_info(const char *path, int *width, int *height, int *bits_per_sample,
                  char *error, size_t error_capacity);

/// Reads the image into `samples` as 16-bit values (8-bit files are widened); `capacity` counts
/// uint16 elements and must be at least width × height.
int fga_tiff_read(const char *path, uint16_t *samples, size_t capacity, char *error, size_t error_capacity);

/// Writes a single-channel image of `bits_per_sample` 8 or 16 (values narrowed from `samples`).
int fga_tiff_write(const char *path, const uint16_t *samples, int width, int height, int bits_per_sample,
                   char *error, size_t error_capacity);

#ifdef __cplusplus
}
#endif
#endif
