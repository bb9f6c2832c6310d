#!/usr/bin/env python3
"""Generates the AlignTokenizers test fixtures from the Hugging Face `tokenizers` library.

Writes, under Tests/AlignTokenizersTests/Fixtures/:
  <name>/tokenizer.json, <name>/tokenizer_config.json   small tokenizers trained here (vocab <= ~1000)
  <name>/expected.json                                  ids (with and without special tokens) and
                                                        decodes for the shared corpus
  smollm2_expected.json                                 ids of the real SmolLM2 vocabulary for the corpus
                                                        plus movie-review snippets

The real SmolLM2 tokenizer.json is derived from the cached GGUF (transformers' GGUF loader) and written
to $ALIGN_CACHE/smollm2/tokenizer/ (never into git), together with gguf_vocab.json: the raw GGUF
vocabulary arrays, so the Swift tests can exercise the raw-vocabulary initialiser on the real vocabulary.

Usage: python3 scripts/make_tokenizer_fixtures.py   (after scripts/fetch-assets.sh)
"""
import json
import os
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "AlignTokenizersTests", "Fixtures")
CACHE = os.environ.get("ALIGN_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "align"))
SNIPPETS = os.path.join(CACHE, "vader", "movieReviewSnippets_GroundTruth.txt")
GGUF = os.path.join(CACHE, "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")

LLAMA3_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

# Texts every tokenizer is checked on: each line exercises a corner of the pre-tokenizer regexes,
# byte fallback, added-token matching or decoding.
CORPUS = [
    "",
    " ",
    "Hello world",
    "Hello, world! How are you doing today?",
    " leading space",
    "   three leading spaces",
    "trailing spaces   ",
    "  multiple   spaces\n\n",
    "tabs\tand\t\ttabs\t",
    "line one\nline two\r\nline three\n\n\nend",
    " \n hello \n\n world",
    "don't can't won't I'm you're we've they'll she'd it's",
    "DON'T CAN'T I'M YOU'RE WE'VE THEY'LL SHE'D IT'S",
    "'sam 'T 'Ll ' s",
    "1234567 and 12 and 1 and 1234 and 3.14159 and 1,000,000",
    "a1b22c333d4444",
    "   123 leading spaced digits",
    "unicode: café naïve résumé Ångström Straße",
    "Ελληνικά и русский текст",
    "CJK: 你好，世界！こんにちは 한국어",
    "emoji: 😀🎉👍🏽 ❤️ 🇫🇷",
    "math ∑∫√∞ ≠ ≤ ≥ and arrows → ← ↔",
    "mixed: abc123def ABC-DEF_ghi.jkl/mno",
    "code: def f(x):\n    return x**2  # square\n",
    "punctuation!!! ??? ... --- ;;; ''' \"\"\" ((()))",
    "special <|im_start|>user\nhi<|im_end|> tokens",
    "<|im_start|>assistant\nI'm fine.<|im_end|>",
    "end with special<|endoftext|>",
    "<|endoftext|><|endoftext|>double",
    "a <mask> b",
    "a<mask>b",
    "<norm>rest and x<norm> and a <norm> b",
    "<norm>",
    "say two words now, two words",
    "\u00a0non-breaking\u00a0space and\u2003em space",
    "zero\u200bwidth and combining e\u0301",
    "The Rock is destined to be the 21st Century's new ''Conan''.",
]


def snippets(limit):
    """Movie review snippets (text column), used as training data and as extra test lines."""
    if not os.path.exists(SNIPPETS):
        sys.exit(f"missing {SNIPPETS}: run scripts/fetch-assets.sh first")
    out = []
    with open(SNIPPETS, encoding="utf-8", newline="") as f:
        for line in f:
            parts = line.rstrip("\r\n").split("\t", 2)
            if len(parts) == 3:
                out.append(parts[2])
    return out[:limit]


def training_data():
    return snippets(6000) + CORPUS * 3


def byte_level(name, pre, ignore_merges=False, special=("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
               bos=None, eos="<|endoftext|>", post=None, vocab_size=900):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(special),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(training_data(), trainer)
    # An lstrip special token and a user-defined (non-special) token, matched before the model.
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    tok.add_tokens([AddedToken("<custom>", special=False, normalized=False),
                    AddedToken("<norm>", special=False, normalized=True),
                    AddedToken("two words", special=False, normalized=True)])
    if post is not None:
        tok.post_processor = post(tok)
    config = {"eos_token": eos, "model_max_length": 2048, "tokenizer_class": "PreTrainedTokenizerFast",
              "chat_template": "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"}
    if bos is not None:
        config["bos_token"] = bos
    return tok, config


def sentencepiece(name, legacy):
    """Llama-2 style BPE over '▁'-joined text with <0xNN> byte fallback."""
    trainer_tok = Tokenizer(models.BPE(unk_token="<unk>"))
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False)
    # Train on ASCII only, so every other character exercises byte fallback. (limit_alphabet would do
    # it too, but breaks ties between equally rare characters differently from run to run.)
    trainer_tok.train_from_iterator(["".join(c for c in t if c.isascii()) for t in training_data()], trainer)
    trained = json.loads(trainer_tok.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for token, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        if token not in vocab:
            vocab[token] = len(vocab)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in trained["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.add_special_tokens([AddedToken("<unk>", special=True, normalized=False),
                            AddedToken("<s>", special=True, normalized=False),
                            AddedToken("</s>", special=True, normalized=False),
                            AddedToken("<|im_start|>", special=True, normalized=False),
                            AddedToken("<|im_end|>", special=True, normalized=False),
                            AddedToken("<mask>", special=True, normalized=False, rstrip=True)])
    # Normalized added tokens are matched on normalized text, their own text normalized too.
    tok.add_tokens([AddedToken("<norm>", special=False, normalized=True),
                    AddedToken("two words", special=False, normalized=True)])
    if legacy:
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Strip(" ", 1, 0)])
    else:
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
        tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Metaspace(replacement="▁", prepend_scheme="first")])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", 1)])
    config = {"bos_token": {"content": "<s>", "lstrip": False, "normalized": False, "rstrip": False,
                            "single_word": False, "__type": "AddedToken"},
              "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None,
              "add_bos_token": True, "add_eos_token": False, "model_max_length": 4096,
              "legacy": legacy, "tokenizer_class": "LlamaTokenizer",
              "chat_template": [{"name": "default", "template": "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{% endfor %}"},
                                {"name": "tool_use", "template": "tools"}]}
    return tok, config


