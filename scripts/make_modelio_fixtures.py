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

    # fp32 through the numpy front end, without metadata: the other round-trip target.
    rng = np.random.default_rng(5)
    np_f32 = {"w": rng.standard_normal((3, 5)).astype(np.float32), "b": rng.standard_normal(5).astype(np.float32),
              "A.upper": np.array([1.5], dtype=np.float32), "é": np.zeros((2, 0, 2), dtype=np.float32)}
    numpy_save_file(np_f32, os.path.join(out, "numpy_f32.safetensors"))
    dump_json(os.path.join(out, "numpy_f32.json"), {k: expected_entry(v) for k, v in np_f32.items()})

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


def random_k_blocks(rng, qtype, rows, cols):
    """Random K-quant blocks with sane f16 super-block scales (gguf-py cannot quantise K-quants,
    but its dequantiser is the reference; random payload bits exercise every code path)."""
    import gguf
    block_elems, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(rows * cols // block_elems, block_bytes), dtype=np.uint8)
    T = gguf.GGMLQuantizationType
    def f16_bytes(values):
        return np.asarray(values, dtype=np.float16).view(np.uint8).reshape(-1, 2)
    n = blocks.shape[0]
    if qtype in (T.Q4_K, T.Q5_K):      # d, dmin at bytes 0..3
        blocks[:, 0:2] = f16_bytes(rng.uniform(0.001, 0.05, n))
        blocks[:, 2:4] = f16_bytes(rng.uniform(0.001, 0.05, n))
    elif qtype == T.Q2_K:              # d, dmin at bytes 80..83
        blocks[:, 80:82] = f16_bytes(rng.uniform(0.001, 0.05, n))
        blocks[:, 82:84] = f16_bytes(rng.uniform(0.001, 0.05, n))
    elif qtype == T.Q3_K:              # d at 108
        blocks[:, 108:110] = f16_bytes(rng.uniform(0.001, 0.05, n))
    elif qtype == T.Q6_K:              # d at 208
        blocks[:, 208:210] = f16_bytes(rng.uniform(0.001, 0.05, n))
    return blocks.reshape(rows, -1)


def make_gguf():
    import gguf
    from gguf import quants
    T = gguf.GGMLQuantizationType
    out = os.path.join(ROOT, "gguf")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(1)

    writer = gguf.GGUFWriter(os.path.join(out, "quants.gguf"), arch="test")
    # Metadata of every value type, including arrays of strings and numbers.
    writer.add_uint8("test.u8", 200)
    writer.add_int8("test.i8", -100)
    writer.add_uint16("test.u16", 60000)
    writer.add_int16("test.i16", -30000)
    writer.add_uint32("test.u32", 4000000000)
    writer.add_int32("test.i32", -2000000000)
    writer.add_float32("test.f32", 0.15625)
    writer.add_uint64("test.u64", 2**63 + 5)
    writer.add_int64("test.i64", -(2**62))
    writer.add_float64("test.f64", -1.0 / 3.0)
    writer.add_bool("test.true", True)
    writer.add_bool("test.false", False)
    writer.add_string("test.string", "héllo ✓")
    writer.add_array("test.strings", ["a", "", "Ġworld", "日本"])
    writer.add_array("test.ints", [1, -2, 3])
    writer.add_array("test.floats", [0.5, -1.25])

    expected = {}
    def add(name, data, raw_dtype=None, expect=None):
        if raw_dtype is None:
            writer.add_tensor(name, data)
        else:
            writer.add_tensor(name, data, raw_dtype=raw_dtype)
        expected[name] = {"shape": list(expect.shape), "values": [float(x) for x in expect.reshape(-1)]}

    x = rng.standard_normal((3, 64)).astype(np.float32)
    cube = rng.standard_normal((2, 3, 4)).astype(np.float32)
    add("plain.f32", cube, expect=cube)
    add("plain.f16", x.astype(np.float16), expect=x.astype(np.float16).astype(np.float32))
    bf = quants.quantize(x, T.BF16)
    add("plain.bf16", bf, raw_dtype=T.BF16, expect=quants.dequantize(bf, T.BF16))
    for qtype in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0):
        q = quants.quantize(x, qtype)
        add(f"legacy.{qtype.name.lower()}", q, raw_dtype=qtype, expect=quants.dequantize(q, qtype))
    for qtype in (T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K):
        q = random_k_blocks(rng, qtype, 2, 512)
        add(f"k.{qtype.name.lower()}", q, raw_dtype=qtype, expect=quants.dequantize(q, qtype))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    dump_json(os.path.join(out, "quants.json"), expected)


