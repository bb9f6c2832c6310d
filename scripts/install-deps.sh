#!/usr/bin/env bash
# Installs the system packages Align builds against (Debian/Ubuntu), only when missing:
# OpenBLAS (libopenblas-dev) and pkg-config, which SwiftPM uses to find it; snappy, zstd and zlib,
# which decompress Parquet dataset pages (AlignParquet links them through Sources/CCompression);
# Open MPI (libopenmpi-dev to build Sources/CMPI, openmpi-bin for mpirun), for data-parallel training.
# Fashion-MNIST for the diffusion commands.
set -euo pipefail
missing=()
pkg-config --exists openblas 2>/dev/null || missing+=(libopenblas-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
[ -f /usr/include/snappy-c.h ] || missing+=(libsnappy-dev)
[ -f /usr/include/zstd.h ] || missing+=(libzstd-dev)
[ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
pkg-config --exists ompi-c 2>/dev/null || missing+=(libopenmpi-dev)
command -v mpirun >/dev/null 2>&1 || missing+=(openmpi-bin)
# Fashion-MNIST (IDX files) for `align diffusion train` / `classifier` / `pairs`.
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || missing+=(dataset-fashion-mnist)
if [ ${#missing[@]} -gt 0 ]; then
  echo "align: installing ${missing[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null 2>&1 || { echo "align: Swift 6 toolchain not found on PATH (https://swift.org/install)" >&2; exit 1; }
