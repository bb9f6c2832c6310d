#!/usr/bin/env python3
"""Parquet reading speed: Align (`align-bench parquet FILE`) against pyarrow on the same ~100 MB file.

Writes a preference-style file (prompt, chosen, rejected strings; a score; SNAPPY, pyarrow's
defaults otherwise) into /tmp, then times, best of 3 each:
  - pyarrow `pq.read_table(path).to_pylist()`: the file to Python row dicts, what a script that
    feeds rows to a trainer does (and the closest match to Align's file -> JSON rows);
  - pyarrow `pq.read_table(path)` alone: columnar Arrow, no per-row objects (for reference);
  - Align: `align-bench parquet FILE`, footer to JSON row values.
Needs pyarrow and a release build (`swift build -c release --product align-bench`). Never run by tests.

    /tmp/venv-pq/bin/python scripts/bench/parquet_vs_pyarrow.py [--size-mb 100] [--bench .build/release/align-bench]
"""
import argparse
import os
import random
import re
import subprocess
import time

import pyarrow as pa
import pyarrow.parquet as pq


def make_file(path, size_mb):
    rng = random.Random(0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = ["".join(rng.choices(letters, k=rng.randint(2, 10))) for _ in range(20000)]

    def text(words):
        return " ".join(rng.choices(vocabulary, k=words))

    # Each write_table call is one row group (20,000 rows), flushed to the file as it is written, so
    # the file's size says when to stop.
    writer = None
    while writer is None or os.path.getsize(path) < size_mb * 1_000_000:
        n = 20000
        batch = pa.table({
            "prompt": [text(rng.randint(10, 60)) for _ in range(n)],
            "chosen": [" " + text(rng.randint(20, 150)) for _ in range(n)],
            "rejected": [" " + text(rng.randint(20, 150)) for _ in range(n)],
            "score": [rng.random() for _ in range(n)],
        })
        if writer is None:
            writer = pq.ParquetWriter(path, batch.schema, compression="snappy")
        writer.write_table(batch)
    writer.close()


def best(f, n=3):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size-mb", type=float, default=100)
    p.add_argument("--path", default="/tmp/align-parquet-bench.parquet")
    p.add_argument("--bench", default=".build/release/align-bench")
    a = p.parse_args()
    if not os.path.exists(a.path):
        make_file(a.path, a.size_mb)
    size = os.path.getsize(a.path)
    meta = pq.ParquetFile(a.path).metadata
    print(f"file: {a.path}, {size / 1e6:.1f} MB, {meta.num_rows} rows, {meta.num_row_groups} row groups, "
          f"pyarrow {pa.__version__}, {os.cpu_count()} CPUs")
    rows = meta.num_rows
    t_rows = best(lambda: pq.read_table(a.path).to_pylist())
    t_table = best(lambda: pq.read_table(a.path))
    print(f"pyarrow read_table().to_pylist(): {t_rows:.3f} s, {rows / t_rows:.0f} rows/s, {size / 1e6 / t_rows:.1f} MB/s")
    print(f"pyarrow read_table() (Arrow columns only): {t_table:.3f} s, {size / 1e6 / t_table:.1f} MB/s")
    out = subprocess.run([a.bench, "parquet", a.path, "--iterations", "3"], check=True, capture_output=True, text=True).stdout
    print(out.strip())
    m = re.search(r"in ([0-9.]+) s", out)
    if m:
        t_align = float(m.group(1))
        print(f"Align / pyarrow to_pylist time: {t_align / t_rows:.2f}x ({'faster' if t_align < t_rows else 'slower'}); "
              f"Align / pyarrow read_table time: {t_align / t_table:.2f}x")


if __name__ == "__main__":
    main()
