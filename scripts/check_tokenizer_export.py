#!/usr/bin/env python3
"""One-off check (not run by CI) that Hugging Face reads Align's exported tokenizer files as Align does.

Align writes tokenizer.json + tokenizer_config.json + special_tokens_map.json for a vocabulary that
came from a GGUF file (`BPEVocabulary.huggingFaceTokenizerFiles()`). This script loads such folders
with `tokenizers.Tokenizer.from_file` and with `transformers.AutoTokenizer.from_pretrained(folder)`
and compares, text by text, their ids (with and without special tokens) and decodes with the ones
Align recorded in align_ids.json beside the files.

Produce the folders with the Swift tests, then run this script on them:

    ALIGN_TOKENIZER_EXPORT_KEEP=/tmp/tokexport swift test --filter HuggingFaceExportTests
    python3 scripts/check_tokenizer_export.py /tmp/tokexport

Each sub-folder of the argument holding an align_ids.json is checked (smollm2: the SmolLM2-135M GGUF
vocabulary with its "smollm" pre-tokenizer; spm_legacy: a SentencePiece-style vocabulary). The exit
status is 1 when anything differs.
"""

import json
import sys
from pathlib import Path

from tokenizers import Tokenizer
from transformers import AutoTokenizer


def check(folder: Path) -> int:
    rows = json.loads((folder / "align_ids.json").read_text(encoding="utf-8"))
    raw = Tokenizer.from_file(str(folder / "tokenizer.json"))
    auto = AutoTokenizer.from_pretrained(str(folder))
    failures = 0

    def report(kind: str, text: str, got, want) -> None:
        nonlocal failures
        failures += 1
        if failures <= 10:
            print(f"  {kind} {text!r}: Hugging Face {got!r}, Align {want!r}")

    for row in rows:
        text = row["text"]
        for special, key in ((False, "ids"), (True, "ids_special")):
            got = raw.encode(text, add_special_tokens=special).ids
            if got != row[key]:
                report(f"tokenizers {key}", text, got, row[key])
            got = auto(text, add_special_tokens=special)["input_ids"]
            if got != row[key]:
                report(f"AutoTokenizer {key}", text, got, row[key])
        for skip, key in ((False, "decoded"), (True, "decoded_skip")):
            got = raw.decode(row["ids_special"], skip_special_tokens=skip)
            if got != row[key]:
                report(f"tokenizers {key}", text, got, row[key])
            got = auto.decode(row["ids_special"], skip_special_tokens=skip)
            if got != row[key]:
                report(f"AutoTokenizer {key}", text, got, row[key])

    chat_file = folder / "align_chat.json"
    if chat_file.exists():
        # A folder saved by ModelBundle.save: the chat template must render and encode as Align's.
        chat = json.loads(chat_file.read_text(encoding="utf-8"))
        prompt = auto.apply_chat_template(chat["messages"], tokenize=False, add_generation_prompt=True)
        if prompt != chat["prompt"]:
            report("apply_chat_template text", chat["prompt"], prompt, chat["prompt"])
        ids = auto.apply_chat_template(chat["messages"], tokenize=True, add_generation_prompt=True, return_dict=True)["input_ids"]
        if list(ids) != chat["ids"]:
            report("apply_chat_template ids", chat["prompt"], ids, chat["ids"])
    if (folder / "config.json").exists():
        # And the weights load beside the tokenizer: a short greedy answer shows the pair works.
        import torch
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(str(folder))
        prompt_ids = torch.tensor([rows[-1]["ids_special"]])
        with torch.no_grad():
            output = model.generate(prompt_ids, max_new_tokens=12, do_sample=False)
        print(f"  {folder.name} greedy answer: {auto.decode(output[0, prompt_ids.shape[1]:])!r}")

    print(f"{folder.name}: {len(rows)} texts, {failures} differences "
          f"(AutoTokenizer class {type(auto).__name__}, eos {auto.eos_token!r}, bos {auto.bos_token!r}, "
          f"pad {auto.pad_token!r}, unk {auto.unk_token!r}, model_max_length {auto.model_max_length}, "
          f"chat template {'yes' if auto.chat_template else 'no'})")
    return failures


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    folders = sorted(p.parent for p in Path(sys.argv[1]).glob("*/align_ids.json"))
    if not folders:
        print(f"no */align_ids.json under {sys.argv[1]}")
        return 2
    return 1 if sum(check(folder) for folder in folders) else 0


if __name__ == "__main__":
    sys.exit(main())
