#include "CPNG.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>

typedef struct {
    char *message;
    size_t capacity;
} error_sink;

static void on_error(png_structp png, png_const_charp message) {
    error_sink *sink = (error_sink *)png_get_error_ptr(png);
    if (sink->message && sink->capacity) snprintf(sink->message, sink->capacity, "%s", message);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message; /* benign warnings (e.g. unknown chunks) are ignored; errors are fatal */
}

typedef struct {
    const uint8_t *data;
    size_t length;
    size_t offset;
} memory_source;

static void read_memory(png_structp png, png_bytep out, png_size_t count) {
    memory_source *source = (memory_source *)png_get_io_ptr(png);
    if (count > source->length - source->offset) png_error(png, "PNG data ends early (truncated file)");
    memcpy(out, source->data + source->offset, count);
    source->offset += count;
}

/* Sets up transformations for `mode` after png_read_info; returns the output channels. */
static int configure(png_structp png, png_infop info, int mode, int *bytes_per_sample) {
    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    if (depth < 8) png_set_packing(png);
    if (mode == FGA_PNG_RGB) {
        if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
        if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) {
            if (depth < 8) png_set_expand_gray_1_2_4_to_8(png);
            png_set_gray_to_rgb(png);
        }
        png_set_strip_alpha(png); /* no-op without alpha */
        if (depth == 16) png_set_strip_16(png);
        *bytes_per_sample = 1;
        png_read_update_info(png, info);
        return 3;
    }
    if (depth == 16) png_set_swap(png); /* PNG stores big-endian samples */
    png_read_update_info(png, info);
    *bytes_per_sample = depth == 16 ? 2 : 1;
    return png_get_channels(png, info);
}

static int read_png(const uint8_t *data, size_t length, int mode, int *width, int *height,
                    int *channels, int *bytes_per_sample, uint8_t *pixels, size_t capacity,
                    char *error, size_t error_capacity) {
    if (length < 8 || png_sig_cmp(data, 0, 8) != 0) {
        snprintf(error, error_capacity, "not a PNG file (bad signature)");
        return 1;
    }
    error_sink sink = {error, error_capacity};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &sink, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        snprintf(error, error_capacity, "out of memory");
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        return 1;
    }
    png_bytep *volatile rows = NULL; /* volatile: read after longjmp */
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return 1;
    }
    memory_source source = {data, length, 0};
    png_set_read_fn(png, &source, read_memory);
    png_read_info(png, info);
    int w = (int)png_get_image_width(png, info);
    int h = (int)png_get_image_height(png, info);
    int bps = 1;
    int c = configure(png, info, mode, &bps);
    *width = w;
    *height = h;
    *channels = c;
    *bytes_per_sample = bps;
    if (pixels) {
        size_t stride = (size_t)w * (size_t)c * (size_t)bps;
        if (png_get_rowbytes(png, info) != stride) png_error(png, "unexpected row size after transformations");
        if (stride * (size_t)h > capacity) png_error(png, "output buffer too small");
        rows = (png_bytep *)malloc(sizeof(png_bytep) * (size_t)h);
        if (!rows) png_error(png, "out of memory");
        for (int y = 0; y < h; y++) rows[y] = pixels + (size_t)y * stride;
        png_read_image(png, rows);
        png_read_end(png, NULL);
    }
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

int fga_png_info(const uint8_t *data, size_t length, int mode, int *width, int *height,
                 int *channels, int *bytes_per_sample, char *error, size_t error_capacity) {
    return read_png(data, length, mode, width, height, channels, bytes_per_sample, NULL, 0, error,
                    error_capacity);
}

int fga_png_decode(const uint8_t *data, size_t length, int mode, uint8_t *pixels, size_t capacity,
                   char *error, size_t error_capacity) {
    int w, h, c, bps;
    return read_png(data, length, mode, &w, &h, &c, &bps, pixels, capacity, error, error_capacity);
}

typedef struct {
    uint8_t *data;
    size_t length;
    size_t capacity;
} memory_sink;

static void write_memory(png_structp png, png_bytep in, png_size_t count) {
    memory_sink *sink = (memory_sink *)png_get_io_ptr(png);
    if (sink->length + count > sink->capacity) {
        size_t capacity = sink->capacity ? sink->capacity : 4096;
        while (capacity < sink->length + count) capacity *= 2;
        uint8_t *grown = (uint8_t *)realloc(sink->data, capacity);
        if (!grown) png_error(png, "out of memory");
        sink->data = grown;
        sink->capacity = capacity;
    }
    memcpy(sink->data + sink->length, in, count);
    sink->length += count;
}

static void flush_memory(png_structp png) { (void)png; }

int fga_png_encode(const uint8_t *pixels, int width, int height, int channels,
                   const uint8_t *palette, int palette_entries, uint8_t **output,
                   size_t *output_length, char *error, size_t error_capacity) {
    int color;
    switch (channels) {
    case 1: color = palette ? PNG_COLOR_TYPE_PALETTE : PNG_COLOR_TYPE_GRAY; break;
    case 3: color = PNG_COLOR_TYPE_RGB; break;
    case 4: color = PNG_COLOR_TYPE_RGB_ALPHA; break;
    default:
        snprintf(error, error_capacity, "cannot encode %d channels (expected 1, 3 or 4)", channels);
        return 1;
    }
    if (width <= 0 || height <= 0 || (palette && (palette_entries < 1 || palette_entries > 256))) {
        snprintf(error, error_capacity, "invalid PNG size %dx%d or palette of %d entries", width, height,
                 palette_entries);
        return 1;
    }
    error_sink sink = {error, error_capacity};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        snprintf(error, error_capacity, "out of memory");
        png_destroy_write_struct(png ? &png : NULL, NULL);
        return 1;
    }
    memory_sink out = {NULL, 0, 0};
    if (setjmp(png_jmpbuf(png))) {
        free(out.data);
        png_destroy_write_struct(&png, &info);
        return 1;
    }
    png_set_write_fn(png, &out, write_memory, flush_memory);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, color, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette) {
        png_color colors[256];
        for (int i = 0; i < palette_entries; i++) {
            colors[i].red = palette[3 * i];
            colors[i].green = palette[3 * i + 1];
            colors[i].blue = palette[3 * i + 2];
        }
        png_set_PLTE(png, info, colors, palette_entries);
    }
    png_write_info(png, info);
    size_t stride = (size_t)width * (size_t)channels;
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * stride));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *output = out.data;
    *output_length = out.length;
    return 0;
}

void fga_png_free(void *buffer) { free(buffer); }
