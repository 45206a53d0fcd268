// Serial HDF5 (1.10+) for Swift. Many HDF5 "constants" are macros that call H5open() or cast,
// which Swift cannot import; each one is wrapped in a static inline function here.
#ifndef FGASEG_CHDF5_SHIM_H
#define FGASEG_CHDF5_SHIM_H

#if __has_include(<hdf5.h>)
#include <hdf5.h>
#else
#include <hdf5/serial/hdf5.h> /* Debian's serial build, used when pkg-config is unavailable */
#endif
#include <stdio.h>
#include <string.h>

static inline hid_t chdf5_default(void) { return H5P_DEFAULT; }
static inline hid_t chdf5_all(void) { return H5S_ALL; }
static inline unsigned chdf5_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned chdf5_acc_excl(void) { return H5F_ACC_EXCL; }
static inline unsigned chdf5_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned chdf5_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline hid_t chdf5_link_create_class(void) { return H5P_LINK_CREATE; }
static inline hid_t chdf5_dataset_create_class(void) { return H5P_DATASET_CREATE; }
static inline hsize_t chdf5_unlimited(void) { return H5S_UNLIMITED; }

/// Selects elements [start, start + count) of the 1-D dataspace `space`.
static inline herr_t chdf5_select_range(hid_t space, hsize_t start, hsize_t count) {
    return H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &count, NULL);
}

static inline hid_t chdf5_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t chdf5_native_uint16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t chdf5_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t chdf5_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t chdf5_c_string(void) { return H5T_C_S1; }

/// Creates (truncates) `path` in the HDF5 1.8 file format or later: superblock, object headers,
/// B-trees and heaps carry checksums that the library verifies when it reads them, so a damaged
/// byte in a file's structure is an error instead of being trusted.
static inline hid_t chdf5_create_checksummed(const char *path) {
    hid_t access = H5Pcreate(H5P_FILE_ACCESS);
    if (access < 0) return access;
    hid_t file = H5Pset_libver_bounds(access, H5F_LIBVER_V18, H5F_LIBVER_LATEST) < 0
        ? -1 : H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, access);
    H5Pclose(access);
    return file;
}

/// Turns off HDF5's automatic printing of error stacks; errors are reported by the caller.
static inline void chdf5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

typedef struct { char *buffer; size_t capacity; int depth; } chdf5_error_sink;

static inline herr_t chdf5_error_walker(unsigned n, const H5E_error2_t *err, void *data) {
    chdf5_error_sink *sink = (chdf5_error_sink *)data;
    if (sink->depth++ > 0 || err == NULL || err->desc == NULL) return 0;
    snprintf(sink->buffer, sink->capacity, "%s (in %s)", err->desc,
             err->func_name ? err->func_name : "?");
    return 0;
}

/// Writes the innermost message of the current HDF5 error stack into `buffer` (empty if none)
/// and clears the stack.
static inline void chdf5_take_error(char *buffer, size_t capacity) {
    if (capacity == 0) return;
    buffer[0] = 0;
    chdf5_error_sink sink = {buffer, capacity, 0};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, chdf5_error_walker, &sink);
    H5Eclear2(H5E_DEFAULT);
}

/// Frees the memory HDF5 allocated while reading variable-length data.
static inline herr_t chdf5_vlen_reclaim(hid_t type, hid_t space, void *buffer) {
#if H5_VERSION_GE(1, 12, 0)
    return H5Treclaim(type, space, H5P_DEFAULT, buffer);
#else
    return H5Dvlen_reclaim(type, space, H5P_DEFAULT, buffer);
#endif
}

#endif
