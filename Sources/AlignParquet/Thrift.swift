// Thrift's compact protocol, as much of it as Parquet's footer and page headers use.
//
// Everything here reads bytes an untrusted file supplies, so every length and count is checked
// against the bytes that remain before anything is allocated, and nesting is bounded: a hostile
// footer ends in a `ThriftError`, never a crash or a runaway allocation.

/// A malformed Thrift structure; the caller adds the file and the structure it was reading.
struct ThriftError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Compact-protocol field and element types.
enum ThriftType {
    static let stop: UInt8 = 0
    static let boolTrue: UInt8 = 1
    static let boolFalse: UInt8 = 2
    static let byte: UInt8 = 3
    static let i16: UInt8 = 4
    static let i32: UInt8 = 5
    static let i64: UInt8 = 6
    static let double: UInt8 = 7
    static let binary: UInt8 = 8
    static let list: UInt8 = 9
    static let set: UInt8 = 10
    static let map: UInt8 = 11
    static let structure: UInt8 = 12
}

/// A cursor over compact-protocol bytes.
struct ThriftReader {
    let bytes: UnsafeRawBufferPointer
    var position: Int
    /// Structs, lists and maps currently open; bounded so a deeply nested hostile header cannot
    /// exhaust the stack while being skipped.
    var depth = 0
    static let maximumDepth = 64

    init(_ bytes: UnsafeRawBufferPointer, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var remaining: Int { bytes.count - position }

    mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw ThriftError("truncated (ends inside a value)") }
        let b = bytes[position]
        position += 1
        return b
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw ThriftError("variable-length integer longer than 10 bytes") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func i64() throws -> Int64 {
        let v = try varint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    mutating func i32() throws -> Int32 {
        let v = try i64()
        guard let narrow = Int32(exactly: v) else { throw ThriftError("32-bit integer out of range (\(v))") }
        return narrow
    }

    /// A binary/string field's bytes (a view into the buffer; no copy).
    mutating func binary() throws -> UnsafeRawBufferPointer {
        let length = try varint()
        guard length <= UInt64(remaining) else {
            throw ThriftError("string of \(length) bytes runs past the end of the structure")
        }
        let start = position
        position += Int(length)
        return UnsafeRawBufferPointer(rebasing: bytes[start..<position])
    }

    mutating func string() throws -> String {
        let raw = try binary()
        guard let s = String(validating: raw.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw ThriftError("a name is not valid UTF-8")
        }
        return s
    }

    /// A list or set header: element count (checked against the bytes left: every element takes at
    /// least one byte) and element type.
    mutating func listHeader() throws -> (count: Int, type: UInt8) {
        let header = try byte()
        var count = UInt64(header >> 4)
        if count == 15 { count = try varint() }
        guard count <= UInt64(remaining) else {
            throw ThriftError("list of \(count) elements is longer than the \(remaining) bytes left")
        }
        return (Int(count), header & 0x0F)
    }

    /// Reads a struct: calls `field` with each field's id and type; the callee must consume the value
    /// (or call `skip`). Booleans are carried in the type (``ThriftType/boolTrue``/``boolFalse``).
    mutating func readStruct(_ field: (inout ThriftReader, Int16, UInt8) throws -> Void) throws {
        depth += 1
        guard depth <= Self.maximumDepth else { throw ThriftError("structures nested more than \(Self.maximumDepth) deep") }
        var lastID: Int16 = 0
        while true {
            let header = try byte()
            let type = header & 0x0F
            if type == ThriftType.stop { break }
            let delta = header >> 4
            let id: Int16
            if delta != 0 {
                id = lastID &+ Int16(delta)
            } else {
                let wide = try i64()
                guard let narrow = Int16(exactly: wide) else { throw ThriftError("field id out of range (\(wide))") }
                id = narrow
            }
            lastID = id
            try field(&self, id, type)
        }
        depth -= 1
    }

    /// A boolean field's value (compact protocol: in the field's type nibble).
    func bool(_ type: UInt8) throws -> Bool {
        switch type {
        case ThriftType.boolTrue: return true
        case ThriftType.boolFalse: return false
        default: throw ThriftError("expected a boolean, found type \(type)")
        }
    }

    /// Checks a field's type before its value is read, so a field of the wrong type is an error
    /// rather than a misread.
    func expect(_ type: UInt8, _ wanted: UInt8, _ name: String) throws {
        guard type == wanted else { throw ThriftError("field \(name) has type \(type), expected \(wanted)") }
    }

    /// Reads a list of `wanted`-typed elements with `element`.
    mutating func list<T>(_ type: UInt8, of wanted: UInt8, _ name: String,
                          _ element: (inout ThriftReader) throws -> T) throws -> [T] {
        try expect(type, ThriftType.list, name)
        let (count, elementType) = try listHeader()
        guard count == 0 || elementType == wanted else {
            throw ThriftError("list \(name) holds type \(elementType), expected \(wanted)")
        }
        var result: [T] = []
        result.reserveCapacity(count)
        for _ in 0..<count { result.append(try element(&self)) }
        return result
    }

    /// Skips a value of `type` (unknown fields, statistics, indexes).
    mutating func skip(_ type: UInt8) throws {
        switch type {
        case ThriftType.boolTrue, ThriftType.boolFalse: return
        case ThriftType.byte: _ = try byte()
        case ThriftType.i16, ThriftType.i32, ThriftType.i64: _ = try varint()
        case ThriftType.double:
            guard remaining >= 8 else { throw ThriftError("truncated (ends inside a double)") }
            position += 8
        case ThriftType.binary: _ = try binary()
        case ThriftType.list, ThriftType.set:
            let (count, elementType) = try listHeader()
            try nested {
                for _ in 0..<count {
                    // Booleans inside lists take one byte each.
                    if elementType == ThriftType.boolTrue || elementType == ThriftType.boolFalse {
                        _ = try $0.byte()
                    } else {
                        try $0.skip(elementType)
                    }
                }
            }
        case ThriftType.map:
            let count = try varint()
            guard count <= UInt64(remaining) else { throw ThriftError("map of \(count) entries is longer than the bytes left") }
            if count == 0 { return }
            let types = try byte()
            try nested {
                for _ in 0..<count {
                    try $0.skipElement(types >> 4)
                    try $0.skipElement(types & 0x0F)
                }
            }
        case ThriftType.structure:
            try readStruct { r, _, t in try r.skip(t) }
        default:
            throw ThriftError("unknown field type \(type)")
        }
    }

    private mutating func skipElement(_ type: UInt8) throws {
        if type == ThriftType.boolTrue || type == ThriftType.boolFalse { _ = try byte() } else { try skip(type) }
    }

    private mutating func nested(_ body: (inout ThriftReader) throws -> Void) throws {
        depth += 1
        guard depth <= Self.maximumDepth else { throw ThriftError("structures nested more than \(Self.maximumDepth) deep") }
        try body(&self)
        depth -= 1
    }
}
