#!/usr/bin/env python3
"""Side-by-side online-RL benchmark: `align grpo` and `align ppo` against TRL's GRPOTrainer (TRL 1.16)
and PPOTrainer (trl 1.12, the last release with `trl/experimental/ppo`) on the same random model,
prompts, thread count and settings (fp32, no gradient checkpointing).

Run from the repository root after `swift build -c release --product align`:

    python3 scripts/bench/online_vs_trl.py --threads 2 [--model small|smollm2] [--steps 4] [--repeats 3] \
        [--parts gen8,gen32,grpo,ppo] [--trl-grpo-python /tmp/venv-gguf/bin/python] \
        [--trl-ppo-python /tmp/venv-trlppo/bin/python]

Models are dpo_vs_trl.py's: "small" (random Llama, hidden 256, 8 layers, vocab 8000: 12.5M
parameters) and "smollm2" (SmolLM2-135M's architecture, random weights). Prompts: 64 synthetic
~30-word lines. What is measured:

- rollout generation tokens/s at batch 8 and 32 (parts `grpo` and `gen32`): a GRPO run with that many
  completions per step (4 per prompt, 64 new tokens, temperature 1); Align's
  `generation_tokens_per_second` metric, TRL's time inside `GRPOTrainer._generate_single_turn`
  (transformers' `generate` with the KV cache, as TRL runs it without vLLM);
- one GRPO step (`grpo`): 8 completions (2 prompts × 4), 64 new tokens, beta 0.1 (a reference
  model forward), AdamW — generation, reward, reference and policy log-probs, loss, backward and
  the optimiser step; timed per optimiser step;
- one PPO step (`ppo`): one rollout of 8 prompts, 48 response tokens at temperature 0.7, reward and
  value model = a LlamaForSequenceClassification of the same architecture, 4 PPO epochs of one
  mini-batch (4 optimiser steps on the policy and value model) — TRL's `update`; Align's time for
  the 4 optimiser steps the rollout feeds.

The reward of GRPO is a cheap function of the completion text on both sides (Align: `cmd:awk` on
each JSON line). The first step of every run is dropped as warm-up; Align and TRL alternate
`--repeats` times and each side's median run is reported. Python is used only here, never by the
build or the tests.
"""
import argparse, json, os, random, subprocess, sys, tempfile, pathlib, statistics

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from dpo_vs_trl import ROOT, make_model, text  # noqa: E402

NEW_TOKENS = 64
PPO_RESPONSE = 48


def make_prompts(folder, n=64):
    rng = random.Random(2)
    lines = [text(rng, 30) for _ in range(n)]
    (folder / "prompts.txt").write_text("\n".join(lines) + "\n")
    with open(folder / "prompts.jsonl", "w") as f:
        for line in lines:
            f.write(json.dumps({"prompt": line}) + "\n")


def make_reward_model(model_dir, folder, python):
    """A LlamaForSequenceClassification of the policy's architecture (num_labels 1, seeded head)."""
    if (folder / "model.safetensors").exists():
        return
    code = f"""
import torch
from transformers import AutoTokenizer, LlamaForSequenceClassification
torch.manual_seed(3)
m = LlamaForSequenceClassification.from_pretrained({str(model_dir)!r}, num_labels=1, dtype=torch.float32)
torch.nn.init.normal_(m.score.weight, std=0.02)
m.config.pad_token_id = 0
m.save_pretrained({str(folder)!r}, safe_serialization=True)
AutoTokenizer.from_pretrained({str(model_dir)!r}).save_pretrained({str(folder)!r})
"""
    subprocess.run([python, "-c", code], check=True, capture_output=True)


def child_env(threads):
    return dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="false",
                ALIGN_NUM_THREADS=str(threads), TRL_EXPERIMENTAL_SILENCE="1")


