// Walks the syntax tree: scopes, statements, operators, attribute access and calls.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a statement list finished: normally, or through `{% break %}` / `{% continue %}`.
enum Flow { case normal, breakLoop, continueLoop }

/// One render of a parsed template. A class because scopes and the output buffer are mutated throughout.
final class Interpreter {
    /// Variable frames, innermost last. Frame 0 holds globals, frame 1 the caller's context and top-level sets.
    private var frames: [[String: TemplateValue]]
    /// Nested macro calls in progress; bounded so a runaway recursive macro fails instead of overflowing the stack.
    private var callDepth = 0
    /// Loop iterations and units of work so far in this render (see ``TemplateLimits``).
    private var loopIterations = 0
    private var work = 0

    init(context: [String: TemplateValue]) {
        frames = [Interpreter.globals, context]
    }

    // MARK: - Statements

    func render(_ nodes: [Node]) throws -> String {
        var out = ""
        _ = try execute(nodes, into: &out)
        return out
    }

    // MARK: - Limits

    /// Charges `units` of work (see ``TemplateLimits/maxWork``).
    @inline(__always)
    func charge(_ units: Int, line: Int?) throws {
        work &+= units
        if work > TemplateLimits.maxWork {
            throw TemplateError.limit("the template did more than \(TemplateLimits.maxWork) units of work (the template work limit)", line: line)
        }
    }

    /// The work of reading `value` in bulk: its elements, or its bytes / 8 (copying and scanning bytes is
    /// several times cheaper than visiting values).
    @inline(__always)
    func size(_ value: TemplateValue) -> Int {
        switch value {
        case .string(let s): return s.utf8.count / 8 + 1
        case .array(let a), .tuple(let a): return a.count
        case .object(let o): return o.count
        default: return 1
        }
    }

    /// Checks a value an expression produced against the string and list size limits.
    @inline(__always)
    func checkSize(_ value: TemplateValue, line: Int?) throws -> TemplateValue {
        switch value {
        case .string(let s): try checkStringBytes(s.utf8.count, line: line)
        case .array(let a), .tuple(let a):
            if a.count > TemplateLimits.maxListLength {
                throw TemplateError.limit("list longer than \(TemplateLimits.maxListLength) items (the template list limit)", line: line)
            }
        default: break
        }
        return value
    }

    /// `value` as printed text, refusing containers whose text would pass ``TemplateLimits/maxStringBytes``
    /// before building it (see `printedSize`).
    func printable(_ value: TemplateValue, line: Int?) throws -> String {
        if value.isContainer { try checkPrintedSize(value, line: line) }
        return value.renderedString
    }

    /// Throws when a container would print longer than ``TemplateLimits/maxStringBytes``; charges the values seen.
    func checkPrintedSize(_ value: TemplateValue, line: Int?) throws {
        var visits = 0
        let estimate = printedSize(value, limit: TemplateLimits.maxStringBytes, visits: &visits)
        try checkStringBytes(estimate, line: line)
        try charge(visits + estimate / 8, line: line)  // printing then writes (and escapes) every byte
    }

    /// Appends to an output buffer, keeping it within ``TemplateLimits/maxStringBytes``.
    @inline(__always)
    private func append(_ text: String, to out: inout String, line: Int?) throws {
        try checkStringBytes(out.utf8.count + text.utf8.count, line: line)
        try charge(text.utf8.count / 8, line: line)
        out += text
    }

    /// Checks that `value` nests at most ``TemplateLimits/maxValueNesting`` deep and, when it is to be stored in
    /// a namespace, holds no namespace: namespaces are the only values that change after they are built, so a
    /// namespace inside a namespace could grow a chain (or a cycle) no later check would see. Visits charge work.
    func checkNesting(_ value: TemplateValue, forNamespace: Bool = false, line: Int?) throws {
        func depth(_ value: TemplateValue, _ level: Int) throws -> Void {
            if level > TemplateLimits.maxValueNesting {
                throw TemplateError.limit(
                    "values nested more than \(TemplateLimits.maxValueNesting) deep (the template nesting limit)", line: line)
            }
            switch value {
            case .array(let items), .tuple(let items):
                try charge(items.count, line: line)
                for item in items where item.isContainer { try depth(item, level + 1) }
            case .object(let o):
                try charge(o.count, line: line)
                for item in o.values where item.isContainer { try depth(item, level + 1) }
            case .loop(let l):
                try charge(l.items.count, line: line)
                for item in l.items where item.isContainer { try depth(item, level + 1) }
            case .namespace(let ns):
                if forNamespace {
                    throw TemplateError(.unsupported, "a namespace cannot be stored inside a namespace", line: line)
                }
                try charge(ns.attributes.count, line: line)
                for item in ns.attributes.values where item.isContainer { try depth(item, level + 1) }
            default:
                break
            }
        }
        try depth(value, 1)
    }

