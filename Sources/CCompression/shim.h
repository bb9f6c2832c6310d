// The decompressors Parquet pages need, from Debian's libraries (libsnappy-dev, libzstd-dev,
// zlib1g-dev): SNAPPY through snappy's C API, ZSTD, and GZIP through zlib's inflate.
#include <snappy-c.h>
#include <zstd.h>
#include <zlib.h>
