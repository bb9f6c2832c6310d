#!/usr/bin/env python3
"""Render real chat templates exactly as transformers does, for AlignTemplates' byte-for-byte tests.

Input : Tests/AlignTemplatesTests/Fixtures/chat_templates.json (template texts, their origin, special tokens).
Output: Tests/AlignTemplatesTests/Fixtures/chat_template_renders.json: one case per template x conversation x
        add_generation_prompt, with either the rendered text or the error message the template raised.

Rendering goes through transformers' own `render_jinja_template` (the function `apply_chat_template` calls), so
the sandbox, trim_blocks/lstrip_blocks, its tojson and raise_exception are the real ones. Run from the repo root:
    python3 scripts/make_template_fixtures.py
"""
import datetime
import json
import pathlib

import jinja2
import transformers
from transformers.utils.chat_template_utils import _compile_jinja_template, render_jinja_template

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
# Templates with a tools branch worth exercising with TOOLS (plus every entry marked "extra").
TOOL_TEMPLATES = {"qwen2_5", "llama_3_1", "mistral_v0_3"}
# A conversation with reasoning, which transformers also copies under `thinking` / `reasoning_content`.
REASONING_CONVERSATION = [
    {"role": "user", "content": "Is 9 prime?"},
    {"role": "assistant", "content": "No.", "reasoning_content": "9 = 3 * 3."},
    {"role": "user", "content": "And 7?"},
]
# Some templates print today's date through strftime_now; pin it so the fixtures are reproducible. The Swift
# tests install the same answers (FIXED_DATES) as a `strftime_now` context variable.
FIXED_DATE = datetime.datetime(2024, 7, 26)
DATE_FORMATS = ["%d %B %Y", "%d %b %Y", "%Y-%m-%d"]
FIXED_DATES = {fmt: FIXED_DATE.strftime(fmt) for fmt in DATE_FORMATS}


