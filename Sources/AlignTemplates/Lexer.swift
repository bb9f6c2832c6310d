// Turns template source into tokens, applying Jinja's whitespace control as transformers configures it
// (trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False).

/// An error found while lexing, parsing or rendering a template, or raised by the template itself.
public struct TemplateError: Error, CustomStringConvertible, Equatable {
    /// What kind of failure this is.
    public enum Kind: Equatable, Sendable {
        /// The source is not valid Jinja.
        case syntax
        /// The template uses something this implementation does not support.
        case unsupported
        /// Evaluation failed (type error, undefined attribute, ...), as Jinja would raise.
        case runtime
        /// The template called `raise_exception(message)`.
        case raised
        /// The template exceeded one of the ``TemplateLimits`` (loop iterations, string size, nesting, ...).
        case limit
    }

    /// What kind of failure this is.
    public let kind: Kind
    /// The message; for `raised` exactly the template's own text.
    public let message: String
    /// The 1-based template line, when known.
    public let line: Int?
    /// Where the template came from (e.g. "/m/tokenizer_config.json (chat_template)" or a
    /// chat_template.jinja path), when the caller said; see ``ChatTemplate/init(_:defaultContext:origin:)``.
    public let origin: String?

    /// An error of `kind` with `message` at `line` of the template from `origin`.
    public init(_ kind: Kind, _ message: String, line: Int? = nil, origin: String? = nil) {
        self.kind = kind
        self.message = message
        self.line = line
        self.origin = origin
    }

    /// This error, attributed to the template from `origin` (kept when already attributed).
    public func from(_ origin: String?) -> TemplateError {
        guard self.origin == nil, let origin else { return self }
        return TemplateError(kind, message, line: line, origin: origin)
    }

    /// The message with its origin and line, for people: "ORIGIN: line N: message". A `raise_exception`
    /// message is the template's own words, so it is kept whole after the origin.
    public var description: String {
        var prefix = origin.map { "chat template \($0): " } ?? ""
        if kind == .raised { return prefix + message }
        if let line { prefix += "line \(line): " }
        return prefix + message
    }
}

/// Options that change how the source is split; the defaults are transformers' chat-template settings.
public struct TemplateOptions: Sendable {
    /// Remove the first newline after a block or comment tag.
    public var trimBlocks: Bool
    /// Remove spaces and tabs before a block or comment tag that starts its line.
    public var lstripBlocks: Bool
    /// Keep a single newline at the very end of the source (Jinja drops it by default).
    public var keepTrailingNewline: Bool

    /// Options; the defaults are those of transformers' `apply_chat_template`.
    public init(trimBlocks: Bool = true, lstripBlocks: Bool = true, keepTrailingNewline: Bool = false) {
        self.trimBlocks = trimBlocks
        self.lstripBlocks = lstripBlocks
        self.keepTrailingNewline = keepTrailingNewline
    }
}

/// One lexical token with its source line.
struct Token {
    enum Kind: Equatable {
        case text(String)
        case blockBegin, blockEnd, variableBegin, variableEnd
        case name(String)
        case string(String)
        case integer(Int)
        case float(Double)
        case op(String)
        case end
    }

    let kind: Kind
    let line: Int
}

/// A single pass over the source's Unicode scalars.
struct Lexer {
    private let src: [Unicode.Scalar]
    private let options: TemplateOptions
    private var pos = 0
    private var line = 1
    private var tokens: [Token] = []
    /// Whether the last consumed text ended a line (or nothing was consumed yet): lstrip_blocks then applies
    /// to a tag preceded only by indentation even when the newline belonged to the previous token.
    private var lineStarting = true

    init(_ source: String, options: TemplateOptions) {
        // Jinja normalises \r\n and \r to \n before lexing, then drops one trailing newline.
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(source.unicodeScalars.count)
        var previousCR = false
        for s in source.unicodeScalars {
            if s == "\r" {
                scalars.append("\n")
                previousCR = true
                continue
            }
            if s == "\n" && previousCR {
                previousCR = false
                continue
            }
            previousCR = false
            scalars.append(s)
        }
        if !options.keepTrailingNewline, scalars.last == "\n" { scalars.removeLast() }
        self.src = scalars
        self.options = options
    }

    static func tokenize(_ source: String, options: TemplateOptions) throws -> [Token] {
        var lexer = Lexer(source, options: options)
        try lexer.run()
        return lexer.tokens
    }

    // MARK: - Root state

