#!/usr/bin/env python3
"""Side-by-side DPO benchmark: `align dpo` against TRL's DPOTrainer on the same model, data,
thread count and settings (fp32, no gradient checkpointing, 8 pairs per step, max length 256).

Run from the repository root after `swift build -c release`:

    python3 scripts/bench/dpo_vs_trl.py --threads 2 --steps 6 [--model small|smollm2|both] [--repeats 3]

It prints one Markdown table row per (implementation, model) with seconds per step (the first
step excluded as warm-up), tokens per second, peak RSS, Align's speed-up over TRL, and the
fraction of this machine's SGEMM peak (`align-bench peak`, measured in the same run) that Align's
step reaches. The FLOPs counted are the ones Align performs: 8·(non-embedding parameters) per
computed token (policy forward+backward 6, reference forward 2; a shared prompt counted once) plus
8·vocabulary·hidden per scored completion token for the LM head; attention is left out (a few per
cent at this length), so the fraction is a slight underestimate. Python is used only here, never by
the build or the tests.
"""
import argparse, json, os, random, resource, subprocess, sys, time, tempfile, pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORDS = ("the a of and to in is was it for on with as his that at by this had not are but from or have an they which "
         "one you were all her she there would their we him been has when who will more no if out so said what up its "
         "about into than them can only other new some could time these two may then do first any my now such like our "
         "over man me even most made after also did many before must through back years where much your way well down "
         "should because each just those people how too little state good very make world still own see men work long "
         "get here between both life being under never day same another know while last might us great old year off "
         "come since against go came right used take three").split()


def text(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def make_tokenizer(folder, vocab, eos="<|im_end|>"):
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
    from transformers import PreTrainedTokenizerFast
    rng = random.Random(0)
    corpus = [text(rng, 50) + "".join(chr(rng.randrange(33, 0x2500)) for _ in range(20)) for _ in range(4000)]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=["<|endoftext|>", "<|im_start|>", eos],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos, pad_token="<|endoftext|>")
    fast.save_pretrained(folder)
    return fast


def make_model(folder, kind):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    if kind == "small":
        cfg = LlamaConfig(vocab_size=8000, hidden_size=256, intermediate_size=1024, num_hidden_layers=8,
                          num_attention_heads=8, num_key_value_heads=8, max_position_embeddings=512,
                          tie_word_embeddings=False, rms_norm_eps=1e-5)
    else:  # SmolLM2-135M's architecture, random weights
        cfg = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                          num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=2048,
                          tie_word_embeddings=True, rms_norm_eps=1e-5, rope_theta=100000.0)
    cfg.eos_token_id = 2
    cfg.pad_token_id = 0
    model = LlamaForCausalLM(cfg).float()
    model.save_pretrained(folder, safe_serialization=True)
    make_tokenizer(folder, cfg.vocab_size)


def make_data(path, tokenizer_folder, pairs=64):
    rng = random.Random(1)
    with open(path, "w") as f:
        for _ in range(pairs):
            f.write(json.dumps({"prompt": text(rng, 60), "chosen": " " + text(rng, rng.randint(80, 110)),
                                "rejected": " " + text(rng, rng.randint(80, 110))}) + "\n")


