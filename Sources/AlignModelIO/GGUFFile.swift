// Reading GGUF files (llama.cpp's model format, versions 2 and 3).
import AlignKernels
import Foundation

/// The type tag of a GGUF metadata value (`gguf_type` in ggml).
public enum GGUFValueType: UInt32, Sendable {
    /// Fixed-size numbers and booleans.
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    /// Strings, arrays, and the 64-bit numbers added in GGUF v2.
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Size in bytes of a fixed-size value; nil for strings and arrays.
    var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }
}

/// A GGUF metadata value, keeping its exact on-disk type so a file can be rewritten faithfully.
public indirect enum GGUFValue: Equatable, Sendable {
    /// Integers of each width.
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    /// Floats, booleans, strings and the 64-bit types.
    case float32(Float), bool(Bool), string(String), uint64(UInt64), int64(Int64), float64(Double)
    /// An array whose elements all have the given type.
    case array(GGUFValueType, [GGUFValue])

    /// The value's type tag.
    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        case .array: return .array
        }
    }

    /// The value as an `Int` when it is an integer of any width that fits.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// The value as a `Double` when it is a number (integer or float).
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return intValue.map(Double.init)
        }
    }

    /// The string, when the value is one.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The boolean, when the value is one.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The elements, when the value is an array.
    public var arrayValue: [GGUFValue]? {
        if case .array(_, let elements) = self { return elements }
        return nil
    }

    /// The elements as strings, when the value is an array of strings (vocabularies, merges).
    public var stringArrayValue: [String]? {
        guard case .array(.string, let elements) = self else { return nil }
        return elements.map { $0.stringValue! }
    }
}

/// One tensor's entry in a GGUF file.
public struct GGUFTensorInfo: Equatable, Sendable {
    /// Name (llama.cpp naming: `blk.0.attn_q.weight`...).
    public let name: String
    /// Element type.
    public let type: GGMLType
    /// Dimensions as stored: innermost (contiguous) first, ggml's `ne` order.
    public let dimensions: [Int]
    /// Offset of the data from the start of the data section.
    public let offset: Int

    /// Shape in PyTorch / Hugging Face order: outermost first (``dimensions`` reversed).
    public var shape: [Int] { dimensions.reversed() }
    /// Number of elements.
    public var elementCount: Int { dimensions.reduce(1, *) }
    /// Bytes of data.
    public var byteCount: Int { type.byteCount(elements: elementCount) }
}

/// A GGUF file opened for reading: memory-mapped, header, metadata and tensor table parsed and
/// validated on open (counts, string and array lengths, types, alignment, every tensor's byte
/// range within the file and disjoint from the others), tensors dequantised on demand.
public struct GGUFFile: @unchecked Sendable {
    /// The file's location.
    public let url: URL
    /// Format version (2 or 3).
    public let version: Int
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// All metadata.
    public let metadata: [String: GGUFValue]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// Data alignment (`general.alignment`, 32 when absent).
    public let alignment: Int
    /// Offset of the data section in the file.
    public let dataOffset: Int
    private let file: MappedFile
    private let tensorIndex: [String: Int]

    /// The GGUF magic "GGUF" read as a little-endian u32.
    static let magic: UInt32 = 0x4655_4747

    /// Opens and validates the file at `url`.
    public init(url: URL) throws {
        self.url = url
        let file = try MappedFile(path: url.path)
        self.file = file
        var reader = GGUFByteReader(file: file)
        let magic = try reader.read(UInt32.self, what: "magic")
        guard magic == GGUFFile.magic else {
            if magic == GGUFFile.magic.byteSwapped {
                throw ModelIOError.unsupported(path: url.path, reason: "big-endian GGUF files are not supported")
            }
            throw reader.malformed("not a GGUF file: magic is 0x\(String(magic, radix: 16)), expected \"GGUF\"")
        }
        let version = try reader.read(UInt32.self, what: "version")
        if version.byteSwapped == 2 || version.byteSwapped == 3 {
            // The magic is stored as bytes, so only the version reveals a big-endian file.
            throw ModelIOError.unsupported(path: url.path, reason: "big-endian GGUF files are not supported")
        }
        guard version == 2 || version == 3 else {
            throw ModelIOError.unsupported(path: url.path, reason: "GGUF version \(version); only versions 2 and 3 are supported")
        }
        self.version = Int(version)
        let tensorCount = try reader.readCount(what: "tensor count", minimumItemSize: 24)
        let kvCount = try reader.readCount(what: "metadata count", minimumItemSize: 12)

        var keys: [String] = []
        var metadata: [String: GGUFValue] = [:]
        for i in 0..<kvCount {
            let key = try reader.readString(what: "key of metadata entry \(i)")
            guard metadata[key] == nil else { throw reader.malformed("duplicate metadata key \"\(key)\"") }
            let rawType = try reader.read(UInt32.self, what: "type of metadata \"\(key)\"")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw reader.malformed("metadata \"\(key)\" has unknown value type \(rawType)")
            }
            metadata[key] = try reader.readValue(type, key: key, depth: 0)
            keys.append(key)
        }