def whitespace_bpe():
    """Character BPE over `Whitespace` words with an unknown token and no decoder (ids joined by spaces)."""
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["[UNK]", "[CLS]", "[SEP]"], show_progress=False)
    tok.train_from_iterator(["".join(c for c in t if c.isascii()) for t in training_data()], trainer)
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
                                                       special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    config = {"unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]", "model_max_length": 512}
    return tok, config


def expected(tok, texts):
    rows = []
    for text in texts:
        plain = tok.encode(text, add_special_tokens=False).ids
        with_special = tok.encode(text, add_special_tokens=True).ids
        rows.append({"text": text, "ids": plain, "ids_special": with_special,
                     "decoded": tok.decode(plain, skip_special_tokens=False),
                     "decoded_skip": tok.decode(plain, skip_special_tokens=True)})
    return rows


def save(name, tok, config):
    folder = os.path.join(FIXTURES, name)
    os.makedirs(folder, exist_ok=True)
    tok.save(os.path.join(folder, "tokenizer.json"), pretty=False)
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=1)
    # Reload from disk so the expectations come from exactly the file the Swift tests read.
    reloaded = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    with open(os.path.join(folder, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected(reloaded, CORPUS + snippets(40)[20:40]), f, ensure_ascii=False, indent=0)
    print(f"{name}: vocab {reloaded.get_vocab_size()}")


def gpt2_pre():
    return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)


def split_pre(pattern):
    return pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
                                    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])


def llama3_post(tok):
    bos = tok.token_to_id("<|begin_of_text|>")
    return processors.Sequence([processors.ByteLevel(trim_offsets=False),
                                processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                                              pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                                              special_tokens=[("<|begin_of_text|>", bos)])])


# Pieces random fuzz texts are assembled from: each one stresses a branch of the pre-tokenizer regexes
# (whitespace runs before letters/digits/punctuation, newlines, contractions in both cases, the long s
# that case-folds to "s", non-ASCII letters, numbers and spaces, combining marks, added tokens).
FUZZ_PIECES = [" ", " ", " ", "  ", "   ", "\n", "\n\n", "\r\n", "\t", " \n", "\u00a0", "\u3000", "\u2003",
               "a", "word", "Word", "HELLO", "x", "é", "straße", "你好", "ёж", "ǅ", "e\u0301",
               "1", "12", "1234", "٣", "½", "Ⅻ",
               "'", "'s", "'S", "'ll", "'LL", "'Re", "'ve", "'d", "'m", "'t", "'ſ", "'x",
               ".", ",", "!", "?!", "...", "(", ")", "-", "_", "\"", "😀", "👍🏽", "€", "∑",
               "<|im_start|>", "<|im_end|>", "<mask>", "<custom>", "<s>", "</s>", "<norm>", "two words"]


