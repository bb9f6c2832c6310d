// OpenBLAS's CBLAS interface plus its thread-control entry points (Debian: libopenblas-dev).
#include <cblas.h>

// Exported by OpenBLAS (pthreads build) though not declared in cblas.h: re-reading the
// OPENBLAS_* environment and stopping the worker threads (they restart on the next call).
// Align uses them once to shorten the workers' spin-wait; see Threads in AlignKernels.
void openblas_read_env(void);
int blas_thread_shutdown_(void);
