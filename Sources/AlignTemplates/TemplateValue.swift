// Values a template computes with, and the Python semantics Jinja gives them (truthiness, str(), repr(), ==).

/// An ordered string-keyed dictionary: chat templates iterate tool schemas and messages in insertion order,
/// and `tojson` must reproduce that order, so a plain `Dictionary` will not do.
public struct TemplateObject: Equatable {
    /// Keys in insertion order.
    public private(set) var keys: [String] = []
    private var storage: [String: TemplateValue] = [:]

    /// An empty object.
    public init() {}

    /// An object with the given pairs, in order; a repeated key keeps its first position and its last value.
    public init(_ pairs: [(String, TemplateValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    /// The number of keys.
    public var count: Int { keys.count }

    /// Whether the object has no keys.
    public var isEmpty: Bool { keys.isEmpty }

    /// The value stored under `key`, or nil; assigning nil removes the key.
    public subscript(key: String) -> TemplateValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// The values in key order.
    public var values: [TemplateValue] { keys.map { storage[$0]! } }

    /// The (key, value) pairs in key order.
    public var pairs: [(String, TemplateValue)] { keys.map { ($0, storage[$0]!) } }

    /// Python dict equality: same keys and values, order ignored.
    public static func == (lhs: TemplateObject, rhs: TemplateObject) -> Bool {
        lhs.storage == rhs.storage
    }
}

/// A Jinja `namespace(...)`: the one mutable object templates have, shared by reference so that
/// `{% set ns.x = ... %}` inside a loop is seen after it.
public final class TemplateNamespace {
    /// The namespace's attributes, in the order they were first set.
    public var attributes: TemplateObject

    /// A namespace holding `attributes`.
    public init(_ attributes: TemplateObject = TemplateObject()) { self.attributes = attributes }
}

/// The `loop` variable of a `{% for %}`: one object per loop whose position advances, as Jinja's
/// LoopContext (so building it costs nothing per iteration).
public final class LoopContext {
    /// The items the loop visits (after its `if` filter).
    public let items: [TemplateValue]
    /// The 0-based position of the current iteration.
    public internal(set) var index0: Int

    /// A loop over `items`, positioned at the first one.
    public init(items: [TemplateValue], index0: Int = 0) {
        self.items = items
        self.index0 = index0
    }

    /// `loop.<name>`: index, index0, revindex, revindex0, first, last, length, previtem, nextitem, depth,
    /// depth0, cycle; undefined for anything else.
    public func attribute(_ name: String) -> TemplateValue {
        let count = items.count
        let i = index0
        switch name {
        case "index": return .int(i + 1)
        case "index0": return .int(i)
        case "revindex": return .int(count - i)
        case "revindex0": return .int(count - i - 1)
        case "first": return .bool(i == 0)
        case "last": return .bool(i == count - 1)
        case "length": return .int(count)
        case "depth": return .int(1)
        case "depth0": return .int(0)
        case "previtem": return i > 0 ? items[i - 1] : .undefined
        case "nextitem": return i + 1 < count ? items[i + 1] : .undefined
        case "cycle":
            return .function(TemplateFunction(name: "cycle") { args, _ in
                guard !args.isEmpty else { throw TemplateError(.runtime, "no items for cycling given") }
                return args[i % args.count]
            })
        default: return .undefined
        }
    }
}

/// A callable value: a global such as `raise_exception` or `range`, a bound method, or a macro.
public struct TemplateFunction {
    /// Positional arguments, then keyword arguments in call order.
    public typealias Body = (_ arguments: [TemplateValue], _ keywords: [(String, TemplateValue)]) throws -> TemplateValue

    /// The name used in error messages and in `str()`.
    public let name: String
    /// What a call does.
    public let body: Body

    /// A callable named `name`.
    public init(name: String, body: @escaping Body) {
        self.name = name
        self.body = body
    }
}

/// A Jinja value. Chat-template inputs (messages, tools, special tokens) are built from the JSON-like cases;
/// `undefined` is what a missing variable, key or attribute evaluates to, as Jinja's default `Undefined`.
public enum TemplateValue {
    /// A missing variable, key or attribute: renders as empty, is falsy, iterates as empty.
    case undefined
    /// Python `None`.
    case none
    /// Python `bool`.
    case bool(Bool)
    /// Python `int` (64-bit here; overflow is an error, not a wrap).
    case int(Int)
    /// Python `float`.
    case double(Double)
    /// Python `str`.
    case string(String)
    /// Python `list`.
    case array([TemplateValue])
    /// Python `tuple` (from `(a, b)` literals, `dict.items()` pairs, `dictsort`): a list that prints with parentheses.
    case tuple([TemplateValue])
    /// Python `dict` with string keys, in insertion order.
    case object(TemplateObject)
    /// A `namespace(...)`, shared by reference.
    case namespace(TemplateNamespace)
    /// Something callable.
    case function(TemplateFunction)
    /// A for loop's `loop` variable.
    case loop(LoopContext)
}

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    /// A string value.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An int value.
    public init(integerLiteral value: Int) { self = .int(value) }
    /// A float value.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// A bool value.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// A list value.
    public init(arrayLiteral elements: TemplateValue...) { self = .array(elements) }
    /// A dict value, keys in the literal's order.
    public init(dictionaryLiteral elements: (String, TemplateValue)...) { self = .object(TemplateObject(elements)) }
    /// `None`.
    public init(nilLiteral: ()) { self = .none }
}

extension TemplateValue {
    /// Jinja truthiness (Python's `bool()`; `Undefined` is false).
    public var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .array(let a), .tuple(let a): return !a.isEmpty
        case .object(let o): return !o.isEmpty
        case .namespace, .function, .loop: return true
        }
    }

