// OpenBLAS's CBLAS interface plus its thread-control entry points (Debian: libopenblas-dev).
#include <cblas.h>
