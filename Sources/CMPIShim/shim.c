#include "CMPIShim.h"

#include <limits.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* Include flags come from the COpenMPI system-library target (pkg-config `ompi`); Debian's
   <openmpi/mpi.h> symlink is the fallback when pkg-config is unavailable. */
#if __has_include(<mpi.h>)
#include <mpi.h>
#else
#include <openmpi/mpi.h>
#endif

struct fga_request_s {
    MPI_Request request;
    int active;
};

static MPI_Datatype datatype_of(int dtype) {
    switch (dtype) {
    case FGA_FLOAT32: return MPI_FLOAT;
    case FGA_FLOAT64: return MPI_DOUBLE;
    case FGA_INT64: return MPI_INT64_T;
    case FGA_UINT8: return MPI_UINT8_T;
    default: return MPI_DATATYPE_NULL;
    }
}

static size_t size_of(int dtype) {
    switch (dtype) {
    case FGA_FLOAT32: return 4;
    case FGA_FLOAT64: return 8;
    case FGA_INT64: return 8;
    case FGA_UINT8: return 1;
    default: return 0;
    }
}

static MPI_Op op_of(int op) {
    switch (op) {
    case FGA_SUM: return MPI_SUM;
    case FGA_MAX: return MPI_MAX;
    case FGA_MIN: return MPI_MIN;
    default: return MPI_OP_NULL;
    }
}

int fga_mpi_is_initialized(void) {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    return initialized && !finalized;
}

int fga_mpi_init(int required, int *provided) {
    if (required < FGA_THREAD_SINGLE || required > FGA_THREAD_MULTIPLE) return FGA_ERR_BAD_ARGUMENT;
    static const int levels[] = {MPI_THREAD_SINGLE, MPI_THREAD_FUNNELED, MPI_THREAD_SERIALIZED,
                                 MPI_THREAD_MULTIPLE};
    int granted = MPI_THREAD_SINGLE;
    if (fga_mpi_is_initialized()) {
        MPI_Query_thread(&granted);
    } else {
        int rc = MPI_Init_thread(NULL, NULL, levels[required], &granted);
        if (rc != MPI_SUCCESS) return rc;
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    }
    int level = FGA_THREAD_SINGLE;
    for (int i = 0; i < 4; i++)
        if (levels[i] == granted) level = i;
    if (provided) *provided = level;
    return MPI_SUCCESS;
}

int fga_mpi_finalize(void) {
    if (!fga_mpi_is_initialized()) return MPI_SUCCESS;
    return MPI_Finalize();
}

int fga_mpi_rank(int *rank) {
    if (!fga_mpi_is_initialized()) return FGA_ERR_NOT_INITIALIZED;
    return MPI_Comm_rank(MPI_COMM_WORLD, rank);
}

int fga_mpi_size(int *size) {
    if (!fga_mpi_is_initialized()) return FGA_ERR_NOT_INITIALIZED;
    return MPI_Comm_size(MPI_COMM_WORLD, size);
}

double fga_mpi_wtime(void) { return MPI_Wtime(); }

int fga_mpi_processor_name(char *buffer, size_t capacity) {
    if (!fga_mpi_is_initialized()) return FGA_ERR_NOT_INITIALIZED;
    char name[MPI_MAX_PROCESSOR_NAME];
    int length = 0;
    int rc = MPI_Get_processor_name(name, &length);
    if (rc != MPI_SUCCESS) return rc;
    snprintf(buffer, capacity, "%.*s", length, name);
    return MPI_SUCCESS;
}

void fga_mpi_library_version(char *buffer, size_t capacity) {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    MPI_Get_library_version(version, &length);
    snprintf(buffer, capacity, "%.*s", length, version);
}

