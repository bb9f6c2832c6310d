// Decodable types from a JSONValue, with errors in the project's own words: the key path, what was
// expected and what was found ("num_hidden_layers: expected an integer, found \"12\""), never
// Foundation's `DecodingError` text. config.json files and YAML/flag settings (converted to JSONValue)
// decode through it, so every configuration error reads the same way.

/// Why a value could not be decoded: where (`codingPath`, keys and list indices), what the type
/// wanted and what the file held.
public struct JSONDecodingError: Error, Equatable, CustomStringConvertible {
    /// Keys (and `[i]` indices) from the root to the offending value.
    public var codingPath: [String]
    /// What was wanted, e.g. "an integer" or "a number within the 32-bit float range".
    public var expected: String
    /// What was found, e.g. `"abc"` or `2.5`; empty when the key is missing.
    public var found: String

    /// An error at `codingPath`.
    public init(codingPath: [String], expected: String, found: String) {
        self.codingPath = codingPath
        self.expected = expected
        self.found = found
    }

    /// The dotted key path (`rope_scaling.factor`, `loss_type[1]`).
    public var keyPath: String {
        var out = ""
        for part in codingPath {
            if part.hasPrefix("[") || out.isEmpty { out += part } else { out += "." + part }
        }
        return out
    }

    /// `key: expected X, found Y` (or `missing key "key"`).
    public var description: String {
        if found.isEmpty { return "missing key \"\(keyPath)\" (expected \(expected))" }
        return "\(keyPath.isEmpty ? "the document" : keyPath): expected \(expected), found \(found)"
    }
}

/// A type whose configuration values form a closed set of names (an enum of choices): errors then
/// list the choices.
public protocol JSONChoice {
    /// Every accepted spelling.
    static var choiceNames: [String] { get }
}

extension JSONChoice where Self: CaseIterable & RawRepresentable, RawValue == String {
    /// The raw values of every case.
    public static var choiceNames: [String] { allCases.map(\.rawValue) }
}

/// Decodes `Decodable` types from ``JSONValue`` trees.
///
/// Numbers are checked, never silently converted: an integer setting refuses `2.5`, an unsigned
/// one refuses `-1`, a `Float` refuses `1e300` (out of range) and every floating-point setting
/// refuses NaN and ±Infinity.
public struct JSONValueDecoder {
    /// A decoder.
    public init() {}

    /// Decodes `type` from `value`; throws ``JSONDecodingError``.
    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        let decoder = ValueDecoder(value: value, path: [])
        do {
            return try decoder.decodeValue(type)
        } catch let error as JSONDecodingError {
            throw error
        } catch let DecodingError.dataCorrupted(context) {
            // A type's own init(from:) refusing a value (an unknown enum raw value, say).
            let path = context.codingPath.map(\.pathComponent)
            throw JSONDecodingError(codingPath: path, expected: "a valid value",
                                    found: describe(value.lookup(path)) + " (" + context.debugDescription + ")")
        }
    }
}

/// A short rendering of a value for messages (strings quoted, containers summarised).
func describe(_ value: JSONValue?) -> String {
    guard let value else { return "nothing" }
    switch value {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .number(let n): return n.text
    case .string(let s):
        let shown = s.count > 60 ? String(s.prefix(57)) + "..." : s
        return "\"" + shown + "\""
    case .array(let a): return "a list of \(a.count)"
    case .object: return "a mapping"
    }
}

extension CodingKey {
    var pathComponent: String { intValue.map { "[\($0)]" } ?? stringValue }
}

extension JSONValue {
    /// The value at a coding path of keys and `[i]` indices, if there is one.
    func lookup(_ path: [String]) -> JSONValue? {
        var current: JSONValue? = self
        for part in path {
            if part.hasPrefix("["), let i = Int(part.dropFirst().dropLast()), case .array(let a)? = current {
                current = i < a.count ? a[i] : nil
            } else {
                current = current?[part]
            }
        }
        return current
    }
}

/// A coding key made from a string or an index.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue; intValue = nil }
    init(intValue: Int) { stringValue = "\(intValue)"; self.intValue = intValue }
}

/// The `Decoder` over one value.
struct ValueDecoder: Decoder {
    let value: JSONValue
    let path: [String]
    var codingPath: [CodingKey] { path.map { AnyKey(stringValue: $0) } }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func fail(_ expected: String) -> JSONDecodingError {
        JSONDecodingError(codingPath: path, expected: expected, found: describe(value))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw fail("a mapping of keys to values") }
        return KeyedDecodingContainer(KeyedContainer<Key>(members: members, path: path))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .array(let items) = value else { throw fail("a list") }
        return UnkeyedContainer(items: items, path: path)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { self }

    /// Decodes `T`, handling the primitive types here so their checks apply at every depth.
    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        if let choice = T.self as? JSONChoice.Type, case .string(let s) = value, !choice.choiceNames.contains(s) {
            throw fail("one of " + choice.choiceNames.joined(separator: ", "))
        }
        switch type {
        case is Bool.Type: return try decode(Bool.self) as! T
        case is String.Type: return try decode(String.self) as! T
        case is Double.Type: return try decode(Double.self) as! T
        case is Float.Type: return try decode(Float.self) as! T
        case is Int.Type: return try decode(Int.self) as! T
        case is Int32.Type: return try decode(Int32.self) as! T
        case is Int64.Type: return try decode(Int64.self) as! T
        case is UInt64.Type: return try decode(UInt64.self) as! T
        case is UInt32.Type: return try decode(UInt32.self) as! T
        case is UInt.Type: return try decode(UInt.self) as! T
        default: return try T(from: self)
        }
    }
}