    private mutating func run() throws {
        while pos < src.count {
            guard let (tagStart, kind) = findNextTag(from: pos) else {
                emitText(String(String.UnicodeScalarView(src[pos...])))
                pos = src.count
                break
            }
            var text = Array(src[pos..<tagStart])
            let signIndex = tagStart + 2
            let sign: Unicode.Scalar? =
                signIndex < src.count && (src[signIndex] == "-" || src[signIndex] == "+") ? src[signIndex] : nil
            if sign == "-" {
                while let last = text.last, isWhitespace(last) { text.removeLast() }
            } else if sign != "+" && options.lstripBlocks && kind != .variable {
                let lineStart = (text.lastIndex(of: "\n").map { $0 + 1 }) ?? 0
                if lineStart > 0 || lineStarting {
                    let rest = text[lineStart...]
                    if !rest.isEmpty && rest.allSatisfy(isWhitespace) { text.removeSubrange(lineStart...) }
                }
            }
            let textLine = line
            line += countNewlines(src[pos..<tagStart])
            if !text.isEmpty { tokens.append(Token(kind: .text(String(String.UnicodeScalarView(text))), line: textLine)) }
            pos = tagStart + 2 + (sign == nil ? 0 : 1)
            switch kind {
            case .comment: try lexComment(startLine: line)
            case .raw: try lexRaw()
            case .block: try lexTag(block: true)
            case .variable: try lexTag(block: false)
            }
        }
        tokens.append(Token(kind: .end, line: line))
    }

    private enum TagKind { case block, variable, comment, raw }

    private func findNextTag(from start: Int) -> (Int, TagKind)? {
        var i = start
        while i + 1 < src.count {
            if src[i] == "{" {
                switch src[i + 1] {
                case "{": return (i, .variable)
                case "#": return (i, .comment)
                case "%": return (i, isRawBegin(at: i) ? .raw : .block)
                default: break
                }
            }
            i += 1
        }
        return nil
    }

    /// `{%(-|+)? raw (-)?%}`
    private func isRawBegin(at index: Int) -> Bool {
        var i = index + 2
        if i < src.count, src[i] == "-" || src[i] == "+" { i += 1 }
        while i < src.count, isWhitespace(src[i]) { i += 1 }
        guard matches("raw", at: i) else { return false }
        i += 3
        while i < src.count, isWhitespace(src[i]) { i += 1 }
        return matches("%}", at: i) || matches("-%}", at: i)
    }

    private mutating func emitText(_ text: String) {
        if !text.isEmpty { tokens.append(Token(kind: .text(text), line: line)) }
        line += text.unicodeScalars.reduce(0) { $0 + ($1 == "\n" ? 1 : 0) }
        lineStarting = text.unicodeScalars.last == "\n"
    }

    // MARK: - Comments and raw blocks

    private mutating func lexComment(startLine: Int) throws {
        var i = pos
        while i < src.count {
            if matches("+#}", at: i) {
                finishTag(contentEnd: i, after: i + 3, trim: .none)
                return
            }
            if matches("-#}", at: i) {
                finishTag(contentEnd: i, after: i + 3, trim: .allWhitespace)
                return
            }
            if matches("#}", at: i) {
                finishTag(contentEnd: i, after: i + 2, trim: options.trimBlocks ? .oneNewline : .none)
                return
            }
            i += 1
        }
        throw TemplateError(.syntax, "missing end of comment tag", line: startLine)
    }

    private enum Trim { case none, oneNewline, allWhitespace }

    /// Consumes a tag's closing delimiter ending at `after` and the whitespace that its control says to drop.
    private mutating func finishTag(contentEnd: Int, after: Int, trim: Trim) {
        line += countNewlines(src[pos..<after])
        var next = after
        switch trim {
        case .none: break
        case .oneNewline:
            if next < src.count, src[next] == "\n" { next += 1 }
        case .allWhitespace:
            while next < src.count, isWhitespace(src[next]) { next += 1 }
        }
        line += countNewlines(src[after..<next])
        lineStarting = next > 0 && src[next - 1] == "\n"
        pos = next
    }

