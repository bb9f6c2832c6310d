// Jinja filters and tests, and the Python str/dict methods chat templates call.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Arguments to a filter or method: positional first, then by keyword, with Python's "got multiple values" check.
struct Arguments {
    let positional: [TemplateValue]
    let keywords: [(String, TemplateValue)]
    let callee: String
    let line: Int?

    /// The argument at `position` or named `name`, or nil when absent.
    func value(_ position: Int, _ name: String) throws -> TemplateValue? {
        let byName = keywords.first { $0.0 == name }?.1
        if position < positional.count {
            if byName != nil { throw TemplateError(.runtime, "\(callee)() got multiple values for argument '\(name)'", line: line) }
            return positional[position]
        }
        return byName
    }

    /// Rejects positional arguments past `count` and keywords not in `names`, so a misspelt or unknown
    /// argument is an error rather than silently ignored.
    func check(max count: Int, names: [String]) throws {
        if positional.count > count {
            throw TemplateError(.runtime, "\(callee)() takes at most \(count) argument(s) (\(positional.count) given)", line: line)
        }
        if let bad = keywords.first(where: { !names.contains($0.0) }) {
            throw TemplateError(.unsupported, "\(callee)() got an unexpected keyword argument '\(bad.0)'", line: line)
        }
    }

    func int(_ position: Int, _ name: String, default defaultValue: Int) throws -> Int {
        guard let v = try value(position, name), !v.isUndefined else { return defaultValue }
        guard case .int(let i)? = v.numericValue else {
            throw TemplateError(.runtime, "\(callee)(): '\(name)' must be an integer, not \(v.typeName)", line: line)
        }
        return i
    }

    func bool(_ position: Int, _ name: String, default defaultValue: Bool) throws -> Bool {
        guard let v = try value(position, name) else { return defaultValue }
        return v.isTruthy
    }

    func string(_ position: Int, _ name: String) throws -> String? {
        guard let v = try value(position, name), !v.isUndefined else { return nil }
        if case .none = v { return nil }
        guard case .string(let s) = v else {
            throw TemplateError(.runtime, "\(callee)(): '\(name)' must be a string, not \(v.typeName)", line: line)
        }
        return s
    }
}

extension Interpreter {
    /// Filters that print their input, so a container input is sized first (see `printedSize`).
    static let printingFilters: Set<String> = [
        "capitalize", "center", "e", "escape", "forceescape", "format", "indent", "lower", "replace", "safe", "string",
        "title", "trim", "upper", "wordcount", "tojson",
    ]

    // MARK: - Filters

