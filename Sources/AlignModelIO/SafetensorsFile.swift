// Reading safetensors files: memory-mapped, fully validated, converted to fp32 on load.
import AlignJSON
import AlignKernels
import Foundation

/// The element types a safetensors header may name.
///
/// The cases are declared in the order of the reference (Rust) implementation's `Dtype` enum,
/// because its writer sorts tensors by that order (largest first) and ``SafetensorsWriter``
/// reproduces its byte layout exactly.
public enum SafetensorsDType: String, CaseIterable, Sendable, Comparable {
    /// One-byte types.
    case bool = "BOOL"
    case uint8 = "U8"
    case int8 = "I8"
    case float8E5M2 = "F8_E5M2"
    case float8E4M3 = "F8_E4M3"
    /// Two-byte types.
    case int16 = "I16"
    case uint16 = "U16"
    case float16 = "F16"
    case bfloat16 = "BF16"
    /// Four- and eight-byte types.
    case int32 = "I32"
    case uint32 = "U32"
    case float32 = "F32"
    case float64 = "F64"
    case int64 = "I64"
    case uint64 = "U64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .uint8, .int8, .float8E5M2, .float8E4M3: return 1
        case .int16, .uint16, .float16, .bfloat16: return 2
        case .int32, .uint32, .float32: return 4
        case .float64, .int64, .uint64: return 8
        }
    }

    /// Position in the reference implementation's enum (its sort key).
    var rank: Int { SafetensorsDType.allCases.firstIndex(of: self)! }

    /// Orders dtypes as the reference implementation's enum does (its sort key when writing).
    public static func < (lhs: SafetensorsDType, rhs: SafetensorsDType) -> Bool { lhs.rank < rhs.rank }
}

/// What the header says about one tensor.
public struct TensorInfo: Equatable, Sendable {
    /// Element type on disk.
    public let dtype: SafetensorsDType
    /// Shape, outermost dimension first (PyTorch order).
    public let shape: [Int]
    /// Byte range of the data, relative to the start of the data region (after the header).
    public let dataOffsets: Range<Int>

    /// Number of elements (the product of ``shape``; 1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file opened for reading.
///
/// The file is memory-mapped and its header validated completely when opened: every tensor's
/// dtype, shape and byte range is checked (in range, of exactly the right size, not overlapping,
/// together covering the data region), so a later ``loadFloat32(_:)`` cannot read out of bounds.
/// Copies of the value share the mapping.
public struct SafetensorsFile: @unchecked Sendable {
    /// Headers larger than this are rejected as corrupt (the reference implementation's limit).
    public static let maximumHeaderSize = 100_000_000

    /// The file's location.
    public let url: URL
    private let file: MappedFile
    /// Offset of the data region in the file (8 + header length).
    private let dataStart: Int
    private let infos: [String: TensorInfo]
    /// Tensor names in header order.
    public let tensorNames: [String]
    /// The `__metadata__` entries in header order (the Python writer emits them in hash order, so
    /// keeping the order is what makes a bit-identical rewrite possible).
    public let metadataEntries: [(key: String, value: String)]