def run_trl(model_dir, data, steps, threads):
    code = f"""
import time, json, resource, torch
torch.set_num_threads({threads})
from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import DPOConfig, DPOTrainer
model = AutoModelForCausalLM.from_pretrained({str(model_dir)!r}, torch_dtype=torch.float32)
ref = AutoModelForCausalLM.from_pretrained({str(model_dir)!r}, torch_dtype=torch.float32)
tok = AutoTokenizer.from_pretrained({str(model_dir)!r})
ds = load_dataset("json", data_files={str(data)!r}, split="train")
times = []
class T(TrainerCallback):
    def on_step_begin(self, a, s, c, **k): self.t = time.perf_counter()
    def on_step_end(self, a, s, c, **k): times.append(time.perf_counter() - self.t)
cfg = DPOConfig(output_dir="/tmp/align-bench-trl", per_device_train_batch_size=8, max_length=256, max_steps={steps},
                bf16=False, fp16=False, gradient_checkpointing=False, use_cpu=True, logging_steps=1, report_to="none",
                save_strategy="no", learning_rate=1e-6, dataloader_num_workers=0, train_sampling_strategy="sequential")
t = DPOTrainer(model=model, ref_model=ref, args=cfg, train_dataset=ds, processing_class=tok, callbacks=[T()])
t.train()
tokens = t._total_train_tokens
print(json.dumps({{"step_times": times, "tokens": tokens, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="false")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit("TRL run failed:\n" + out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_align(model_dir, data, steps, threads):
    out_dir = tempfile.mkdtemp(prefix="align-bench-")
    env = dict(os.environ, ALIGN_NUM_THREADS=str(threads))
    cmd = [str(ROOT / ".build/release/align"), "dpo", "--model", str(model_dir), "--data", str(data), "--output", out_dir,
           "--batch-size", "8", "--max-length", "256", "--max-steps", str(steps), "--logging-steps", "1",
           "--learning-rate", "1e-6", "--no-shuffle"]
    # This child's own peak RSS (wait4), not RUSAGE_CHILDREN's maximum over every child so far,
    # which would include the TRL runs when the two alternate.
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("align dpo failed:\n" + err[-3000:])
    rss = usage.ru_maxrss
    rows = [json.loads(l) for l in open(os.path.join(out_dir, "metrics.jsonl")) if '"loss"' in l]
    return {"step_times": [r["seconds_per_step"] for r in rows], "tokens": rows[-1]["num_tokens"],
            "rss_mb": rss / 1024}


def sgemm_peak(threads):
    out = subprocess.run([str(ROOT / ".build/release/align-bench"), "--threads", str(threads), "peak"],
                         capture_output=True, text=True, check=True).stdout
    return float(out.split("SGEMM peak (cblas_sgemm 2048³):")[1].split()[0])


def align_flops_per_step(model_dir, data, steps):
    """FLOPs of one Align DPO step averaged over steps 2..N (8 pairs each, in file order)."""
    from transformers import AutoConfig, AutoTokenizer
    cfg = AutoConfig.from_pretrained(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    h, inter, layers, vocab = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers, cfg.vocab_size
    kv = h * cfg.num_key_value_heads // cfg.num_attention_heads
    body = layers * (2 * h * h + 2 * h * kv + 3 * h * inter)
    pairs = [json.loads(l) for l in open(data)][8:8 * steps]
    total = 0
    for p in pairs:
        prompt = tok(p["prompt"])["input_ids"]
        full = [tok(p["prompt"] + p[k])["input_ids"][:255] + [tok.eos_token_id] for k in ("chosen", "rejected")]
        common = 0
        while common < min(map(len, full)) and full[0][common] == full[1][common]:
            common += 1
        computed = len(full[0]) + len(full[1]) - common
        scored = sum(len(f) - len(prompt) for f in full)
        total += 8 * body * computed + 8 * vocab * h * scored
    return total / (steps - 1)


def summarise(name, model, r, steps):
    times = r["step_times"][1:] or r["step_times"]
    per_step = sum(times) / len(times)
    tokens_per_step = r["tokens"] / steps
    return {"impl": name, "model": model, "s_per_step": per_step, "tokens_per_s": tokens_per_step / per_step, "rss_mb": r["rss_mb"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--model", default="small", choices=["small", "smollm2", "both"])
    ap.add_argument("--repeats", type=int, default=1, help="alternating runs of each; the median is reported")
    args = ap.parse_args()
    work = pathlib.Path(tempfile.gettempdir()) / "align-dpo-bench"
    work.mkdir(exist_ok=True)
    rows = []
    for kind in (["small", "smollm2"] if args.model == "both" else [args.model]):
        folder = work / kind
        if not (folder / "model.safetensors").exists():
            make_model(folder, kind)
        data = work / f"{kind}-pairs.jsonl"
        make_data(data, folder)
        peak = sgemm_peak(args.threads)
        # Align and TRL alternate, `--repeats` times each, and the run with the median s/step of
        # each side is reported: on this shared VM one run of either can be 30 % off.
        runs_a, runs_t = [], []
        for _ in range(args.repeats):
            runs_a.append(summarise("Align", kind, run_align(folder, data, args.steps, args.threads), args.steps))
            runs_t.append(summarise("TRL", kind, run_trl(folder, data, args.steps, args.threads), args.steps))
        if args.repeats > 1:
            print(f"{kind}: Align s/step per run {[round(r['s_per_step'], 2) for r in runs_a]}, "
                  f"TRL {[round(r['s_per_step'], 2) for r in runs_t]}", flush=True)
        a = sorted(runs_a, key=lambda r: r["s_per_step"])[len(runs_a) // 2]
        t = sorted(runs_t, key=lambda r: r["s_per_step"])[len(runs_t) // 2]
        rows += [a, t]
        print(f"| {kind} | Align | {a['s_per_step']:.2f} | {a['tokens_per_s']:.0f} | {a['rss_mb']:.0f} |", flush=True)
        print(f"| {kind} | TRL {__import__('trl').__version__} | {t['s_per_step']:.2f} | {t['tokens_per_s']:.0f} | {t['rss_mb']:.0f} |", flush=True)
        print(f"speed-up ({kind}): {t['s_per_step'] / a['s_per_step']:.2f}x; memory ratio Align/TRL: {a['rss_mb'] / t['rss_mb']:.2f}", flush=True)
        gflops = align_flops_per_step(folder, data, args.steps) / a["s_per_step"] / 1e9
        print(f"Align: {gflops:.1f} GFLOP/s = {100 * gflops / peak:.1f}% of the SGEMM peak ({peak:.1f} GFLOP/s, {args.threads} threads, this run)", flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