# Runs llama.cpp's own converter (convert_hf_to_gguf.py) on a tiny HF model. The converter is not
# on PyPI by itself; it ships in the llama-cpp-python sdist under vendor/llama.cpp:
#   pip download llama-cpp-python --no-deps --no-binary :all:   (then unpack the .tar.gz)
#   LLAMA_CPP_DIR=<unpacked>/vendor/llama.cpp python3 scripts/make_modelio_fixtures.py llama
# Its vocabulary step needs a real tokenizer, which a random model does not have, so the driver
# replaces set_vocab with a minimal one (token strings t0..tN); tensors and hyper-parameters go
# through the converter untouched, which is what the fixture is about.
CONVERT_DRIVER = r"""
import sys
llama_cpp, model_dir, outfile, outtype = sys.argv[1:5]
sys.path.insert(0, llama_cpp + "/gguf-py")
sys.path.insert(0, llama_cpp)
import gguf
import conversion.llama as llama
def minimal_vocab(self):
    n = self.hparams["vocab_size"]
    self.gguf_writer.add_tokenizer_model("llama")
    self.gguf_writer.add_tokenizer_pre("default")
    self.gguf_writer.add_token_list([f"t{i}" for i in range(n)])
    self.gguf_writer.add_token_scores([0.0] * n)
    self.gguf_writer.add_token_types([gguf.TokenType.NORMAL] * n)
    self.gguf_writer.add_bos_token_id(1)
    self.gguf_writer.add_eos_token_id(2)
llama.LlamaModel.set_vocab = minimal_vocab
sys.argv = ["convert_hf_to_gguf.py", model_dir, "--outfile", outfile, "--outtype", outtype]
import convert_hf_to_gguf
convert_hf_to_gguf.main()
"""


def make_llama():
    import subprocess
    import tempfile
    from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM
    llama_cpp = os.environ.get("LLAMA_CPP_DIR")
    if not llama_cpp:
        sys.exit("set LLAMA_CPP_DIR to llama.cpp's source folder (see the comment above make_llama)")
    out = os.path.join(ROOT, "llama")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(3)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
                         bos_token_id=1, eos_token_id=2)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():   # norms start at 1: randomise them so a swapped norm would show
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
    hf_state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = os.path.join(tmp, "hf")
        model.save_pretrained(model_dir)
        for outtype in ("f32", "q8_0"):
            gguf_path = os.path.join(out, f"tiny-llama-{outtype}.gguf")
            subprocess.run([sys.executable, "-c", CONVERT_DRIVER, llama_cpp, model_dir, gguf_path, outtype],
                           check=True, capture_output=True)
            # What transformers makes of the GGUF: names, un-permuted Q/K, dequantised values.
            loaded = AutoModelForCausalLM.from_pretrained(out, gguf_file=os.path.basename(gguf_path),
                                                          torch_dtype=torch.float32)
            state = {k: v.detach().to(torch.float32).contiguous() for k, v in loaded.state_dict().items()}
            assert set(state) == set(hf_state), set(state) ^ set(hf_state)
            worst = max(float((state[k] - hf_state[k]).abs().max()) for k in state)
            print(f"{outtype}: transformers' GGUF load vs original HF weights: max |diff| = {worst:.3g}")
            if outtype == "f32":
                assert worst == 0.0
            torch_save_file(state, os.path.join(out, f"tiny-llama-{outtype}.expected.safetensors"))
            cfg = AutoConfig.from_pretrained(out, gguf_file=os.path.basename(gguf_path)).to_dict()
            keys = ["hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                    "intermediate_size", "rms_norm_eps", "rope_theta", "vocab_size", "max_position_embeddings",
                    "tie_word_embeddings", "bos_token_id", "eos_token_id", "head_dim", "model_type"]
            if cfg.get("rope_theta") is None:
                cfg["rope_theta"] = (cfg.get("rope_parameters") or {}).get("rope_theta")
            dump_json(os.path.join(out, f"tiny-llama-{outtype}.config.json"), {k: cfg.get(k) for k in keys})


