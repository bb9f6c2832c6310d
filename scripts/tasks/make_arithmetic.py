#!/usr/bin/env python3
"""The verifiable task shipped for `align grpo`: two-operand arithmetic questions with exact answers.

Writes data/arithmetic/train.jsonl (500 rows) and data/arithmetic/test.jsonl (100 held-out rows, no
question shared with train). Each row: {"prompt": [system, three worked examples as user/assistant
turns, the question], "answer": "42"}. The worked examples (fixed, never asked as questions) show the
`<answer>` format: without them SmolLM2-135M-Instruct answers in prose and never uses the tag, so every
group's reward is equal and GRPO has no gradient (measured: format 0 %); with them it uses the tag on
every greedy answer and is right on about 10 %, which leaves GRPO something to raise. Rewards:
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
SHOTS = [("What is 12 + 7?", "19"), ("What is 9 - 4?", "5"), ("What is 3 * 6?", "18")]


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
    seen, rows = {q for q, _ in SHOTS}, []
    shots = [m for q, a in SHOTS for m in ({"role": "user", "content": q},
                                           {"role": "assistant", "content": f"<answer>{a}</answer>"})]
    while len(rows) < 600:
        q, a = question(rng)
        if q in seen:
            continue
        seen.add(q)
        rows.append({"prompt": [{"role": "system", "content": SYSTEM}, *shots, {"role": "user", "content": q}],
                     "answer": str(a)})
    os.makedirs(OUT, exist_ok=True)
    for name, part in (("train", rows[:500]), ("test", rows[500:])):
        with open(os.path.join(OUT, f"{name}.jsonl"), "w") as f:
            for r in part:
                f.write(json.dumps(r) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
