// Open MPI's C API. Only CMPIShim includes this; Swift never sees MPI macros or handles.
#if __has_include(<mpi.h>)
#include <mpi.h>
#else
#include <openmpi/mpi.h> /* Debian's symlink, used when pkg-config is unavailable */
#endif
