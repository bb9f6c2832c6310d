#!/usr/bin/env python3
"""Generates the committed fixtures of Tests/AlignModelIOTests/Fixtures.

Run from the repository root:  python3 scripts/make_modelio_fixtures.py
Needs torch, numpy, safetensors, huggingface_hub, gguf (gguf-py) and transformers.

Every file is small (the whole folder stays well under 1 MB). Expected values are written as JSON
lists of floats: each float32 value prints exactly as a Python float, so Swift can compare exactly.
Deterministic: every random source is seeded.
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file as torch_save_file
from safetensors.numpy import save_file as numpy_save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "AlignModelIOTests", "Fixtures")


def expected_entry(t):
    a = t.detach().to(torch.float32).numpy() if isinstance(t, torch.Tensor) else np.asarray(t, dtype=np.float32)
    return {"shape": list(a.shape), "values": [float(x) for x in a.reshape(-1)]}


def dump_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, sort_keys=True)
        f.write("\n")


def make_safetensors():
    out = os.path.join(ROOT, "safetensors")
    os.makedirs(out, exist_ok=True)
    g = torch.Generator().manual_seed(0)

    # fp32 only, written by the torch front end with transformers' metadata: the round-trip target.
    f32 = {
        "model.layers.0.weight": torch.randn(4, 3, generator=g),
        "model.layers.0.bias": torch.randn(3, generator=g),
        "embed.weight": torch.randn(2, 2, 2, generator=g),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
    }
    torch_save_file(f32, os.path.join(out, "f32.safetensors"), metadata={"format": "pt"})
    dump_json(os.path.join(out, "f32.json"), {k: expected_entry(v) for k, v in f32.items()})

    # F32 / F16 / BF16 with awkward values (half subnormals, negative zero, large magnitudes) and
    # several metadata keys, which the library writes in hash order.
    base = torch.randn(5, 4, generator=g) * 3
    special = torch.tensor([0.0, -0.0, 1e-7, -6e-8, 65504.0, 1.0 / 3.0, 3.0e38, -2.5e-39], dtype=torch.float32)
    mixed = {
        "a.f32": base.clone(),
        "b.f16": base.to(torch.float16),
        "c.bf16": base.to(torch.bfloat16),
        "special.f16": special[:7].clone().clamp(-65504, 65504).to(torch.float16),
        "special.bf16": special.to(torch.bfloat16),
        "vector.f16": torch.randn(7, generator=g).to(torch.float16),
    }
    torch_save_file(mixed, os.path.join(out, "mixed.safetensors"),
                    metadata={"format": "pt", "author": "align", "note": "quotes \" and \\ and é", "z": "last"})
    dump_json(os.path.join(out, "mixed.json"), {k: expected_entry(v) for k, v in mixed.items()})

    # Integer and f64 dtypes through the numpy front end (no metadata).
    ints = {
        "i64": np.array([-3, 0, 7, 2**40], dtype=np.int64),
        "i32": np.array([[-5, 6], [7, -8]], dtype=np.int32),
        "i8": np.array([-128, 127, 0], dtype=np.int8),
        "u8": np.array([0, 255, 9], dtype=np.uint8),
        "flags": np.array([True, False, True]),
        "f64": np.array([0.1, -2.75, 1e10], dtype=np.float64),
    }
    numpy_save_file(ints, os.path.join(out, "ints.safetensors"))
    dump_json(os.path.join(out, "ints.json"), {k: expected_entry(v.astype(np.float32)) for k, v in ints.items()})

    # A sharded checkpoint as transformers' save_pretrained writes it (huggingface_hub split,
    # safetensors shards with {"format": "pt"}, index dumped with indent=2, sort_keys=True).
    from huggingface_hub import split_torch_state_dict_into_shards
    sharded_dir = os.path.join(out, "sharded")
    os.makedirs(sharded_dir, exist_ok=True)
    for name in os.listdir(sharded_dir):
        os.remove(os.path.join(sharded_dir, name))
    state = {
        "model.embed_tokens.weight": torch.randn(6, 4, generator=g),   # 96 bytes
        "model.norm.weight": torch.randn(4, generator=g),               # 16
        "lm_head.weight": torch.randn(10, 4, generator=g),              # 160 > limit: its own shard
        "model.layers.0.mlp.up_proj.weight": torch.randn(3, 4, generator=g),  # 48
        "model.layers.0.input_layernorm.weight": torch.randn(4, generator=g),  # 16
    }
    split = split_torch_state_dict_into_shards(state, max_shard_size=128)
    for filename, names in split.filename_to_tensors.items():
        torch_save_file({n: state[n].contiguous() for n in names}, os.path.join(sharded_dir, filename),
                        metadata={"format": "pt"})
    index = {"metadata": split.metadata, "weight_map": split.tensor_to_filename}
    with open(os.path.join(sharded_dir, "model.safetensors.index.json"), "w") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
    # The tensors in insertion order, so the Swift writer can be fed the same sequence.
    dump_json(os.path.join(out, "sharded.json"),
              {"order": list(state.keys()), "max_shard_size": 128,
               "tensors": {k: expected_entry(v) for k, v in state.items()}})


if __name__ == "__main__":
    torch.manual_seed(0)
    steps = sys.argv[1:] or ["safetensors", "gguf", "llama", "smollm2"]
    if "safetensors" in steps:
        make_safetensors()