def run_python(python, code, threads):
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, env=child_env(threads))
    if out.returncode != 0:
        sys.exit("TRL run failed:\n" + out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def trl_grpo(python, model_dir, folder, batch, steps, threads):
    code = f"""
import time, json, torch, warnings
warnings.filterwarnings("ignore")
torch.set_num_threads({threads})
from datasets import load_dataset
from transformers import AutoTokenizer, TrainerCallback
from trl import GRPOConfig, GRPOTrainer
tok = AutoTokenizer.from_pretrained({str(model_dir)!r})
ds = load_dataset("json", data_files={str(folder / "prompts.jsonl")!r}, split="train")
def reward(completions, **kw): return [float(len(c) % 7) for c in completions]
times, gen = [], []
class T(TrainerCallback):
    def on_step_begin(self, a, s, c, **k): self.t = time.perf_counter()
    def on_step_end(self, a, s, c, **k): times.append(time.perf_counter() - self.t)
cfg = GRPOConfig(output_dir="/tmp/align-bench-trl-grpo", per_device_train_batch_size={batch}, num_generations=4,
                 max_completion_length={NEW_TOKENS}, temperature=1.0, beta=0.1, learning_rate=1e-6, max_steps={steps},
                 bf16=False, fp16=False, gradient_checkpointing=False, use_cpu=True, logging_steps=1, report_to="none",
                 save_strategy="no", dataloader_num_workers=0, seed=0, disable_tqdm=True)
t = GRPOTrainer(model={str(model_dir)!r}, reward_funcs=reward, args=cfg, train_dataset=ds, processing_class=tok, callbacks=[T()])
inner = t._generate_single_turn
def timed(*a, **k):
    s = time.perf_counter()
    out = inner(*a, **k)
    gen.append((sum(len(c) for c in out[0]), time.perf_counter() - s))
    return out
t._generate_single_turn = timed
t.train()
print(json.dumps({{"step_times": times, "gen": gen}}))
"""
    r = run_python(python, code, threads)
    gen = r["gen"][1:] or r["gen"]
    return {"step": statistics.mean(r["step_times"][1:] or r["step_times"]),
            "gen_tps": sum(n for n, _ in gen) / sum(s for _, s in gen)}


def trl_ppo(python, model_dir, reward_dir, folder, steps, threads):
    code = f"""
import time, json, torch, warnings
warnings.filterwarnings("ignore")
torch.set_num_threads({threads})
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, AutoModelForSequenceClassification, TrainerCallback
from trl.experimental.ppo import PPOConfig, PPOTrainer
tok = AutoTokenizer.from_pretrained({str(model_dir)!r})
tok.padding_side = "left"
lines = open({str(folder / "prompts.txt")!r}).read().split("\\n")[:-1]
ds = Dataset.from_dict({{"input_ids": [tok(l)["input_ids"] for l in lines]}})
load = lambda cls, p: cls.from_pretrained(p, dtype=torch.float32)
policy, ref = load(AutoModelForCausalLM, {str(model_dir)!r}), load(AutoModelForCausalLM, {str(model_dir)!r})
rm = AutoModelForSequenceClassification.from_pretrained({str(reward_dir)!r}, num_labels=1, dtype=torch.float32)
vm = AutoModelForSequenceClassification.from_pretrained({str(reward_dir)!r}, num_labels=1, dtype=torch.float32)
times = []
class T(TrainerCallback):
    def on_step_end(self, a, s, c, **k):
        now = time.perf_counter(); times.append(now - self.t); self.t = now
    def on_train_begin(self, a, s, c, **k): self.t = time.perf_counter()
cfg = PPOConfig(output_dir="/tmp/align-bench-trl-ppo", per_device_train_batch_size=8, gradient_accumulation_steps=1,
                num_mini_batches=1, num_ppo_epochs=4, total_episodes=8 * {steps}, response_length={PPO_RESPONSE},
                temperature=0.7, learning_rate=3e-6, local_rollout_forward_batch_size=8, num_sample_generations=0,
                bf16=False, fp16=False, gradient_checkpointing=False, use_cpu=True, logging_steps=1, report_to="none",
                save_strategy="no", seed=0, disable_tqdm=True)
t = PPOTrainer(args=cfg, processing_class=tok, model=policy, ref_model=ref, reward_model=rm, value_model=vm,
               train_dataset=ds, callbacks=[T()])
t.train()
print(json.dumps({{"step_times": times}}))
"""
    r = run_python(python, code, threads)
    return {"step": statistics.mean(r["step_times"][1:] or r["step_times"])}


def run_align(args, threads):
    out_dir = tempfile.mkdtemp(prefix="align-bench-online-")
    cmd = [str(ROOT / ".build/release/align")] + args + ["--output", out_dir, "--threads", str(threads)]
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=child_env(threads))
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n" + proc.stderr[-3000:])
    return [json.loads(l) for l in open(os.path.join(out_dir, "metrics.jsonl"))]