    func applyFilter(
        _ name: String, to value: TemplateValue, args: [TemplateValue], kwargs: [(String, TemplateValue)], line: Int
    ) throws -> TemplateValue {
        let a = Arguments(positional: args, keywords: kwargs, callee: name, line: line)
        func str() -> String { value.renderedString }
        if value.isContainer && Interpreter.printingFilters.contains(name) { try checkPrintedSize(value, line: line) }
        func sequence() throws -> [TemplateValue] { try iterate(value, line: line) }
        switch name {
        case "trim":
            try a.check(max: 1, names: ["chars"])
            return .string(pythonStrip(str(), chars: try a.string(0, "chars"), left: true, right: true))
        case "upper":
            try a.check(max: 0, names: [])
            return .string(str().uppercased())
        case "lower":
            try a.check(max: 0, names: [])
            return .string(str().lowercased())
        case "capitalize":
            try a.check(max: 0, names: [])
            return .string(pythonCapitalize(str()))
        case "title":
            try a.check(max: 0, names: [])
            return .string(jinjaTitle(str()))
        case "safe", "string":
            try a.check(max: 0, names: [])
            if name == "safe", case .string = value { return value }
            return .string(str())
        case "e", "escape", "forceescape":
            try a.check(max: 0, names: [])
            return .string(htmlEscape(str()))
        case "length", "count":
            try a.check(max: 0, names: [])
            switch value {
            case .undefined: return .int(0)
            case .string(let s): return .int(s.unicodeScalars.count)
            case .array(let x), .tuple(let x): return .int(x.count)
            case .object(let o): return .int(o.count)
            default: throw TemplateError(.runtime, "object of type '\(value.typeName)' has no len()", line: line)
            }
        case "tojson":
            try a.check(max: 4, names: ["ensure_ascii", "indent", "separators", "sort_keys"])
            return .string(try toJSON(value, arguments: a))
        case "join":
            try a.check(max: 2, names: ["d", "attribute"])
            let separator = try a.string(0, "d") ?? ""
            var items = try sequence()
            if let attr = try a.value(1, "attribute"), !attr.isUndefined {
                items = try items.map { try attributePath($0, attr, line: line) }
            }
            // Sized before joining: a long separator between many items multiplies.
            var total = saturatingProduct(separator.utf8.count, items.count)
            var visits = 0
            for item in items {
                total = total &+ printedSize(item, limit: TemplateLimits.maxStringBytes, visits: &visits)
                if total > TemplateLimits.maxStringBytes || total < 0 { break }
            }
            try charge(visits, line: line)
            try checkStringBytes(total < 0 ? Int.max : total, line: line)
            return .string(items.map(\.renderedString).joined(separator: separator))
        case "default", "d":
            try a.check(max: 2, names: ["default_value", "boolean"])
            let fallback = try a.value(0, "default_value") ?? .string("")
            let boolean = try a.bool(1, "boolean", default: false)
            if value.isUndefined || (boolean && !value.isTruthy) { return fallback }
            return value
        case "first":
            try a.check(max: 0, names: [])
            return try sequence().first ?? .undefined
        case "last":
            try a.check(max: 0, names: [])
            return try sequence().last ?? .undefined
        case "list":
            try a.check(max: 0, names: [])
            return .array(try sequence())
        case "items":
            try a.check(max: 0, names: [])
            switch value {
            case .undefined: return .array([])
            case .object(let o): return .array(o.pairs.map { .tuple([.string($0.0), $0.1]) })
            default: throw TemplateError(.runtime, "Can only get item pairs from a mapping.", line: line)
            }
        case "dictsort":
            try a.check(max: 3, names: ["case_sensitive", "by", "reverse"])
            guard case .object(let o) = value else {
                throw TemplateError(.runtime, "dictsort expects a mapping, got \(value.typeName)", line: line)
            }
            let caseSensitive = try a.bool(0, "case_sensitive", default: false)
            let byValue = try a.string(1, "by") == "value"
            let reverse = try a.bool(2, "reverse", default: false)
            let pairs = o.pairs.map { TemplateValue.tuple([.string($0.0), $0.1]) }
            return .array(try sortValues(pairs, reverse: reverse, line: line) { pair in
                guard case .tuple(let kv) = pair else { return pair }
                let key = kv[byValue ? 1 : 0]
                if !caseSensitive, case .string(let s) = key { return .string(s.lowercased()) }
                return key
            })
        case "replace":
            try a.check(max: 3, names: ["old", "new", "count"])
            guard let old = try a.string(0, "old"), let new = try a.string(1, "new") else {
                throw TemplateError(.runtime, "replace() needs 'old' and 'new' strings", line: line)
            }
            let count = try a.int(2, "count", default: -1)
            return .string(try pythonReplace(str(), old, new, count: count, line: line))
        case "int":
            try a.check(max: 2, names: ["default", "base"])
            let fallback = try a.value(0, "default") ?? .int(0)
            let base = try a.int(1, "base", default: 10)
            return toInt(value, base: base) ?? fallback
        case "float":
            try a.check(max: 1, names: ["default"])
            let fallback = try a.value(0, "default") ?? .double(0)
            switch value {
            case .int(let i): return .double(Double(i))
            case .double: return value
            case .bool(let b): return .double(b ? 1 : 0)
            case .string(let s): return parsePythonFloat(s).map { .double($0) } ?? fallback
            default: return fallback
            }
        case "abs":
            try a.check(max: 0, names: [])
            switch value.numericValue {
            case .int(let i)?:
                guard i != Int.min else { throw TemplateError(.runtime, "integer overflow", line: line) }
                return .int(abs(i))
            case .double(let d)?: return .double(abs(d))
            default: throw TemplateError(.runtime, "bad operand type for abs(): '\(value.typeName)'", line: line)
            }
        case "round":
            try a.check(max: 2, names: ["precision", "method"])
            let precision = try a.int(0, "precision", default: 0)
            let method = try a.string(1, "method") ?? "common"
            return try roundValue(value, precision: precision, method: method, line: line)
        case "selectattr", "rejectattr":
            guard let attr = args.first else { throw TemplateError(.runtime, "\(name) needs an attribute name", line: line) }
            let reject = name == "rejectattr"
            return .array(try sequence().filter { item in
                let v = try attributePath(item, attr, line: line)
                return try selectTest(v, args: Array(args.dropFirst()), line: line) != reject
            })
        case "select", "reject":
            let reject = name == "reject"
            return .array(try sequence().filter { item in try selectTest(item, args: args, line: line) != reject })
        case "map":
            if let attr = kwargs.first(where: { $0.0 == "attribute" })?.1 {
                let fallback = kwargs.first { $0.0 == "default" }?.1
                return .array(try sequence().map { item in
                    let v = try attributePath(item, attr, line: line)
                    if v.isUndefined, let fallback { return fallback }
                    return v
                })
            }
            guard case .string(let filterName)? = args.first else {
                throw TemplateError(.runtime, "map() needs a filter name or attribute=", line: line)
            }
            return .array(try sequence().map { item in
                try applyFilter(filterName, to: item, args: Array(args.dropFirst()), kwargs: kwargs, line: line)
            })
        case "indent":
            try a.check(max: 3, names: ["width", "first", "blank"])
            var indentation = "    "
            if let w = try a.value(0, "width") {
                if case .string(let s) = w { indentation = s } else {
                    let width = try a.int(0, "width", default: 4)
                    try checkStringBytes(width, line: line)
                    indentation = String(repeating: " ", count: max(width, 0))
                }
            }
            // Every line gains the indentation.
            let text = str()
            let breaks = text.utf8.reduce(1) { count, byte in  // an upper bound on splitlines()' line breaks
                (10...13).contains(byte) || (28...30).contains(byte) || byte == 0x85 || byte == 0xA8 || byte == 0xA9 ? count + 1 : count
            }
            try checkStringBytes(saturatingProduct(indentation.utf8.count, breaks) &+ text.utf8.count, line: line)
            return .string(jinjaIndent(str(), indentation: indentation, first: try a.bool(1, "first", default: false),
                                       blank: try a.bool(2, "blank", default: false)))
        case "unique":
            try a.check(max: 2, names: ["case_sensitive", "attribute"])
            let caseSensitive = try a.bool(0, "case_sensitive", default: false)
            let attr = try a.value(1, "attribute")
            var seen: [TemplateValue] = []
            var out: [TemplateValue] = []
            for item in try sequence() {
                var key = try attr.map { try attributePath(item, $0, line: line) } ?? item
                if !caseSensitive, case .string(let s) = key { key = .string(s.lowercased()) }
                try charge(seen.count, line: line)  // values are not hashable: each item is compared with those kept
                if !seen.contains(key) {
                    seen.append(key)
                    out.append(item)
                }
            }
            return .array(out)
        case "sort":
            try a.check(max: 3, names: ["reverse", "case_sensitive", "attribute"])
            let reverse = try a.bool(0, "reverse", default: false)
            let caseSensitive = try a.bool(1, "case_sensitive", default: false)
            let attr = try a.value(2, "attribute")
            return .array(try sortValues(try sequence(), reverse: reverse, line: line) { item in
                var key = try attr.map { try attributePath(item, $0, line: line) } ?? item
                if !caseSensitive, case .string(let s) = key { key = .string(s.lowercased()) }
                return key
            })
        case "reverse":
            try a.check(max: 0, names: [])
            if case .string(let s) = value { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            return .array(try sequence().reversed())
        case "sum":
            try a.check(max: 2, names: ["attribute", "start"])
            var total = try a.value(1, "start") ?? .int(0)
            let attr = try a.value(0, "attribute")
            for item in try sequence() {
                total = try binary("+", total, try attr.map { try attributePath(item, $0, line: line) } ?? item, line: line)
            }
            return total
        case "min", "max":
            try a.check(max: 2, names: ["case_sensitive", "attribute"])
            let caseSensitive = try a.bool(0, "case_sensitive", default: false)
            let attr = try a.value(1, "attribute")
            let sorted = try sortValues(try sequence(), reverse: name == "max", line: line) { item in
                var key = try attr.map { try attributePath(item, $0, line: line) } ?? item
                if !caseSensitive, case .string(let s) = key { key = .string(s.lowercased()) }
                return key
            }
            return sorted.first ?? .undefined
        case "attr":
            try a.check(max: 1, names: ["name"])
            guard let n = try a.string(0, "name") else { throw TemplateError(.runtime, "attr() needs a name", line: line) }
            // `attr` reads Python attributes only: a dict's keys are not attributes (its methods are).
            if case .object(let o) = value { return dictMethod(o, n).map { .function($0) } ?? .undefined }
            return try attribute(of: value, n, line: line)
        case "format":
            if !kwargs.isEmpty { throw TemplateError(.unsupported, "format filter with keyword arguments is not supported", line: line) }
            return .string(try percentFormat(str(), .tuple(args), line: line))
        case "wordcount":
            try a.check(max: 0, names: [])
            return .int(pythonSplit(str(), separator: nil, maxSplit: -1).count)
        case "center":
            try a.check(max: 1, names: ["width"])
            let width = try a.int(0, "width", default: 80)
            try checkStringBytes(width, line: line)
            let s = str()
            let n = s.unicodeScalars.count
            guard width > n else { return .string(s) }
            // Python's str.center puts the extra space on the right when the padding is odd... unless the
            // string length is odd; this is CPython's rule: left = pad/2 + (pad & width & 1).
            let pad = width - n
            let left = pad / 2 + (pad & width & 1)
            return .string(String(repeating: " ", count: left) + s + String(repeating: " ", count: pad - left))
        case "batch", "slice", "groupby", "truncate", "wordwrap", "urlize", "striptags", "xmlattr", "filesizeformat",
            "pprint", "random", "urlencode":
            throw TemplateError(.unsupported, "filter '\(name)' is not supported", line: line)
        default:
            throw TemplateError(.unsupported, "unknown filter '\(name)'", line: line)
        }
    }

    /// `selectattr`/`select` semantics: with no test name, truthiness; otherwise the named test.
    private func selectTest(_ value: TemplateValue, args: [TemplateValue], line: Int) throws -> Bool {
        guard let first = args.first else { return value.isTruthy }
        guard case .string(let testName) = first else {
            throw TemplateError(.runtime, "test name must be a string", line: line)
        }
        return try applyTest(testName, to: value, args: Array(args.dropFirst()), line: line)
    }

    /// `attribute="a.b"` style lookups (also `0` for indices), as Jinja's `make_attrgetter`.
    func attributePath(_ item: TemplateValue, _ path: TemplateValue, line: Int) throws -> TemplateValue {
        if case .int = path { return try self.item(of: item, path, line: line) }
        guard case .string(let p) = path else { throw TemplateError(.runtime, "attribute must be a string", line: line) }
        var current = item
        for part in p.split(separator: ".", omittingEmptySubsequences: false) {
            // Jinja's attribute getter walks with getitem, which fails on an Undefined midway.
            if current.isUndefined {
                throw TemplateError(.runtime, "undefined value while looking up '\(part)' of attribute path '\(p)'", line: line)
            }
            if let index = Int(part) {
                current = try self.item(of: current, .int(index), line: line)
            } else {
                current = try self.item(of: current, .string(String(part)), line: line)
            }
        }
        return current
    }

    private func sortValues(
        _ values: [TemplateValue], reverse: Bool, line: Int, key: (TemplateValue) throws -> TemplateValue
    ) throws -> [TemplateValue] {
        let keyed = try values.map { (try key($0), $0) }
        // A stable merge sort through `ordering`, which throws on incomparable types as Python's sort does.
        var indices = Array(keyed.indices)
        var failure: Error?
        indices = mergeSort(indices) { i, j in
            if failure != nil { return false }
            do {
                let o = try ordering(keyed[i].0, keyed[j].0, op: "<", line: line)
                return reverse ? o > 0 : o < 0
            } catch {
                failure = error
                return false
            }
        }
        if let failure { throw failure }
        return indices.map { keyed[$0].1 }
    }

    private func roundValue(_ value: TemplateValue, precision: Int, method: String, line: Int) throws -> TemplateValue {
        guard let n = value.numericValue else {
            throw TemplateError(.runtime, "round() needs a number, not \(value.typeName)", line: line)
        }
        let scale = pow(10.0, Double(precision))
        switch method {
        case "common":
            if case .int(let i) = n, precision >= 0 { return .int(i) }
            let x = n.asDouble
            if precision == 0 || !x.isFinite { return .double(x.rounded(.toNearestOrEven)) }
            // Python rounds the exact binary value half-to-even in decimal (round(2.675, 2) == 2.67);
            // the C library's %.Nf does the same, where scaling by 10^N would not.
            if precision > 0 { return .double(Double(formatFixed(x, digits: precision)) ?? x) }
            return .double((x * scale).rounded(.toNearestOrEven) / scale)
        case "ceil": return .double((n.asDouble * scale).rounded(.up) / scale)
        case "floor": return .double((n.asDouble * scale).rounded(.down) / scale)
        default: throw TemplateError(.runtime, "method must be common, ceil or floor", line: line)
        }
    }

    // MARK: - Tests

    func applyTest(_ name: String, to value: TemplateValue, args: [TemplateValue], line: Int) throws -> Bool {
        func argument() throws -> TemplateValue {
            guard let first = args.first else { throw TemplateError(.runtime, "test '\(name)' needs an argument", line: line) }
            return first
        }
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": if case .none = value { return true } else { return false }
        case "string": if case .string = value { return true } else { return false }
        case "mapping": if case .object = value { return true } else { return false }
        case "number": return value.numericValue != nil
        case "integer": if case .int = value { return true } else { return false }
        case "float": if case .double = value { return true } else { return false }
        case "boolean": if case .bool = value { return true } else { return false }
        case "true": if case .bool(true) = value { return true } else { return false }
        case "false": if case .bool(false) = value { return true } else { return false }
        case "callable": if case .function = value { return true } else { return false }
        case "iterable":
            // Jinja's Undefined is iterable (it iterates as empty).
            switch value {
            case .undefined, .string, .array, .tuple, .object: return true
            default: return false
            }
        case "sequence":
            switch value {
            case .undefined, .string, .array, .tuple, .object: return true
            default: return false
            }
        case "odd", "even":
            guard case .int(let i)? = value.numericValue else {
                throw TemplateError(.runtime, "test '\(name)' needs an integer", line: line)
            }
            return (i % 2 != 0) == (name == "odd")
        case "divisibleby":
            guard case .int(let i)? = value.numericValue, case .int(let d)? = try argument().numericValue, d != 0 else {
                throw TemplateError(.runtime, "divisibleby needs non-zero integers", line: line)
            }
            return i % d == 0
        case "equalto", "eq", "==": return value == (try argument())
        case "ne", "!=": return value != (try argument())
        case "gt", ">", "greaterthan": return try ordering(value, try argument(), op: ">", line: line) > 0
        case "ge", ">=": return try ordering(value, try argument(), op: ">=", line: line) >= 0
        case "lt", "<", "lessthan": return try ordering(value, try argument(), op: "<", line: line) < 0
        case "le", "<=": return try ordering(value, try argument(), op: "<=", line: line) <= 0
        case "in": return try contains(try argument(), value, line: line)
        case "lower": if case .string(let s) = value { return s == s.lowercased() } else { return false }
        case "upper": if case .string(let s) = value { return s == s.uppercased() } else { return false }
        case "sameas":
            let other = try argument()
            switch (value, other) {
            case (.none, .none), (.undefined, .undefined): return true
            case (.bool(let x), .bool(let y)): return x == y
            case (.namespace(let x), .namespace(let y)): return x === y
            default: return false
            }
        case "escaped": return false
        default:
            throw TemplateError(.unsupported, "unknown test '\(name)'", line: line)
        }
    }

