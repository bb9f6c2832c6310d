// Writing GGUF version 3 files (F32 and F16 tensors).
import AlignKernels
import Foundation

/// Writes GGUF version 3 files, laid out as gguf-py's `GGUFWriter` does: header, metadata,
/// tensor infos, padding to the alignment, then each tensor's data padded to the alignment.
/// Written atomically (temporary file, fsync, rename).
public enum GGUFWriter {
    /// One tensor to write.
    public struct Tensor {
        /// GGUF name (`blk.0.attn_q.weight`...).
        public var name: String
        /// Shape in PyTorch order (outermost first); it is stored reversed, innermost first.
        public var shape: [Int]
        /// The fp32 values.
        public var storage: TensorStorage
        /// Stored type: `.f32` or `.f16`.
        public var type: GGMLType

        /// A tensor to store as `type`.
        public init(name: String, shape: [Int], storage: TensorStorage, type: GGMLType = .f32) {
            self.name = name
            self.shape = shape
            self.storage = storage
            self.type = type
        }
    }

    /// Writes `tensors` and `metadata` (in the given order) to `url`. A `general.alignment` entry
    /// in `metadata`, if any, sets the alignment (it must be a power-of-two `.uint32`).
    public static func write(metadata: [(key: String, value: GGUFValue)], tensors: [Tensor], to url: URL) throws {
        let path = url.path
        var alignment = 32
        var keys = Set<String>()
        for (key, value) in metadata {
            guard keys.insert(key).inserted else {
                throw ModelIOError.invalidArgument(path: path, reason: "metadata key \"\(key)\" appears twice")
            }
            if key == "general.alignment" {
                guard case .uint32(let a) = value, a > 0, a & (a - 1) == 0 else {
                    throw ModelIOError.invalidArgument(path: path, reason: "general.alignment must be a power-of-two uint32")
                }
                alignment = Int(a)
            }
            if case .array(let type, let elements) = value, !elements.allSatisfy({ $0.type == type }) {
                throw ModelIOError.invalidArgument(path: path, reason: "array \"\(key)\" mixes element types")
            }
        }
        var names = Set<String>()
        for tensor in tensors {
            guard names.insert(tensor.name).inserted else {
                throw ModelIOError.invalidArgument(path: path, reason: "tensor name \"\(tensor.name)\" appears twice")
            }
            guard tensor.type == .f32 || tensor.type == .f16 else {
                throw ModelIOError.invalidArgument(path: path, reason: "tensor \"\(tensor.name)\": can only write F32 or F16, not \(tensor.type)")
            }
            guard tensor.storage.format == .f32 else {
                throw ModelIOError.invalidArgument(path: path, reason: "tensor \"\(tensor.name)\" is held in \(tensor.storage.format) for inference; save the model before holding it in 16 bits")
            }
            guard (1...4).contains(tensor.shape.count), tensor.shape.allSatisfy({ $0 >= 0 }),
                  tensor.shape.reduce(1, *) == tensor.storage.count else {
                throw ModelIOError.invalidArgument(path: path, reason: "tensor \"\(tensor.name)\": shape \(tensor.shape) does not hold \(tensor.storage.count) elements in 1 to 4 dimensions")
            }
        }

        var header: [UInt8] = []
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { header.append(contentsOf: $0) }
        }
        func append(string: String) {
            append(UInt64(string.utf8.count))
            header.append(contentsOf: string.utf8)
        }
        func append(value: GGUFValue, withType: Bool) {
            if withType { append(value.type.rawValue) }
            switch value {
            case .uint8(let v): append(v)
            case .int8(let v): append(v)
            case .uint16(let v): append(v)
            case .int16(let v): append(v)
            case .uint32(let v): append(v)
            case .int32(let v): append(v)
            case .float32(let v): append(v.bitPattern)
            case .bool(let v): append(UInt8(v ? 1 : 0))
            case .string(let v): append(string: v)
            case .uint64(let v): append(v)
            case .int64(let v): append(v)
            case .float64(let v): append(v.bitPattern)
            case .array(let type, let elements):
                append(type.rawValue)
                append(UInt64(elements.count))
                for element in elements { append(value: element, withType: false) }
            }
        }

        append(GGUFFile.magic)
        append(UInt32(3))
        append(UInt64(tensors.count))
        append(UInt64(metadata.count))
        for (key, value) in metadata {
            append(string: key)
            append(value: value, withType: true)
        }
        var offset = 0
        var offsets: [Int] = []
        for tensor in tensors {
            append(string: tensor.name)
            append(UInt32(tensor.shape.count))
            for dimension in tensor.shape.reversed() { append(UInt64(dimension)) }
            append(tensor.type.rawValue)
            append(UInt64(offset))
            offsets.append(offset)
            offset += (tensor.type.byteCount(elements: tensor.storage.count) + alignment - 1) / alignment * alignment
        }
        header.append(contentsOf: repeatElement(0, count: (alignment - header.count % alignment) % alignment))

        try writeAtomically(to: url) { sink in
            try sink.write(header)
            for tensor in tensors {
                let count = tensor.storage.count
                let values = tensor.storage.pointer
                let bytes = tensor.type.byteCount(elements: count)
                if tensor.type == .f32 {
                    try sink.write(UnsafeRawBufferPointer(start: values, count: bytes))
                } else {
                    var scratch = [UInt16](repeating: 0, count: 1 << 16)
                    var start = 0
                    while start < count {
                        let n = min(scratch.count, count - start)
                        try scratch.withUnsafeMutableBufferPointer { buffer in
                            for i in 0..<n { buffer[i] = floatToHalfBits(values[start + i]).littleEndian }
                            try sink.write(UnsafeRawBufferPointer(start: buffer.baseAddress, count: n * 2))
                        }
                        start += n
                    }
                }
                try sink.writeZeros((alignment - bytes % alignment) % alignment)
                withExtendedLifetime(tensor.storage) {}
            }
        }
    }
}
