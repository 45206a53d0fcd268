#include "CJPEG.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf escape;
    char *message; /* JMSG_LENGTH_MAX bytes */
} error_manager;

static void on_error(j_common_ptr info) {
    error_manager *manager = (error_manager *)info->err;
    (*info->err->format_message)(info, manager->message);
    longjmp(manager->escape, 1);
}

static void on_message(j_common_ptr info, int level) {
    /* level -1 is a warning about corrupt data, which this decoder treats as an error: stop at the
       first one instead of decoding the rest of a broken stream. Higher levels are trace output. */
    if (level >= 0) return;
    error_manager *manager = (error_manager *)info->err;
    (*info->err->format_message)(info, manager->message);
    longjmp(manager->escape, 1);
}

/* An error for colour spaces that libjpeg cannot convert to RGB or gray. */
static int unsupported_color_space(j_decompress_ptr info, char *error, size_t capacity) {
    if (info->jpeg_color_space != JCS_CMYK && info->jpeg_color_space != JCS_YCCK) return 0;
    snprintf(error, capacity, "a CMYK JPEG (%s colour space), which is not supported; convert it to RGB first "
             "(e.g. `convert in.jpg -colorspace sRGB out.jpg`)", info->jpeg_color_space == JCS_CMYK ? "CMYK" : "YCCK");
    return 1;
}

static void install(struct jpeg_error_mgr *base, error_manager *manager) {
    jpeg_std_error(base);
    base->error_exit = on_error;
    base->emit_message = on_message;
}

static void report(error_manager *manager, char *error, size_t capacity) {
    if (error && capacity) snprintf(error, capacity, "%s", manager->message);
}

int fga_jpeg_info(const uint8_t *data, size_t length, int *width, int *height, int *channels,
                  char *error, size_t error_capacity) {
    struct jpeg_decompress_struct info;
    char message[JMSG_LENGTH_MAX] = {0};
    error_manager manager = {.message = message};
    info.err = &manager.base;
    install(&manager.base, &manager);
    if (setjmp(manager.escape)) {
        jpeg_destroy_decompress(&info);
        report(&manager, error, error_capacity);
        return 1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, (unsigned long)length);
    jpeg_read_header(&info, TRUE);
    if (unsupported_color_space(&info, error, error_capacity)) {
        jpeg_destroy_decompress(&info);
        return 1;
    }
    *width = (int)info.image_width;
    *height = (int)info.image_height;
    *channels = info.num_components == 1 ? 1 : 3;
    jpeg_destroy_decompress(&info);
    return 0;
}

int fga_jpeg_decode(const uint8_t *data, size_t length, int channels, uint8_t *pixels,
                    size_t capacity, size_t max_memory, char *error, size_t error_capacity) {
    if (channels != 1 && channels != 3) {
        snprintf(error, error_capacity, "unsupported channel count %d (expected 1 or 3)", channels);
        return 1;
    }
    struct jpeg_decompress_struct info;
    char message[JMSG_LENGTH_MAX] = {0};
    error_manager manager = {.message = message};
    info.err = &manager.base;
    install(&manager.base, &manager);
    if (setjmp(manager.escape)) {
        jpeg_destroy_decompress(&info);
        report(&manager, error, error_capacity);
        return 1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, (unsigned long)length);
    info.mem->max_memory_to_use = (long)max_memory;
    jpeg_read_header(&info, TRUE);
    if (unsupported_color_space(&info, error, error_capacity)) {
        jpeg_destroy_decompress(&info);
        return 1;
    }
    info.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
    size_t stride = (size_t)info.output_width * (size_t)info.output_components;
    if (stride * info.output_height > capacity) {
        snprintf(error, error_capacity, "output buffer of %zu bytes is too small for %ux%u", capacity,
                 info.output_width, info.output_height);
        jpeg_destroy_decompress(&info);
        return 1;
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = pixels + (size_t)info.output_scanline * stride;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    return 0;
}

int fga_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality,
                    uint8_t **output, size_t *output_length, char *error, size_t error_capacity) {
    if ((channels != 1 && channels != 3) || width <= 0 || height <= 0) {
        snprintf(error, error_capacity, "cannot encode %dx%d with %d channels", width, height, channels);
        return 1;
    }
    struct jpeg_compress_struct info;
    char message[JMSG_LENGTH_MAX] = {0};
    error_manager manager = {.message = message};
    unsigned char *buffer = NULL;
    unsigned long size = 0;
    info.err = &manager.base;
    install(&manager.base, &manager);
    if (setjmp(manager.escape)) {
        jpeg_destroy_compress(&info);
        free(buffer);
        report(&manager, error, error_capacity);
        return 1;
    }
    jpeg_create_compress(&info);
    jpeg_mem_dest(&info, &buffer, &size);
    info.image_width = (JDIMENSION)width;
    info.image_height = (JDIMENSION)height;
    info.input_components = channels;
    info.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, quality, TRUE);
    jpeg_start_compress(&info, TRUE);
    size_t stride = (size_t)width * (size_t)channels;
    while (info.next_scanline < info.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)info.next_scanline * stride);
        jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    *output = buffer;
    *output_length = (size_t)size;
    return 0;
}

void fga_jpeg_free(void *buffer) { free(buffer); }