    private func execute(_ nodes: [Node], into out: inout String) throws -> Flow {
        for node in nodes {
            switch node {
            case .text(let t):
                try append(t, to: &out, line: nil)
            case .output(let expr, let line):
                try append(try printable(try evaluate(expr), line: line), to: &out, line: line)
            case .ifBlock(let branches, let otherwise):
                var taken = false
                for (condition, body) in branches where try evaluate(condition).isTruthy {
                    taken = true
                    let flow = try execute(body, into: &out)
                    if flow != .normal { return flow }
                    break
                }
                if !taken {
                    let flow = try execute(otherwise, into: &out)
                    if flow != .normal { return flow }
                }
            case .forLoop(let target, let iterable, let condition, let body, let otherwise, let line):
                try executeFor(target: target, iterable: iterable, condition: condition, body: body, otherwise: otherwise,
                               line: line, into: &out)
            case .set(let target, let expr, let line):
                try assign(target, try evaluate(expr), line: line)
            case .setBlock(let name, let body):
                var captured = ""
                _ = try execute(body, into: &captured)
                frames[frames.count - 1][name] = .string(captured)
            case .macro(let name, let params, let body):
                frames[frames.count - 1][name] = .function(makeMacro(name: name, params: params, body: body))
            case .callBlock(let call, let params, let body, let line):
                guard case .call(let callee, let args, let kwargs, _) = call else {
                    throw TemplateError(.syntax, "expected a call", line: line)
                }
                // The call block's body is a closure: it sees the variables around the `{% call %}` tag.
                let caller = makeMacro(name: "caller", params: params, body: body, scope: frames)
                let function = try evaluate(callee)
                var kw = try kwargs.map { ($0.0, try evaluate($0.1)) }
                kw.append(("caller", .function(caller)))
                try append(try invoke(function, args: try args.map { try evaluate($0) }, kwargs: kw, line: line).renderedString,
                           to: &out, line: line)
            case .filterBlock(let name, let args, let kwargs, let body, let line):
                var captured = ""
                _ = try execute(body, into: &captured)
                let value = try applyFilter(
                    name, to: .string(captured), args: try args.map { try evaluate($0) },
                    kwargs: try kwargs.map { ($0.0, try evaluate($0.1)) }, line: line)
                try append(value.renderedString, to: &out, line: line)
            case .breakLoop:
                return .breakLoop
            case .continueLoop:
                return .continueLoop
            case .with(let assignments, let body):
                // Values are computed in the outer scope, then bound in a new one that ends with the block.
                let values = try assignments.map { ($0.0, try evaluate($0.1)) }
                frames.append(Dictionary(values, uniquingKeysWith: { $1 }))
                defer { frames.removeLast() }
                let flow = try execute(body, into: &out)
                if flow != .normal { return flow }
            case .generation(let body):
                let flow = try execute(body, into: &out)
                if flow != .normal { return flow }
            }
        }
        return .normal
    }

