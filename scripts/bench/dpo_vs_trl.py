#!/usr/bin/env python3
"""Side-by-side DPO step benchmark: `align dpo` against TRL's DPOTrainer and against a DPO step
written directly in PyTorch (eager and under `torch.compile`), on the same model folder, data rows,
thread count and settings (fp32, no gradient checkpointing, 8 pairs per step, max length 256,
beta 0.1, sigmoid loss, AdamW at lr 1e-6, gradient-norm clip 1.0).

Run from the repository root after `swift build -c release`:

    python3 scripts/bench/dpo_vs_trl.py --threads 2 --steps 6 [--model small|smollm2|both] [--repeats 3]
        [--peers trl,eager,compile] [--align-bin PATH] [--bench-bin PATH]

The hand-written peers ("eager", "compile") tokenise as TRL does (prompt, prompt+chosen+EOS and
prompt+rejected+EOS; the completion starts where prompt and prompt+completion diverge; keep-start
truncation to 256), stack the 8 chosen and 8 rejected rows into one right-padded batch, run the
policy forward (Hugging Face's `LlamaForCausalLM` body, then the LM head, log-softmax and gather on
the scored completion positions only), the reference forward under `no_grad`, the sigmoid loss,
backward, a global-norm clip and `torch.optim.AdamW`. "compile" wraps the loss computation (both
forwards and the loss; backward through AOTAutograd) in `torch.compile(dynamic=True)` and runs
`--compile-warmup` untimed steps first, so compilation is not timed.

Every side runs in its own process, so peak RSS is per side. Each run takes `--steps` steps on
batches 1..N of the file (in order); the first step is excluded and the run's s/step is the median
of steps 2..N. Sides alternate `--repeats` times and each side's median run is reported. It prints
one Markdown table row per (model, side) with s/step, tokens/s, peak RSS, Align's speed-up over that
side, Align's memory against that side, and (Align's row) the fraction of this machine's SGEMM peak
(`align-bench peak`, measured in the same run) that Align's step reaches. The FLOPs counted are the
ones Align performs: 8·(non-embedding parameters) per computed token (policy forward+backward 6,
reference forward 2; a shared prompt counted once) plus 8·vocabulary·hidden per scored completion
token for the LM head; attention is left out (a few per cent at this length), so the fraction is a
slight underestimate. The peers compute the prompt of each pair twice, so they execute more FLOPs
than Align for the same step. Python is used only here, never by the build or the tests.
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


def tokenize_pair(tok, p, max_length=256):
    """One pair as TRL 1.16 tokenises it: (prompt+chosen, prompt+rejected) ids and the index of each
    row's first completion token, keep-start truncated to max_length."""
    eos = tok.eos_token
    prompt = tok(p["prompt"])["input_ids"]
    rows = [tok(p["prompt"] + p[k] + ("" if p[k].endswith(eos) else eos))["input_ids"] for k in ("chosen", "rejected")]
    start = len(prompt)
    for r in rows:
        common = 0
        while common < min(len(prompt), len(r)) and prompt[common] == r[common]:
            common += 1
        start = min(start, common)
    return [r[:max_length] for r in rows], start


def peer_batches(model_dir, data, steps, max_length=256):
    """The batches of the hand-written peers: 8 chosen rows then 8 rejected rows, right-padded."""
    import torch
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(model_dir)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    pairs = [json.loads(l) for l in open(data)]
    batches = []
    for s in range(steps):
        chosen, rejected = [], []
        for p in pairs[8 * s:8 * s + 8]:
            (c, r), start = tokenize_pair(tok, p, max_length)
            chosen.append((c, start))
            rejected.append((r, start))
        rows = chosen + rejected
        width = max(len(ids) for ids, _ in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        attn = torch.zeros((len(rows), width), dtype=torch.long)
        flat, target, owner = [], [], []
        for i, (r, start) in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r)
            attn[i, :len(r)] = 1
            # Position t predicts token t+1; score the completion tokens start..len-1.
            for t in range(max(start, 1), len(r)):
                flat.append(i * width + t - 1)
                target.append(r[t])
                owner.append(i)
        batches.append({"ids": ids, "attn": attn, "idx": torch.tensor(flat), "target": torch.tensor(target),
                        "owner": torch.tensor(owner), "tokens": int(attn.sum())})
    return batches


