#!/usr/bin/env python3
"""The verifiable task shipped for `align grpo`: two-operand arithmetic questions with exact answers.

Writes data/arithmetic/train.jsonl (500 rows) and data/arithmetic/test.jsonl (100 held-out rows, no
question shared with train). Each row: {"prompt": [system, user messages], "answer": "42"}. Rewards:
`--reward arithmetic` (1 when <answer>…</answer> holds exactly the row's answer) and `--reward format`
(1 when the tag is present). Deterministic (seeded).

    python3 scripts/tasks/make_arithmetic.py
"""
import json
import os
import random

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "data", "arithmetic")
SYSTEM = "Answer with the number only, inside <answer></answer> tags."


def question(rng):
    kind = rng.randrange(3)
    if kind == 0:
        a, b = rng.randint(0, 50), rng.randint(0, 50)
        return f"What is {a} + {b}?", a + b
    if kind == 1:
        a, b = sorted((rng.randint(0, 50), rng.randint(0, 50)), reverse=True)
        return f"What is {a} - {b}?", a - b
    a, b = rng.randint(0, 12), rng.randint(0, 12)
    return f"What is {a} * {b}?", a * b


def main():
    rng = random.Random(16)
    seen, rows = set(), []
    while len(rows) < 600:
        q, a = question(rng)
        if q in seen:
            continue
        seen.add(q)
        rows.append({"prompt": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}], "answer": str(a)})
    os.makedirs(OUT, exist_ok=True)
    for name, part in (("train", rows[:500]), ("test", rows[500:])):
        with open(os.path.join(OUT, f"{name}.jsonl"), "w") as f:
            for r in part:
                f.write(json.dumps(r) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
