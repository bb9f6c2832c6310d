// Builds the syntax tree from tokens, with Jinja's operator precedence.

/// An expression node. `line` is kept on every node that can fail at run time so errors can name it.
indirect enum Expr {
    case literal(TemplateValue)
    case name(String, line: Int)
    case list([Expr])
    case tuple([Expr])
    case dict([(Expr, Expr)])
    case attribute(Expr, String, line: Int)
    case index(Expr, Expr, line: Int)
    case slice(Expr, start: Expr?, stop: Expr?, step: Expr?, line: Int)
    case call(Expr, args: [Expr], kwargs: [(String, Expr)], line: Int)
    case filter(Expr, name: String, args: [Expr], kwargs: [(String, Expr)], line: Int)
    case test(Expr, name: String, args: [Expr], negated: Bool, line: Int)
    case unary(String, Expr, line: Int)
    case binary(String, Expr, Expr, line: Int)
    case and(Expr, Expr)
    case or(Expr, Expr)
    case not(Expr)
    case compare(Expr, [(String, Expr)], line: Int)
    case conditional(test: Expr, then: Expr, otherwise: Expr?)
}

/// What a `for` or `set` assigns to.
enum Target {
    case name(String)
    case tuple([Target])
    case attribute(String, String)  // ns.attr
}

/// A statement node.
indirect enum Node {
    case text(String)
    case output(Expr, line: Int)
    case ifBlock([(Expr, [Node])], otherwise: [Node])
    case forLoop(target: Target, iterable: Expr, condition: Expr?, body: [Node], otherwise: [Node], line: Int)
    case set(Target, Expr, line: Int)
    case setBlock(String, body: [Node])
    case macro(name: String, params: [(String, Expr?)], body: [Node])
    case callBlock(call: Expr, params: [(String, Expr?)], body: [Node], line: Int)
    case filterBlock(name: String, args: [Expr], kwargs: [(String, Expr)], body: [Node], line: Int)
    case breakLoop(line: Int)
    case continueLoop(line: Int)
    /// transformers' `{% generation %}` extension: marks assistant text; rendering just emits the body.
    case generation([Node])
    /// `{% with a = 1, b = 2 %}...{% endwith %}`: a scope with its own assignments.
    case with([(String, Expr)], body: [Node])
}

/// Recursive-descent parser over the token list.
struct Parser {
    private var tokens: [Token]
    private var index = 0
    /// Levels of nesting open at this point (blocks, sub-expressions, chained operators); see `nest()`.
    private var nesting = 0

    init(tokens: [Token]) { self.tokens = tokens }

    static func parse(_ tokens: [Token]) throws -> [Node] {
        var parser = Parser(tokens: tokens)
        let (nodes, end) = try parser.parseNodes(until: [])
        if let end { throw TemplateError(.syntax, "unexpected '\(end)' tag", line: parser.current.line) }
        return nodes
    }

    // MARK: - Token helpers

    private var current: Token { tokens[index] }
    private var peekNext: Token { tokens[min(index + 1, tokens.count - 1)] }