    private func executeFor(
        target: Target, iterable: Expr, condition: Expr?, body: [Node], otherwise: [Node], line: Int,
        into out: inout String
    ) throws {
        var items = try iterate(try evaluate(iterable), line: line)
        if let condition {
            // The filter sees the loop target but not `loop`, as in Jinja.
            var kept: [TemplateValue] = []
            for item in items {
                try countIteration(line: line)
                frames.append([:])
                defer { frames.removeLast() }
                try bind(target, item, line: line)
                if try evaluate(condition).isTruthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty {
            _ = try execute(otherwise, into: &out)
            return
        }
        let loop = LoopContext(items: items)
        for (i, item) in items.enumerated() {
            try countIteration(line: line)
            // Each iteration gets a fresh frame: a `set` inside the body does not outlive the iteration.
            frames.append(["loop": .loop(loop)])
            defer { frames.removeLast() }
            loop.index0 = i
            try bind(target, item, line: line)
            let flow = try execute(body, into: &out)
            if flow == .breakLoop { break }
        }
    }

    @inline(__always)
    private func countIteration(line: Int) throws {
        loopIterations += 1
        if loopIterations > TemplateLimits.maxLoopIterations {
            throw TemplateError.limit(
                "more than \(TemplateLimits.maxLoopIterations) loop iterations (the template loop limit)", line: line)
        }
        try charge(1, line: line)
    }

    /// The elements a `for` loop visits: list items, dict keys, string characters; nothing for undefined.
    func iterate(_ value: TemplateValue, line: Int?) throws -> [TemplateValue] {
        try charge(size(value), line: line)
        switch value {
        case .undefined: return []
        case .array(let a), .tuple(let a): return a
        case .object(let o): return o.keys.map { .string($0) }
        case .string(let s):
            // One value per character is some 30 times the string's size: a huge string would exhaust memory
            // before the loop limit could stop the loop.
            if s.utf8.count > TemplateLimits.maxListLength && s.unicodeScalars.count > TemplateLimits.maxListLength {
                throw TemplateError.limit("list longer than \(TemplateLimits.maxListLength) items (the template list limit)", line: line)
            }
            return s.unicodeScalars.map { .string(String($0)) }
        default: throw TemplateError(.runtime, "'\(value.typeName)' object is not iterable", line: line)
        }
    }

    private func bind(_ target: Target, _ value: TemplateValue, line: Int) throws {
        switch target {
        case .name(let n):
            frames[frames.count - 1][n] = value
        case .tuple(let targets):
            let parts = try iterate(value, line: line)
            guard parts.count == targets.count else {
                throw TemplateError(
                    .runtime,
                    parts.count > targets.count
                        ? "too many values to unpack (expected \(targets.count))"
                        : "not enough values to unpack (expected \(targets.count), got \(parts.count))",
                    line: line)
            }
            for (t, v) in zip(targets, parts) { try bind(t, v, line: line) }
        case .attribute(let name, let attr):
            guard case .namespace(let ns) = lookup(name) else {
                throw TemplateError(.runtime, "can only assign attributes on a namespace, and '\(name)' is not one", line: line)
            }
            if attr.hasPrefix("_") {
                throw TemplateError(.runtime, "cannot store underscore-prefixed attribute '\(attr)' on a namespace", line: line)
            }
            try checkNesting(value, forNamespace: true, line: line)
            ns.attributes[attr] = value
        }
    }

    private func assign(_ target: Target, _ value: TemplateValue, line: Int) throws {
        try bind(target, value, line: line)
    }

    func lookup(_ name: String) -> TemplateValue {
        for frame in frames.reversed() {
            if let v = frame[name] { return v }
        }
        return .undefined
    }

    /// A macro as a callable. Macros see globals and the template's top-level variables (or, for a call
    /// block's `caller`, the captured `scope`), plus their own arguments.
    private func makeMacro(name: String, params: [(String, Expr?)], body: [Node], scope: [[String: TemplateValue]]? = nil)
        -> TemplateFunction
    {
        TemplateFunction(name: name) { [weak self] args, kwargs in
            // A macro can outlive its render only by being smuggled out in a caller's namespace.
            guard let self else { throw TemplateError(.runtime, "macro '\(name)' called after its template finished rendering") }
            guard self.callDepth < TemplateLimits.maxMacroDepth else {
                throw TemplateError.limit(
                    "macro calls nested more than \(TemplateLimits.maxMacroDepth) deep (the template recursion limit)", line: nil)
            }
            self.callDepth += 1
            defer { self.callDepth -= 1 }
            if args.count > params.count {
                throw TemplateError(.runtime, "macro '\(name)' takes not more than \(params.count) argument(s)")
            }
            var frame: [String: TemplateValue] = [:]
            let saved = self.frames
            self.frames = scope ?? Array(saved.prefix(2))
            defer { self.frames = saved }
            self.frames.append(frame)
            for (i, (param, defaultExpr)) in params.enumerated() {
                if i < args.count {
                    frame[param] = args[i]
                } else if let kw = kwargs.first(where: { $0.0 == param }) {
                    frame[param] = kw.1
                } else if let defaultExpr {
                    frame[param] = try self.evaluate(defaultExpr)
                } else {
                    frame[param] = .undefined
                }
                self.frames[self.frames.count - 1] = frame
            }
            for (key, value) in kwargs where !params.contains(where: { $0.0 == key }) {
                guard key == "caller" else { throw TemplateError(.runtime, "macro '\(name)' takes no keyword argument '\(key)'") }
                frame[key] = value
            }
            self.frames[self.frames.count - 1] = frame
            var out = ""
            _ = try self.execute(body, into: &out)
            return .string(out)
        }
    }

    // MARK: - Expressions

    func evaluate(_ expr: Expr) throws -> TemplateValue {
        try charge(1, line: nil)
        switch expr {
        case .literal(let v):
            return v
        case .name(let n, _):
            return lookup(n)
        case .list(let items):
            let value = TemplateValue.array(try items.map { try evaluate($0) })
            try checkNesting(value, line: nil)
            return value
        case .tuple(let items):
            let value = TemplateValue.tuple(try items.map { try evaluate($0) })
            try checkNesting(value, line: nil)
            return value
        case .dict(let pairs):
            var object = TemplateObject()
            for (k, v) in pairs {
                let key = try evaluate(k)
                guard case .string(let s) = key else {
                    throw TemplateError(.unsupported, "only string dictionary keys are supported, got \(key.typeName)")
                }
                object[s] = try evaluate(v)
            }
            try checkNesting(.object(object), line: nil)
            return .object(object)
        case .attribute(let base, let name, let line):
            let value = try evaluate(base)
            if case .undefined = value { throw undefinedAccess(base, member: "attribute '\(name)'", line: line) }
            return try attribute(of: value, name, line: line)
        case .index(let base, let keyExpr, let line):
            let value = try evaluate(base)
            if case .undefined = value { throw undefinedAccess(base, member: "an item", line: line) }
            return try item(of: value, try evaluate(keyExpr), line: line)
        case .slice(let base, let start, let stop, let step, let line):
            let value = try evaluate(base)
            if case .undefined = value { throw undefinedAccess(base, member: "a slice", line: line) }
            return try slice(
                value, start: try start.map { try evaluate($0) }, stop: try stop.map { try evaluate($0) },
                step: try step.map { try evaluate($0) }, line: line)
        case .call(let callee, let args, let kwargs, let line):
            let function = try evaluate(callee)
            if case .undefined = function { throw undefinedAccess(callee, member: nil, line: line, calling: true) }
            return try checkSize(try invoke(
                function, args: try args.map { try evaluate($0) }, kwargs: try kwargs.map { ($0.0, try evaluate($0.1)) },
                line: line), line: line)
        case .filter(let base, let name, let args, let kwargs, let line):
            let input = try evaluate(base)
            let arguments = try args.map { try evaluate($0) }
            let keywords = try kwargs.map { ($0.0, try evaluate($0.1)) }
            try charge(size(input) + arguments.reduce(0) { $0 + size($1) } + keywords.reduce(0) { $0 + size($1.1) }, line: line)
            return try checkSize(try applyFilter(name, to: input, args: arguments, kwargs: keywords, line: line), line: line)
        case .test(let base, let name, let args, let negated, let line):
            let result = try applyTest(name, to: try evaluate(base), args: try args.map { try evaluate($0) }, line: line)
            return .bool(result != negated)
        case .unary(let op, let operand, let line):
            let v = try evaluate(operand)
            switch (op, v.numericValue) {
            case ("-", .int(let i)?):
                guard i != Int.min else { throw TemplateError(.runtime, "integer overflow", line: line) }
                return .int(-i)
            case ("-", .double(let d)?): return .double(-d)
            case ("+", .int(let i)?): return .int(i)
            case ("+", .double(let d)?): return .double(d)
            default:
                throw TemplateError(.runtime, "bad operand type for unary \(op): '\(v.typeName)'", line: line)
            }
        case .binary(let op, let l, let r, let line):
            return try checkSize(try binary(op, try evaluate(l), try evaluate(r), line: line), line: line)
        case .and(let l, let r):
            let left = try evaluate(l)
            return left.isTruthy ? try evaluate(r) : left
        case .or(let l, let r):
            let left = try evaluate(l)
            return left.isTruthy ? left : try evaluate(r)
        case .not(let e):
            return .bool(!(try evaluate(e).isTruthy))
        case .compare(let first, let ops, let line):
            var left = try evaluate(first)
            for (op, rightExpr) in ops {
                let right = try evaluate(rightExpr)
                if !(try compare(op, left, right, line: line)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .conditional(let test, let then, let otherwise):
            if try evaluate(test).isTruthy { return try evaluate(then) }
            return try otherwise.map { try evaluate($0) } ?? .undefined
        }
    }

    private func describe(_ expr: Expr) -> String? {
        switch expr {
        case .name(let n, _): return n
        case .attribute(let base, let name, _): return describe(base).map { $0 + "." + name }
        case .index(let base, .literal(let key), _): return describe(base).map { $0 + "[" + key.pythonRepr + "]" }
        default: return nil
        }
    }

    private func undefinedAccess(_ base: Expr, member: String?, line: Int, calling: Bool = false) -> TemplateError {
        let what = describe(base).map { "'\($0)' is undefined" } ?? "value is undefined"
        if calling { return TemplateError(.runtime, "\(what) (cannot call it)", line: line) }
        return TemplateError(.runtime, "\(what) (cannot read \(member ?? "it") from it)", line: line)
    }

    func invoke(_ function: TemplateValue, args: [TemplateValue], kwargs: [(String, TemplateValue)], line: Int) throws
        -> TemplateValue
    {
        guard case .function(let f) = function else {
            throw TemplateError(.runtime, "'\(function.typeName)' object is not callable", line: line)
        }
        try charge(args.reduce(0) { $0 + size($1) } + kwargs.reduce(0) { $0 + size($1.1) }, line: line)
        if f.name == "namespace" {
            for value in args + kwargs.map(\.1) { try checkNesting(value, forNamespace: true, line: line) }
        }
        do {
            return try f.body(args, kwargs)
        } catch let error as TemplateError where error.line == nil {
            throw TemplateError(error.kind, error.message, line: line)
        }
    }

    // MARK: - Attribute and item access

    func attribute(of value: TemplateValue, _ name: String, line: Int) throws -> TemplateValue {
        switch value {
        case .object(let o):
            // Jinja looks up the Python attribute first, so `d.items` is the method even if "items" is a key.
            if let method = dictMethod(o, name) { return .function(method) }
            return o[name] ?? .undefined
        case .namespace(let ns):
            return ns.attributes[name] ?? .undefined
        case .loop(let l):
            return l.attribute(name)
        case .string(let s):
            // A method reads its receiver in bulk (split, replace, join's separator...).
            try charge(s.utf8.count / 8 + 1, line: line)
            return stringMethod(s, name).map { .function($0) } ?? .undefined
        case .array(let a), .tuple(let a):
            try charge(a.count, line: line)
            return listMethod(a, name, line: line).map { .function($0) } ?? .undefined
        case .int, .bool, .double:
            // Python numbers' data attributes.
            switch (name, value.numericValue!) {
            case ("real", .int(let i)), ("numerator", .int(let i)): return .int(i)
            case ("imag", .int), ("denominator", .int): return .int(name == "denominator" ? 1 : 0)
            case ("real", .double(let d)): return .double(d)
            case ("imag", .double): return .double(0)
            default: return .undefined
            }
        default:
            return .undefined
        }
    }

    func item(of value: TemplateValue, _ key: TemplateValue, line: Int) throws -> TemplateValue {
        switch (value, key) {
        case (.array(let a), _), (.tuple(let a), _):
            guard case .int(var i)? = key.numericValue else {
                if case .string(let name) = key { return try attribute(of: value, name, line: line) }
                throw TemplateError(.runtime, "list indices must be integers, not \(key.typeName)", line: line)
            }
            if i < 0 { i += a.count }
            return (i >= 0 && i < a.count) ? a[i] : .undefined
        case (.string(let s), _):
            guard case .int(var i)? = key.numericValue else {
                if case .string(let name) = key { return try attribute(of: value, name, line: line) }
                throw TemplateError(.runtime, "string indices must be integers, not \(key.typeName)", line: line)
            }
            let scalars = Array(s.unicodeScalars)
            if i < 0 { i += scalars.count }
            return (i >= 0 && i < scalars.count) ? .string(String(scalars[i])) : .undefined
        case (.object(let o), .string(let k)):
            if let v = o[k] { return v }
            return dictMethod(o, k).map { .function($0) } ?? .undefined
        case (.namespace(let ns), .string(let k)):
            return ns.attributes[k] ?? .undefined
        case (.loop(let l), .string(let k)):
            return l.attribute(k)
        default:
            return .undefined
        }
    }

    private func slice(
        _ value: TemplateValue, start: TemplateValue?, stop: TemplateValue?, step: TemplateValue?, line: Int
    ) throws -> TemplateValue {
        func intOrNil(_ v: TemplateValue?) throws -> Int? {
            guard let v else { return nil }
            if case .none = v { return nil }
            guard case .int(let i)? = v.numericValue else {
                throw TemplateError(.runtime, "slice indices must be integers or None", line: line)
            }
            return i
        }
        let stepValue = try intOrNil(step) ?? 1
        guard stepValue != 0 else { throw TemplateError(.runtime, "slice step cannot be zero", line: line) }
        func indices(count: Int) throws -> [Int] {
            // Python's slice.indices().
            var lo = try intOrNil(start)
            var hi = try intOrNil(stop)
            if stepValue > 0 {
                lo = lo.map { $0 < 0 ? max($0 + count, 0) : min($0, count) } ?? 0
                hi = hi.map { $0 < 0 ? max($0 + count, 0) : min($0, count) } ?? count
                return Array(stride(from: lo!, to: hi!, by: stepValue))
            } else {
                lo = lo.map { $0 < 0 ? max($0 + count, -1) : min($0, count - 1) } ?? (count - 1)
                hi = hi.map { $0 < 0 ? max($0 + count, -1) : min($0, count - 1) } ?? -1
                return Array(stride(from: lo!, to: hi!, by: stepValue))
            }
        }
        switch value {
        case .array(let a): return .array(try indices(count: a.count).map { a[$0] })
        case .tuple(let a): return .tuple(try indices(count: a.count).map { a[$0] })
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in try indices(count: scalars.count) { out.append(scalars[i]) }
            return .string(String(out))
        default:
            throw TemplateError(.runtime, "'\(value.typeName)' object is not subscriptable", line: line)
        }
    }

    // MARK: - Operators

    func binary(_ op: String, _ l: TemplateValue, _ r: TemplateValue, line: Int) throws -> TemplateValue {
        // Charged here rather than where expressions are evaluated, so `sum` (which adds item by item) pays too.
        try charge(size(l) + size(r), line: line)
        if op == "~" { return .string(try printable(l, line: line) + printable(r, line: line)) }
        if l.isUndefined || r.isUndefined {
            throw TemplateError(.runtime, "undefined value used with operator '\(op)'", line: line)
        }
        func typeError() -> TemplateError {
            TemplateError(.runtime, "unsupported operand type(s) for \(op): '\(l.typeName)' and '\(r.typeName)'", line: line)
        }
        func overflow() -> TemplateError { TemplateError(.runtime, "integer overflow in '\(op)'", line: line) }
        switch op {
        case "+":
            switch (l, r) {
            case (.string(let a), .string(let b)): return .string(a + b)
            case (.array(let a), .array(let b)): return .array(a + b)
            case (.tuple(let a), .tuple(let b)): return .tuple(a + b)
            default: break
            }
        case "*":
            switch (l, r) {
            case (.string(let s), _), (_, .string(let s)):
                guard case .int(let n)? = (l.numericValue != nil ? l : r).numericValue else { throw typeError() }
                // An empty string repeated 2^63 times is still empty, but String(repeating:) would loop that long.
                if s.isEmpty || n <= 0 { return .string("") }
                try checkStringBytes(saturatingProduct(s.utf8.count, n), line: line)
                return .string(String(repeating: s, count: n))
            case (.array(let a), _), (_, .array(let a)):
                guard case .int(let n)? = (l.numericValue != nil ? l : r).numericValue else { throw typeError() }
                if a.isEmpty || n <= 0 { return .array([]) }  // without building n empty lists
                if saturatingProduct(a.count, n) > TemplateLimits.maxListLength {
                    throw TemplateError.limit("list longer than \(TemplateLimits.maxListLength) items (the template list limit)", line: line)
                }
                return .array(Array([[TemplateValue]](repeating: a, count: n).joined()))
            default: break
            }
        case "%":
            if case .string(let format) = l {
                try checkPrintedSize(r, line: line)
                return .string(try percentFormat(format, r, line: line))
            }
        default: break
        }
        guard let a = l.numericValue, let b = r.numericValue else { throw typeError() }
        switch (a, b) {
        case (.int(let x), .int(let y)):
            switch op {
            case "+":
                let (v, o) = x.addingReportingOverflow(y)
                if o { throw overflow() }
                return .int(v)
            case "-":
                let (v, o) = x.subtractingReportingOverflow(y)
                if o { throw overflow() }
                return .int(v)
            case "*":
                let (v, o) = x.multipliedReportingOverflow(by: y)
                if o { throw overflow() }
                return .int(v)
            case "/":
                guard y != 0 else { throw TemplateError(.runtime, "division by zero", line: line) }
                return .double(Double(x) / Double(y))
            case "//":
                guard y != 0 else { throw TemplateError(.runtime, "integer division or modulo by zero", line: line) }
                var q = x / y
                if (x % y != 0) && ((x < 0) != (y < 0)) { q -= 1 }
                return .int(q)
            case "%":
                guard y != 0 else { throw TemplateError(.runtime, "integer division or modulo by zero", line: line) }
                var m = x % y
                if m != 0 && ((m < 0) != (y < 0)) { m += y }
                return .int(m)
            case "**":
                if y < 0 { return .double(pow(Double(x), Double(y))) }
                var result = 1
                var base = x
                var e = y
                while e > 0 {
                    if e & 1 == 1 {
                        let (v, o) = result.multipliedReportingOverflow(by: base)
                        if o { throw overflow() }
                        result = v
                    }
                    e >>= 1
                    if e > 0 {
                        let (v, o) = base.multipliedReportingOverflow(by: base)
                        if o { throw overflow() }
                        base = v
                    }
                }
                return .int(result)
            default: throw typeError()
            }
        default:
            let x = a.asDouble
            let y = b.asDouble
            switch op {
            case "+": return .double(x + y)
            case "-": return .double(x - y)
            case "*": return .double(x * y)
            case "/":
                guard y != 0 else { throw TemplateError(.runtime, "float division by zero", line: line) }
                return .double(x / y)
            case "//":
                guard y != 0 else { throw TemplateError(.runtime, "float floor division by zero", line: line) }
                return .double((x / y).rounded(.down))
            case "%":
                guard y != 0 else { throw TemplateError(.runtime, "float modulo", line: line) }
                var m = fmod(x, y)
                if m != 0 && ((m < 0) != (y < 0)) { m += y }
                return .double(m)
            case "**": return .double(pow(x, y))
            default: throw typeError()
            }
        }
    }

    func compare(_ op: String, _ l: TemplateValue, _ r: TemplateValue, line: Int) throws -> Bool {
        try charge(size(l) + size(r), line: line)  // `in` and `==` on lists and strings read them whole
        switch op {
        case "==": return l == r
        case "!=": return l != r
        case "in": return try contains(r, l, line: line)
        case "notin": return !(try contains(r, l, line: line))
        default: break
        }
        let order = try ordering(l, r, op: op, line: line)
        switch op {
        case "<": return order < 0
        case ">": return order > 0
        case "<=": return order <= 0
        default: return order >= 0
        }
    }

    /// -1, 0 or 1 as Python orders numbers, strings (by code point) and lists; anything else is a TypeError.
    func ordering(_ l: TemplateValue, _ r: TemplateValue, op: String, line: Int?) throws -> Int {
        if let a = l.numericValue, let b = r.numericValue {
            if case .int(let x) = a, case .int(let y) = b { return x < y ? -1 : (x > y ? 1 : 0) }
            let x = a.asDouble
            let y = b.asDouble
            return x < y ? -1 : (x > y ? 1 : 0)
        }
        switch (l, r) {
        case (.string(let a), .string(let b)):
            var ia = a.unicodeScalars.makeIterator()
            var ib = b.unicodeScalars.makeIterator()
            while true {
                switch (ia.next(), ib.next()) {
                case (nil, nil): return 0
                case (nil, _): return -1
                case (_, nil): return 1
                case (let x?, let y?):
                    if x != y { return x.value < y.value ? -1 : 1 }
                }
            }
        case (.array(let a), .array(let b)), (.tuple(let a), .tuple(let b)):
            for (x, y) in zip(a, b) where x != y { return try ordering(x, y, op: op, line: line) }
            return a.count < b.count ? -1 : (a.count > b.count ? 1 : 0)
        default:
            throw TemplateError(
                .runtime, "'\(op)' not supported between instances of '\(l.typeName)' and '\(r.typeName)'", line: line)
        }
    }

    func contains(_ container: TemplateValue, _ element: TemplateValue, line: Int?) throws -> Bool {
        switch container {
        case .undefined: return false
        case .string(let s):
            guard case .string(let needle) = element else {
                throw TemplateError(.runtime, "'in <string>' requires string as left operand, not \(element.typeName)", line: line)
            }
            return scalarRange(of: Array(needle.unicodeScalars), in: Array(s.unicodeScalars)) != nil
        case .array(let a), .tuple(let a): return a.contains(element)
        case .object(let o):
            if case .string(let k) = element { return o[k] != nil }
            return false
        default:
            throw TemplateError(.runtime, "argument of type '\(container.typeName)' is not iterable", line: line)
        }
    }

    // MARK: - Globals

    /// The globals are stateless closures, built once and shared by every render.
    private static let globals = makeGlobals()

    private static func makeGlobals() -> [String: TemplateValue] {
        var g: [String: TemplateValue] = [:]
        g["raise_exception"] = .function(TemplateFunction(name: "raise_exception") { args, kwargs in
            let message = args.first ?? kwargs.first { $0.0 == "message" }?.1
            guard let message, args.count + kwargs.count == 1 else {
                throw TemplateError(.runtime, "raise_exception() takes exactly one argument (the message)")
            }
            throw TemplateError(.raised, message.renderedString)
        })
        g["range"] = .function(TemplateFunction(name: "range") { args, _ in
            let ints = try args.map { v -> Int in
                guard case .int(let i)? = v.numericValue else {
                    throw TemplateError(.runtime, "'\(v.typeName)' object cannot be interpreted as an integer")
                }
                return i
            }
            let (start, stop, step): (Int, Int, Int)
            switch ints.count {
            case 1: (start, stop, step) = (0, ints[0], 1)
            case 2: (start, stop, step) = (ints[0], ints[1], 1)
            case 3: (start, stop, step) = (ints[0], ints[1], ints[2])
            default: throw TemplateError(.runtime, "range expected 1 to 3 arguments, got \(ints.count)")
            }
            guard step != 0 else { throw TemplateError(.runtime, "range() arg 3 must not be zero") }
            // The sandbox caps ranges; so do we, counting before building anything, so that range(10**18)
            // fails at once instead of exhausting memory. The arithmetic is on magnitudes that cannot overflow.
            let span = step > 0 ? (stop > start ? stop.subtractingReportingOverflow(start) : (partialValue: 0, overflow: false))
                                : (start > stop ? start.subtractingReportingOverflow(stop) : (partialValue: 0, overflow: false))
            let magnitude = step.magnitude
            let length = span.overflow ? UInt.max : (UInt(span.partialValue) + magnitude - 1) / magnitude
            guard length <= UInt(TemplateLimits.maxRangeLength) else {
                throw TemplateError.limit(
                    "range() of more than \(TemplateLimits.maxRangeLength) items (the template range limit)", line: nil)
            }
            return .array(stride(from: start, to: stop, by: step).map { .int($0) })
        })
        g["namespace"] = .function(TemplateFunction(name: "namespace") { args, kwargs in
            let ns = TemplateNamespace()
            for arg in args {
                guard case .object(let o) = arg else {
                    throw TemplateError(.runtime, "namespace() positional arguments must be dicts")
                }
                for (k, v) in o.pairs { ns.attributes[k] = v }
            }
            for (k, v) in kwargs { ns.attributes[k] = v }
            if let bad = ns.attributes.keys.first(where: { $0.hasPrefix("_") }) {
                throw TemplateError(.runtime, "cannot store underscore-prefixed attribute '\(bad)' on a namespace")
            }
            return .namespace(ns)
        })
        g["dict"] = .function(TemplateFunction(name: "dict") { args, kwargs in
            var object = TemplateObject()
            for arg in args {
                guard case .object(let o) = arg else { throw TemplateError(.unsupported, "dict() supports only dicts and keywords") }
                for (k, v) in o.pairs { object[k] = v }
            }
            for (k, v) in kwargs { object[k] = v }
            return .object(object)
        })
        g["strftime_now"] = .function(TemplateFunction(name: "strftime_now") { args, _ in
            guard case .string(let format)? = args.first else {
                throw TemplateError(.runtime, "strftime_now expects a format string")
            }
            return .string(strftimeNow(format))
        })
        return g
    }
}

/// `datetime.now().strftime(format)` in local time.
func strftimeNow(_ format: String) -> String {
    var now = time(nil)
    var parts = tm()
    localtime_r(&now, &parts)
    var buffer = [CChar](repeating: 0, count: 512)
    let n = strftime(&buffer, buffer.count, format, &parts)
    return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The first index of `needle` in `haystack` (code-point search), or nil. Linear time whatever the inputs
/// (Knuth–Morris–Pratt for longer needles), since a template can search megabytes for a hostile pattern.
func scalarRange(of needle: [Unicode.Scalar], in haystack: [Unicode.Scalar], from start: Int = 0) -> Int? {
    if needle.isEmpty { return start <= haystack.count ? start : nil }
    guard haystack.count >= needle.count else { return nil }
    if needle.count > 8 {
        var failure = [Int](repeating: 0, count: needle.count)
        var k = 0
        for i in 1..<needle.count {
            while k > 0 && needle[i] != needle[k] { k = failure[k - 1] }
            if needle[i] == needle[k] { k += 1 }
            failure[i] = k
        }
        var matched = 0
        var i = max(start, 0)
        while i < haystack.count {
            while matched > 0 && haystack[i] != needle[matched] { matched = failure[matched - 1] }
            if haystack[i] == needle[matched] { matched += 1 }
            if matched == needle.count { return i - needle.count + 1 }
            i += 1
        }
        return nil
    }
    var i = start
    while i + needle.count <= haystack.count {
        if haystack[i] == needle[0] {
            var j = 1
            while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
            if j == needle.count { return i }
        }
        i += 1
    }
    return nil
}