    private mutating func lexRaw() throws {
        // Skip the rest of the opening `raw %}` tag.
        while pos < src.count, isWhitespace(src[pos]) { pos += 1 }
        pos += 3
        while pos < src.count, isWhitespace(src[pos]) { pos += 1 }
        if matches("-%}", at: pos) {
            pos += 3
            while pos < src.count, isWhitespace(src[pos]) { pos += 1 }
        } else {
            pos += 2
        }
        let startLine = line
        var i = pos
        while i + 1 < src.count {
            if src[i] == "{" && src[i + 1] == "%" {
                var j = i + 2
                var sign: Unicode.Scalar?
                if j < src.count, src[j] == "-" || src[j] == "+" {
                    sign = src[j]
                    j += 1
                }
                while j < src.count, isWhitespace(src[j]) { j += 1 }
                if matches("endraw", at: j) {
                    j += 6
                    while j < src.count, isWhitespace(src[j]) { j += 1 }
                    var content = Array(src[pos..<i])
                    if sign == "-" {
                        while let last = content.last, isWhitespace(last) { content.removeLast() }
                    } else if sign != "+" && options.lstripBlocks {
                        let lineStart = (content.lastIndex(of: "\n").map { $0 + 1 }) ?? 0
                        let rest = content[lineStart...]
                        if !rest.isEmpty && rest.allSatisfy(isWhitespace) { content.removeSubrange(lineStart...) }
                    }
                    if !content.isEmpty {
                        tokens.append(Token(kind: .text(String(String.UnicodeScalarView(content))), line: startLine))
                    }
                    line += countNewlines(src[pos..<i])
                    pos = i
                    if matches("+%}", at: j) {
                        finishTag(contentEnd: j, after: j + 3, trim: .none)
                    } else if matches("-%}", at: j) {
                        finishTag(contentEnd: j, after: j + 3, trim: .allWhitespace)
                    } else if matches("%}", at: j) {
                        finishTag(contentEnd: j, after: j + 2, trim: options.trimBlocks ? .oneNewline : .none)
                    } else {
                        throw TemplateError(.syntax, "malformed endraw tag", line: line)
                    }
                    return
                }
            }
            i += 1
        }
        throw TemplateError(.syntax, "missing end of raw directive", line: startLine)
    }

    // MARK: - Expression tags

    private mutating func lexTag(block: Bool) throws {
        let beginLine = line
        tokens.append(Token(kind: block ? .blockBegin : .variableBegin, line: line))
        var depth: [Unicode.Scalar] = []
        while true {
            while pos < src.count, isWhitespace(src[pos]) {
                if src[pos] == "\n" { line += 1 }
                pos += 1
            }
            guard pos < src.count else {
                throw TemplateError(
                    .syntax, block ? "unexpected end of template: missing '%}'" : "unexpected end of template: missing '}}'",
                    line: beginLine)
            }
            if depth.isEmpty {
                if block {
                    if matches("+%}", at: pos) {
                        tokens.append(Token(kind: .blockEnd, line: line))
                        finishTag(contentEnd: pos, after: pos + 3, trim: .none)
                        return
                    }
                    if matches("-%}", at: pos) {
                        tokens.append(Token(kind: .blockEnd, line: line))
                        finishTag(contentEnd: pos, after: pos + 3, trim: .allWhitespace)
                        return
                    }
                    if matches("%}", at: pos) {
                        tokens.append(Token(kind: .blockEnd, line: line))
                        finishTag(contentEnd: pos, after: pos + 2, trim: options.trimBlocks ? .oneNewline : .none)
                        return
                    }
                } else {
                    if matches("-}}", at: pos) {
                        tokens.append(Token(kind: .variableEnd, line: line))
                        finishTag(contentEnd: pos, after: pos + 3, trim: .allWhitespace)
                        return
                    }
                    if matches("}}", at: pos) {
                        tokens.append(Token(kind: .variableEnd, line: line))
                        finishTag(contentEnd: pos, after: pos + 2, trim: .none)
                        return
                    }
                }
            }
            let c = src[pos]
            if c == "\"" || c == "'" {
                try lexString(quote: c)
            } else if isDigit(c) {
                lexNumber()
            } else if isNameStart(c) {
                let start = pos
                while pos < src.count, isNameContinue(src[pos]) { pos += 1 }
                tokens.append(Token(kind: .name(String(String.UnicodeScalarView(src[start..<pos]))), line: line))
            } else {
                let op = try lexOperator()
                switch op {
                case "(", "[", "{": depth.append(op.unicodeScalars.first!)
                case ")", "]", "}":
                    let expected: Unicode.Scalar = op == ")" ? "(" : op == "]" ? "[" : "{"
                    guard depth.last == expected else {
                        throw TemplateError(.syntax, "unexpected '\(op)'", line: line)
                    }
                    depth.removeLast()
                default: break
                }
                tokens.append(Token(kind: .op(op), line: line))
            }
        }
    }

    private static let operators = [
        "//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<",
        "=", ".", ":", "|", ",", ";",
    ]

    private mutating func lexOperator() throws -> String {
        for op in Lexer.operators where matches(op, at: pos) {
            pos += op.unicodeScalars.count
            return op
        }
        throw TemplateError(.syntax, "unexpected character '\(Character(src[pos]))'", line: line)
    }

