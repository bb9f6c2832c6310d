#!/usr/bin/env python3
"""Denoiser training and sampling speed: Align's UNet2DModel against diffusers' on the same CPU.

Builds the Fashion-MNIST denoiser configuration (REFERENCE.md §10: channels 32,64,64, two resnets per
block, Down/AttnDown/AttnDown, 10 classes, 1×32×32), saves it as a diffusers folder, and times
  train:  AdamW steps of ε-prediction MSE on random images, batch B (images/s)
  sample: DDIM steps over a batch (images/s = batch / (steps × seconds per step) × steps)
in PyTorch (torch.set_num_threads(T)) and through `align diffusion` (same folder, --threads T).
Run from the repository root after `swift build -c release --product align`:
    /tmp/venv-gguf/bin/python scripts/bench/diffusion_vs_diffusers.py --threads 2
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
p.add_argument("--batch", type=int, default=32)
p.add_argument("--train-steps", type=int, default=6)
p.add_argument("--sample-batch", type=int, default=40)
p.add_argument("--sample-steps", type=int, default=10)
p.add_argument("--align", default=".build/release/align")
args = p.parse_args()
torch.set_num_threads(args.threads)

config = dict(sample_size=32, in_channels=1, out_channels=1, block_out_channels=(32, 64, 64), layers_per_block=2,
              down_block_types=("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
              up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"), norm_num_groups=8, num_class_embeds=10)
torch.manual_seed(0)
unet = UNet2DModel(**config)
work = tempfile.mkdtemp(prefix="align-diffbench-")
folder = os.path.join(work, "unet")
unet.save_pretrained(folder)
DDPMScheduler().save_config(folder)

# PyTorch training
scheduler = DDPMScheduler()
opt = torch.optim.AdamW(unet.parameters(), lr=1e-3)
x = torch.rand(args.batch, 1, 32, 32) * 2 - 1
labels = torch.randint(0, 10, (args.batch,))
def train_step():
    noise = torch.randn_like(x)
    t = torch.randint(0, 1000, (args.batch,))
    pred = unet(scheduler.add_noise(x, noise, t), t, class_labels=labels).sample
    loss = torch.nn.functional.mse_loss(pred, noise)
    opt.zero_grad(); loss.backward(); opt.step()
train_step()
start = time.perf_counter()
for _ in range(args.train_steps):
    train_step()
torch_train = args.batch * args.train_steps / (time.perf_counter() - start)

# PyTorch sampling (DDIM)
ddim = DDIMScheduler()
ddim.set_timesteps(args.sample_steps)
unet.eval()
start = time.perf_counter()
with torch.no_grad():
    s = torch.randn(args.sample_batch, 1, 32, 32)
    l = torch.arange(args.sample_batch) % 10
    for t in ddim.timesteps:
        s = ddim.step(unet(s, t, class_labels=l).sample, t, s).prev_sample
torch_sample = args.sample_batch / (time.perf_counter() - start)

# Align: the same folder, through the CLI (random images stand in for Fashion-MNIST: speed only).
env = dict(os.environ)
out = os.path.join(work, "run")
start = time.perf_counter()
r = subprocess.run([args.align, "diffusion", "train", "--model", folder, "--output", out, "--batch-size", str(args.batch),
                    "--max-steps", str(args.train_steps + 1), "--limit", str(args.batch * (args.train_steps + 1)),
                    "--eval-images", "0", "--threads", str(args.threads), "--logging-steps", "1000"],
                   capture_output=True, text=True, env=env)
if r.returncode != 0:
    raise SystemExit(r.stderr)
rows = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]
align_train = None
last = rows[-1]
for key in ("train_samples_per_second", "tokens_per_second"):
    if key in last:
        align_train = last[key]
r = subprocess.run([args.align, "diffusion", "sample", "--model", folder, "--output", os.path.join(work, "g.png"),
                    "--per-class", str(args.sample_batch // 10), "--steps", str(args.sample_steps), "--threads", str(args.threads)],
                   capture_output=True, text=True)
if r.returncode != 0:
    raise SystemExit(r.stderr)
align_sample = float(r.stdout.split("(")[1].split(" images/s")[0])
print(json.dumps({"threads": args.threads, "batch": args.batch,
                  "torch_train_images_per_s": round(torch_train, 2), "align_train_images_per_s": align_train,
                  "torch_sample_images_per_s": round(torch_sample, 3), "align_sample_images_per_s": align_sample,
                  "sample_steps": args.sample_steps}, indent=1))