def align_grpo(model_dir, folder, batch, steps, threads):
    rows = run_align(["grpo", "--model", str(model_dir), "--data", str(folder / "prompts.txt"),
                      "--reward", "cmd:awk {print(length($0)%7)}", "--batch-size", str(batch), "--num-generations", "4",
                      "--max-completion-length", str(NEW_TOKENS), "--temperature", "1", "--beta", "0.1",
                      "--learning-rate", "1e-6", "--max-steps", str(steps), "--logging-steps", "1", "--no-shuffle"], threads)
    later = rows[1:] or rows
    return {"step": statistics.mean(r["seconds_per_step"] for r in later),
            "gen_tps": statistics.mean(r["generation_tokens_per_second"] for r in later)}


def align_ppo(model_dir, reward_dir, folder, steps, threads):
    # One row per rollout (4 optimiser steps): seconds_per_step × 4 is the rollout and its update.
    rows = run_align(["ppo", "--model", str(model_dir), "--reward", str(reward_dir), "--data", str(folder / "prompts.txt"),
                      "--batch-size", "8", "--num-ppo-epochs", "4", "--num-mini-batches", "1",
                      "--response-length", str(PPO_RESPONSE), "--temperature", "0.7", "--learning-rate", "3e-6",
                      "--max-steps", str(4 * steps), "--logging-steps", "4", "--no-shuffle"], threads)
    later = rows[1:] or rows
    return {"step": 4 * statistics.mean(r["seconds_per_step"] for r in later)}


def median_run(runs, key):
    return sorted(runs, key=lambda r: r[key])[len(runs) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=4, help="optimiser steps (PPO: rollouts) per run, the first dropped")
    ap.add_argument("--model", default="small", choices=["small", "smollm2"])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--parts", default="grpo,gen32,ppo", help="grpo: batch 8 (generation tokens/s and step time); gen32; ppo")
    ap.add_argument("--trl-grpo-python", default="/tmp/venv-gguf/bin/python")
    ap.add_argument("--trl-ppo-python", default="/tmp/venv-trlppo/bin/python")
    args = ap.parse_args()
    work = pathlib.Path(tempfile.gettempdir()) / "align-dpo-bench"
    work.mkdir(exist_ok=True)
    folder = work / args.model
    if not (folder / "model.safetensors").exists():
        make_model(folder, args.model)
    make_prompts(folder)
    reward_dir = work / f"{args.model}-reward"
    parts = args.parts.split(",")
    if "ppo" in parts:
        make_reward_model(folder, reward_dir, args.trl_ppo_python)
    results = []
    for part in parts:
        a_runs, t_runs = [], []
        for _ in range(args.repeats):
            if part in ("gen32", "grpo"):
                batch = 32 if part == "gen32" else 8
                steps = max(2, args.steps - 1) if part == "gen32" else args.steps
                a_runs.append(align_grpo(folder, folder, batch, steps, args.threads))
                t_runs.append(trl_grpo(args.trl_grpo_python, folder, folder, batch, steps, args.threads))
            else:
                a_runs.append(align_ppo(folder, reward_dir, folder, args.steps, args.threads))
                t_runs.append(trl_ppo(args.trl_ppo_python, folder, reward_dir, folder, args.steps, args.threads))
        def each(runs, key, digits):
            return ", ".join(format(r[key], f".{digits}f") for r in runs)
        lines = []
        if part in ("grpo", "gen32"):
            a, t = median_run(a_runs, "gen_tps"), median_run(t_runs, "gen_tps")
            batch = 32 if part == "gen32" else 8
            lines.append(f"| {args.model} | generation, batch {batch} (tokens/s) | {a['gen_tps']:.0f} ({each(a_runs, 'gen_tps', 0)}) | "
                         f"{t['gen_tps']:.0f} ({each(t_runs, 'gen_tps', 0)}) | **{a['gen_tps'] / t['gen_tps']:.2f}×** |")
        a, t = median_run(a_runs, "step"), median_run(t_runs, "step")
        name = {"grpo": "GRPO step, 8 completions", "gen32": "GRPO step, 32 completions", "ppo": "PPO step (rollout + 4 updates)"}[part]
        lines.append(f"| {args.model} | {name} (s) | {a['step']:.2f} ({each(a_runs, 'step', 2)}) | "
                     f"{t['step']:.2f} ({each(t_runs, 'step', 2)}) | **{t['step'] / a['step']:.2f}×** |")
        for line in lines:
            print(line, flush=True)
        results.append({"part": part, "align": a_runs, "trl": t_runs})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