    /// The `__metadata__` map (empty when the header has none).
    public var metadata: [String: String] {
        Dictionary(metadataEntries.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    /// Whether the header had a `__metadata__` entry at all.
    public let hasMetadata: Bool

    /// Opens and validates the file at `url`; throws ``ModelIOError`` describing the first problem.
    public init(url: URL) throws {
        self.url = url
        let path = url.path
        let file = try MappedFile(path: path)
        self.file = file
        func malformed(_ reason: String) -> ModelIOError { .malformed(path: path, reason: reason) }

        guard file.size >= 8 else {
            throw malformed("file is \(file.size) bytes, shorter than the 8-byte header length")
        }
        let headerLength = UInt64(littleEndian: file.base.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(SafetensorsFile.maximumHeaderSize) else {
            throw malformed("header length \(headerLength) exceeds the \(SafetensorsFile.maximumHeaderSize)-byte limit")
        }
        guard headerLength <= UInt64(file.size - 8) else {
            throw malformed("header length \(headerLength) runs past the end of the \(file.size)-byte file")
        }
        guard headerLength >= 2 else { throw malformed("header length \(headerLength) is too small for a JSON object") }
        let headerBytes = UnsafeRawBufferPointer(start: file.base + 8, count: Int(headerLength))
        guard headerBytes[0] == UInt8(ascii: "{") else {
            throw malformed("header does not start with '{'")
        }
        let header: JSONValue
        do {
            header = try JSONParser.parse(headerBytes)
        } catch let error as JSONSyntaxError {
            throw malformed("header is not valid JSON: \(error.message) at header byte \(error.offset)")
        }
        guard case .object(let entries) = header else { throw malformed("header is not a JSON object") }

        dataStart = 8 + Int(headerLength)
        let dataSize = file.size - dataStart
        var infos: [String: TensorInfo] = [:]
        var names: [String] = []
        var metadata: [(key: String, value: String)] = []
        var hasMetadata = false
        for (name, value) in entries {
            if name == "__metadata__" {
                hasMetadata = true
                guard case .object(let pairs) = value else {
                    throw malformed("__metadata__ is \(value.kindName), not an object of strings")
                }
                for (key, item) in pairs {
                    guard case .string(let text) = item else {
                        throw malformed("__metadata__ entry \"\(key)\" is \(item.kindName), not a string")
                    }
                    metadata.append((key, text))
                }
                continue
            }
            let info = try SafetensorsFile.parseTensorInfo(name: name, value: value, dataSize: dataSize, fail: malformed)
            infos[name] = info
            names.append(name)
        }

        // Ranges must not overlap and must tile the data region exactly, as the reference
        // implementation requires (a gap or trailing bytes mean the header and data disagree).
        let ordered = names.sorted { infos[$0]!.dataOffsets.lowerBound < infos[$1]!.dataOffsets.lowerBound
            || (infos[$0]!.dataOffsets.lowerBound == infos[$1]!.dataOffsets.lowerBound && infos[$0]!.dataOffsets.upperBound < infos[$1]!.dataOffsets.upperBound) }
        var end = 0
        var previous: String?
        for name in ordered {
            let range = infos[name]!.dataOffsets
            if range.lowerBound < end, let previous {
                throw malformed("data of tensor \"\(name)\" [\(range.lowerBound), \(range.upperBound)] overlaps tensor \"\(previous)\" ending at \(end)")
            }
            if range.lowerBound > end {
                throw malformed("gap in the data region: bytes [\(end), \(range.lowerBound)) belong to no tensor (before \"\(name)\")")
            }
            end = range.upperBound
            previous = name
        }
        if end != dataSize {
            throw malformed("data region is \(dataSize) bytes but the tensors cover \(end)")
        }
        self.infos = infos
        self.tensorNames = names
        self.metadataEntries = metadata
        self.hasMetadata = hasMetadata
    }

    private static func parseTensorInfo(
        name: String, value: JSONValue, dataSize: Int, fail: (String) -> ModelIOError
    ) throws -> TensorInfo {
        guard case .object(let fields) = value else {
            throw fail("entry for tensor \"\(name)\" is \(value.kindName), not an object")
        }
        var dtype: SafetensorsDType?
        var shape: [Int]?
        var offsets: [Int]?
        for (key, field) in fields {
            switch key {
            case "dtype":
                guard case .string(let text) = field else { throw fail("dtype of tensor \"\(name)\" is \(field.kindName), not a string") }
                guard let parsed = SafetensorsDType(rawValue: text) else { throw fail("tensor \"\(name)\" has unknown dtype \"\(text)\"") }
                dtype = parsed
            case "shape", "data_offsets":
                guard case .array(let items) = field else { throw fail("\(key) of tensor \"\(name)\" is \(field.kindName), not an array") }
                var numbers: [Int] = []
                for item in items {
                    guard case .number(let number) = item, let n = number.integer, n >= 0 else {
                        throw fail("\(key) of tensor \"\(name)\" contains \(item.kindName == "a number" ? "a negative or non-integer number" : item.kindName)")
                    }
                    numbers.append(n)
                }
                if key == "shape" { shape = numbers } else { offsets = numbers }
            default:
                throw fail("tensor \"\(name)\" has unexpected field \"\(key)\"")
            }
        }
        guard let dtype else { throw fail("tensor \"\(name)\" has no dtype") }
        guard let shape else { throw fail("tensor \"\(name)\" has no shape") }
        guard let offsets else { throw fail("tensor \"\(name)\" has no data_offsets") }
        guard offsets.count == 2 else { throw fail("data_offsets of tensor \"\(name)\" has \(offsets.count) entries, not 2") }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else { throw fail("data_offsets of tensor \"\(name)\" [\(begin), \(end)] end before they begin") }
        guard end <= dataSize else {
            throw fail("data_offsets of tensor \"\(name)\" [\(begin), \(end)] end past the \(dataSize)-byte data region")
        }
        var elements = 1
        for dimension in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw fail("shape \(shape) of tensor \"\(name)\" overflows") }
            elements = product
        }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, bytes == end - begin else {
            throw fail("tensor \"\(name)\" of shape \(shape) and dtype \(dtype.rawValue) needs \(overflow ? "too many" : String(bytes)) bytes but data_offsets [\(begin), \(end)] hold \(end - begin)")
        }
        return TensorInfo(dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    /// The header entry of tensor `name`, or nil if there is none.
    public func info(_ name: String) -> TensorInfo? { infos[name] }

    /// Calls `body` with the raw on-disk bytes of tensor `name` (valid only inside `body`).
    public func withUnsafeBytes<R>(of name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard let info = infos[name] else { throw ModelIOError.tensorNotFound(path: url.path, name: name) }
        return try withExtendedLifetime(file) {
            try body(UnsafeRawBufferPointer(start: file.base + dataStart + info.dataOffsets.lowerBound, count: info.dataOffsets.count))
        }
    }

    /// Loads tensor `name` converted to fp32. Floating-point and integer dtypes convert exactly
    /// where fp32 can represent the value (F32, F16, BF16 always; F64 and 32/64-bit integers round);
    /// FP8 dtypes are not supported.
    public func loadFloat32(_ name: String) throws -> (shape: [Int], storage: TensorStorage) {
        guard let info = infos[name] else { throw ModelIOError.tensorNotFound(path: url.path, name: name) }
        let count = info.elementCount
        let storage = TensorStorage(count: count)
        let source = file.base + dataStart + info.dataOffsets.lowerBound
        let out = storage.pointer
        switch info.dtype {
        case .float32:
            UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: count * 4)
        case .float16:
            convertHalfToFloat(source, out, count: count)
        case .bfloat16:
            convertBFloat16ToFloat(source, out, count: count)
        case .float64:
            for i in 0..<count { out[i] = Float(source.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
        case .int64:
            for i in 0..<count { out[i] = Float(Int64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
        case .uint64:
            for i in 0..<count { out[i] = Float(UInt64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))) }
        case .int32:
            for i in 0..<count { out[i] = Float(Int32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
        case .uint32:
            for i in 0..<count { out[i] = Float(UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .int16:
            for i in 0..<count { out[i] = Float(Int16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
        case .uint16:
            for i in 0..<count { out[i] = Float(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .int8:
            for i in 0..<count { out[i] = Float(source.load(fromByteOffset: i, as: Int8.self)) }
        case .uint8:
            for i in 0..<count { out[i] = Float(source.load(fromByteOffset: i, as: UInt8.self)) }
        case .bool:
            for i in 0..<count { out[i] = source.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
        case .float8E4M3, .float8E5M2:
            throw ModelIOError.unsupported(path: url.path, reason: "tensor \"\(name)\" has dtype \(info.dtype.rawValue), which cannot be converted to fp32 here")
        }
        withExtendedLifetime(file) {}
        return (info.shape, storage)
    }
}
