#!/usr/bin/env python3
"""Render real chat templates exactly as transformers does, for AlignTemplates' byte-for-byte tests.

Input : Tests/AlignTemplatesTests/Fixtures/chat_templates.json (template texts, their origin, special tokens).
Output: Tests/AlignTemplatesTests/Fixtures/chat_template_renders.json: one case per template x conversation x
        add_generation_prompt, with either the rendered text or the error message the template raised.

Rendering goes through transformers' own `render_jinja_template` (the function `apply_chat_template` calls), so
the sandbox, trim_blocks/lstrip_blocks, its tojson and raise_exception are the real ones. Run from the repo root:
    python3 scripts/make_template_fixtures.py
"""
import json
import pathlib

import jinja2
import transformers
from transformers.utils.chat_template_utils import render_jinja_template

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "AlignTemplatesTests" / "Fixtures"

SYSTEM = {"role": "system", "content": "You are a terse assistant. Answer in \"one\" line."}
CONVERSATIONS = {
    "single_user": [{"role": "user", "content": "Hello!"}],
    "multi_turn": [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "  It is 4.  "},
        {"role": "user", "content": "And 3+3? Explain with <tags> & 'quotes'."},
    ],
    "system_multi_turn": [
        SYSTEM,
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another, in français: «vert»?\n\nThanks."},
    ],
    "ends_with_assistant": [
        SYSTEM,
        {"role": "user", "content": "Say hi."},
        {"role": "assistant", "content": "Hi."},
    ],
    # Two user turns in a row: templates that check role order must raise.
    "bad_role_order": [
        {"role": "user", "content": "One."},
        {"role": "user", "content": "Two."},
    ],
}

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name, e.g. \"Paris\""},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "days": {"type": "integer", "minimum": 1, "maximum": 7.5},
                },
                "required": ["city"],
            },
        },
    }
]
TOOL_CONVERSATION = [
    {"role": "system", "content": "You can call tools."},
    {"role": "user", "content": "Weather in Zürich?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call00001",
                "type": "function",
                "function": {"name": "get_weather", "arguments": {"city": "Zürich", "unit": "celsius", "days": 2}},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call00001", "name": "get_weather", "content": "{\"temp\": 21.5, \"sky\": null}"},
    {"role": "user", "content": "Thanks!"},
]
# Templates with a tools branch worth exercising with TOOLS.
TOOL_TEMPLATES = {"qwen2_5", "llama_3_1", "mistral_v0_3"}


def render(template, tokens, messages, add_generation_prompt, tools=None):
    try:
        rendered, _ = render_jinja_template(
            conversations=[messages],
            tools=tools,
            chat_template=template,
            add_generation_prompt=add_generation_prompt,
            **tokens,
        )
        return {"expected": rendered[0]}
    except jinja2.exceptions.TemplateError as error:
        return {"error": str(error)}


def main():
    templates = json.loads((FIXTURES / "chat_templates.json").read_text())
    cases = []
    for name, entry in templates.items():
        tokens = {"bos_token": entry["bos_token"], "eos_token": entry["eos_token"]}
        for conversation, messages in CONVERSATIONS.items():
            for generation in (False, True):
                case = {"template": name, "conversation": conversation, "add_generation_prompt": generation}
                case.update(render(entry["template"], tokens, messages, generation))
                cases.append(case)
        if name in TOOL_TEMPLATES:
            for generation in (False, True):
                case = {"template": name, "conversation": "tools", "add_generation_prompt": generation}
                case.update(render(entry["template"], tokens, TOOL_CONVERSATION, generation, tools=TOOLS))
                cases.append(case)
    output = {
        "generator": "scripts/make_template_fixtures.py",
        "transformers": transformers.__version__,
        "jinja2": jinja2.__version__,
        "conversations": dict(CONVERSATIONS, tools=TOOL_CONVERSATION),
        "tools": TOOLS,
        "cases": cases,
    }
    path = FIXTURES / "chat_template_renders.json"
    path.write_text(json.dumps(output, indent=1, ensure_ascii=False) + "\n")
    errors = sum("error" in case for case in cases)
    print(f"wrote {len(cases)} cases ({errors} raising) to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