    // MARK: - Methods

    func dictMethod(_ o: TemplateObject, _ name: String) -> TemplateFunction? {
        switch name {
        case "items":
            return TemplateFunction(name: "items") { _, _ in .array(o.pairs.map { .tuple([.string($0.0), $0.1]) }) }
        case "keys":
            return TemplateFunction(name: "keys") { _, _ in .array(o.keys.map { .string($0) }) }
        case "values":
            return TemplateFunction(name: "values") { _, _ in .array(o.values) }
        case "get":
            return TemplateFunction(name: "get") { args, _ in
                guard let key = args.first else { throw TemplateError(.runtime, "get expected at least 1 argument, got 0") }
                if case .string(let k) = key, let v = o[k] { return v }
                return args.count > 1 ? args[1] : .none
            }
        case "copy":
            return TemplateFunction(name: "copy") { _, _ in .object(o) }
        case "update", "pop", "popitem", "setdefault", "clear":
            // The immutable sandbox transformers renders with refuses to mutate dicts.
            return TemplateFunction(name: name) { _, _ in
                throw TemplateError(.runtime, "access to attribute '\(name)' of 'dict' object is unsafe")
            }
        default:
            return nil
        }
    }

    func listMethod(_ a: [TemplateValue], _ name: String, line: Int) -> TemplateFunction? {
        switch name {
        case "index":
            return TemplateFunction(name: "index") { args, _ in
                guard let target = args.first else { throw TemplateError(.runtime, "index() takes at least 1 argument") }
                guard let i = a.firstIndex(of: target) else { throw TemplateError(.runtime, "\(target.pythonRepr) is not in list") }
                return .int(i)
            }
        case "count":
            return TemplateFunction(name: "count") { args, _ in
                guard let target = args.first else { throw TemplateError(.runtime, "count() takes exactly one argument") }
                return .int(a.filter { $0 == target }.count)
            }
        default:
            return nil
        }
    }