extension ValueDecoder: SingleValueDecodingContainer {
    func decodeNil() -> Bool { value == .null }

    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .bool(let b) = value else { throw fail("true or false") }
        return b
    }

    func decode(_ type: String.Type) throws -> String {
        guard case .string(let s) = value else { throw fail("a string") }
        return s
    }

    /// A finite number.
    func finiteDouble() throws -> Double {
        guard case .number(let n) = value, let d = n.double else { throw fail("a number") }
        guard d.isFinite else { throw fail("a finite number") }
        return d
    }

    func decode(_ type: Double.Type) throws -> Double { try finiteDouble() }

    func decode(_ type: Float.Type) throws -> Float {
        let d = try finiteDouble()
        guard abs(d) <= Double(Float.greatestFiniteMagnitude) else { throw fail("a number within the 32-bit float range (±3.4e38)") }
        return Float(d)
    }

    /// An integer within `range`; integral literals written as floats (`8.0`) are accepted.
    func integer(in range: ClosedRange<Int>, _ expected: String) throws -> Int {
        guard case .number(let n) = value else { throw fail(expected) }
        var parsed = n.integer
        if parsed == nil, !n.isInteger, let d = n.double, d.isFinite, d == d.rounded(), abs(d) < 9.0e15 { parsed = Int(d) }
        guard let i = parsed else {
            throw fail(n.isInteger ? expected + " within ±9.2e18" : expected)
        }
        guard range.contains(i) else { throw fail(expected + " in \(range.lowerBound)...\(range.upperBound)") }
        return i
    }

    func decode(_ type: Int.Type) throws -> Int { try integer(in: Int.min...Int.max, "an integer") }
    func decode(_ type: Int64.Type) throws -> Int64 { Int64(try integer(in: Int.min...Int.max, "an integer")) }
    func decode(_ type: Int32.Type) throws -> Int32 {
        Int32(try integer(in: Int(Int32.min)...Int(Int32.max), "an integer"))
    }
    func decode(_ type: Int8.Type) throws -> Int8 { Int8(try integer(in: Int(Int8.min)...Int(Int8.max), "an integer")) }
    func decode(_ type: Int16.Type) throws -> Int16 { Int16(try integer(in: Int(Int16.min)...Int(Int16.max), "an integer")) }
    func decode(_ type: UInt.Type) throws -> UInt { UInt(try integer(in: 0...Int.max, "a non-negative integer")) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { UInt8(try integer(in: 0...Int(UInt8.max), "a non-negative integer")) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { UInt16(try integer(in: 0...Int(UInt16.max), "a non-negative integer")) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { UInt32(try integer(in: 0...Int(UInt32.max), "a non-negative integer")) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { UInt64(try integer(in: 0...Int.max, "a non-negative integer")) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeValue(type) }
}

/// A mapping's members by key (the last of a repeated key, as Python's `json` keeps).
struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [(key: String, value: JSONValue)]
    let path: [String]
    var codingPath: [CodingKey] { path.map { AnyKey(stringValue: $0) } }
    var allKeys: [Key] { members.compactMap { Key(stringValue: $0.key) } }

    func contains(_ key: Key) -> Bool { members.contains { $0.key == key.stringValue } }

    func value(_ key: Key) throws -> ValueDecoder {
        guard let member = members.last(where: { $0.key == key.stringValue }) else {
            throw JSONDecodingError(codingPath: path + [key.stringValue], expected: "a value", found: "")
        }
        return ValueDecoder(value: member.value, path: path + [key.stringValue])
    }

    func decodeNil(forKey key: Key) throws -> Bool { try value(key).decodeNil() }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try value(key).decodeValue(type) }

    /// Absent keys and explicit nulls both mean "not set".
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        return try decode(type, forKey: key)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try value(key).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer { try value(key).unkeyedContainer() }
    func superDecoder() throws -> Decoder { ValueDecoder(value: .object(members), path: path) }
    func superDecoder(forKey key: Key) throws -> Decoder { try value(key) }
}

/// A list's items in order.
struct UnkeyedContainer: UnkeyedDecodingContainer {
    let items: [JSONValue]
    let path: [String]
    var currentIndex = 0
    var codingPath: [CodingKey] { path.map { AnyKey(stringValue: $0) } }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    init(items: [JSONValue], path: [String]) { self.items = items; self.path = path }

    mutating func next() throws -> ValueDecoder {
        guard !isAtEnd else {
            throw JSONDecodingError(codingPath: path, expected: "more list items", found: "a list of \(items.count)")
        }
        defer { currentIndex += 1 }
        return ValueDecoder(value: items[currentIndex], path: path + ["[\(currentIndex)]"])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decodeValue(type) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> Decoder { try next() }
}