        var alignment = 32
        if let value = metadata["general.alignment"] {
            guard case .uint32(let a) = value, a > 0, a & (a - 1) == 0 else {
                throw reader.malformed("general.alignment must be a power-of-two uint32, got \(value)")
            }
            alignment = Int(a)
        }

        var tensors: [GGUFTensorInfo] = []
        var tensorIndex: [String: Int] = [:]
        for i in 0..<tensorCount {
            let name = try reader.readString(what: "name of tensor \(i)")
            guard tensorIndex[name] == nil else { throw reader.malformed("duplicate tensor name \"\(name)\"") }
            let dimensionCount = try reader.read(UInt32.self, what: "dimension count of \"\(name)\"")
            guard dimensionCount <= 4 else {
                throw reader.malformed("tensor \"\(name)\" has \(dimensionCount) dimensions; GGML allows at most 4")
            }
            var dimensions: [Int] = []
            var elements = 1
            for _ in 0..<Int(dimensionCount) {
                let raw = try reader.read(UInt64.self, what: "dimensions of \"\(name)\"")
                guard let dimension = Int(exactly: raw), dimension >= 0 else {
                    throw reader.malformed("tensor \"\(name)\" has dimension \(raw), out of range")
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
                guard !overflow, product < 1 << 56 else { throw reader.malformed("tensor \"\(name)\" has too many elements") }
                elements = product
                dimensions.append(dimension)
            }
            let rawType = try reader.read(UInt32.self, what: "type of \"\(name)\"")
            guard let type = GGMLType(rawValue: rawType) else {
                throw ModelIOError.unsupported(path: url.path, reason: "tensor \"\(name)\" has unknown GGML type \(rawType)")
            }
            let innermost = dimensions.first ?? 1
            guard innermost % type.blockSize == 0 else {
                throw reader.malformed("tensor \"\(name)\": row length \(innermost) is not a multiple of the \(type) block size \(type.blockSize)")
            }
            let rawOffset = try reader.read(UInt64.self, what: "offset of \"\(name)\"")
            guard let offset = Int(exactly: rawOffset), offset % alignment == 0 else {
                throw reader.malformed("tensor \"\(name)\" has offset \(rawOffset), not a multiple of the alignment \(alignment)")
            }
            tensorIndex[name] = tensors.count
            tensors.append(GGUFTensorInfo(name: name, type: type, dimensions: dimensions, offset: offset))
        }

        let dataOffset = (reader.offset + alignment - 1) / alignment * alignment
        let dataSize = file.size - dataOffset
        // Every tensor's bytes must lie inside the file and not overlap another's.
        var end = 0
        var previous: String?
        for tensor in tensors.sorted(by: { $0.offset < $1.offset }) {
            let (stop, overflow) = tensor.offset.addingReportingOverflow(tensor.byteCount)
            if overflow || stop > dataSize {
                throw reader.malformed("data of tensor \"\(tensor.name)\" (\(tensor.byteCount) bytes of \(tensor.type) at data offset \(tensor.offset)) ends past the end of the file (data section is \(max(dataSize, 0)) bytes; truncated file?)")
            }
            if tensor.offset < end, let previous {
                throw reader.malformed("data of tensor \"\(tensor.name)\" at offset \(tensor.offset) overlaps tensor \"\(previous)\" ending at \(end)")
            }
            end = stop
            previous = tensor.name
        }
        self.metadataKeys = keys
        self.metadata = metadata
        self.tensors = tensors
        self.tensorIndex = tensorIndex
        self.alignment = alignment
        self.dataOffset = dataOffset
    }

    /// The info of tensor `name`, or nil.
    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The model architecture (`general.architecture`), e.g. "llama".
    public var architecture: String? { metadata["general.architecture"]?.stringValue }

    /// Calls `body` with the raw bytes of tensor `name` (valid only inside `body`).
    public func withUnsafeBytes<R>(of name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard let info = tensor(named: name) else { throw ModelIOError.tensorNotFound(path: url.path, name: name) }
        return try withExtendedLifetime(file) {
            try body(UnsafeRawBufferPointer(start: file.base + dataOffset + info.offset, count: info.byteCount))
        }
    }