def verify_swift_gguf(folder):
    """One-off development check (not a fixture): reads the GGUF files the Swift tests write when
    ALIGN_MODELIO_KEEP=folder is set, with gguf-py and with transformers."""
    import gguf
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM
    want = load_file(os.path.join(ROOT, "llama", "tiny-llama-f32.expected.safetensors"))
    for name in ("tiny-F32.gguf", "tiny-F16.gguf"):
        path = os.path.join(folder, name)
        reader = gguf.GGUFReader(path)
        print(name, "version", reader.fields["GGUF.version"].contents(), "arch",
              reader.fields["general.architecture"].contents(),
              "tensors", len(reader.tensors), {t.tensor_type.name for t in reader.tensors})
        for t in reader.tensors:
            assert t.data_offset % 32 == 0
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        state = model.state_dict()
        assert set(state) == set(want), set(state) ^ set(want)
        worst = max(float((state[k].float() - want[k]).abs().max()) for k in want)
        print(f"  transformers load vs original weights: max |diff| = {worst:.3g}")
        if name == "tiny-F32.gguf":
            assert worst == 0.0
        else:
            assert worst < 1e-3


SMOLLM2_TENSORS = [
    "model.embed_tokens.weight",                    # Q8_0
    "model.layers.0.self_attn.q_proj.weight",       # Q4_1, un-permuted with 9 heads
    "model.layers.0.self_attn.k_proj.weight",       # Q4_1, un-permuted with 3 kv heads
    "model.layers.0.self_attn.v_proj.weight",
    "model.layers.7.mlp.down_proj.weight",
    "model.layers.29.mlp.gate_proj.weight",
    "model.layers.29.post_attention_layernorm.weight",  # F32
    "model.norm.weight",
]


def make_smollm2():
    """Checksums of a few tensors of the real SmolLM2 GGUF as transformers loads it (names,
    shapes, un-permuted Q/K, dequantised values): float64 sum, sum of squares, sum weighted by
    position (which catches row permutations that plain sums miss) and the first values."""
    from transformers import AutoModelForCausalLM
    cache = os.environ.get("ALIGN_CACHE", os.path.expanduser("~/.cache/align"))
    folder = os.path.join(cache, "smollm2")
    name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not os.path.exists(os.path.join(folder, name)):
        sys.exit(f"{folder}/{name} is absent: run scripts/fetch-assets.sh first")
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    state = model.state_dict()
    result = {"tensor_count": len([k for k in state if not k.endswith("rotary_emb.inv_freq")]),
              "config": {k: getattr(model.config, k) for k in
                         ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                          "intermediate_size", "vocab_size", "max_position_embeddings", "tie_word_embeddings")},
              "tensors": {}}
    for key in SMOLLM2_TENSORS:
        t = state[key].detach().to(torch.float64)
        flat = t.reshape(-1)
        weights = torch.arange(flat.numel(), dtype=torch.float64) % 1013
        result["tensors"][key] = {
            "shape": list(t.shape),
            "sum": float(flat.sum()),
            "sum_squares": float((flat * flat).sum()),
            "weighted_sum": float((flat * weights).sum()),
            "first": [float(x) for x in flat[:6]],
        }
    dump_json(os.path.join(ROOT, "smollm2_checksums.json"), result)


if __name__ == "__main__":
    torch.manual_seed(0)
    if sys.argv[1:2] == ["verify-swift-gguf"]:
        verify_swift_gguf(sys.argv[2])
        sys.exit(0)
    steps = sys.argv[1:] or ["safetensors", "gguf", "llama", "smollm2"]
    if "safetensors" in steps:
        make_safetensors()
    if "gguf" in steps:
        make_gguf()
    if "llama" in steps:
        make_llama()
    if "smollm2" in steps:
        make_smollm2()