    private mutating func lexNumber() {
        let start = pos
        while pos < src.count, isDigit(src[pos]) || src[pos] == "_" { pos += 1 }
        var isFloat = false
        // A fraction needs a digit after the dot, so `1.x` stays attribute access on 1.
        if pos + 1 < src.count, src[pos] == ".", isDigit(src[pos + 1]) {
            isFloat = true
            pos += 1
            while pos < src.count, isDigit(src[pos]) || src[pos] == "_" { pos += 1 }
        }
        if pos < src.count, src[pos] == "e" || src[pos] == "E" {
            var j = pos + 1
            if j < src.count, src[j] == "+" || src[j] == "-" { j += 1 }
            if j < src.count, isDigit(src[j]) {
                isFloat = true
                pos = j
                while pos < src.count, isDigit(src[pos]) || src[pos] == "_" { pos += 1 }
            }
        }
        let text = String(String.UnicodeScalarView(src[start..<pos].filter { $0 != "_" }))
        if isFloat {
            tokens.append(Token(kind: .float(Double(text) ?? .nan), line: line))
        } else if let value = Int(text) {
            tokens.append(Token(kind: .integer(value), line: line))
        } else {
            tokens.append(Token(kind: .float(Double(text) ?? .infinity), line: line))
        }
    }

    /// A quoted string with Python `unicode-escape` semantics (`\n`, `\t`, `\xNN`, `\uNNNN`, octal, ...;
    /// an unknown escape keeps its backslash), as Jinja decodes string literals.
    private mutating func lexString(quote: Unicode.Scalar) throws {
        let startLine = line
        pos += 1
        var out = String.UnicodeScalarView()
        while true {
            guard pos < src.count else { throw TemplateError(.syntax, "unterminated string", line: startLine) }
            let c = src[pos]
            if c == quote {
                pos += 1
                break
            }
            if c == "\n" { line += 1 }
            if c != "\\" {
                out.append(c)
                pos += 1
                continue
            }
            guard pos + 1 < src.count else { throw TemplateError(.syntax, "unterminated string", line: startLine) }
            let e = src[pos + 1]
            pos += 2
            switch e {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "v": out.append("\u{0B}")
            case "\n": line += 1  // a backslash-newline is a line continuation
            case "N":
                // Python's \N{NAME} needs the Unicode name table; refuse rather than render it wrongly.
                throw TemplateError(.unsupported, "\\N{...} escapes in strings are not supported", line: line)
            case "x", "u", "U":
                let width = e == "x" ? 2 : e == "u" ? 4 : 8
                guard pos + width <= src.count,
                    let value = UInt32(String(String.UnicodeScalarView(src[pos..<pos + width])), radix: 16),
                    let scalar = Unicode.Scalar(value)
                else { throw TemplateError(.syntax, "truncated \\\(e) escape in string", line: line) }
                out.append(scalar)
                pos += width
            case "0"..."7":
                var value = e.value - 48
                var count = 1
                while count < 3, pos < src.count, ("0"..."7").contains(src[pos]) {
                    value = value * 8 + src[pos].value - 48
                    pos += 1
                    count += 1
                }
                out.append(Unicode.Scalar(value)!)
            default:
                out.append("\\")
                out.append(e)
            }
        }
        // Adjacent string literals are one string in Jinja; the parser joins them.
        tokens.append(Token(kind: .string(String(out)), line: startLine))
    }

    // MARK: - Character classes

    private func matches(_ literal: String, at index: Int) -> Bool {
        var i = index
        for s in literal.unicodeScalars {
            guard i < src.count, src[i] == s else { return false }
            i += 1
        }
        return true
    }

    private func countNewlines(_ slice: ArraySlice<Unicode.Scalar>) -> Int {
        slice.reduce(0) { $0 + ($1 == "\n" ? 1 : 0) }
    }
}

/// Python's `str.isspace` notion of whitespace, which `\s` and `str.strip()` use.
func isWhitespace(_ s: Unicode.Scalar) -> Bool {
    switch s.value {
    case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0: return true
    default: return s.value > 0x7F && s.properties.isWhitespace
    }
}

private func isDigit(_ s: Unicode.Scalar) -> Bool { s.value >= 48 && s.value <= 57 }
private func isNameStart(_ s: Unicode.Scalar) -> Bool {
    (s.value >= 65 && s.value <= 90) || (s.value >= 97 && s.value <= 122) || s == "_"
}
private func isNameContinue(_ s: Unicode.Scalar) -> Bool { isNameStart(s) || isDigit(s) }