# Small templates, each rendered with SNIPPET_CONTEXT through transformers' compiled environment: they pin down
# expression semantics, filters, tests, whitespace control and value printing one construct at a time.
SNIPPET_CONTEXT = {
    "d": {"b": 1, "a": [1, 2.5, None, True, "x"], "s": "it's"},
    "msgs": [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": " hi "},
        {"role": "assistant", "content": "yo", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]},
        {"role": "user", "content": "bye"},
    ],
    "n": 7,
    "f": 2.5,
    "s": "Hello, World",
    "empty": "",
    "nothing": None,
}
SNIPPETS = [
    # literals and printing
    "{{ 1 }}|{{ 1.0 }}|{{ -0.5 }}|{{ 1e3 }}|{{ 1.5e-7 }}|{{ 123456789012345678.0 }}|{{ 0.1 + 0.2 }}",
    "{{ true }}|{{ False }}|{{ none }}|{{ None }}|{{ nothing }}|{{ missing }}|",
    "{{ 'a\\tb\\n' }}|{{ \"q'\" }}|{{ 'x\\u00e9\\x41' }}|{{ 'a' 'b' }}",
    "{{ [1, 'a', none, true, 2.0, [], {}] }}|{{ {'k': 'v', 'n': [1]} }}|{{ (1, 'a') }}|{{ (1,) }}|{{ () }}",
    "{{ ['it\\'s', 'say \"hi\"', 'both \\' \"', 'back\\\\slash', 'new\\nline'] }}",
    "{{ d }}|{{ d.a }}|{{ d['s'] }}|{{ d.missing }}|{{ d['missing'] }}",
    # arithmetic and operators
    "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 6 / 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}",
    "{{ 1 + 2 * 3 - 4 }} {{ (1 + 2) * 3 }} {{ -n }} {{ - 3 + 1 }} {{ n + f }} {{ true + 1 }}",
    "{{ 'a' + 'b' }} {{ 'a' ~ 1 ~ none ~ missing ~ [1] }} {{ 'ab' * 3 }} {{ [1] * 3 }} {{ [1] + [2] }}",
    "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' < 'b' }} {{ 'B' < 'a' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ 1 != '1' }}",
    "{{ 'a' in 'cat' }} {{ 'z' not in 'cat' }} {{ 2 in [1, 2] }} {{ 'b' in d }} {{ 'x' in missing }} {{ not 'a' in 'b' }}",
    "{{ 0 or 'x' }} {{ 1 and 'y' }} {{ [] or none }} {{ '' and 1 }} {{ not none }} {{ not 0 and 1 }}",
    "{{ 'yes' if n > 5 else 'no' }}|{{ 'yes' if n > 50 }}|{{ 'a' if false else 'b' if false else 'c' }}",
    "{{ '%s-%d' % ('a', 3) }} {{ '%s' % 'x' }} {{ '%.2f' % 3.14159 }} {{ '100%%' % () }}",
    # access and slicing
    "{{ msgs[0].role }} {{ msgs[-1]['content'] }} {{ msgs[10] }} {{ msgs[1:3] | map(attribute='role') | list }}",
    "{{ s[::-1] }} {{ s[1:] }} {{ s[:-1] }} {{ s[-5:] }} {{ s[::2] }} {{ [1,2,3,4][::-1] }} {{ [1,2,3][5:] }} {{ s[0] }} {{ s[-1] }}",
    "{{ msgs[2].tool_calls[0].function.arguments.x }} {{ msgs[2]['tool_calls'][0]['function']['name'] }}",
    # string methods
    "[{{ '  x y  '.strip() }}][{{ 'xxhixx'.strip('x') }}][{{ '  a'.lstrip() }}][{{ 'a  '.rstrip() }}][{{ '..a..'.rstrip('.') }}]",
    "{{ ' a  b c '.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a b c'.split(' ', 1) }} {{ 'a-b-c'.rsplit('-', 1) }} {{ 'x'.split('y') }}",
    "{{ s.startswith('Hell') }} {{ s.endswith(('x', 'ld')) }} {{ s.upper() }} {{ s.lower() }} {{ 'hello wORLD-x y_z'.title() }}",
    "{{ s.replace('l', 'L') }} {{ s.replace('l', 'L', 1) }} {{ s.find('World') }} {{ s.find('zz') }} {{ s.count('l') }} {{ '-'.join(['a', 'b']) }}",
    "{{ '{} and {}'.format(1, 'b') }} {{ '{0}{1}{0}'.format('a', 'b') }} {{ '{name}!'.format(name='x') }} {{ '{{}}'.format() }}",
    "{{ 'ab\\ncd\\r\\nef'.splitlines() }} {{ 'hELLO wORLD'.capitalize() }} {{ '123'.isdigit() }} {{ 'abc'.isalpha() }}",
    # dict methods
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{{ d.keys() | list }}|{{ d.values() | list }}|{{ d.get('b') }}|{{ d.get('q', 'dflt') }}|{{ d.get('q') }}",
    # filters
    "[{{ '  pad  ' | trim }}][{{ 'xxay' | trim('x') }}][{{ s | upper }}][{{ s | lower }}][{{ 'hello WORLD' | capitalize }}][{{ 'hello wORLD-x (y) [z]' | title }}]",
    "{{ s | length }} {{ msgs | length }} {{ d | length }} {{ missing | length }} {{ 'é' | length }} {{ msgs | count }}",
    "{{ [1, 2] | join }} {{ ['a', 'b'] | join(', ') }} {{ msgs | join('|', attribute='role') }}",
    "{{ missing | default('dflt') }} {{ nothing | default('dflt') }} {{ empty | default('dflt') }} {{ empty | default('dflt', true) }} {{ missing | d('x') }}",
    "{{ [3, 1, 2] | first }} {{ [3, 1, 2] | last }} {{ 'abc' | first }} {{ [] | first }} {{ 'abc' | list }} {{ d | list }}",
    "{{ d | items | list }} {{ missing | items | list }} {{ d | dictsort }} {{ {'b': 2, 'A': 1} | dictsort }}",
    "{{ 'aXbX' | replace('X', '-') }} {{ 42 | string }} {{ [1] | string }} {{ none | string }} {{ 'x' | safe }}",
    "{{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(5) }} {{ 3.9 | int }} {{ true | int }} {{ '0x1A' | int(0, 16) }} {{ ' 12 ' | int }}",
    "{{ '2.5' | float }} {{ 3 | float }} {{ 'x' | float }} {{ -3 | abs }} {{ -2.5 | abs }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }} {{ 2.1 | round(0, 'ceil') }} {{ 2.9 | round(method='floor') }} {{ 7 | round }}",
    "{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} {{ msgs | rejectattr('role', 'eq', 'user') | list | length }}",
    "{{ msgs | selectattr('tool_calls', 'defined') | list | length }} {{ msgs | selectattr('tool_calls') | list | length }} {{ msgs | rejectattr('tool_calls', 'undefined') | map(attribute='role') | first }}",
    "{{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('even') | list }} {{ ['a', '', 'b'] | select | list }} {{ [1, 5, 10] | select('gt', 3) | list }}",
    "{{ ['a', 'b'] | map('upper') | list }} {{ msgs | map(attribute='missing', default='?') | list }} {{ msgs | map(attribute='role') | join(',') }}",
    "{{ msgs | selectattr('tool_calls', 'defined') | map(attribute='tool_calls.0.function.name') | list }}",
    "{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}|{{ 'a\\nb' | indent('> ') }}",
    "{{ [3, 1, 2] | sort }} {{ ['b', 'A', 'c'] | sort }} {{ [3, 1, 2] | sort(reverse=true) }} {{ msgs | sort(attribute='role') | map(attribute='content') | list }}",
    "{{ [1, 2, 1, 3] | unique | list }} {{ [1, 2] | reverse | list }} {{ 'abc' | reverse }} {{ [1, 2, 3] | sum }} {{ [1, 5, 2] | max }} {{ [4, 2, 8] | min }}",
    "{{ 'a <b> & \"c\"' | e }} {{ '%s=%s' | format('k', 3) }} {{ 'one two  three' | wordcount }} {{ d | attr('b') }}",
    # tojson
    "{{ d | tojson }}",
    "{{ msgs[2] | tojson(indent=2) }}",
    "{{ {'é': 'ü\\n\\t\"\\\\', 'ctl': '\\x01\\x7f', 'f': 1.0, 'big': 1e20, 'neg': -0.0} | tojson }}",
    "{{ {'b': 1, 'a': {'d': [], 'c': {}}} | tojson(sort_keys=true) }} {{ [1, [2]] | tojson(separators=(',', ':')) }} {{ {'é': 1} | tojson(ensure_ascii=true) }}",
    "{{ 'plain' | tojson }} {{ none | tojson }} {{ [true, false] | tojson }} {{ (1, 2) | tojson }} {{ {'a': [1, {'b': 2}]} | tojson(indent=4) }}",
    # tests
    "{{ missing is defined }} {{ missing is undefined }} {{ nothing is none }} {{ s is string }} {{ d is mapping }} {{ msgs is iterable }} {{ n is number }} {{ f is number }} {{ true is number }}",
    "{{ missing is iterable }} {{ missing is sequence }} {{ s is sequence }} {{ d is sequence }} {{ n is iterable }} {{ nothing is iterable }} {{ true is boolean }} {{ 1 is boolean }}",
    "{{ n is odd }} {{ n is even }} {{ n is divisibleby 7 }} {{ n is divisibleby(2) }} {{ 'x' is equalto 'x' }} {{ n is eq 7 }} {{ n is gt 3 }} {{ n is not lt 3 }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ 2 is in [1, 2] }}",
    "{{ n is integer }} {{ f is float }} {{ n is float }} {{ true is true }} {{ false is false }} {{ 0 is false }} {{ namespace is callable }} {{ n is not none }} {{ nothing is sameas none }}",
    # statements
    "{% for m in msgs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
    "{% for m in msgs %}[{{ loop.previtem.role if loop.previtem is defined else '-' }}>{{ m.role }}>{{ loop.nextitem.role if loop.nextitem is defined else '-' }}]{% endfor %}",
    "{% for m in msgs if m.role == 'user' %}{{ loop.index }}/{{ loop.length }}:{{ m.content }};{% else %}none{% endfor %}",
    "{% for m in msgs if m.role == 'nobody' %}x{% else %}empty{% endfor %}|{% for x in missing %}x{% else %}undefined-empty{% endfor %}",
    "{% for k in d %}{{ k }},{% endfor %}|{% for c in 'abc' %}{{ c }}.{% endfor %}|{% for a, b in [(1, 2), [3, 4]] %}{{ a + b }};{% endfor %}",
    "{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}|{{ range(2, 8, 3) | list }}",
    "{% for i in [1, 2] %}{% for j in 'ab' %}{{ loop.index }}{{ j }}{{ i }} {% endfor %}{% endfor %}",
    "{% for i in [1, 2, 3] %}{{ loop.cycle('odd', 'even') }} {% endfor %}",
    "{% for i in [1, 2] %}{{ loop }}|{{ loop['index'] }}|{% set l = loop %}{{ l.last }};{% endfor %}",
    "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = x + 10 %}{{ x }},{% endfor %}{{ x }}",
    "{% set ns = namespace(count=0, found=false) %}{% for m in msgs %}{% if m.role == 'user' %}{% set ns.count = ns.count + 1 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = 1, 2 %}{{ t }}{% set lst = [1] + [2] %}{{ lst }}",
    "{% set block %}inner {{ n }}{% endset %}[{{ block }}]",
    "{% if n > 10 %}big{% elif n > 5 %}mid{% else %}small{% endif %}|{% if missing %}x{% elif nothing %}y{% endif %}|",
    "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(name='C', punct='.') }} {{ greet() }}",
    "{% macro wrap() %}<{{ caller() }}>{% endmacro %}{% call wrap() %}body {{ n }}{% endcall %}",
    "{% filter upper %}shout {{ s }}{% endfilter %}",
    "{{ dict(a=1, b='x') }} {{ dict(a=1) | tojson }} {{ namespace(a=1).a }}",
    "{% raw %}{{ not parsed }} {% if %}{% endraw %}",
    "a  {%- raw -%}  x {{ y }}  {%- endraw -%}  b|  {% raw %}\n  z\n  {% endraw %}\nw|{%+ raw %}k{% endraw +%}\n.",
    "{# multi\nline {{ comment }} #}\nafter|  {#- x -#}  |\n  {# lstripped #}\nnext",
    "{{ 'a' }}{#\n#}{{ 'b' }}\n{% if true %}{# inside #}\nc{% endif %}",
    "{#- comment -#}  A  {# another #}B",
    # whitespace control (trim_blocks / lstrip_blocks / explicit markers)
    "<ul>\n  {% for i in [1, 2] %}\n    <li>{{ i }}</li>\n  {% endfor %}\n</ul>\n",
    "a  {%- if true %}  b  {% endif -%}  c\n{{- ' d ' -}}\n  e",
    "line1\n    {# note #}\nline2\n  {%+ if true %}kept-indent{% endif %}\n  {% if true +%}\nno-trim{% endif %}",
    "x {{ 'y' }}\n  {{ 'z' }}\n\n",
    "  {% if true %}\n\tindented\n  {% endif %}\n  tail {% if true %}inline{% endif %}\n",
    "{% for m in msgs %}\n{{ m.role }}\n{% endfor %}",
    "{%- for m in msgs -%}\n   {{ m.role }}  \n{%- endfor %}\r\nEnd\r\n",
    # second round: precedence, scoping, whitespace corners, numbers, unicode
    "{{ d.missing is defined }} {{ msgs[0].x is undefined }} {{ not msgs | length }} {{ msgs | length > 1 }} {{ -1 | abs }} {{ not nothing is none }}",
    "{% set x = namespace() %}[{{ x.y }}]{{ x.y is defined }}{% set x.y = [1] %}{{ x.y }}{{ x }}",
    "{{ '\\u2028|\\x00' | tojson }} {{ 'tab\\there' }} {{ '\\q' }} {{ '\\101\\0' | tojson }}",
    "{{ {'a': 1.5, 'b': {'c': None, 'd': (1, 2)}} }} {{ [[]] }} {{ [(1,)] }}",
    "{{ msgs[1].content.strip() }}|{{ msgs[1]['content'] | trim }}|{{ (msgs[1].content ~ '!') | upper }}",
    "{{ 5 > 3 and 'yes' or 'no' }} {{ (1 if true else 2) + 1 }} {{ [1, 2, 3] | length - 1 }}",
    "{{ msgs | selectattr('role', 'in', ['user', 'system']) | map(attribute='role') | join(',') }} {{ msgs | selectattr('role', '!=', 'user') | list | length }}",
    "{% for m in msgs %}{% if not loop.first %},{% endif %}{{ m.role[0] | upper }}{% endfor %}",
    "{% for m in msgs | reverse %}{{ m.role }} {% endfor %}|{% for m in msgs[::-1] %}{{ loop.index }}{% endfor %}",
    "{% for i in range(3) %}{% set ns2 = namespace(v=i) %}{{ ns2.v }}{% endfor %}{% for x in [] %}{% endfor %}{{ x }}",
    "{%- if true -%}\n  A\n{%- endif -%}\n B",
    "  {%- for i in [1] %}\n    {{- i }}\n  {% endfor -%}\n!",
    "{% if true %}\n  two spaces\n{% endif %}\n\n  {# c #}\n{{ 'end' }}",
    "<{% for i in [1, 2] -%}\n  {{ i }}\n{%- endfor %}>",
    "a\n{% set x = 1 %}\nb\n  {% set y = 2 %}  \nc",
    "{% macro m(a) -%}\n  [{{ a }}]\n{%- endmacro %}\n{{ m(1) }}{{ m('x') }}",
    "\t{% if true %}\tx{% endif %}\n  {%- if true %} y{% endif %}\n  {{ 'z' }}  {% if true %}w{% endif %}",
    "{{ 'a' ~ 'b' | upper }} {{ ('a' ~ 'b') | upper }} {{ 1 ~ 2 | string }}",
    "{{ 10 / 4 }} {{ 10 // 4 }} {{ 2 * 1.5 }} {{ 0.5 + 0.5 }} {{ 3 - 5 }} {{ 1e2 | int }} {{ 7 % 2.5 }}",
    "{{ 'Hello'[1:4] }} {{ 'Hello'[10:] }}|{{ 'Hello'[-10:2] }} {{ [1,2,3,4,5][1:4:2] }} {{ [1,2,3][:-5] }} {{ [1,2,3,4][-1:0:-2] }}",
    "{{ s.split(', ')[1].lower() }} {{ s | replace(',', '') | lower | title }} {{ s.lstrip('Hel') }}",
    "{{ ['b', 'a'] | sort | join('') }} {{ [{'n': 2}, {'n': 1}] | sort(attribute='n') | map(attribute='n') | list }} {{ ['B', 'a', 'C'] | sort(case_sensitive=true) }}",
    "{{ [1, '1', 1.0] | unique | list }} {{ ['A', 'a'] | unique | list }} {{ [] | sum }} {{ [0.5, 1] | sum }} {{ [] | max }}",
    "{{ none | default('x', true) }} {{ 0 | default('zero', true) }} {{ false | default('f') }}",
    "{{ 'abc' | first | upper }} {{ msgs | first | tojson }} {{ msgs | last | attr('role') }}",
    "{{ {'a': 1} | items | first }} {{ d.items() | list | length }} {{ d.keys() | first }}",
    "{{ '  x  ' | trim | length }} {{ ' \\t\\n x \\n' | trim }}|{{ 'xAx' | trim('x') }}",
    "{{ '{}'.format([1, 'a']) }} {{ '{}-{}'.format(none, true) }} {{ 'a{0}b'.format(1.0) }}",
    "{{ ''.join(['a', 'b']) }} {{ ','.join(d.keys()) }} {{ 'a b'.split(' ') | length }} {{ ''.split() }} {{ 'a'.split(',') }}",
    "{{ true and none }} {{ none or false }} {{ 0 or '' }}|{{ [] and 1 }} {{ 'x' and 'y' }}",
    "{{ msgs[2].tool_calls | length }} {{ msgs[2].tool_calls[0].function.arguments | tojson }} {{ msgs[2].tool_calls[0].function.arguments | items | list }}",
    "{{ namespace(a=1, b='x') }} {{ namespace({'k': 1}, j=2).k }}",
    "{% set d2 = {'x': 1, 'y': {'z': [1, 2]}} %}{{ d2.y.z[1] }} {{ d2['y']['z'] | last }} {{ 'x' in d2 }} {{ 'z' in d2.y }} {{ 1 in d2.y.z }}",
    "{% for k, v in d | dictsort %}{{ k }}{% endfor %} {% for a, (b, c) in [(1, (2, 3))] %}{{ a }}{{ b }}{{ c }}{% endfor %}",
    "{{ 3 is divisibleby 3 }} {{ none is defined }} {{ d.b is number }} {{ d.a is sequence }} {{ d is iterable }} {{ 'x' is iterable }} {{ [] is mapping }}",
    "{{ 1 == 1 == 1 }} {{ 1 < 2 > 1 }} {{ 'b' > 'a' }} {{ [1] == [1] }} {{ (1, 2) == [1, 2] }} {{ none == none }} {{ none != 0 }}",
    "{{ missing ~ '' }}|{{ missing | string }}|{{ missing | lower }}|{{ missing | list }}|{{ missing | join(',') }}|{{ missing | first }}|",
    "{{ 'a' if missing is defined and missing else 'b' }} {{ missing is defined and missing.x }}",
    "{{ 9999999999 * 9999999 }} {{ -(2 ** 62) }} {{ 2 ** 0.5 }} {{ 10 ** -2 }} {{ (-8) // 3 }} {{ 8 % -3 }}",
    "{{ 1.0 == 1 }} {{ 0.1 * 3 }} {{ 1 / 3 }} {{ 100.0 }} {{ 1e22 }} {{ 5e-324 }} {{ 1.7976931348623157e308 }} {{ 12.0e0 }}",
    "{{ 3.14159 | round(2) }} {{ 2.5 | round(0) }} {{ -2.5 | round }} {{ 1234.5678 | round(-2) }} {{ 0.125 | round(2) }} {{ 5 | round(1) }}",
    "{{ 'x' * 0 }}|{{ [1, 2] * 0 }}|{{ 3 * 'ab' }}|{{ 'ab' * -1 }}|",
    "{% for x in [1, 2, 3] %}{{ x }}{% if x == 2 %}{% break %}{% endif %}{% else %}never{% endfor %}",
    "{% for x in 'ab' %}{% for y in [1, 2] %}{% if y == 2 %}{% continue %}{% endif %}{{ x }}{{ y }}{% endfor %}{% endfor %}",
    "{%- set names = [] -%}{%- for m in msgs -%}{%- set names = names + [m.role] -%}{%- endfor -%}{{ names }}",
    "{{ msgs | map(attribute='content') | map('trim') | map('upper') | list }} {{ [1, 2] | map('string') | join('+') }}",
    "{{ [' a ', 'b '] | map('trim') | list }} {{ ['x', 'y'] | map('replace', 'x', 'z') | list }}",
    "{{ d | tojson(indent=2, sort_keys=true) }}",
    "{{ [1, {'a': []}] | tojson(indent='\\t') }}",
    "{{ {'n': none, 'l': [none]} | tojson(separators=(',', ':')) }} {{ {'x': 'y'} | tojson(indent=0) }}",
    "{{ 'Ünïcödé ✓ 😀' | upper }} {{ 'ÀB' | lower }} {{ '😀x' | length }} {{ '😀x'[0] }} {{ 'ß' | upper }} {{ '😀' | tojson }} {{ '😀' | tojson(ensure_ascii=true) }}",
    "{{ 'a\\nb' | indent(first=true) }}|{{ '' | indent }}|{{ 'x\\n' | indent(2) }}|",
    "{{ 'hello' | center(11) }}|{{ 'hi' | center(7) }}|{{ 'odd' | center(6) }}|",
    "{{ d.b.real }} {{ f.imag }} {{ n.denominator }}",
    "{{ raise_exception() }}",
    "{{ 1 ~ 2 + 3 }}",
    "{{ 1 + 2 | string }}",
    "{{ ['\\xa0', '\\u200b', '\\u2028', 'é', '\\x7f', '\\x85', '\\U0001F600', '\\ue000', '\\u0378', '\\t\\x1b'] }}",
    "{% set a = 1 %}{% with a = a + 1, b = 'x' %}{{ a }}{{ b }}{% set c = 3 %}{% endwith %}{{ a }}{{ b }}{{ c }}",
    "{{ '\\N' }}",
    # errors: each must raise, never render text
    "{{ missing.attr }}",
    "{{ d.missing.deeper }}",
    "{{ 1 + 'a' }}",
    "{{ missing + 1 }}",
    "{{ 1 / 0 }}",
    "{{ 'a' < 1 }}",
    "{{ missing() }}",
    "{{ d | tojson(bogus=1) }}",
    "{{ missing | tojson }}",
    "{% for a, b in [1, 2] %}{% endfor %}",
    "{{ raise_exception('custom failure') }}",
    "{% if true %}unclosed",
    "{{ 1 + }}",
    "{{ 'unterminated }}",
    "{% endfor %}",
    "{% set ns = namespace() %}{% set ns._private = 1 %}",
    "{% set x = 1 %}{% set x.attr = 2 %}",
    "{{ d.update({'c': 1}) }}",
    "{{ [1, 2].append(3) }}",
    "{{ nothing[0] }}x",
    "{{ msgs | map(attribute='tool_calls.0.function.name') | list }}",
    "{{ [1, 'a'] | sort }}",
    "{{ 'x' | unknownfilter }}",
    "{{ 1 is unknowntest }}",
    "{% include 'other.jinja' %}",
]