    func stringMethod(_ s: String, _ name: String) -> TemplateFunction? {
        func make(_ body: @escaping (Arguments) throws -> TemplateValue) -> TemplateFunction {
            TemplateFunction(name: name) { args, kwargs in
                try body(Arguments(positional: args, keywords: kwargs, callee: name, line: nil))
            }
        }
        switch name {
        case "strip", "lstrip", "rstrip":
            return make { a in
                try a.check(max: 1, names: ["chars"])
                return .string(pythonStrip(s, chars: try a.string(0, "chars"), left: name != "rstrip", right: name != "lstrip"))
            }
        case "split", "rsplit":
            return make { a in
                try a.check(max: 2, names: ["sep", "maxsplit"])
                let sep = try a.string(0, "sep")
                let maxSplit = try a.int(1, "maxsplit", default: -1)
                if name == "rsplit" && maxSplit >= 0 {
                    // rsplit with a limit splits from the right: reverse, split, reverse back.
                    let rev = { (x: String) in String(String.UnicodeScalarView(x.unicodeScalars.reversed())) }
                    let parts = pythonSplit(rev(s), separator: sep.map(rev), maxSplit: maxSplit)
                    return .array(parts.reversed().map { .string(rev($0)) })
                }
                return .array(pythonSplit(s, separator: sep, maxSplit: maxSplit).map { .string($0) })
            }
        case "splitlines":
            return make { a in
                try a.check(max: 1, names: ["keepends"])
                let keep = try a.bool(0, "keepends", default: false)
                return .array(pythonSplitLines(s, keepEnds: keep).map { .string($0) })
            }
        case "startswith", "endswith":
            return make { a in
                try a.check(max: 1, names: [])
                guard let prefix = a.positional.first else { throw TemplateError(.runtime, "\(name)() takes at least 1 argument") }
                let candidates: [TemplateValue]
                if case .tuple(let items) = prefix { candidates = items } else { candidates = [prefix] }
                let scalars = Array(s.unicodeScalars)
                for candidate in candidates {
                    guard case .string(let p) = candidate else {
                        throw TemplateError(.runtime, "\(name) first arg must be str or a tuple of str, not \(candidate.typeName)")
                    }
                    let ps = Array(p.unicodeScalars)
                    guard ps.count <= scalars.count else { continue }
                    if name == "startswith" ? scalars.starts(with: ps) : Array(scalars.suffix(ps.count)) == ps { return .bool(true) }
                }
                return .bool(false)
            }
        case "upper": return make { a in try a.check(max: 0, names: []); return .string(s.uppercased()) }
        case "lower": return make { a in try a.check(max: 0, names: []); return .string(s.lowercased()) }
        case "title": return make { a in try a.check(max: 0, names: []); return .string(pythonTitle(s)) }
        case "capitalize": return make { a in try a.check(max: 0, names: []); return .string(pythonCapitalize(s)) }
        case "replace":
            return make { a in
                try a.check(max: 3, names: ["count"])
                guard let old = try a.string(0, "old"), let new = try a.string(1, "new") else {
                    throw TemplateError(.runtime, "replace() needs two string arguments")
                }
                return .string(try pythonReplace(s, old, new, count: try a.int(2, "count", default: -1), line: a.line))
            }
        case "find", "rfind", "index", "rindex":
            return make { a in
                try a.check(max: 1, names: [])
                guard case .string(let needle)? = a.positional.first else { throw TemplateError(.runtime, "\(name)() needs a string") }
                let hay = Array(s.unicodeScalars)
                let nd = Array(needle.unicodeScalars)
                var found: Int?
                if name.hasPrefix("r") {
                    // The last match is the first match of the reversed needle in the reversed text.
                    found = scalarRange(of: nd.reversed(), in: hay.reversed()).map { hay.count - nd.count - $0 }
                } else {
                    found = scalarRange(of: nd, in: hay)
                }
                if let found { return .int(found) }
                if name.hasSuffix("index") { throw TemplateError(.runtime, "substring not found") }
                return .int(-1)
            }
        case "count":
            return make { a in
                try a.check(max: 1, names: [])
                guard case .string(let needle)? = a.positional.first else { throw TemplateError(.runtime, "count() needs a string") }
                let hay = Array(s.unicodeScalars)
                let nd = Array(needle.unicodeScalars)
                if nd.isEmpty { return .int(hay.count + 1) }
                var n = 0
                var i = 0
                while let j = scalarRange(of: nd, in: hay, from: i) {
                    n += 1
                    i = j + nd.count
                }
                return .int(n)
            }
        case "join":
            return make { a in
                try a.check(max: 1, names: [])
                guard let items = a.positional.first else { throw TemplateError(.runtime, "join() takes exactly one argument") }
                let parts = try self.iterate(items, line: nil)
                return .string(try parts.map { part -> String in
                    guard case .string(let p) = part else {
                        throw TemplateError(.runtime, "sequence item: expected str instance, \(part.typeName) found")
                    }
                    return p
                }.joined(separator: s))
            }
        case "format":
            return make { a in .string(try pythonFormat(s, a)) }
        case "isdigit", "isalpha", "isspace", "isalnum", "isupper", "islower":
            return make { a in
                try a.check(max: 0, names: [])
                let scalars = Array(s.unicodeScalars)
                switch name {
                case "isdigit": return .bool(!scalars.isEmpty && scalars.allSatisfy { $0.properties.numericType == .decimal || $0.properties.numericType == .digit })
                case "isalpha": return .bool(!scalars.isEmpty && scalars.allSatisfy { $0.properties.isAlphabetic })
                case "isalnum": return .bool(!scalars.isEmpty && scalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
                case "isspace": return .bool(!scalars.isEmpty && scalars.allSatisfy(isWhitespace))
                case "isupper": return .bool(s.contains { $0.isCased } && s == s.uppercased())
                default: return .bool(s.contains { $0.isCased } && s == s.lowercased())
                }
            }
        default:
            return nil
        }
    }

    // MARK: - JSON

    /// transformers' `tojson`: `json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
    func toJSON(_ value: TemplateValue, arguments a: Arguments) throws -> String {
        let ensureASCII = try a.bool(0, "ensure_ascii", default: false)
        var indent: String?
        if let v = try a.value(1, "indent") {
            switch v {
            case .none, .undefined: indent = nil
            case .string(let s): indent = s
            default:
                let width = try a.int(1, "indent", default: 0)
                try checkStringBytes(width, line: a.line)
                indent = String(repeating: " ", count: max(width, 0))
            }
        }
        var itemSeparator = indent == nil ? ", " : ","
        var keySeparator = ": "
        if let sep = try a.value(2, "separators"), !sep.isUndefined, sep != .none {
            let parts = try iterate(sep, line: a.line)
            guard parts.count == 2, case .string(let i) = parts[0], case .string(let k) = parts[1] else {
                throw TemplateError(.runtime, "separators must be a pair of strings", line: a.line)
            }
            itemSeparator = i
            keySeparator = k
        }
        let sortKeys = try a.bool(3, "sort_keys", default: false)
        var out = ""
        try JSONWriter(ensureASCII: ensureASCII, indent: indent, itemSeparator: itemSeparator, keySeparator: keySeparator,
                       sortKeys: sortKeys, line: a.line).write(value, level: 0, into: &out)
        return out
    }
}

/// Python's `json.dumps` output format.
struct JSONWriter {
    let ensureASCII: Bool
    let indent: String?
    let itemSeparator: String
    let keySeparator: String
    let sortKeys: Bool
    let line: Int?