int fga_allreduce(void *buffer, size_t count, int dtype, int op) {
    if (!fga_mpi_is_initialized()) return FGA_ERR_NOT_INITIALIZED;
    MPI_Datatype type = datatype_of(dtype);
    MPI_Op mpi_op = op_of(op);
    if (type == MPI_DATATYPE_NULL || mpi_op == MPI_OP_NULL) return FGA_ERR_BAD_ARGUMENT;
    if (count > 0 && buffer == NULL) return FGA_ERR_BAD_ARGUMENT;
    char *bytes = (char *)buffer;
    size_t element = size_of(dtype);
    /* Every rank must call at least once, even for count 0, so that ranks stay in step. */
    do {
        int chunk = count > (size_t)INT_MAX ? INT_MAX : (int)count;
        int rc = MPI_Allreduce(MPI_IN_PLACE, bytes, chunk, type, mpi_op, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return rc;
        bytes += (size_t)chunk * element;
        count -= (size_t)chunk;
    } while (count > 0);
    return MPI_SUCCESS;
}

fga_request fga_request_create(void) {
    fga_request request = (fga_request)calloc(1, sizeof(struct fga_request_s));
    if (request) request->request = MPI_REQUEST_NULL;
    return request;
}

void fga_request_destroy(fga_request request) {
    if (!request) return;
    if (request->active && fga_mpi_is_initialized()) MPI_Wait(&request->request, MPI_STATUS_IGNORE);
    free(request);
}

int fga_iallreduce(void *buffer, size_t count, int dtype, int op, fga_request request) {
    if (!fga_mpi_is_initialized()) return FGA_ERR_NOT_INITIALIZED;
    if (!request) return FGA_ERR_BAD_ARGUMENT;
    if (request->active) return FGA_ERR_REQUEST_BUSY;
    if (count > (size_t)INT_MAX) return FGA_ERR_TOO_LARGE;
    MPI_Datatype type = datatype_of(dtype);
    MPI_Op mpi_op = op_of(op);
    if (type == MPI_DATATYPE_NULL || mpi_op == MPI_OP_NULL) return FGA_ERR_BAD_ARGUMENT;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, buffer, (int)count, type, mpi_op, MPI_COMM_WORLD,
                            &request->request);
    if (rc == MPI_SUCCESS) request->active = 1;
    return rc;
}

int fga_request_wait(fga_request request) {
    if (!request) return FGA_ERR_BAD_ARGUMENT;
    if (!request->active) return MPI_SUCCESS;
    int rc = MPI_Wait(&request->request, MPI_STATUS_IGNORE);
    request->active = 0;
    return rc;
}

int fga_request_test(fga_request request, int *done) {
    if (!request || !done) return FGA_ERR_BAD_ARGUMENT;
    if (!request->active) {
        *done = 1;
        return MPI_SUCCESS;
    }
    int flag = 0;
    int rc = MPI_Test(&request->request, &flag, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) {
        request->active = 0;
        return rc;
    }
    if (flag) request->active = 0;
    *done = flag;
    return MPI_SUCCESS;
}

int fga_bcast_bytes(void *buffer, size_t nbytes, int root) {
    if (!fga_mpi_is_initialized()) return FGA_ERR_NOT_INITIALIZED;
    char *bytes = (char *)buffer;
    do {
        int chunk = nbytes > (size_t)INT_MAX ? INT_MAX : (int)nbytes;
        int rc = MPI_Bcast(bytes, chunk, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return rc;
        bytes += chunk;
        nbytes -= (size_t)chunk;
    } while (nbytes > 0);
    return MPI_SUCCESS;
}

int fga_allgather_bytes(const void *send, size_t nbytes, void *receive) {
    if (!fga_mpi_is_initialized()) return FGA_ERR_NOT_INITIALIZED;
    if (nbytes > (size_t)INT_MAX) return FGA_ERR_TOO_LARGE;
    return MPI_Allgather(send, (int)nbytes, MPI_BYTE, receive, (int)nbytes, MPI_BYTE, MPI_COMM_WORLD);
}

int fga_barrier(void) {
    if (!fga_mpi_is_initialized()) return FGA_ERR_NOT_INITIALIZED;
    return MPI_Barrier(MPI_COMM_WORLD);
}

void fga_abort(int code) {
    if (fga_mpi_is_initialized()) MPI_Abort(MPI_COMM_WORLD, code);
    _Exit(code);
}

struct fga_shared_window_s {
    MPI_Comm host;   /* the ranks of this host */
    MPI_Comm across; /* the ranks with this rank's local rank, one per host */
    MPI_Win window;
    int local_size, hosts;
    float **peers;
};

int fga_shared_window_create(size_t count, fga_shared_window *result, int *local_rank, int *local_size, int *hosts) {
    if (!fga_mpi_is_initialized()) return FGA_ERR_NOT_INITIALIZED;
    if (!result || !local_rank || !local_size || !hosts) return FGA_ERR_BAD_ARGUMENT;
    int world_rank = 0, rc;
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    fga_shared_window w = (fga_shared_window)calloc(1, sizeof(struct fga_shared_window_s));
    if (!w) return FGA_ERR_BAD_ARGUMENT;
    w->host = w->across = MPI_COMM_NULL;
    w->window = MPI_WIN_NULL;
    int rank_on_host = 0;
    if ((rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank, MPI_INFO_NULL, &w->host)) != MPI_SUCCESS)
        goto fail;
    MPI_Comm_rank(w->host, &rank_on_host);
    MPI_Comm_size(w->host, &w->local_size);
    if ((rc = MPI_Comm_split(MPI_COMM_WORLD, rank_on_host, world_rank, &w->across)) != MPI_SUCCESS) goto fail;
    MPI_Comm_size(w->across, &w->hosts);
    /* Every host must run the same number of ranks, or the per-rank segments would not line up. */
    int smallest = w->local_size, largest = w->local_size;
    if ((rc = MPI_Allreduce(MPI_IN_PLACE, &smallest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD)) != MPI_SUCCESS) goto fail;
    if ((rc = MPI_Allreduce(MPI_IN_PLACE, &largest, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD)) != MPI_SUCCESS) goto fail;
    if (smallest != largest) { rc = FGA_ERR_UNEVEN_NODES; goto fail; }
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, "alloc_shared_noncontig", "true");
    float *mine = NULL;
    rc = MPI_Win_allocate_shared((MPI_Aint)(count * sizeof(float)), (int)sizeof(float), info, w->host, &mine, &w->window);
    MPI_Info_free(&info);
    if (rc != MPI_SUCCESS) goto fail;
    MPI_Win_set_errhandler(w->window, MPI_ERRORS_RETURN);
    w->peers = (float **)calloc((size_t)w->local_size, sizeof(float *));
    if (!w->peers) { rc = FGA_ERR_BAD_ARGUMENT; goto fail; }
    for (int peer = 0; peer < w->local_size; peer++) {
        MPI_Aint bytes = 0;
        int unit = 0;
        if ((rc = MPI_Win_shared_query(w->window, peer, &bytes, &unit, &w->peers[peer])) != MPI_SUCCESS) goto fail;
    }
    /* One passive-target epoch for the window's lifetime; MPI_Win_sync orders the accesses. */
    if ((rc = MPI_Win_lock_all(MPI_MODE_NOCHECK, w->window)) != MPI_SUCCESS) goto fail;
    *local_rank = rank_on_host;
    *local_size = w->local_size;
    *hosts = w->hosts;
    *result = w;
    return MPI_SUCCESS;