def peer_child(kind, model_dir, data, steps, threads, warmup):
    """A DPO step written directly in PyTorch (this process is one side of the benchmark)."""
    import torch
    torch.set_num_threads(threads)
    from transformers import AutoModelForCausalLM
    policy = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    ref = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    policy.train()  # dropout is 0 in these configs
    ref.eval()
    ref.requires_grad_(False)
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-6, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    beta = 0.1

    def sequence_logps(model, ids, attn, idx, target, owner, rows):
        hidden = model.model(input_ids=ids, attention_mask=attn, use_cache=False).last_hidden_state
        scored = hidden.reshape(-1, hidden.shape[-1]).index_select(0, idx)
        logps = torch.log_softmax(model.lm_head(scored), dim=-1).gather(1, target.unsqueeze(1)).squeeze(1)
        return torch.zeros(rows, dtype=logps.dtype).index_add(0, owner, logps)

    def dpo_loss(ids, attn, idx, target, owner):
        rows = ids.shape[0]
        logps = sequence_logps(policy, ids, attn, idx, target, owner, rows)
        with torch.no_grad():
            ref_logps = sequence_logps(ref, ids, attn, idx, target, owner, rows)
        half = rows // 2
        ratios = logps - ref_logps
        return -torch.nn.functional.logsigmoid(beta * (ratios[:half] - ratios[half:])).mean()

    loss_fn = torch.compile(dpo_loss, dynamic=True) if kind == "compile" else dpo_loss
    batches = peer_batches(model_dir, data, steps)

    def step(b):
        t = time.perf_counter()
        loss = loss_fn(b["ids"], b["attn"], b["idx"], b["target"], b["owner"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return time.perf_counter() - t, float(loss)

    warm = [step(batches[i % len(batches)])[0] for i in range(warmup if kind == "compile" else 0)]
    times, losses = [], []
    for b in batches:
        dt, loss = step(b)
        times.append(dt)
        losses.append(loss)
    print(json.dumps({"step_times": times, "warmup_times": warm, "losses": losses,
                      "tokens": sum(b["tokens"] for b in batches),
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_peer(kind, model_dir, data, steps, threads, warmup):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="false",
               TORCHINDUCTOR_COMPILE_THREADS="1")
    cmd = [sys.executable, __file__, "--peer-child", kind, "--model-dir", str(model_dir), "--data", str(data),
           "--steps", str(steps), "--threads", str(threads), "--compile-warmup", str(warmup)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"{kind} run failed:\n" + out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_align(align_bin, model_dir, data, steps, threads):
    out_dir = tempfile.mkdtemp(prefix="align-bench-")
    env = dict(os.environ, ALIGN_NUM_THREADS=str(threads))
    cmd = [str(align_bin), "dpo", "--model", str(model_dir), "--data", str(data), "--output", out_dir,
           "--batch-size", "8", "--max-length", "256", "--max-steps", str(steps), "--logging-steps", "1",
           "--learning-rate", "1e-6", "--no-shuffle"]
    # This child's own peak RSS (wait4), not RUSAGE_CHILDREN's maximum over every child so far,
    # which would include the other sides' runs when they alternate.
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("align dpo failed:\n" + err[-3000:])
    rss = usage.ru_maxrss
    rows = [json.loads(l) for l in open(os.path.join(out_dir, "metrics.jsonl")) if '"loss"' in l]
    return {"step_times": [r["seconds_per_step"] for r in rows], "tokens": rows[-1]["num_tokens"],
            "rss_mb": rss / 1024}


def sgemm_peak(bench_bin, threads):
    out = subprocess.run([str(bench_bin), "--threads", str(threads), "peak"],
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


def summarise(name, model, r, steps, median=False):
    """s/step over steps 2..N: their median (this script) or their mean (lora_vs_trl.py, as before)."""
    times = sorted(r["step_times"][1:] or r["step_times"])
    if not median:
        per_step = sum(times) / len(times)
    elif len(times) % 2:
        per_step = times[len(times) // 2]
    else:
        per_step = (times[len(times) // 2 - 1] + times[len(times) // 2]) / 2
    tokens_per_step = r["tokens"] / steps
    return {"impl": name, "model": model, "s_per_step": per_step, "tokens_per_s": tokens_per_step / per_step,
            "rss_mb": r["rss_mb"], "step_times": r["step_times"], "warmup_times": r.get("warmup_times", [])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--model", default="small", choices=["small", "smollm2", "both"])
    ap.add_argument("--repeats", type=int, default=1, help="alternating runs of each side; the median is reported")
    ap.add_argument("--peers", default="trl,eager,compile", help="comma-separated: trl, eager, compile")
    ap.add_argument("--compile-warmup", type=int, default=2, help="untimed steps before the compiled peer's run")
    ap.add_argument("--align-bin", default=str(ROOT / ".build/release/align"))
    ap.add_argument("--bench-bin", default=str(ROOT / ".build/release/align-bench"))
    ap.add_argument("--peer-child", choices=["eager", "compile"], help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer_child:
        peer_child(args.peer_child, args.model_dir, args.data, args.steps, args.threads, args.compile_warmup)
        return
    peers = [p for p in args.peers.split(",") if p]
    for p in peers:
        if p not in ("trl", "eager", "compile"):
            sys.exit(f"unknown peer {p!r}")
    import torch
    names = {"trl": f"TRL {__import__('trl').__version__} (torch {torch.__version__.split('+')[0]})",
             "eager": "PyTorch eager, hand-written", "compile": "PyTorch torch.compile, hand-written"}
    work = pathlib.Path(tempfile.gettempdir()) / "align-dpo-bench"
    work.mkdir(exist_ok=True)
    rows = []
    for kind in (["small", "smollm2"] if args.model == "both" else [args.model]):
        folder = work / kind
        if not (folder / "model.safetensors").exists():
            make_model(folder, kind)
        data = work / f"{kind}-pairs.jsonl"
        make_data(data, folder)
        peak = sgemm_peak(args.bench_bin, args.threads)
        print(f"{kind}: SGEMM peak {peak:.1f} GFLOP/s ({args.threads} threads)", flush=True)
        # The sides alternate, `--repeats` times each, and the run with the median s/step of each
        # side is reported: on this shared VM one run of any side can be 30 % off.
        runs = {"align": []} | {p: [] for p in peers}
        for _ in range(args.repeats):
            runs["align"].append(summarise("Align", kind, run_align(args.align_bin, folder, data, args.steps, args.threads),
                                            args.steps, median=True))
            print(f"  {kind} Align run: {[round(t, 2) for t in runs['align'][-1]['step_times']]}", flush=True)
            for p in peers:
                r = run_trl(folder, data, args.steps, args.threads) if p == "trl" else \
                    run_peer(p, folder, data, args.steps, args.threads, args.compile_warmup)
                runs[p].append(summarise(names[p], kind, r, args.steps, median=True))
                warm = runs[p][-1]["warmup_times"]
                print(f"  {kind} {p} run: {[round(t, 2) for t in runs[p][-1]['step_times']]}"
                      + (f" (warm-up {[round(t, 1) for t in warm]})" if warm else ""), flush=True)
        med = {k: sorted(v, key=lambda r: r["s_per_step"])[len(v) // 2] for k, v in runs.items()}
        if args.repeats > 1:
            print(f"{kind}: s/step per run " + ", ".join(f"{k} {[round(r['s_per_step'], 2) for r in v]}" for k, v in runs.items()), flush=True)
        a = med["align"]
        gflops = align_flops_per_step(folder, data, args.steps) / a["s_per_step"] / 1e9
        print("| model | side | s/step | tokens/s | peak RSS (MB) | Align's speed-up over it | Align's memory / its | % of SGEMM peak |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        print(f"| {kind} | Align | {a['s_per_step']:.2f} | {a['tokens_per_s']:.0f} | {a['rss_mb']:.0f} | — | — | "
              f"{100 * gflops / peak:.1f} % ({gflops:.1f} of {peak:.1f} GFLOP/s) |", flush=True)
        for p in peers:
            t = med[p]
            print(f"| {kind} | {names[p]} | {t['s_per_step']:.2f} | {t['tokens_per_s']:.0f} | {t['rss_mb']:.0f} | "
                  f"{t['s_per_step'] / a['s_per_step']:.2f}× | {a['rss_mb'] / t['rss_mb']:.2f} | |", flush=True)
        rows += list(med.values())
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
