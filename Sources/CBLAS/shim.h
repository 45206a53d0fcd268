// OpenBLAS's CBLAS interface (cblas_sgemm, ...) plus openblas_set_num_threads / get_config.
#include <cblas.h>