fail:
    if (w->window != MPI_WIN_NULL) MPI_Win_free(&w->window);
    if (w->across != MPI_COMM_NULL) MPI_Comm_free(&w->across);
    if (w->host != MPI_COMM_NULL) MPI_Comm_free(&w->host);
    free(w->peers);
    free(w);
    return rc;
}

float *fga_shared_window_peer(fga_shared_window window, int local_rank) {
    if (!window || local_rank < 0 || local_rank >= window->local_size) return NULL;
    return window->peers[local_rank];
}

int fga_shared_window_synchronize(fga_shared_window window) {
    if (!window) return FGA_ERR_BAD_ARGUMENT;
    int rc = MPI_Win_sync(window->window);
    if (rc == MPI_SUCCESS) rc = MPI_Barrier(window->host);
    if (rc == MPI_SUCCESS) rc = MPI_Win_sync(window->window);
    return rc;
}

int fga_shared_window_allreduce_across_hosts(fga_shared_window window, float *buffer, size_t count) {
    if (!window || (count > 0 && !buffer)) return FGA_ERR_BAD_ARGUMENT;
    if (window->hosts == 1) return MPI_SUCCESS;
    do {
        int chunk = count > (size_t)INT_MAX ? INT_MAX : (int)count;
        int rc = MPI_Allreduce(MPI_IN_PLACE, buffer, chunk, MPI_FLOAT, MPI_SUM, window->across);
        if (rc != MPI_SUCCESS) return rc;
        buffer += chunk;
        count -= (size_t)chunk;
    } while (count > 0);
    return MPI_SUCCESS;
}

int fga_shared_window_iallreduce_across_hosts(fga_shared_window window, float *buffer, size_t count, fga_request request) {
    if (!window || !request || (count > 0 && !buffer)) return FGA_ERR_BAD_ARGUMENT;
    if (request->active) return FGA_ERR_REQUEST_BUSY;
    if (count > (size_t)INT_MAX) return FGA_ERR_TOO_LARGE;
    if (window->hosts == 1) return MPI_SUCCESS;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, buffer, (int)count, MPI_FLOAT, MPI_SUM, window->across, &request->request);
    if (rc == MPI_SUCCESS) request->active = 1;
    return rc;
}