    func write(_ value: TemplateValue, level: Int, into out: inout String) throws {
        switch value {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isNaN { out += "NaN" } else if d.isInfinite { out += d < 0 ? "-Infinity" : "Infinity" } else {
                out += formatPythonFloat(d)
            }
        case .string(let s): writeString(s, into: &out)
        case .array(let items), .tuple(let items):
            if items.isEmpty {
                out += "[]"
                return
            }
            out += "["
            for (i, item) in items.enumerated() {
                out += i == 0 ? try newline(level + 1, after: out) : try itemSeparator + newline(level + 1, after: out)
                try write(item, level: level + 1, into: &out)
            }
            out += try newline(level, after: out) + "]"
        case .object(let o):
            if o.isEmpty {
                out += "{}"
                return
            }
            var keys = o.keys
            if sortKeys { keys.sort { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) } }
            out += "{"
            for (i, key) in keys.enumerated() {
                out += i == 0 ? try newline(level + 1, after: out) : try itemSeparator + newline(level + 1, after: out)
                writeString(key, into: &out)
                out += keySeparator
                try write(o[key]!, level: level + 1, into: &out)
            }
            out += try newline(level, after: out) + "}"
        case .undefined, .namespace, .function, .loop:
            throw TemplateError(.runtime, "Object of type \(value.typeName) is not JSON serializable", line: line)
        }
    }