    /// Whether this is `undefined`.
    public var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    /// The Python type name, for error messages.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .tuple: return "tuple"
        case .object: return "dict"
        case .namespace: return "Namespace"
        case .function: return "function"
        case .loop: return "LoopContext"
        }
    }

    /// What `{{ value }}` prints: Python's `str()`, with `undefined` as the empty string.
    public var renderedString: String {
        switch self {
        case .undefined: return ""
        case .string(let s): return s
        default: return pythonRepr
        }
    }

    /// Python's `repr()`, which is also how lists and dicts print their elements.
    public var pythonRepr: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return formatPythonFloat(d)
        case .string(let s): return pythonStringRepr(s)
        case .array(let a): return "[" + a.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .tuple(let a):
            if a.count == 1 { return "(" + a[0].pythonRepr + ",)" }
            return "(" + a.map(\.pythonRepr).joined(separator: ", ") + ")"
        case .object(let o):
            return "{" + o.pairs.map { pythonStringRepr($0.0) + ": " + $0.1.pythonRepr }.joined(separator: ", ") + "}"
        case .namespace(let n): return "<Namespace " + TemplateValue.object(n.attributes).pythonRepr + ">"
        case .function(let f): return "<function \(f.name)>"
        case .loop(let l): return "<LoopContext \(l.index0 + 1)/\(l.items.count)>"
        }
    }
}

extension TemplateValue: Equatable {
    /// Python `==`: numbers compare by value across int/float/bool, lists and tuples element-wise,
    /// dicts ignoring order; `undefined` equals only `undefined`; namespaces by identity.
    public static func == (lhs: TemplateValue, rhs: TemplateValue) -> Bool {
        switch (lhs, rhs) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case (.array(let a), .array(let b)), (.tuple(let a), .tuple(let b)): return a == b
        case (.object(let a), .object(let b)): return a == b
        case (.namespace(let a), .namespace(let b)): return a === b
        case (.loop(let a), .loop(let b)): return a === b
        default:
            if let a = lhs.numericValue, let b = rhs.numericValue {
                switch (a, b) {
                case (.int(let x), .int(let y)): return x == y
                default: return a.asDouble == b.asDouble
                }
            }
            return false
        }
    }

    /// Numbers as Python sees them (bool is an int subclass).
    enum Numeric {
        case int(Int), double(Double)
        var asDouble: Double {
            switch self {
            case .int(let i): return Double(i)
            case .double(let d): return d
            }
        }
    }

    var numericValue: Numeric? {
        switch self {
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .bool(let b): return .int(b ? 1 : 0)
        default: return nil
        }
    }
}

// MARK: - Python formatting helpers