    /// Dequantises tensor `name` to fp32. The shape is in PyTorch order (outermost first), so a
    /// GGUF matrix with `ne = [in, out]` comes back as `[out, in]`, the `nn.Linear` layout.
    /// No renaming or un-permutation is done here: that is the architectures' weight mappings' job
    /// (AlignModels' `LlamaWeightMapping`).
    public func loadFloat32(_ name: String) throws -> (shape: [Int], storage: TensorStorage) {
        guard let info = tensor(named: name) else { throw ModelIOError.tensorNotFound(path: url.path, name: name) }
        guard info.type.canDequantize else {
            throw ModelIOError.unsupported(path: url.path, reason: "tensor \"\(name)\" has type \(info.type), which cannot be dequantised here")
        }
        let storage = TensorStorage(count: info.elementCount)
        _ = withExtendedLifetime(file) {
            dequantize(info.type, file.base + dataOffset + info.offset, count: info.elementCount, into: storage.pointer)
        }
        return (info.shape, storage)
    }
}

/// A bounds-checked little-endian cursor over a mapped GGUF file: every read that would run past
/// the end throws a "truncated" error naming what was being read and where.
struct GGUFByteReader {
    let file: MappedFile
    private(set) var offset = 0

    init(file: MappedFile) { self.file = file }

    func malformed(_ reason: String) -> ModelIOError { .malformed(path: file.path, reason: reason) }

    private func truncated(_ what: String, needing bytes: Int) -> ModelIOError {
        malformed("file truncated: reading \(what) needs \(bytes) bytes at offset \(offset) but the file is \(file.size) bytes")
    }

    /// Reads a fixed-size little-endian integer or float.
    mutating func read<T: FixedWidthInteger>(_: T.Type, what: String) throws -> T {
        let size = MemoryLayout<T>.size
        guard file.size - offset >= size else { throw truncated(what, needing: size) }
        let value = T(littleEndian: file.base.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += size
        return value
    }

    /// Reads a u64 count and checks that `count` items of at least `minimumItemSize` bytes each
    /// could fit in the rest of the file, so a corrupt count fails fast instead of allocating.
    mutating func readCount(what: String, minimumItemSize: Int) throws -> Int {
        let raw = try read(UInt64.self, what: what)
        let remaining = UInt64(file.size - offset)
        guard raw <= remaining / UInt64(max(minimumItemSize, 1)) else {
            throw malformed("\(what) \(raw) is impossible: the remaining \(remaining) bytes hold at most \(remaining / UInt64(max(minimumItemSize, 1)))")
        }
        return Int(raw)
    }

    /// Reads a GGUF string (u64 length + UTF-8 bytes; invalid UTF-8 is replaced, as tokenizers
    /// sometimes store partial byte sequences).
    mutating func readString(what: String) throws -> String {
        let length = try read(UInt64.self, what: "length of \(what)")
        guard length <= UInt64(file.size - offset) else {
            throw malformed("file truncated: \(what) claims \(length) bytes at offset \(offset) but only \(file.size - offset) remain")
        }
        let bytes = UnsafeRawBufferPointer(start: file.base + offset, count: Int(length))
        offset += Int(length)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Reads one value of type `type` (recursing into arrays, nested at most a few levels).
    mutating func readValue(_ type: GGUFValueType, key: String, depth: Int) throws -> GGUFValue {
        let what = "value of \"\(key)\""
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, what: what))
        case .int8: return .int8(try read(Int8.self, what: what))
        case .uint16: return .uint16(try read(UInt16.self, what: what))
        case .int16: return .int16(try read(Int16.self, what: what))
        case .uint32: return .uint32(try read(UInt32.self, what: what))
        case .int32: return .int32(try read(Int32.self, what: what))
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self, what: what)))
        case .bool:
            let byte = try read(UInt8.self, what: what)
            guard byte <= 1 else { throw malformed("boolean \"\(key)\" has byte value \(byte)") }
            return .bool(byte == 1)
        case .string: return .string(try readString(what: what))
        case .uint64: return .uint64(try read(UInt64.self, what: what))
        case .int64: return .int64(try read(Int64.self, what: what))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, what: what)))
        case .array:
            guard depth < 4 else { throw malformed("arrays nested too deeply in \"\(key)\"") }
            let rawType = try read(UInt32.self, what: "element type of \"\(key)\"")
            guard let elementType = GGUFValueType(rawValue: rawType) else {
                throw malformed("array \"\(key)\" has unknown element type \(rawType)")
            }
            let count = try readCount(what: "element count of \"\(key)\"", minimumItemSize: elementType.fixedSize ?? 8)
            var elements: [GGUFValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count {
                elements.append(try readValue(elementType, key: key, depth: depth + 1))
            }
            return .array(elementType, elements)
        }
    }
}