    /// A line break and `level` indents; with a long `indent` these multiply, so the text so far plus the new
    /// line is kept within the template string limit.
    private func newline(_ level: Int, after out: String) throws -> String {
        guard let indent else { return "" }
        try checkStringBytes(out.utf8.count &+ saturatingProduct(indent.utf8.count, level) &+ itemSeparator.utf8.count, line: line)
        return "\n" + String(repeating: indent, count: level)
    }

    private func writeString(_ s: String, into out: inout String) {
        // Fast path: most strings need no escaping, so copy them whole instead of scalar by scalar.
        let limit: UInt8 = ensureASCII ? 0x7F : 0xFF
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 >= limit }) {
            out += "\""
            out += s
            out += "\""
            return
        }
        var v = String.UnicodeScalarView()
        v.append("\"")
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": v.append(contentsOf: "\\\"".unicodeScalars)
            case "\\": v.append(contentsOf: "\\\\".unicodeScalars)
            case "\n": v.append(contentsOf: "\\n".unicodeScalars)
            case "\r": v.append(contentsOf: "\\r".unicodeScalars)
            case "\t": v.append(contentsOf: "\\t".unicodeScalars)
            case "\u{08}": v.append(contentsOf: "\\b".unicodeScalars)
            case "\u{0C}": v.append(contentsOf: "\\f".unicodeScalars)
            default:
                if scalar.value < 0x20 || (ensureASCII && scalar.value > 0x7E) {
                    if scalar.value > 0xFFFF {
                        let u = scalar.value - 0x10000
                        v.append(contentsOf: ("\\u" + hex(0xD800 + (u >> 10), width: 4)).unicodeScalars)
                        v.append(contentsOf: ("\\u" + hex(0xDC00 + (u & 0x3FF), width: 4)).unicodeScalars)
                    } else {
                        v.append(contentsOf: ("\\u" + hex(scalar.value, width: 4)).unicodeScalars)
                    }
                } else {
                    v.append(scalar)
                }
            }
        }
        v.append("\"")
        out += String(v)
    }
}

// MARK: - Python string helpers

/// `str.strip/lstrip/rstrip` with optional character set.
func pythonStrip(_ s: String, chars: String?, left: Bool, right: Bool) -> String {
    let scalars = Array(s.unicodeScalars)
    let set = chars.map { Set($0.unicodeScalars) }
    func strip(_ c: Unicode.Scalar) -> Bool { set.map { $0.contains(c) } ?? isWhitespace(c) }
    var lo = 0
    var hi = scalars.count
    if left { while lo < hi, strip(scalars[lo]) { lo += 1 } }
    if right { while hi > lo, strip(scalars[hi - 1]) { hi -= 1 } }
    return String(String.UnicodeScalarView(scalars[lo..<hi]))
}

/// `str.split(sep, maxsplit)`: with no separator, runs of whitespace split and ends are dropped.
func pythonSplit(_ s: String, separator: String?, maxSplit: Int) -> [String] {
    let scalars = Array(s.unicodeScalars)
    var parts: [String] = []
    if let separator {
        let sep = Array(separator.unicodeScalars)
        guard !sep.isEmpty else { return [s] }
        var start = 0
        while maxSplit < 0 || parts.count < maxSplit, let j = scalarRange(of: sep, in: scalars, from: start) {
            parts.append(String(String.UnicodeScalarView(scalars[start..<j])))
            start = j + sep.count
        }
        parts.append(String(String.UnicodeScalarView(scalars[start...])))
        return parts
    }
    var i = 0
    while i < scalars.count {
        while i < scalars.count, isWhitespace(scalars[i]) { i += 1 }
        if i >= scalars.count { break }
        if maxSplit >= 0 && parts.count == maxSplit {
            var end = scalars.count
            while end > i, isWhitespace(scalars[end - 1]) { end -= 1 }
            parts.append(String(String.UnicodeScalarView(scalars[i..<end])))
            return parts
        }
        let start = i
        while i < scalars.count, !isWhitespace(scalars[i]) { i += 1 }
        parts.append(String(String.UnicodeScalarView(scalars[start..<i])))
    }
    return parts
}

