#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (Fuzz/Corpus/<target>/) from the test fixtures plus hand-made
edge cases. Standard library only; run from the repository root. The output is committed, so this
only needs rerunning when the fixtures or the cases below change."""
import json
import os
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "Fuzz", "Corpus")


def put(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def copy(target, name, path):
    with open(os.path.join(ROOT, path), "rb") as f:
        put(target, name, f.read())


# --- safetensors -------------------------------------------------------------------------------
def safetensors(tensors, metadata=None):
    header, blob = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + blob


fx = "Tests/AlignModelIOTests/Fixtures/safetensors/"
for name in ["f32", "ints", "mixed", "numpy_f32"]:
    copy("FuzzSafetensors", name, fx + name + ".safetensors")
copy("FuzzSafetensors", "shard", fx + "sharded/model-00001-of-00003.safetensors")
put("FuzzSafetensors", "empty-header", safetensors({}))
put("FuzzSafetensors", "metadata-only", safetensors({}, {"format": "pt"}))
put("FuzzSafetensors", "scalar-bf16-f16", safetensors({"s": ("BF16", [], b"\x80\x3f"), "h": ("F16", [1], b"\x00\x3c")}))
put("FuzzSafetensors", "zero-dim", safetensors({"z": ("F32", [0, 5], b""), "w": ("F64", [1], struct.pack("<d", 2.5))}))
put("FuzzSafetensors", "i32-weight", safetensors({"model.norm.weight": ("I32", [2], struct.pack("<ii", 1, -1))}))
put("FuzzSafetensors", "fp8-bool", safetensors({"a": ("F8_E4M3", [2], b"\x38\x40"), "b": ("BOOL", [2], b"\x00\x01")}))

# --- GGUF --------------------------------------------------------------------------------------
def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gkv(key, vtype, payload):
    return gstr(key) + struct.pack("<I", vtype) + payload


def garray(etype, items):
    return struct.pack("<IQ", etype, len(items)) + b"".join(items)


def gguf(kvs, tensors, data, version=3, tensor_count=None):
    out = b"GGUF" + struct.pack("<I", version)
    out += struct.pack("<QQ", len(tensors) if tensor_count is None else tensor_count, len(kvs))
    out += b"".join(kvs)
    for name, dims, gtype, offset in tensors:
        out += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", gtype, offset)
    out += b"\x00" * (-len(out) % 32)
    return out + data


copy("FuzzGGUF", "quants", "Tests/AlignModelIOTests/Fixtures/gguf/quants.gguf")
copy("FuzzGGUF", "tiny-llama-q8_0", "Tests/AlignModelIOTests/Fixtures/llama/tiny-llama-q8_0.gguf")
tokens = ["<unk>", "<s>", "</s>", "a", "b", "ab", "Ġ", "Ġa", "h", "e", "l", "o", "he", "ll"]
vocab_kvs = [
    gkv("general.architecture", 8, gstr("llama")),
    gkv("general.alignment", 4, struct.pack("<I", 32)),
    gkv("llama.context_length", 4, struct.pack("<I", 64)),
    gkv("llama.embedding_length", 4, struct.pack("<I", 8)),
    gkv("llama.block_count", 4, struct.pack("<I", 1)),
    gkv("llama.feed_forward_length", 4, struct.pack("<I", 16)),
    gkv("llama.attention.head_count", 4, struct.pack("<I", 2)),
    gkv("llama.attention.head_count_kv", 4, struct.pack("<I", 1)),
    gkv("llama.attention.layer_norm_rms_epsilon", 6, struct.pack("<f", 1e-5)),
    gkv("llama.rope.freq_base", 6, struct.pack("<f", 10000.0)),
    gkv("tokenizer.ggml.model", 8, gstr("gpt2")),
    gkv("tokenizer.ggml.pre", 8, gstr("smollm")),
    gkv("tokenizer.ggml.tokens", 9, garray(8, [gstr(t) for t in tokens])),
    gkv("tokenizer.ggml.token_type", 9, garray(5, [struct.pack("<i", 3 if i < 3 else 1) for i in range(len(tokens))])),
    gkv("tokenizer.ggml.merges", 9, garray(8, [gstr("a b"), gstr("Ġ a"), gstr("h e"), gstr("l l")])),
    gkv("tokenizer.ggml.bos_token_id", 4, struct.pack("<I", 1)),
    gkv("tokenizer.ggml.eos_token_id", 4, struct.pack("<I", 2)),
    gkv("tokenizer.ggml.add_bos_token", 7, b"\x01"),
    gkv("tokenizer.chat_template", 8, gstr("{% for m in messages %}{{ m.content }}{% endfor %}")),
    gkv("misc.u64", 10, struct.pack("<Q", 2**63)), gkv("misc.i64", 11, struct.pack("<q", -1)),
    gkv("misc.f64", 12, struct.pack("<d", 0.5)), gkv("misc.i8", 1, b"\xff"), gkv("misc.u16", 2, b"\x01\x00"),
    gkv("misc.nested", 9, garray(9, [garray(4, [struct.pack("<I", 7)])])),
]
f32 = b"".join(struct.pack("<f", 0.25 * i) for i in range(8 * 14))
put("FuzzGGUF", "vocab-and-tensors", gguf(vocab_kvs, [("token_embd.weight", [8, 14], 0, 0)], f32))
put("FuzzGGUF", "llama-spm-vocab", gguf([
    gkv("tokenizer.ggml.model", 8, gstr("llama")),
    gkv("tokenizer.ggml.tokens", 9, garray(8, [gstr(t) for t in ["<unk>", "<s>", "</s>", "<0x41>", "▁a", "▁"]])),
    gkv("tokenizer.ggml.scores", 9, garray(6, [struct.pack("<f", -float(i)) for i in range(6)])),
    gkv("tokenizer.ggml.token_type", 9, garray(5, [struct.pack("<i", t) for t in [2, 3, 3, 6, 1, 1]])),
    gkv("tokenizer.ggml.unknown_token_id", 4, struct.pack("<I", 0)),
], [], b""))
put("FuzzGGUF", "v2-empty", gguf([], [], b"", version=2))
put("FuzzGGUF", "tensor-count-minus-one", gguf([], [], b"", tensor_count=2**64 - 1))
put("FuzzGGUF", "f16-q4", gguf([gkv("general.alignment", 4, struct.pack("<I", 64))],
                               [("h", [4], 1, 0), ("q", [32], 2, 64)], b"\x00\x3c" * 4 + b"\x00" * 56 + b"\x00\x3c" + b"\x12" * 16))

# --- config.json -------------------------------------------------------------------------------
for name in ["llama", "llama_tied_gqa", "mistral", "qwen2", "gpt2"]:
    copy("FuzzConfigJSON", name, f"Tests/Fixtures/models/{name}/config.json")
put("FuzzConfigJSON", "llama3-rope", json.dumps({
    "architectures": ["LlamaForCausalLM"], "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
    "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 32, "max_position_embeddings": 64,
    "head_dim": 4, "eos_token_id": [1, 2], "tie_word_embeddings": True,
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 32}}))
put("FuzzConfigJSON", "rope-parameters", json.dumps({
    "model_type": "llama", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
    "vocab_size": 8, "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0}}))
put("FuzzConfigJSON", "zero-heads", json.dumps({
    "model_type": "llama", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 0,
    "vocab_size": 8}))
put("FuzzConfigJSON", "gpt2-minimal", json.dumps({"model_type": "gpt2", "n_embd": 8, "n_head": 2, "n_layer": 1,
                                                  "n_positions": 16, "vocab_size": 10}))

# --- tokenizer.json ----------------------------------------------------------------------------
tx = "Tests/AlignTokenizersTests/Fixtures/"
for name in ["gpt2", "llama3", "spm_metaspace", "whitespace"]:
    copy("FuzzTokenizerJSON", name, tx + name + "/tokenizer.json")
put("FuzzTokenizerJSON", "minimal-bytelevel", json.dumps({
    "version": "1.0", "added_tokens": [{"id": 5, "content": "<s>", "special": True, "lstrip": False, "rstrip": False,
                                        "single_word": False, "normalized": False}],
    "normalizer": {"type": "NFC"},
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                                {"Sequence": {"id": "A", "type_id": 0}}],
                       "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [5], "tokens": ["<s>"]}}},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": {"H": 0, "e": 1, "l": 2, "o": 3, "He": 4, "<s>": 5, "ll": 6},
              "merges": ["H e", ["l", "l"]], "byte_fallback": False}}))
put("FuzzTokenizerJSON", "minimal-sentencepiece", json.dumps({
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                                                       {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
    "pre_tokenizer": None, "decoder": {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": True, "fuse_unk": True,
              "vocab": {"<unk>": 0, "<0x48>": 1, "▁": 2, "e": 3, "▁e": 4}, "merges": ["▁ e"]}}))

# --- JSON --------------------------------------------------------------------------------------
for i, text in enumerate([
    '{"a": [1, -2.5e-3, 1E400, true, false, null], "b": {"c": "\\u00e9\\ud83d\\ude00\\n"}}',
    '[NaN, Infinity, -Infinity, 99999999999999999999, -0, 0.0]',
    '"\\ud800 lone"', '{"k": 1, "k": 2}', '  [[[[[[[[[[]]]]]]]]]]  ', '{"x": "\xc3\x28 bad utf8"}',
    '{"unterminated": [1, 2', '123abc', '\ufeff{"bom": 1}', '""',
]):
    put("FuzzJSON", f"case{i}", text)
copy("FuzzJSON", "safetensors-header", "Tests/Fixtures/models/llama/config.json")

# --- JSON Lines datasets -----------------------------------------------------------------------
copy("FuzzJSONLines", "pairs", "Tests/Fixtures/dpo/pairs.jsonl")
copy("FuzzJSONLines", "unpaired", "Tests/Fixtures/kto/unpaired.jsonl")
copy("FuzzJSONLines", "prompt-completion", "Tests/Fixtures/sft/prompt_completion.jsonl")
copy("FuzzJSONLines", "conversational-array", "Tests/Fixtures/dpo/conversational.json")
put("FuzzJSONLines", "implicit-prompt", "\n".join(json.dumps(r) for r in [
    {"chosen": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
     "rejected": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "go away"}]},
    {"chosen": "The sky is blue.", "rejected": "The sky is green.", "margin": 1.5},
]) + "\r\n\n  \n{bad json\n")
put("FuzzJSONLines", "lm-and-unpaired", "\n".join(json.dumps(r) for r in [
    {"text": "Just text."}, {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]},
    {"prompt": "P", "completion": "C", "label": True}, {"prompt": "P", "completion": "C", "label": False},
]))

# --- YAML configs ------------------------------------------------------------------------------
put("FuzzYAML", "dpo", "# DPO run\nbeta: 0.1\nloss_type: sigmoid\nlearning_rate: 5.0e-6\nper_device_train_batch_size: 8\n"
    "max_steps: 200\nlogging_steps: 1\nseed: 42\nbf16: false\nreport_to: []\n")
put("FuzzYAML", "anchors", "defaults: &d {beta: 0.1, lr: 1e-5}\nrun:\n  <<: *d\n  beta: 0.2\nlist: [1, 2.5, .inf, -.inf, .nan, ~, true, 0x1F, 0o17, 1_000]\n"
    "when: 2001-12-14t21:59:43.10-05:00\ntext: |\n  multi\n  line\nfolded: >\n  a\n  b\n")
put("FuzzYAML", "billion-laughs", "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n" for i in range(8)))
put("FuzzYAML", "deep", "k: " + "[" * 70 + "]" * 70 + "\n")
put("FuzzYAML", "not-a-mapping", "- just\n- a list\n")
put("FuzzYAML", "duplicate-and-complex-keys", "a: 1\na: 2\n? [x]\n: y\n")
put("FuzzYAML", "json-flow", '{"beta": 0.1, "nested": {"deep": [1, {"x": null}]}, "s": "\\u00e9"}')
put("FuzzYAML", "tags-and-docs", "--- !!map\na: !!str 1\nb: !custom x\n...\n---\nc: 3\n")

# --- chat templates ----------------------------------------------------------------------------
with open(os.path.join(ROOT, "Tests/AlignTemplatesTests/Fixtures/chat_templates.json")) as f:
    templates = json.load(f)
for name, entry in templates.items():
    source = entry.get("template") if isinstance(entry, dict) else entry
    if isinstance(source, str) and len(source) < 9000:
        put("FuzzChatTemplate", name, source)
for i, text in enumerate([
    "{{ messages | length }}{% for m in messages %}{{ loop.index }}:{{ m['role'] | upper }}{% endfor %}",
    "{% set ns = namespace(n=0) %}{% for m in messages if m.role == 'user' %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}",
    "{{ messages[0].content | tojson }}{{ 'x' * 3 }}{{ range(3) | list }}{{ (1, 2) }}{{ {'a': 1}.items() | list }}",
    "{% macro f(x, y=2) %}{{ x + y }}{% endmacro %}{{ f(1) }}{% if not add_generation_prompt %}{{ raise_exception('no') }}{% endif %}",
    "{{ messages[-1]['content'].split(' ')[0].strip() }}{{ '%d' % 3 if false else 'b' }}{# comment #}{%- raw -%}{{ }}{%- endraw -%}",
]):
    put("FuzzChatTemplate", f"snippet{i}", text)
print("wrote", CORPUS)
