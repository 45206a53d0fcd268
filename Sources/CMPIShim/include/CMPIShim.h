// A plain-C face of Open MPI for Swift. No MPI header, macro or handle appears here: data types,
// operations and requests are this header's own, and every call returns 0 or an error code whose
// text fga_error_string() gives. Collectives run on MPI_COMM_WORLD, except those of a node-shared
// window, which run on the communicators it derives from MPI_COMM_WORLD.
#ifndef FGASEG_CMPISHIM_H
#define FGASEG_CMPISHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Thread support levels, in MPI's order.
enum { FGA_THREAD_SINGLE = 0, FGA_THREAD_FUNNELED = 1, FGA_THREAD_SERIALIZED = 2, FGA_THREAD_MULTIPLE = 3 };
/// Element types of reductions.
enum { FGA_FLOAT32 = 0, FGA_FLOAT64 = 1, FGA_INT64 = 2, FGA_UINT8 = 3 };
/// Reduction operations.
enum { FGA_SUM = 0, FGA_MAX = 1, FGA_MIN = 2 };
/// Errors of the shim itself (MPI's own error classes are positive).
enum {
    FGA_ERR_NOT_INITIALIZED = -1,
    FGA_ERR_BAD_ARGUMENT = -2,
    FGA_ERR_TOO_LARGE = -3,
    FGA_ERR_REQUEST_BUSY = -4,
    FGA_ERR_UNEVEN_NODES = -5,
};

/// A reusable handle for one outstanding non-blocking operation.
typedef struct fga_request_s *fga_request;

/// Initialises MPI with at least `required` thread support (FGA_THREAD_*); `provided` receives
/// the level granted. Sets MPI_ERRORS_RETURN so failures come back as codes. Idempotent.
int fga_mpi_init(int required, int *provided);
/// 1 when MPI has been initialised and not yet finalised.
int fga_mpi_is_initialized(void);
int fga_mpi_finalize(void);
int fga_mpi_rank(int *rank);
int fga_mpi_size(int *size);
/// Seconds since an arbitrary point (MPI_Wtime).
double fga_mpi_wtime(void);
/// The processor (host) name of this rank, NUL-terminated, truncated to `capacity`.
int fga_mpi_processor_name(char *buffer, size_t capacity);
/// Writes Open MPI's library version string into `buffer`.
void fga_mpi_library_version(char *buffer, size_t capacity);

/// In-place all-reduce of `count` elements of `dtype` (FGA_FLOAT32/FLOAT64/INT64/UINT8) with `op`.
/// Counts beyond INT_MAX are reduced in chunks.
int fga_allreduce(void *buffer, size_t count, int dtype, int op);
/// Starts an in-place non-blocking all-reduce; complete it with fga_request_wait/test.
/// `count` must be at most INT_MAX. The request must not have another operation outstanding.
int fga_iallreduce(void *buffer, size_t count, int dtype, int op, fga_request request);

fga_request fga_request_create(void);
void fga_request_destroy(fga_request request);
/// Blocks until the request's operation has finished. A request with nothing outstanding returns at once.
int fga_request_wait(fga_request request);
/// Sets *done to 1 when the request's operation has finished (or none is outstanding), else 0.
int fga_request_test(fga_request request, int *done);

/// Broadcasts `nbytes` bytes from `root` to every rank (chunked beyond INT_MAX).
int fga_bcast_bytes(void *buffer, size_t nbytes, int root);
/// Every rank contributes `nbytes` bytes; `receive` gets size × nbytes bytes in rank order.
int fga_allgather_bytes(const void *send, size_t nbytes, void *receive);
int fga_barrier(void);
/// Ends every process of the job with `code` (MPI_Abort on MPI_COMM_WORLD); never returns.
void fga_abort(int code);

/// Memory shared by the ranks of each host (an MPI-3 shared window) plus the communicators of a
/// hierarchical reduction: one over the ranks of this host, one over the ranks with the same
/// local rank on every host. It lives until MPI_Finalize.
typedef struct fga_shared_window_s *fga_shared_window;

/// Collective over all ranks: allocates `count` floats per rank in memory shared by the ranks of
/// each host. `local_rank`/`local_size` receive this rank's place on its host and `hosts` the
/// number of hosts. Fails with FGA_ERR_UNEVEN_NODES when hosts run different numbers of ranks.
int fga_shared_window_create(size_t count, fga_shared_window *window, int *local_rank, int *local_size, int *hosts);
/// The floats of local rank `local_rank` (directly addressable by every rank on the host).
float *fga_shared_window_peer(fga_shared_window window, int local_rank);
/// Memory fence + barrier over the host's ranks + fence: writes before it are visible after it.
int fga_shared_window_synchronize(fga_shared_window window);
/// In-place float sum of `count` floats over the ranks with this rank's local rank on every host
/// (a no-op on one host).
int fga_shared_window_allreduce_across_hosts(fga_shared_window window, float *buffer, size_t count);

/// Starts the in-place float sum of `count` floats (at most INT_MAX) over the ranks with this
/// rank's local rank on every host, completed through `request` (left idle on one host).
int fga_shared_window_iallreduce_across_hosts(fga_shared_window window, float *buffer, size_t count, fga_request request);

/// An arrival board: 64-bit words per rank in memory shared by the ranks of each host (an MPI-3
/// shared window over the host's ranks, any number per host), stored by their owner with release
/// and loaded by any rank of the host with acquire ordering, so that a rank can see its peers'
/// progress without any message (the watchdog's heartbeats, the gradient buckets that are final).
typedef struct fga_arrival_board_s *fga_arrival_board;

/// Collective over all ranks: creates the board (`words` 64-bit words per rank, zeroed);
/// `local_size` receives the number of ranks on this host and `local_rank` this rank's place.
int fga_arrival_board_create(int words, fga_arrival_board *board, int *local_rank, int *local_size);
/// Word `word` of local rank `local_rank`, loaded atomically (0 for an index out of range).
uint64_t fga_arrival_board_load(fga_arrival_board board, int local_rank, int word);
/// Stores `value` atomically into word `word` of this rank's slot.
void fga_arrival_board_store(fga_arrival_board board, int word, uint64_t value);

/// Open MPI's launcher ends a job (SIGTERM or SIGINT to mpirun, a failed rank) by sending each
/// rank SIGCONT, then SIGTERM `odls_base_sigkill_timeout` seconds later, then SIGKILL as long after
/// that. Installs a SIGCONT handler (SA_RESTART) that records a SIGCONT sent by process `launcher`
/// (the rank's parent mpirun or orted), so the rank learns at once that its job is ending.
int fga_launcher_watch_install(int launcher);
/// 1 once `launcher` has sent SIGCONT, else 0.
int fga_launcher_ending_job(void);

/// Text of an error code returned by this shim (MPI's message for MPI codes).
void fga_error_string(int code, char *buffer, size_t capacity);

#ifdef __cplusplus
}
#endif
#endif