    private mutating func advance() -> Token {
        let t = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    private func isOp(_ op: String) -> Bool {
        if case .op(let o) = current.kind { return o == op }
        return false
    }

    private func isName(_ name: String) -> Bool {
        if case .name(let n) = current.kind { return n == name }
        return false
    }

    private mutating func expectOp(_ op: String) throws {
        guard isOp(op) else { throw syntax("expected '\(op)', found \(describe(current))") }
        _ = advance()
    }

    private mutating func expectName() throws -> String {
        guard case .name(let n) = current.kind else { throw syntax("expected a name, found \(describe(current))") }
        _ = advance()
        return n
    }

    private mutating func expectKeyword(_ word: String) throws {
        guard isName(word) else { throw syntax("expected '\(word)', found \(describe(current))") }
        _ = advance()
    }

    private mutating func expectBlockEnd() throws {
        guard case .blockEnd = current.kind else { throw syntax("expected end of block tag '%}', found \(describe(current))") }
        _ = advance()
    }

    /// Opens one more level of nesting. Parsing, evaluating and freeing the tree recurse once per level, so
    /// `((((...` or `a+a+a+...` thousands deep would overflow the stack; ``TemplateLimits/maxSyntaxNesting``
    /// stops them first. Callers restore `nesting` when they return.
    private mutating func nest() throws {
        nesting += 1
        if nesting > TemplateLimits.maxSyntaxNesting {
            throw TemplateError.limit(
                "blocks or expressions nested more than \(TemplateLimits.maxSyntaxNesting) deep (the template nesting limit)",
                line: current.line)
        }
    }

    private func syntax(_ message: String) -> TemplateError { TemplateError(.syntax, message, line: current.line) }

    private func describe(_ token: Token) -> String {
        switch token.kind {
        case .text: return "text"
        case .blockBegin: return "'{%'"
        case .blockEnd: return "'%}'"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "'}}'"
        case .name(let n): return "'\(n)'"
        case .string(let s): return "string \(pythonStringRepr(s))"
        case .integer(let i): return "\(i)"
        case .float(let d): return formatPythonFloat(d)
        case .op(let o): return "'\(o)'"
        case .end: return "end of template"
        }
    }

    // MARK: - Statements

    /// Parses nodes until a block tag whose keyword is in `terminators`; returns that keyword (consumed up to
    /// and including the keyword itself, not its block end) or nil at the end of input.
    private mutating func parseNodes(until terminators: Set<String>) throws -> ([Node], String?) {
        var nodes: [Node] = []
        while true {
            let token = current
            switch token.kind {
            case .end:
                return (nodes, nil)
            case .text(let t):
                _ = advance()
                nodes.append(.text(t))
            case .variableBegin:
                _ = advance()
                let expr = try parseExpression()
                guard case .variableEnd = current.kind else { throw syntax("expected '}}', found \(describe(current))") }
                _ = advance()
                nodes.append(.output(expr, line: token.line))
            case .blockBegin:
                _ = advance()
                guard case .name(let keyword) = current.kind else { throw syntax("expected a statement name after '{%'") }
                if terminators.contains(keyword) {
                    _ = advance()
                    return (nodes, keyword)
                }
                nodes.append(try parseStatement(keyword, line: current.line))
            default:
                throw syntax("unexpected \(describe(token))")
            }
        }
    }

    private mutating func parseStatement(_ keyword: String, line: Int) throws -> Node {
        let saved = nesting
        defer { nesting = saved }
        try nest()
        _ = advance()
        switch keyword {
        case "if": return try parseIf()
        case "for": return try parseFor(line: line)
        case "set": return try parseSet(line: line)
        case "macro": return try parseMacro()
        case "call": return try parseCallBlock(line: line)
        case "filter": return try parseFilterBlock(line: line)
        case "break":
            try expectBlockEnd()
            return .breakLoop(line: line)
        case "continue":
            try expectBlockEnd()
            return .continueLoop(line: line)
        case "with":
            var assignments: [(String, Expr)] = []
            while !(current.kind == .blockEnd) {
                if !assignments.isEmpty { try expectOp(",") }
                let name = try expectName()
                try expectOp("=")
                assignments.append((name, try parseExpression()))
            }
            try expectBlockEnd()
            let (body, end) = try parseNodes(until: ["endwith"])
            guard end != nil else { throw TemplateError(.syntax, "missing '{% endwith %}'", line: line) }
            try expectBlockEnd()
            return .with(assignments, body: body)
        case "generation":
            try expectBlockEnd()
            let (body, end) = try parseNodes(until: ["endgeneration"])
            guard end != nil else { throw TemplateError(.syntax, "missing '{% endgeneration %}'", line: line) }
            try expectBlockEnd()
            return .generation(body)
        case "endif", "endfor", "endset", "endmacro", "endcall", "endfilter", "else", "elif", "endgeneration", "endwith":
            throw TemplateError(.syntax, "unexpected '\(keyword)' tag", line: line)
        default:
            throw TemplateError(.unsupported, "unsupported statement '\(keyword)'", line: line)
        }
    }

    private mutating func parseIf() throws -> Node {
        var branches: [(Expr, [Node])] = []
        var condition = try parseExpression()
        try expectBlockEnd()
        while true {
            let startLine = current.line
            let (body, end) = try parseNodes(until: ["elif", "else", "endif"])
            branches.append((condition, body))
            switch end {
            case "elif":
                condition = try parseExpression()
                try expectBlockEnd()
            case "else":
                try expectBlockEnd()
                let (otherwise, end2) = try parseNodes(until: ["endif"])
                guard end2 != nil else { throw TemplateError(.syntax, "missing '{% endif %}'", line: startLine) }
                try expectBlockEnd()
                return .ifBlock(branches, otherwise: otherwise)
            case "endif":
                try expectBlockEnd()
                return .ifBlock(branches, otherwise: [])
            default:
                throw TemplateError(.syntax, "missing '{% endif %}'", line: startLine)
            }
        }
    }

    private mutating func parseAssignTarget(allowAttribute: Bool) throws -> Target {
        var targets: [Target] = []
        var sawComma = false
        repeat {
            if isOp("(") {
                _ = advance()
                targets.append(try parseAssignTarget(allowAttribute: false))
                try expectOp(")")
            } else {
                let name = try expectName()
                if allowAttribute && isOp(".") {
                    _ = advance()
                    let attr = try expectName()
                    targets.append(.attribute(name, attr))
                } else {
                    targets.append(.name(name))
                }
            }
            if isOp(",") {
                _ = advance()
                sawComma = true
            } else {
                break
            }
        } while !isName("in") && !isOp("=") && !isOp(")")
        return sawComma ? .tuple(targets) : targets[0]
    }

    private mutating func parseFor(line: Int) throws -> Node {
        let target = try parseAssignTarget(allowAttribute: false)
        try expectKeyword("in")
        // The iterable is parsed without the conditional expression so that `for x in xs if cond` filters.
        let iterable = try parseTupleOrExpression(allowConditional: false)
        var condition: Expr?
        if isName("if") {
            _ = advance()
            condition = try parseExpression()
        }
        if isName("recursive") {
            throw TemplateError(.unsupported, "recursive for loops are not supported", line: line)
        }
        try expectBlockEnd()
        let (body, end) = try parseNodes(until: ["else", "endfor"])
        var otherwise: [Node] = []
        switch end {
        case "else":
            try expectBlockEnd()
            let (elseBody, end2) = try parseNodes(until: ["endfor"])
            guard end2 != nil else { throw TemplateError(.syntax, "missing '{% endfor %}'", line: line) }
            otherwise = elseBody
            try expectBlockEnd()
        case "endfor":
            try expectBlockEnd()
        default:
            throw TemplateError(.syntax, "missing '{% endfor %}'", line: line)
        }
        return .forLoop(target: target, iterable: iterable, condition: condition, body: body, otherwise: otherwise, line: line)
    }

    private mutating func parseSet(line: Int) throws -> Node {
        let target = try parseAssignTarget(allowAttribute: true)
        if isOp("=") {
            _ = advance()
            let value = try parseTupleOrExpression(allowConditional: true)
            try expectBlockEnd()
            return .set(target, value, line: line)
        }
        guard case .name(let name) = target else { throw syntax("a block set needs a plain variable name") }
        if isOp("|") { throw TemplateError(.unsupported, "filtered block set is not supported", line: line) }
        try expectBlockEnd()
        let (body, end) = try parseNodes(until: ["endset"])
        guard end != nil else { throw TemplateError(.syntax, "missing '{% endset %}'", line: line) }
        try expectBlockEnd()
        return .setBlock(name, body: body)
    }

    private mutating func parseParameters() throws -> [(String, Expr?)] {
        var params: [(String, Expr?)] = []
        try expectOp("(")
        while !isOp(")") {
            let name = try expectName()
            var defaultValue: Expr?
            if isOp("=") {
                _ = advance()
                defaultValue = try parseExpression()
            }
            params.append((name, defaultValue))
            if !isOp(")") { try expectOp(",") }
        }
        _ = advance()
        return params
    }

    private mutating func parseMacro() throws -> Node {
        let line = current.line
        let name = try expectName()
        let params = try parseParameters()
        try expectBlockEnd()
        let (body, end) = try parseNodes(until: ["endmacro"])
        guard end != nil else { throw TemplateError(.syntax, "missing '{% endmacro %}'", line: line) }
        if case .name = current.kind { _ = advance() }  // `{% endmacro name %}`
        try expectBlockEnd()
        return .macro(name: name, params: params, body: body)
    }

    private mutating func parseCallBlock(line: Int) throws -> Node {
        var params: [(String, Expr?)] = []
        if isOp("(") { params = try parseParameters() }
        let call = try parseExpression()
        guard case .call = call else { throw TemplateError(.syntax, "expected a macro call after 'call'", line: line) }
        try expectBlockEnd()
        let (body, end) = try parseNodes(until: ["endcall"])
        guard end != nil else { throw TemplateError(.syntax, "missing '{% endcall %}'", line: line) }
        try expectBlockEnd()
        return .callBlock(call: call, params: params, body: body, line: line)
    }

    private mutating func parseFilterBlock(line: Int) throws -> Node {
        let name = try expectName()
        var args: [Expr] = []
        var kwargs: [(String, Expr)] = []
        if isOp("(") { (args, kwargs) = try parseCallArguments() }
        try expectBlockEnd()
        let (body, end) = try parseNodes(until: ["endfilter"])
        guard end != nil else { throw TemplateError(.syntax, "missing '{% endfilter %}'", line: line) }
        try expectBlockEnd()
        return .filterBlock(name: name, args: args, kwargs: kwargs, body: body, line: line)
    }

    // MARK: - Expressions

    /// `a, b` without brackets is a tuple where Jinja allows it (for iterables and set values).
    private mutating func parseTupleOrExpression(allowConditional: Bool) throws -> Expr {
        let first = allowConditional ? try parseExpression() : try parseOr()
        guard isOp(",") else { return first }
        var items = [first]
        while isOp(",") {
            _ = advance()
            if case .blockEnd = current.kind { break }
            if isName("if") { break }
            items.append(allowConditional ? try parseExpression() : try parseOr())
        }
        return .tuple(items)
    }

    mutating func parseExpression() throws -> Expr {
        let saved = nesting
        defer { nesting = saved }
        try nest()
        let value = try parseOr()
        if isName("if") {
            _ = advance()
            let test = try parseOr()
            var otherwise: Expr?
            if isName("else") {
                _ = advance()
                otherwise = try parseExpression()
            }
            return .conditional(test: test, then: value, otherwise: otherwise)
        }
        return value
    }

    private mutating func parseOr() throws -> Expr {
        let saved = nesting
        defer { nesting = saved }
        var left = try parseAnd()
        while isName("or") {
            try nest()
            _ = advance()
            left = .or(left, try parseAnd())
        }
        return left
    }

    private mutating func parseAnd() throws -> Expr {
        let saved = nesting
        defer { nesting = saved }
        var left = try parseNot()
        while isName("and") {
            try nest()
            _ = advance()
            left = .and(left, try parseNot())
        }
        return left
    }

    private mutating func parseNot() throws -> Expr {
        let saved = nesting
        defer { nesting = saved }
        try nest()
        if isName("not") {
            _ = advance()
            return .not(try parseNot())
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> Expr {
        let line = current.line
        let left = try parseMath1()
        var ops: [(String, Expr)] = []
        while true {
            if case .op(let o) = current.kind, ["==", "!=", "<", ">", "<=", ">="].contains(o) {
                _ = advance()
                ops.append((o, try parseMath1()))
            } else if isName("in") {
                _ = advance()
                ops.append(("in", try parseMath1()))
            } else if isName("not"), case .name("in") = peekNext.kind {
                _ = advance()
                _ = advance()
                ops.append(("notin", try parseMath1()))
            } else {
                break
            }
        }
        return ops.isEmpty ? left : .compare(left, ops, line: line)
    }

    private mutating func parseMath1() throws -> Expr {
        let saved = nesting
        defer { nesting = saved }
        var left = try parseConcat()
        while case .op(let o) = current.kind, o == "+" || o == "-" {
            try nest()
            let line = current.line
            _ = advance()
            left = .binary(o, left, try parseConcat(), line: line)
        }
        return left
    }

    private mutating func parseConcat() throws -> Expr {
        let saved = nesting
        defer { nesting = saved }
        var left = try parseMath2()
        while isOp("~") {
            try nest()
            let line = current.line
            _ = advance()
            left = .binary("~", left, try parseMath2(), line: line)
        }
        return left
    }

    private mutating func parseMath2() throws -> Expr {
        let saved = nesting
        defer { nesting = saved }
        var left = try parsePow()
        while case .op(let o) = current.kind, ["*", "/", "//", "%"].contains(o) {
            try nest()
            let line = current.line
            _ = advance()
            left = .binary(o, left, try parsePow(), line: line)
        }
        return left
    }

    private mutating func parsePow() throws -> Expr {
        let saved = nesting
        defer { nesting = saved }
        var left = try parseUnary(withFilter: true)
        while isOp("**") {
            try nest()
            let line = current.line
            _ = advance()
            left = .binary("**", left, try parseUnary(withFilter: true), line: line)
        }
        return left
    }

    private mutating func parseUnary(withFilter: Bool) throws -> Expr {
        let saved = nesting
        defer { nesting = saved }
        try nest()
        let line = current.line
        var node: Expr
        if isOp("-") {
            _ = advance()
            node = .unary("-", try parseUnary(withFilter: false), line: line)
        } else if isOp("+") {
            _ = advance()
            node = .unary("+", try parseUnary(withFilter: false), line: line)
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        if withFilter { node = try parseFilterExpression(node) }
        return node
    }

    private mutating func parsePrimary() throws -> Expr {
        let token = current
        switch token.kind {
        case .name(let n):
            _ = advance()
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(n, line: token.line)
            }
        case .string(var s):
            _ = advance()
            while case .string(let more) = current.kind {
                s += more
                _ = advance()
            }
            return .literal(.string(s))
        case .integer(let i):
            _ = advance()
            return .literal(.int(i))
        case .float(let d):
            _ = advance()
            return .literal(.double(d))
        case .op("("):
            _ = advance()
            if isOp(")") {
                _ = advance()
                return .tuple([])
            }
            let first = try parseExpression()
            if isOp(")") {
                _ = advance()
                return first
            }
            var items = [first]
            while isOp(",") {
                _ = advance()
                if isOp(")") { break }
                items.append(try parseExpression())
            }
            try expectOp(")")
            return .tuple(items)
        case .op("["):
            _ = advance()
            var items: [Expr] = []
            while !isOp("]") {
                items.append(try parseExpression())
                if !isOp("]") { try expectOp(",") }
            }
            _ = advance()
            return .list(items)
        case .op("{"):
            _ = advance()
            var pairs: [(Expr, Expr)] = []
            while !isOp("}") {
                let key = try parseExpression()
                try expectOp(":")
                pairs.append((key, try parseExpression()))
                if !isOp("}") { try expectOp(",") }
            }
            _ = advance()
            return .dict(pairs)
        default:
            throw syntax("unexpected \(describe(token))")
        }
    }

    private mutating func parsePostfix(_ base: Expr) throws -> Expr {
        let saved = nesting
        defer { nesting = saved }
        var node = base
        while true {
            try nest()
            let line = current.line
            if isOp(".") {
                _ = advance()
                switch current.kind {
                case .name(let n):
                    _ = advance()
                    node = .attribute(node, n, line: line)
                case .integer(let i):
                    _ = advance()
                    node = .index(node, .literal(.int(i)), line: line)
                default:
                    throw syntax("expected an attribute name after '.'")
                }
            } else if isOp("[") {
                _ = advance()
                node = try parseSubscript(node, line: line)
            } else if isOp("(") {
                let (args, kwargs) = try parseCallArguments()
                node = .call(node, args: args, kwargs: kwargs, line: line)
            } else {
                return node
            }
        }
    }

    private mutating func parseSubscript(_ base: Expr, line: Int) throws -> Expr {
        var start: Expr?
        if !isOp(":") { start = try parseExpression() }
        if isOp("]") {
            _ = advance()
            guard let start else { throw syntax("empty subscript") }
            return .index(base, start, line: line)
        }
        try expectOp(":")
        var stop: Expr?
        var step: Expr?
        if !isOp("]") && !isOp(":") { stop = try parseExpression() }
        if isOp(":") {
            _ = advance()
            if !isOp("]") { step = try parseExpression() }
        }
        try expectOp("]")
        return .slice(base, start: start, stop: stop, step: step, line: line)
    }

    private mutating func parseCallArguments() throws -> ([Expr], [(String, Expr)]) {
        try expectOp("(")
        var args: [Expr] = []
        var kwargs: [(String, Expr)] = []
        while !isOp(")") {
            if isOp("*") || isOp("**") { throw TemplateError(.unsupported, "*args/**kwargs in calls are not supported", line: current.line) }
            if case .name(let n) = current.kind, case .op("=") = peekNext.kind {
                _ = advance()
                _ = advance()
                kwargs.append((n, try parseExpression()))
            } else {
                if !kwargs.isEmpty { throw syntax("positional argument after keyword argument") }
                args.append(try parseExpression())
            }
            if !isOp(")") { try expectOp(",") }
        }
        _ = advance()
        return (args, kwargs)
    }

    private mutating func parseFilterExpression(_ base: Expr) throws -> Expr {
        let saved = nesting
        defer { nesting = saved }
        var node = base
        while true {
            try nest()
            let line = current.line
            if isOp("|") {
                _ = advance()
                var name = try expectName()
                while isOp(".") {
                    _ = advance()
                    name += "." + (try expectName())
                }
                // Jinja rejects unknown filter names when compiling, even in branches never taken.
                guard Parser.jinjaFilters.contains(name) else {
                    throw TemplateError(.syntax, "no filter named '\(name)'", line: line)
                }
                var args: [Expr] = []
                var kwargs: [(String, Expr)] = []
                if isOp("(") { (args, kwargs) = try parseCallArguments() }
                node = .filter(node, name: name, args: args, kwargs: kwargs, line: line)
            } else if isName("is") {
                _ = advance()
                var negated = false
                if isName("not") {
                    _ = advance()
                    negated = true
                }
                var name = try expectName()
                while isOp(".") {
                    _ = advance()
                    name += "." + (try expectName())
                }
                guard Parser.jinjaTests.contains(name) else { throw TemplateError(.syntax, "no test named '\(name)'", line: line) }
                var args: [Expr] = []
                if isOp("(") {
                    let (a, kw) = try parseCallArguments()
                    if !kw.isEmpty { throw TemplateError(.unsupported, "keyword arguments to tests are not supported", line: line) }
                    args = a
                } else if startsTestArgument() {
                    // `x is divisibleby 3`, `x is equalto 'y'`: one argument without parentheses.
                    args = [try parsePostfix(try parsePrimary())]
                }
                node = .test(node, name: name, args: args, negated: negated, line: line)
            } else {
                return node
            }
        }
    }

    /// Jinja 3.1's built-in filters plus transformers' `tojson`; any other name is a compile-time error there.
    static let jinjaFilters: Set<String> = [
        "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape",
        "filesizeformat", "first", "float", "forceescape", "format", "groupby", "indent", "int", "items", "join",
        "last", "length", "list", "lower", "map", "max", "min", "pprint", "random", "reject", "rejectattr",
        "replace", "reverse", "round", "safe", "select", "selectattr", "slice", "sort", "string", "striptags", "sum",
        "title", "tojson", "trim", "truncate", "unique", "upper", "urlencode", "urlize", "wordcount", "wordwrap",
        "xmlattr",
    ]

    /// Jinja 3.1's built-in tests.
    static let jinjaTests: Set<String> = [
        "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "escaped", "even", "false", "filter",
        "float", "ge", "gt", "greaterthan", "in", "integer", "iterable", "le", "lessthan", "lower", "lt", "mapping",
        "ne", "none", "number", "odd", "sameas", "sequence", "string", "test", "true", "undefined", "upper", "==",
        "!=", ">", ">=", "<", "<=",
    ]

    private func startsTestArgument() -> Bool {
        switch current.kind {
        case .name(let n): return !["else", "or", "and", "if", "in", "not", "is"].contains(n)
        case .string, .integer, .float: return true
        case .op(let o): return o == "(" || o == "[" || o == "{"
        default: return false
        }
    }
}
