// cyclegan_mpi.c: the only code that links MPI. Built by scripts/build-mpi-shim.sh with
// mpicc into libcyclegan_mpi.so, which `cyclegan` loads with dlopen when it runs under
// mpirun (Sources/CycleGAN/Distributed/MPILibrary.swift declares these functions again).
// A machine without MPI never loads it. Every function returns an MPI error code (0 on
// success); counts may exceed INT_MAX and are sent in pieces.
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PIECE (1L << 28)  // elements per MPI call

int cg_mpi_init(int *rank, int *size, int *local_rank, int *local_size) {
    int provided = 0, err;
    if ((err = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided)) != MPI_SUCCESS) return err;
    // errors come back as codes: the caller names the rank and the cause, then aborts the job
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    MPI_Comm local;
    if ((err = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, *rank, MPI_INFO_NULL, &local)) != MPI_SUCCESS) return err;
    MPI_Comm_rank(local, local_rank);
    MPI_Comm_size(local, local_size);
    MPI_Comm_free(&local);
    return MPI_SUCCESS;
}

int cg_mpi_finalize(void) { return MPI_Finalize(); }

void cg_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

// The text of an MPI error code, into out[len].
void cg_mpi_error_string(int code, char *out, int len) {
    char text[MPI_MAX_ERROR_STRING];
    int n = 0;
    if (MPI_Error_string(code, text, &n) != MPI_SUCCESS) n = 0;
    text[n < MPI_MAX_ERROR_STRING ? n : MPI_MAX_ERROR_STRING - 1] = 0;
    strncpy(out, text, (size_t)len - 1);
    out[len - 1] = 0;
}

void cg_mpi_library_version(char *out, int len) {
    char text[MPI_MAX_LIBRARY_VERSION_STRING];
    int n = 0;
    MPI_Get_library_version(text, &n);
    text[n < MPI_MAX_LIBRARY_VERSION_STRING ? n : MPI_MAX_LIBRARY_VERSION_STRING - 1] = 0;
    strncpy(out, text, (size_t)len - 1);
    out[len - 1] = 0;
}

// buf[0..<count] summed over the ranks, in place, the same sum on every rank.
int cg_mpi_allreduce_sum_float(float *buf, int64_t count) {
    for (int64_t at = 0; at < count; at += PIECE) {
        int n = (int)(count - at < PIECE ? count - at : PIECE);
        int err = MPI_Allreduce(MPI_IN_PLACE, buf + at, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (err != MPI_SUCCESS) return err;
    }
    return MPI_SUCCESS;
}

int cg_mpi_allreduce_sum_double(double *buf, int64_t count) {
    return MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

// Starts summing buf[0..<count] (count <= 2^28) over the ranks; *request is freed by cg_mpi_wait.
int cg_mpi_iallreduce_sum_float(float *buf, int64_t count, void **request) {
    MPI_Request *r = malloc(sizeof(MPI_Request));
    if (!r) return MPI_ERR_NO_MEM;
    int err = MPI_Iallreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, r);
    if (err != MPI_SUCCESS) { free(r); return err; }
    *request = r;
    return MPI_SUCCESS;
}

// Progresses a started reduction; *done = 1 once it is complete (the request is then freed).
int cg_mpi_test(void *request, int *done) {
    int err = MPI_Test((MPI_Request *)request, done, MPI_STATUS_IGNORE);
    if (err == MPI_SUCCESS && *done) free(request);
    return err;
}

int cg_mpi_wait(void *request) {
    int err = MPI_Wait((MPI_Request *)request, MPI_STATUS_IGNORE);
    free(request);
    return err;
}

// all[r] = rank r's `mine`, on every rank.
int cg_mpi_allgather_u64(uint64_t mine, uint64_t *all) {
    return MPI_Allgather(&mine, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD);
}

// `bytes` bytes of root's buf to every rank.
int cg_mpi_bcast(void *buf, int64_t bytes, int root) {
    for (int64_t at = 0; at < bytes; at += PIECE) {
        int n = (int)(bytes - at < PIECE ? bytes - at : PIECE);
        int err = MPI_Bcast((char *)buf + at, n, MPI_BYTE, root, MPI_COMM_WORLD);
        if (err != MPI_SUCCESS) return err;
    }
    return MPI_SUCCESS;
}

int cg_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }

// Point to point, in pieces: `bytes` bytes of buf to rank `dest`, and from rank `src`.
int cg_mpi_send_bytes(const void *buf, int64_t bytes, int dest) {
    for (int64_t at = 0; at < bytes; at += PIECE) {
        int n = (int)(bytes - at < PIECE ? bytes - at : PIECE);
        int err = MPI_Send((const char *)buf + at, n, MPI_BYTE, dest, 17, MPI_COMM_WORLD);
        if (err != MPI_SUCCESS) return err;
    }
    return MPI_SUCCESS;
}

int cg_mpi_recv_bytes(void *buf, int64_t bytes, int src) {
    for (int64_t at = 0; at < bytes; at += PIECE) {
        int n = (int)(bytes - at < PIECE ? bytes - at : PIECE);
        int err = MPI_Recv((char *)buf + at, n, MPI_BYTE, src, 17, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (err != MPI_SUCCESS) return err;
    }
    return MPI_SUCCESS;
}
