#!/usr/bin/env python3
"""DPO on LoRA adapters: `align dpo --lora-r 16` against TRL's DPOTrainer with a PEFT LoraConfig, and
both against full fine-tuning, on the same random model, data, threads and settings as
dpo_vs_trl.py (fp32, 8 pairs per step, max length 256, AdamW lr 1e-6). Adapters: r 16, alpha 32,
dropout 0, q/k/v/o/gate/up/down projections (all-linear); reference = the model with adapters off
(TRL: no ref_model with peft_config; Align: no --ref-model).

Run from the repository root after `swift build -c release --product align --product align-bench`,
with a Python that has torch, transformers, trl and peft:

    python3 scripts/bench/lora_vs_trl.py --threads 2 --steps 4 --model smollm2 [--full | --modes full] [--repeats 1]

Models: small (dpo_vs_trl.py's 12.5M Llama), smollm2 (SmolLM2-135M's architecture), qwen05 (Qwen2-0.5B's shape: hidden 896, 24 layers,
14 heads / 2 KV heads, MLP 4864, vocab 151936, tied; random weights). --full adds the
full-fine-tuning rows of both implementations. One Markdown row per run: s/step (first step
excluded), tokens/s, peak RSS.
"""
import argparse, json, os, pathlib, subprocess, sys, tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import dpo_vs_trl as base  # noqa: E402

ROOT = base.ROOT
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def make_qwen(folder):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM
    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                      num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=2048,
                      tie_word_embeddings=True, rms_norm_eps=1e-6, rope_theta=1000000.0)
    cfg.eos_token_id = 2
    cfg.pad_token_id = 0
    Qwen2ForCausalLM(cfg).float().save_pretrained(folder, safe_serialization=True)
    # A small trained BPE is enough for the timing (ids stay below the vocabulary).
    base.make_tokenizer(folder, 8000)


def run_trl(model_dir, data, steps, threads, lora):
    peft = ""
    if lora:
        peft = f"from peft import LoraConfig\npeft_config = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules={TARGETS!r}, task_type='CAUSAL_LM')"
    code = f"""
import time, json, resource, torch
torch.set_num_threads({threads})
from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import DPOConfig, DPOTrainer
peft_config = None
{peft}
model = AutoModelForCausalLM.from_pretrained({str(model_dir)!r}, dtype=torch.float32)
ref = None if peft_config is not None else AutoModelForCausalLM.from_pretrained({str(model_dir)!r}, dtype=torch.float32)
tok = AutoTokenizer.from_pretrained({str(model_dir)!r})
ds = load_dataset("json", data_files={str(data)!r}, split="train")
times = []
class T(TrainerCallback):
    def on_step_begin(self, a, s, c, **k): self.t = time.perf_counter()
    def on_step_end(self, a, s, c, **k): times.append(time.perf_counter() - self.t)
cfg = DPOConfig(output_dir="/tmp/align-bench-trl-lora", per_device_train_batch_size=8, max_length=256, max_steps={steps},
                bf16=False, fp16=False, gradient_checkpointing=False, use_cpu=True, logging_steps=1, report_to="none",
                save_strategy="no", learning_rate=1e-6, dataloader_num_workers=0, train_sampling_strategy="sequential")
t = DPOTrainer(model=model, ref_model=ref, args=cfg, train_dataset=ds, processing_class=tok, callbacks=[T()], peft_config=peft_config)
t.train()
print(json.dumps({{"step_times": times, "tokens": t._total_train_tokens, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="false")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit("TRL run failed:\n" + out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_align(model_dir, data, steps, threads, lora):
    out_dir = tempfile.mkdtemp(prefix="align-bench-lora-")
    cmd = [str(ROOT / ".build/release/align"), "dpo", "--model", str(model_dir), "--data", str(data), "--output", out_dir,
           "--batch-size", "8", "--max-length", "256", "--max-steps", str(steps), "--logging-steps", "1",
           "--learning-rate", "1e-6", "--no-shuffle", "--threads", str(threads)]
    if lora:
        cmd += ["--lora-r", "16", "--lora-alpha", "32", "--lora-dropout", "0", "--lora-target-modules", ",".join(TARGETS)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("align dpo failed:\n" + err[-3000:])
    rows = [json.loads(l) for l in open(os.path.join(out_dir, "metrics.jsonl")) if '"loss"' in l]
    return {"step_times": [r["seconds_per_step"] for r in rows], "tokens": rows[-1]["num_tokens"], "rss_mb": usage.ru_maxrss / 1024}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--model", default="smollm2", choices=["small", "smollm2", "qwen05"])
    ap.add_argument("--full", action="store_true", help="also run full fine-tuning (both implementations)")
    ap.add_argument("--modes", default=None, help="comma list of lora,full (overrides --full; e.g. full alone)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--align-only", action="store_true", help="skip the TRL side (e.g. full fine-tuning of a large model)")
    args = ap.parse_args()
    work = pathlib.Path(tempfile.gettempdir()) / "align-dpo-bench"
    work.mkdir(exist_ok=True)
    folder = work / args.model
    if not (folder / "config.json").exists():
        make_qwen(folder) if args.model == "qwen05" else base.make_model(folder, args.model)
    data = work / f"{args.model}-pairs.jsonl"
    base.make_data(data, folder)
    modes = [True] + ([False] if args.full else [])
    if args.modes:
        modes = [m == "lora" for m in args.modes.split(",")]
    for lora in modes:
        for _ in range(args.repeats):
            sides = [("Align", run_align)]
            if not args.align_only:
                sides.append((f"TRL {__import__('trl').__version__}" + (" + PEFT" if lora else ""), run_trl))
            for name, fn in sides:
                r = base.summarise(name, args.model, fn(folder, data, args.steps, args.threads, lora), args.steps)
                print(f"| {args.model} | {'LoRA r16' if lora else 'full'} | {name} | {r['s_per_step']:.2f} | "
                      f"{r['tokens_per_s']:.0f} | {r['rss_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