def fuzz_texts(count, seed=1234):
    import random
    rng = random.Random(seed)
    return ["".join(rng.choice(FUZZ_PIECES) for _ in range(rng.randint(1, 14))) for _ in range(count)]


def real_smollm2():
    if not os.path.exists(GGUF):
        print(f"skipping SmolLM2: {GGUF} absent")
        return
    from transformers import AutoTokenizer
    import gguf
    out = os.path.join(CACHE, "smollm2", "tokenizer")
    hf = AutoTokenizer.from_pretrained(os.path.dirname(GGUF), gguf_file=os.path.basename(GGUF))
    hf.save_pretrained(out)
    tok = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
    texts = CORPUS + snippets(300)
    for text in texts:  # the two Hugging Face stacks must agree before we trust them as ground truth
        assert hf(text, add_special_tokens=False)["input_ids"] == tok.encode(text, add_special_tokens=False).ids, text
    with open(os.path.join(FIXTURES, "smollm2_expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected(tok, texts), f, ensure_ascii=False, indent=0)
    reader = gguf.GGUFReader(GGUF)

    def field(key):
        f = reader.fields[key]
        if len(f.types) > 1 and f.types[0] == gguf.GGUFValueType.ARRAY:
            if f.types[1] == gguf.GGUFValueType.STRING:
                return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
            return [int(f.parts[i][0]) for i in f.data]
        value = f.parts[f.data[0]]
        return bytes(value).decode("utf-8") if f.types[0] == gguf.GGUFValueType.STRING else value.tolist()[0]

    raw = {k.split(".")[-1]: field(k) for k in reader.fields if k.startswith("tokenizer.ggml.")}
    with open(os.path.join(out, "gguf_vocab.json"), "w", encoding="utf-8") as f:
        json.dump(raw, f, ensure_ascii=False)
    print(f"smollm2: {len(texts)} texts, tokenizer in {out}")


def main():
    tok, cfg = byte_level("gpt2", gpt2_pre())
    save("gpt2", tok, cfg)
    tok, cfg = byte_level("llama3", split_pre(LLAMA3_PATTERN), ignore_merges=True,
                          special=("<|begin_of_text|>", "<|end_of_text|>", "<|im_start|>", "<|im_end|>", "<|endoftext|>"),
                          bos="<|begin_of_text|>", eos="<|end_of_text|>", post=llama3_post)
    cfg["add_bos_token"] = True
    save("llama3", tok, cfg)
    tok, cfg = byte_level("qwen2", split_pre(QWEN2_PATTERN), eos="<|im_end|>")
    tok.normalizer = normalizers.NFC()  # as Qwen2's own tokenizer.json
    cfg["pad_token"] = "<|endoftext|>"
    save("qwen2", tok, cfg)
    digits = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                      pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok, cfg = byte_level("smollm_digits", digits)
    save("smollm_digits", tok, cfg)
    tok, cfg = byte_level("gpt2_prefix_space", pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True))
    save("gpt2_prefix_space", tok, cfg)
    save("whitespace", *whitespace_bpe())
    tok, cfg = sentencepiece("spm_legacy", legacy=True)
    save("spm_legacy", tok, cfg)
    tok, cfg = sentencepiece("spm_metaspace", legacy=False)
    save("spm_metaspace", tok, cfg)
    fuzz = fuzz_texts(160)
    table = {}
    for name in sorted(os.listdir(FIXTURES)):
        path = os.path.join(FIXTURES, name, "tokenizer.json")
        if os.path.exists(path):
            tok = Tokenizer.from_file(path)
            table[name] = [tok.encode(text, add_special_tokens=False).ids for text in fuzz]
    with open(os.path.join(FIXTURES, "fuzz_expected.json"), "w", encoding="utf-8") as f:
        json.dump({"texts": fuzz, "ids": table}, f, ensure_ascii=False, separators=(",", ":"))
    real_smollm2()


if __name__ == "__main__":
    main()
