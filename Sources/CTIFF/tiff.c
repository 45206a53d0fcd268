#include "fga_tiff.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

static _Thread_local char last_message[512];

static void record_message(const char *module, const char *format, va_list args) {
    char text[400];
    vsnprintf(text, sizeof text, format, args);
    snprintf(last_message, sizeof last_message, "%s%s%s", module ? module : "", module ? ": " : "", text);
}

static void ignore_warning(const char *module, const char *format, va_list args) {
    (void)module; (void)format; (void)args;
}

static void install_handlers(void) {
    TIFFSetErrorHandler(record_message);
    TIFFSetWarningHandler(ignore_warning);
    last_message[0] = 0;
}

static int fail(char *error, size_t capacity, const char *what) {
    if (capacity > 0) snprintf(error, capacity, "%s%s%s", what, last_message[0] ? ": " : "", last_message);
    return -1;
}

static TIFF *open_checked(const char *path, int *width, int *height, int *bits, char *error, size_t capacity) {
    install_handlers();
    TIFF *tiff = TIFFOpen(path, "r");
    if (!tiff) { fail(error, capacity, "cannot open as TIFF"); return NULL; }
    uint32_t w = 0, h = 0;
    uint16_t b = 0, spp = 1;
    TIFFGetField(tiff, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tiff, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(tiff, TIFFTAG_BITSPERSAMPLE, &b);
    TIFFGetFieldDefaulted(tiff, TIFFTAG_SAMPLESPERPIXEL, &spp);
    if (w > INT32_MAX || h > INT32_MAX) {
        if (capacity > 0) snprintf(error, capacity, "the header claims %ux%u pixels", w, h);
        TIFFClose(tiff);
        return NULL;
    }
    if (w == 0 || h == 0 || spp != 1 || (b != 8 && b != 16)) {
        if (capacity > 0) snprintf(error, capacity, "expected a single-channel 8- or 16-bit TIFF, found %ux%u with %u samples of %u bits", w, h, spp, b);
        TIFFClose(tiff);
        return NULL;
    }
    *width = (int)w; *height = (int)h; *bits = b;
    return tiff;
}

int fga_tiff_info(const char *path, int *width, int *height, int *bits_per_sample, char *error, size_t error_capacity) {
    TIFF *tiff = open_checked(path, width, height, bits_per_sample, error, error_capacity);
    if (!tiff) return -1;
    TIFFClose(tiff);
    return 0;
}

int fga_tiff_read(const char *path, uint16_t *samples, size_t capacity, char *error, size_t error_capacity) {
    int width, height, bits;
    TIFF *tiff = open_checked(path, &width, &height, &bits, error, error_capacity);
    if (!tiff) return -1;
    if ((size_t)width * (size_t)height > capacity) { TIFFClose(tiff); return fail(error, error_capacity, "output buffer too small"); }
    tmsize_t line = TIFFScanlineSize(tiff);
    uint8_t *row = malloc((size_t)line);
    if (!row) { TIFFClose(tiff); return fail(error, error_capacity, "out of memory"); }
    for (int y = 0; y < height; y++) {
        if (TIFFReadScanline(tiff, row, (uint32_t)y, 0) < 0) {
            free(row); TIFFClose(tiff);
            return fail(error, error_capacity, "truncated or corrupt TIFF data");
        }
        uint16_t *out = samples + (size_t)y * (size_t)width;
        if (bits == 8) for (int x = 0; x < width; x++) out[x] = row[x];
        else memcpy(out, row, (size_t)width * 2);
    }
    free(row);
    TIFFClose(tiff);
    return 0;
}

int fga_tiff_write(const char *path, const uint16_t *samples, int width, int height, int bits_per_sample,
                   char *error, size_t error_capacity) {
    install_handlers();
    if (bits_per_sample != 8 && bits_per_sample != 16) return fail(error, error_capacity, "bits per sample must be 8 or 16");
    TIFF *tiff = TIFFOpen(path, "w");
    if (!tiff) return fail(error, error_capacity, "cannot create TIFF");
    TIFFSetField(tiff, TIFFTAG_IMAGEWIDTH, (uint32_t)width);
    TIFFSetField(tiff, TIFFTAG_IMAGELENGTH, (uint32_t)height);
    TIFFSetField(tiff, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tiff, TIFFTAG_BITSPERSAMPLE, bits_per_sample);
    TIFFSetField(tiff, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tiff, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tiff, TIFFTAG_COMPRESSION, COMPRESSION_DEFLATE);
    TIFFSetField(tiff, TIFFTAG_ROWSPERSTRIP, (uint32_t)height);
    size_t bytes = (size_t)width * (size_t)(bits_per_sample / 8);
    uint8_t *row = malloc(bytes);
    if (!row) { TIFFClose(tiff); return fail(error, error_capacity, "out of memory"); }
    for (int y = 0; y < height; y++) {
        const uint16_t *in = samples + (size_t)y * (size_t)width;
        if (bits_per_sample == 8) for (int x = 0; x < width; x++) row[x] = (uint8_t)in[x];
        else memcpy(row, in, bytes);
        if (TIFFWriteScanline(tiff, row, (uint32_t)y, 0) < 0) {
            free(row); TIFFClose(tiff);
            return fail(error, error_capacity, "write failed");
        }
    }
    free(row);
    TIFFClose(tiff);
    return 0;
}