struct fga_arrival_board_s {
    MPI_Comm host;
    MPI_Win window;
    int local_rank, local_size, words;
    uint64_t **slots;
};

int fga_arrival_board_create(int words, fga_arrival_board *result, int *local_rank, int *local_size) {
    if (!fga_mpi_is_initialized()) return FGA_ERR_NOT_INITIALIZED;
    if (!result || !local_rank || !local_size || words <= 0) return FGA_ERR_BAD_ARGUMENT;
    int world_rank = 0, rc;
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    fga_arrival_board b = (fga_arrival_board)calloc(1, sizeof(struct fga_arrival_board_s));
    if (!b) return FGA_ERR_BAD_ARGUMENT;
    b->host = MPI_COMM_NULL;
    b->window = MPI_WIN_NULL;
    b->words = words;
    if ((rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank, MPI_INFO_NULL, &b->host)) != MPI_SUCCESS)
        goto fail;
    MPI_Comm_rank(b->host, &b->local_rank);
    MPI_Comm_size(b->host, &b->local_size);
    uint64_t *mine = NULL;
    if ((rc = MPI_Win_allocate_shared((MPI_Aint)words * 8, 8, MPI_INFO_NULL, b->host, &mine, &b->window)) != MPI_SUCCESS) goto fail;
    b->slots = (uint64_t **)calloc((size_t)b->local_size, sizeof(uint64_t *));
    if (!b->slots) { rc = FGA_ERR_BAD_ARGUMENT; goto fail; }
    for (int peer = 0; peer < b->local_size; peer++) {
        MPI_Aint bytes = 0;
        int unit = 0;
        if ((rc = MPI_Win_shared_query(b->window, peer, &bytes, &unit, &b->slots[peer])) != MPI_SUCCESS) goto fail;
    }
    for (int word = 0; word < words; word++) __atomic_store_n(&mine[word], 0, __ATOMIC_RELEASE);
    if ((rc = MPI_Barrier(b->host)) != MPI_SUCCESS) goto fail;
    *local_rank = b->local_rank;
    *local_size = b->local_size;
    *result = b;
    return MPI_SUCCESS;
fail:
    if (b->window != MPI_WIN_NULL) MPI_Win_free(&b->window);
    if (b->host != MPI_COMM_NULL) MPI_Comm_free(&b->host);
    free(b->slots);
    free(b);
    return rc;
}

uint64_t fga_arrival_board_load(fga_arrival_board board, int local_rank, int word) {
    if (!board || local_rank < 0 || local_rank >= board->local_size || word < 0 || word >= board->words) return 0;
    return __atomic_load_n(&board->slots[local_rank][word], __ATOMIC_ACQUIRE);
}

void fga_arrival_board_store(fga_arrival_board board, int word, uint64_t value) {
    if (!board || word < 0 || word >= board->words) return;
    __atomic_store_n(&board->slots[board->local_rank][word], value, __ATOMIC_RELEASE);
}

void fga_error_string(int code, char *buffer, size_t capacity) {
    if (capacity == 0) return;
    switch (code) {
    case FGA_ERR_NOT_INITIALIZED: snprintf(buffer, capacity, "MPI is not initialised"); return;
    case FGA_ERR_BAD_ARGUMENT: snprintf(buffer, capacity, "invalid argument"); return;
    case FGA_ERR_TOO_LARGE: snprintf(buffer, capacity, "count exceeds INT_MAX for a single MPI call"); return;
    case FGA_ERR_REQUEST_BUSY: snprintf(buffer, capacity, "request already has an operation outstanding"); return;
    case FGA_ERR_UNEVEN_NODES: snprintf(buffer, capacity, "hosts run different numbers of ranks"); return;
    default: break;
    }
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, text, &length) == MPI_SUCCESS)
        snprintf(buffer, capacity, "%.*s (MPI error %d)", length, text, code);
    else
        snprintf(buffer, capacity, "MPI error %d", code);
}

// MARK: launcher's end-of-job signal

static volatile sig_atomic_t launcher_ending_job = 0;
static volatile pid_t launcher_pid = 0;

static void on_continue(int number, siginfo_t *info, void *context) {
    (void)number;
    (void)context;
    if (info != NULL && info->si_code == SI_USER && info->si_pid == launcher_pid) launcher_ending_job = 1;
}

int fga_launcher_watch_install(int launcher) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_continue;
    action.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&action.sa_mask);
    launcher_pid = (pid_t)launcher;
    return sigaction(SIGCONT, &action, NULL);
}

int fga_launcher_ending_job(void) { return launcher_ending_job; }
