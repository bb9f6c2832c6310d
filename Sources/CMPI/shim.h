// Open MPI's C API for AlignDistributed (Debian: libopenmpi-dev; found through pkg-config's
// `ompi-c`). Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_REQUEST_NULL, ...) are
// macros over addresses of library globals, which Swift cannot import; these inline functions hand
// them to Swift as values. Nothing here initialises MPI: AlignDistributed calls MPI_Init_thread only
// when Open MPI's launcher started the process (OMPI_COMM_WORLD_SIZE in the environment).
#include <mpi.h>

static inline MPI_Comm align_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype align_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype align_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype align_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype align_mpi_int(void) { return MPI_INT; }
static inline MPI_Op align_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op align_mpi_max(void) { return MPI_MAX; }
static inline MPI_Request align_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *align_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Errhandler align_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int align_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int align_mpi_success(void) { return MPI_SUCCESS; }
static inline int align_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline void *align_mpi_in_place(void) { return MPI_IN_PLACE; }