/// `str.splitlines(keepends)` over \n, \r\n and \r (the common line breaks).
func pythonSplitLines(_ s: String, keepEnds: Bool) -> [String] {
    let scalars = Array(s.unicodeScalars)
    var lines: [String] = []
    var start = 0
    var i = 0
    while i < scalars.count {
        let c = scalars[i]
        if c == "\n" || c == "\r" || c == "\u{0B}" || c == "\u{0C}" || c == "\u{1C}" || c == "\u{1D}" || c == "\u{1E}"
            || c == "\u{85}" || c == "\u{2028}" || c == "\u{2029}"
        {
            var end = i + 1
            if c == "\r", end < scalars.count, scalars[end] == "\n" { end += 1 }
            lines.append(String(String.UnicodeScalarView(scalars[start..<(keepEnds ? end : i)])))
            start = end
            i = end
        } else {
            i += 1
        }
    }
    if start < scalars.count { lines.append(String(String.UnicodeScalarView(scalars[start...]))) }
    return lines
}

/// `str.replace(old, new, count)`; an empty `old` inserts `new` between characters as Python does.
/// The result is sized first: replacing "" in a long text with a long string multiplies.
func pythonReplace(_ s: String, _ old: String, _ new: String, count: Int, line: Int?) throws -> String {
    let scalars = Array(s.unicodeScalars)
    let o = Array(old.unicodeScalars)
    if !new.utf8.isEmpty {
        // Each replacement adds at most new's bytes; there are at most count, or scalars + 1 (empty old)
        // or scalars / old's length of them.
        var most = o.isEmpty ? scalars.count + 1 : scalars.count / o.count
        if count >= 0 { most = min(most, count) }
        try checkStringBytes(saturatingProduct(most, new.utf8.count) &+ s.utf8.count, line: line)
    }
    var out = String.UnicodeScalarView()
    var replaced = 0
    if o.isEmpty {
        for c in scalars {
            if count < 0 || replaced < count {
                out.append(contentsOf: new.unicodeScalars)
                replaced += 1
            }
            out.append(c)
        }
        if count < 0 || replaced < count { out.append(contentsOf: new.unicodeScalars) }
        return String(out)
    }
    var i = 0
    while i < scalars.count {
        if (count < 0 || replaced < count), let j = scalarRange(of: o, in: scalars, from: i) {
            out.append(contentsOf: scalars[i..<j])
            out.append(contentsOf: new.unicodeScalars)
            i = j + o.count
            replaced += 1
        } else {
            out.append(contentsOf: scalars[i...])
            break
        }
    }
    return String(out)
}

/// `str.capitalize()`: first character upper-cased, the rest lower-cased.
func pythonCapitalize(_ s: String) -> String {
    guard let first = s.first else { return s }
    return String(first).uppercased() + s.dropFirst().lowercased()
}

/// `str.title()`: a letter after a non-letter is upper-cased, other letters lower-cased.
func pythonTitle(_ s: String) -> String {
    var out = ""
    var previousCased = false
    for ch in s {
        out += previousCased ? ch.lowercased() : ch.uppercased()
        previousCased = ch.isCased
    }
    return out
}

/// Jinja's `title` filter: words start after spaces, `-`, and opening brackets only.
func jinjaTitle(_ s: String) -> String {
    var out = ""
    var atWordStart = true
    for ch in s {
        if ch.isWhitespace || "-({[<".contains(ch) {
            out.append(ch)
            atWordStart = true
        } else {
            out += atWordStart ? ch.uppercased() : ch.lowercased()
            atWordStart = false
        }
    }
    return out
}

/// Jinja's `indent` filter (3.x): the first line and blank lines are left alone unless asked.
func jinjaIndent(_ s: String, indentation: String, first: Bool, blank: Bool) -> String {
    let lines = pythonSplitLines(s + "\n", keepEnds: false)
    var rv: String
    if blank {
        rv = lines.joined(separator: "\n" + indentation)
    } else {
        rv = lines.first ?? ""
        let rest = lines.dropFirst()
        if !rest.isEmpty {
            rv += "\n" + rest.map { $0.isEmpty ? $0 : indentation + $0 }.joined(separator: "\n")
        }
    }
    if first { rv = indentation + rv }
    return rv
}

/// HTML escaping as markupsafe does it.
func htmlEscape(_ s: String) -> String {
    var out = ""
    for ch in s {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&#34;"
        case "'": out += "&#39;"
        default: out.append(ch)
        }
    }
    return out
}

/// Python `int(x)` as Jinja's `int` filter tries it: ints, bools, floats (truncated), numeric strings.
func toInt(_ value: TemplateValue, base: Int) -> TemplateValue? {
    switch value {
    case .int: return value
    case .bool(let b): return .int(b ? 1 : 0)
    case .double(let d):
        guard d.isFinite, abs(d) < 9.2e18 else { return nil }
        return .int(Int(d))
    case .string(let s):
        var t = pythonStrip(s, chars: nil, left: true, right: true).replacingUnderscores()
        var sign = ""
        if let first = t.first, first == "-" || first == "+" {
            sign = first == "-" ? "-" : ""
            t.removeFirst()
        }
        // Python accepts a 0x/0o/0b prefix matching the base, and infers the base from it when base is 0.
        var radix = base
        for (prefix, prefixBase) in [("0x", 16), ("0o", 8), ("0b", 2)] where t.lowercased().hasPrefix(prefix) {
            if base == prefixBase || base == 0 {
                radix = prefixBase
                t.removeFirst(2)
            }
        }
        if radix == 0 { radix = 10 }
        if (2...36).contains(radix), let i = Int(sign + t, radix: radix) { return .int(i) }
        t = sign + t
        if base == 10, let d = parsePythonFloat(t), d.isFinite, abs(d) < 9.2e18 { return .int(Int(d)) }
        return nil
    default: return nil
    }
}

/// Python `float(str)`: surrounding whitespace allowed, plus `inf`/`nan` spellings.
func parsePythonFloat(_ s: String) -> Double? {
    let t = pythonStrip(s, chars: nil, left: true, right: true).replacingUnderscores()
    switch t.lowercased() {
    case "inf", "+inf", "infinity", "+infinity": return .infinity
    case "-inf", "-infinity": return -.infinity
    case "nan", "+nan", "-nan": return .nan
    default: return Double(t)
    }
}