def render_snippet(source):
    try:
        return {"expected": _compile_jinja_template(source).render(**SNIPPET_CONTEXT)}
    except Exception as error:  # noqa: BLE001 - any failure is a case the Swift side must also refuse
        return {"error": f"{type(error).__name__}: {error}"}


def render(template, tokens, messages, add_generation_prompt, tools=None, continue_final_message=False):
    _compile_jinja_template(template).environment.globals["strftime_now"] = lambda fmt: FIXED_DATES[fmt]
    try:
        rendered, _ = render_jinja_template(
            conversations=[messages],
            tools=tools,
            chat_template=template,
            add_generation_prompt=add_generation_prompt,
            continue_final_message=continue_final_message,
            **tokens,
        )
        return {"expected": rendered[0]}
    except Exception as error:  # noqa: BLE001 - the Swift side must refuse to render wherever Python did
        return {"error": str(error), "error_type": type(error).__name__}


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
        # Assistant prefill (TRL uses it when a prompt ends with an assistant turn): the render stops right
        # after the final message's content.
        for conversation in ("ends_with_assistant", "multi_turn"):
            case = {"template": name, "conversation": conversation, "add_generation_prompt": False,
                    "continue_final_message": True}
            case.update(render(entry["template"], tokens, CONVERSATIONS[conversation], False, continue_final_message=True))
            cases.append(case)
        if entry.get("extra"):
            for generation in (False, True):
                case = {"template": name, "conversation": "reasoning", "add_generation_prompt": generation}
                case.update(render(entry["template"], tokens, REASONING_CONVERSATION, generation))
                cases.append(case)
        if name in TOOL_TEMPLATES or entry.get("extra"):
            for generation in (False, True):
                case = {"template": name, "conversation": "tools", "add_generation_prompt": generation}
                case.update(render(entry["template"], tokens, TOOL_CONVERSATION, generation, tools=TOOLS))
                cases.append(case)
    output = {
        "generator": "scripts/make_template_fixtures.py",
        "transformers": transformers.__version__,
        "jinja2": jinja2.__version__,
        "conversations": dict(CONVERSATIONS, tools=TOOL_CONVERSATION, reasoning=REASONING_CONVERSATION),
        "strftime_now": FIXED_DATES,
        "tools": TOOLS,
        "cases": cases,
    }
    snippets = {
        "generator": "scripts/make_template_fixtures.py",
        "transformers": transformers.__version__,
        "jinja2": jinja2.__version__,
        "context": SNIPPET_CONTEXT,
        "cases": [dict(template=source, **render_snippet(source)) for source in SNIPPETS],
    }
    snippet_path = FIXTURES / "snippet_renders.json"
    snippet_path.write_text(json.dumps(snippets, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(SNIPPETS)} snippets to {snippet_path.relative_to(ROOT)}")
    path = FIXTURES / "chat_template_renders.json"
    path.write_text(json.dumps(output, indent=1, ensure_ascii=False) + "\n")
    errors = sum("error" in case for case in cases)
    print(f"wrote {len(cases)} cases ({errors} raising) to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
