/// The few pieces of the protocol-buffer wire format TensorBoard event files need, written by hand
/// so Align carries no protobuf runtime: varints, fixed 32/64-bit values and length-delimited
/// fields (strings and nested messages). See protobuf.dev's "Encoding" page for the format.
public struct ProtobufWriter {
    /// The encoded message so far.
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// The wire types this writer and ``ProtobufReader`` know.
    public enum WireType: UInt8, Sendable {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
    }

    /// Appends a base-128 varint, low group first.
    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Appends a field key: field number and wire type.
    public mutating func key(_ field: Int, _ wireType: WireType) {
        varint(UInt64(field) << 3 | UInt64(wireType.rawValue))
    }

    /// An `int64` (or `int32`/enum) field. Negative values take ten bytes, as protobuf writes them
    /// (two's complement, sign-extended to 64 bits).
    public mutating func int64(_ field: Int, _ value: Int64) {
        key(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    /// A `double` field: 8 bytes, little-endian IEEE 754 (NaN and infinities kept bit for bit).
    public mutating func double(_ field: Int, _ value: Double) {
        key(field, .fixed64)
        littleEndian(value.bitPattern)
    }

    /// A `float` field: 4 bytes, little-endian IEEE 754.
    public mutating func float(_ field: Int, _ value: Float) {
        key(field, .fixed32)
        littleEndian(value.bitPattern)
    }

    /// A `string` field (UTF-8).
    public mutating func string(_ field: Int, _ value: String) {
        lengthDelimited(field, Array(value.utf8))
    }

    /// A `bytes` field or an already encoded nested message.
    public mutating func lengthDelimited(_ field: Int, _ payload: [UInt8]) {
        key(field, .lengthDelimited)
        varint(UInt64(payload.count))
        bytes += payload
    }

    /// A nested message built by `body`.
    public mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        var nested = ProtobufWriter()
        body(&nested)
        lengthDelimited(field, nested.bytes)
    }

    private mutating func littleEndian<T: FixedWidthInteger>(_ value: T) {
        var v = value.littleEndian
        withUnsafeBytes(of: &v) { bytes += $0 }
    }
}

/// Splits an encoded protobuf message into its fields (top level only; decode a nested message by
/// reading its `.lengthDelimited` payload again). Enough to read back what ``ProtobufWriter`` writes
/// and what TensorBoard's own writer produces for the same events.
public enum ProtobufReader {
    /// One field's raw value.
    public enum Value: Equatable, Sendable {
        case varint(UInt64)
        case fixed64(UInt64)
        case lengthDelimited([UInt8])
        case fixed32(UInt32)
    }

    /// The fields of `message`, in order. Throws on a truncated message or an unknown wire type
    /// (groups, which TensorBoard's messages never use).
    public static func fields(_ message: [UInt8]) throws -> [(field: Int, value: Value)] {
        var out: [(field: Int, value: Value)] = []
        var i = 0
        func readVarint() throws -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard i < message.count else { throw TensorBoardError.malformed("protobuf message ends inside a varint at byte \(i)") }
                guard shift < 64 else { throw TensorBoardError.malformed("protobuf varint longer than 10 bytes at byte \(i)") }
                let b = message[i]
                i += 1
                result |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { return result }
                shift += 7
            }
        }
        func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, n <= message.count - i else {
                throw TensorBoardError.malformed("protobuf field at byte \(i) needs \(n) bytes, \(message.count - i) left")
            }
            defer { i += n }
            return message[i..<i + n]
        }
        func littleEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
            bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
        while i < message.count {
            let key = try readVarint()
            let field = Int(key >> 3)
            switch key & 7 {
            case 0: out.append((field, .varint(try readVarint())))
            case 1: out.append((field, .fixed64(littleEndian(try take(8)))))
            case 2:
                let length = try readVarint()
                guard length <= UInt64(Int.max) else { throw TensorBoardError.malformed("protobuf length \(length) too large") }
                out.append((field, .lengthDelimited(Array(try take(Int(length))))))
            case 5: out.append((field, .fixed32(UInt32(littleEndian(try take(4))))))
            default: throw TensorBoardError.malformed("protobuf wire type \(key & 7) (field \(field)) is not one TensorBoard events use")
            }
        }
        return out
    }
}

/// What goes wrong reading or writing TensorBoard event files, in Align's words.
public enum TensorBoardError: Error, CustomStringConvertible, Equatable {
    /// Bytes that are not a valid record or event.
    case malformed(String)
    /// A file that cannot be created or written.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .malformed(let reason): return "TensorBoard event data: \(reason)"
        case .io(let path, let reason): return "\(path): \(reason)"
        }
    }
}