/// Python's `repr(float)`: the shortest round-tripping digits, in positional notation when the decimal
/// exponent is in [-4, 16), otherwise `1e+16` / `1e-05` style; `inf`, `-inf`, `nan`.
func formatPythonFloat(_ value: Double) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value < 0 ? "-inf" : "inf" }
    if value == 0 { return value.sign == .minus ? "-0.0" : "0.0" }
    // Swift's description is also shortest-round-trip; only its notation thresholds differ from Python's,
    // so take its digits and exponent and lay them out Python's way.
    var text = value.magnitude.description
    var exponent = 0
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        exponent = Int(text[text.index(after: e)...])!
        text = String(text[..<e])
    }
    var digits = ""
    var pointPosition = 0
    if let dot = text.firstIndex(of: ".") {
        let intPart = String(text[..<dot])
        let fracPart = String(text[text.index(after: dot)...])
        digits = intPart + fracPart
        pointPosition = intPart.count
    } else {
        digits = text
        pointPosition = text.count
    }
    // Normalise to digits d1 d2 ... with the decimal exponent of d1.
    var leadingZeros = 0
    for ch in digits {
        if ch == "0" { leadingZeros += 1 } else { break }
    }
    digits.removeFirst(leadingZeros)
    while digits.hasSuffix("0") { digits.removeLast() }
    if digits.isEmpty { digits = "0" }
    let decimalExponent = pointPosition - leadingZeros - 1 + exponent
    let sign = value < 0 ? "-" : ""
    if decimalExponent < -4 || decimalExponent >= 16 {
        var mantissa = String(digits.first!)
        if digits.count > 1 { mantissa += "." + digits.dropFirst() }
        let expSign = decimalExponent < 0 ? "-" : "+"
        let expDigits = String(abs(decimalExponent))
        return sign + mantissa + "e" + expSign + (expDigits.count < 2 ? "0" + expDigits : expDigits)
    }
    if decimalExponent < 0 {
        return sign + "0." + String(repeating: "0", count: -decimalExponent - 1) + digits
    }
    let intCount = decimalExponent + 1
    if digits.count <= intCount {
        return sign + digits + String(repeating: "0", count: intCount - digits.count) + ".0"
    }
    let splitAt = digits.index(digits.startIndex, offsetBy: intCount)
    return sign + digits[..<splitAt] + "." + digits[splitAt...]
}

/// Python's `repr(str)`: single quotes unless the text has a single quote and no double quote.
func pythonStringRepr(_ s: String) -> String {
    let hasSingle = s.unicodeScalars.contains("'")
    let hasDouble = s.unicodeScalars.contains("\"")
    let quote: Unicode.Scalar = (hasSingle && !hasDouble) ? "\"" : "'"
    // Fast path: printable ASCII without backslashes or the quote is copied whole.
    let quoteByte = UInt8(quote.value)
    if s.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x5C && $0 != quoteByte }) {
        return String(quote) + s + String(quote)
    }
    var out = String.UnicodeScalarView()
    out.append(quote)
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
        case "\n": out.append(contentsOf: "\\n".unicodeScalars)
        case "\r": out.append(contentsOf: "\\r".unicodeScalars)
        case "\t": out.append(contentsOf: "\\t".unicodeScalars)
        default:
            if scalar == quote {
                out.append("\\")
                out.append(scalar)
            } else if !isPythonPrintable(scalar) {
                // Python escapes what str.isprintable() rejects: \xNN, \uNNNN or \UNNNNNNNN by size.
                let (prefix, width) = scalar.value < 0x100 ? ("\\x", 2) : scalar.value < 0x10000 ? ("\\u", 4) : ("\\U", 8)
                out.append(contentsOf: prefix.unicodeScalars)
                out.append(contentsOf: hex(scalar.value, width: width).unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
    }
    out.append(quote)
    return String(out)
}

/// Python's `str.isprintable()` for one character: everything but controls, format characters, surrogates,
/// private-use and unassigned code points, and separators other than the ASCII space.
func isPythonPrintable(_ scalar: Unicode.Scalar) -> Bool {
    if scalar == " " { return true }
    switch scalar.properties.generalCategory {
    case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
        return false
    default:
        return true
    }
}

/// Lower-case hex, zero-padded to `width`.
func hex(_ value: UInt32, width: Int) -> String {
    let digits = String(value, radix: 16)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}
