// The AlignTemplates module: a pure-Swift Jinja interpreter for Hugging Face chat templates.
// See Package.swift for its place among the layers (AlignTokenizers builds on it).
//
// Entry points: `ChatTemplate` (conversation -> prompt text, as transformers' `apply_chat_template(...,
// tokenize=False)`), `Template` (any template with a context), `TemplateValue` (the values, with a JSON reader
// that keeps key order).
//
// Fidelity target: Jinja2 3.1 inside transformers' ImmutableSandboxedEnvironment with trim_blocks=True and
// lstrip_blocks=True, transformers' own `tojson` (json.dumps with ensure_ascii=False), `raise_exception`,
// `strftime_now`, `namespace`, `dict`, and the loop-controls and `{% generation %}` extensions. Checked
// byte-for-byte against Python in Tests/AlignTemplatesTests (fixtures from scripts/make_template_fixtures.py).
//
// Supported
//   statements  for (loop.index/index0/revindex/revindex0/first/last/length/previtem/nextitem/cycle/depth,
//               `for x in y if cond`, else, tuple unpacking), if/elif/else, set (names, tuples, `ns.attr`,
//               block set), macro (defaults, keyword arguments, recursion), call blocks with `caller()`,
//               filter blocks, with, break/continue, raw, generation, comments, whitespace control (-, +).
//   expressions literals (Python string escapes), lists, tuples, dicts, attribute/item access, slices,
//               + - * / // % ** ~, comparisons (chained), and/or/not, in/not in, `is` tests, conditional
//               expressions, calls with keyword arguments, printf-style `%` on strings.
//   filters     abs attr capitalize center count d default dictsort e escape first float format int indent
//               items join last length list lower map max min reject rejectattr replace reverse round safe
//               select selectattr sort string sum title tojson trim unique upper wordcount.
//   tests       boolean callable defined divisibleby eq equalto escaped even false float ge gt in integer
//               iterable le lower lt mapping ne none number odd sameas sequence string true undefined upper.
//   methods     str: strip lstrip rstrip split rsplit splitlines startswith endswith upper lower title
//               capitalize replace find rfind index rindex count join format isdigit isalpha isalnum
//               isspace isupper islower; dict: items keys values get copy; list: index count.
// Limits: every parse and render enforces TemplateLimits (Limits.swift): loop iterations, string and output
// size, list length, range() size, macro, value and syntax nesting, and total work; a hostile template fails
// with a `.limit` TemplateError instead of hanging, exhausting memory or overflowing the stack.
// Not supported (each is a thrown TemplateError, never silently different text): include/extends/import/
// block, recursive loops, `*args` in calls, format specs in str.format, `\N{...}` string escapes,
// filters such as batch/slice/groupby/truncate/wordwrap/urlize, non-string dict keys.
// Known print-only differences (what a template gets from printing these objects directly, which chat
// templates do not do): `dict.items()/keys()/values()` print as lists rather than `dict_items([...])`, and
// `map`/`select`/`selectattr` results print as lists rather than `<generator object ...>`.