extension String {
    /// Python numeric literals allow `_` between digits.
    fileprivate func replacingUnderscores() -> String { String(self.filter { $0 != "_" }) }
}

/// printf-style `%` formatting for `"..." % value` and the `format` filter: %s, %r, %d/%i, %f/%.Nf, %%.
func percentFormat(_ format: String, _ values: TemplateValue, line: Int?) throws -> String {
    var args: [TemplateValue]
    if case .tuple(let items) = values { args = items } else { args = [values] }
    var out = ""
    let scalars = Array(format.unicodeScalars)
    var i = 0
    var next = 0
    while i < scalars.count {
        let c = scalars[i]
        guard c == "%" else {
            out.unicodeScalars.append(c)
            i += 1
            continue
        }
        i += 1
        guard i < scalars.count else { throw TemplateError(.runtime, "incomplete format", line: line) }
        var precision: Int?
        if scalars[i] == "." {
            i += 1
            var p = 0
            while i < scalars.count, let d = Int(String(scalars[i])) {
                p = min(p * 10 + d, 1_000)  // formatFixed prints at most a few hundred digits anyway
                i += 1
            }
            precision = p
        }
        guard i < scalars.count else { throw TemplateError(.runtime, "incomplete format", line: line) }
        let conversion = scalars[i]
        i += 1
        if conversion == "%" {
            out += "%"
            continue
        }
        guard next < args.count else { throw TemplateError(.runtime, "not enough arguments for format string", line: line) }
        let arg = args[next]
        next += 1
        switch conversion {
        case "s": out += arg.renderedString
        case "r": out += arg.pythonRepr
        case "d", "i":
            guard let n = arg.numericValue else { throw TemplateError(.runtime, "%d format: a number is required", line: line) }
            switch n {
            case .int(let x): out += String(x)
            case .double(let x):
                // Python prints any float's integer part; Int(x) would trap past 64 bits or on NaN.
                guard x.isFinite else {
                    throw TemplateError(.runtime, x.isNaN ? "cannot convert float NaN to integer" : "cannot convert float infinity to integer", line: line)
                }
                out += abs(x) < 9.2e18 ? String(Int(x)) : formatFixed(x.rounded(.towardZero), digits: 0)
            }
        case "f":
            guard let n = arg.numericValue else { throw TemplateError(.runtime, "%f format: a number is required", line: line) }
            out += formatFixed(n.asDouble, digits: precision ?? 6)
        default:
            throw TemplateError(.unsupported, "format conversion '%\(conversion)' is not supported", line: line)
        }
    }
    if next < args.count { throw TemplateError(.runtime, "not all arguments converted during string formatting", line: line) }
    return out
}

/// Fixed-point formatting with correct rounding, via the C library.
func formatFixed(_ value: Double, digits: Int) -> String {
    var buffer = [CChar](repeating: 0, count: 400)
    let n = withVaList([digits, value]) { vsnprintf(&buffer, buffer.count, "%.*f", $0) }
    return String(decoding: buffer.prefix(Int(max(n, 0))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// `str.format(*args, **kwargs)` for `{}`, `{0}`, `{name}` and `{{`/`}}`; format specs are not supported.
func pythonFormat(_ format: String, _ a: Arguments) throws -> String {
    var out = ""
    let scalars = Array(format.unicodeScalars)
    var i = 0
    var auto = 0
    while i < scalars.count {
        let c = scalars[i]
        if c == "{" {
            if i + 1 < scalars.count, scalars[i + 1] == "{" {
                out += "{"
                i += 2
                continue
            }
            guard let close = scalars[i...].firstIndex(of: "}") else { throw TemplateError(.runtime, "Single '{' encountered in format string") }
            let field = String(String.UnicodeScalarView(scalars[(i + 1)..<close]))
            if field.contains(":") || field.contains("!") || field.contains(".") || field.contains("[") {
                throw TemplateError(.unsupported, "format field '{\(field)}' is not supported")
            }
            let value: TemplateValue
            if field.isEmpty {
                guard auto < a.positional.count else { throw TemplateError(.runtime, "Replacement index \(auto) out of range") }
                value = a.positional[auto]
                auto += 1
            } else if let index = Int(field) {
                guard index < a.positional.count else { throw TemplateError(.runtime, "Replacement index \(index) out of range") }
                value = a.positional[index]
            } else {
                guard let v = a.keywords.first(where: { $0.0 == field })?.1 else { throw TemplateError(.runtime, "KeyError: '\(field)'") }
                value = v
            }
            // One argument can be printed many times ("{0}{0}{0}..."): size each piece before adding it.
            var visits = 0
            try checkStringBytes(out.utf8.count &+ printedSize(value, limit: TemplateLimits.maxStringBytes, visits: &visits),
                                 line: a.line)
            out += value.renderedString
            i = close + 1
        } else if c == "}" {
            guard i + 1 < scalars.count, scalars[i + 1] == "}" else { throw TemplateError(.runtime, "Single '}' encountered in format string") }
            out += "}"
            i += 2
        } else {
            out.unicodeScalars.append(c)
            i += 1
        }
    }
    return out
}

/// A stable merge sort with a caller-supplied strict ordering.
func mergeSort(_ items: [Int], by less: (Int, Int) -> Bool) -> [Int] {
    if items.count <= 1 { return items }
    let mid = items.count / 2
    let left = mergeSort(Array(items[..<mid]), by: less)
    let right = mergeSort(Array(items[mid...]), by: less)
    var out: [Int] = []
    out.reserveCapacity(items.count)
    var i = 0
    var j = 0
    while i < left.count && j < right.count {
        if less(right[j], left[i]) {
            out.append(right[j])
            j += 1
        } else {
            out.append(left[i])
            i += 1
        }
    }
    out.append(contentsOf: left[i...])
    out.append(contentsOf: right[j...])
    return out
}
