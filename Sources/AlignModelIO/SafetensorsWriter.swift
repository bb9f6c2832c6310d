// Writing safetensors files (single and sharded), byte-compatible with the Python library.
import AlignJSON
import AlignKernels
import Foundation

/// Writes safetensors files.
///
/// The layout matches the reference (Rust/Python) implementation byte for byte: tensors sorted by
/// dtype (largest enum value first, as its `Dtype` order goes) then by name in byte order, data laid
/// out contiguously in that order, the header serialised compactly with `__metadata__` first and
/// padded with spaces to a multiple of 8 bytes. So loading an fp32 file written by
/// `safetensors.torch.save_file` and saving it again (with ``SafetensorsFile/metadataEntries``)
/// reproduces the file exactly. Files are written atomically (temporary file, fsync, rename).
public enum SafetensorsWriter {
    /// One tensor to write: fp32 values in memory, stored on disk as ``dtype``.
    public struct Tensor {
        /// Name in the header (Hugging Face parameter name, say).
        public var name: String
        /// Shape, outermost first; its product must equal the storage's element count.
        public var shape: [Int]
        /// The values.
        public var storage: TensorStorage
        /// On-disk type: `.float32`, `.float16` or `.bfloat16` (rounded to nearest even).
        public var dtype: SafetensorsDType

        /// A tensor backed by existing storage.
        public init(name: String, shape: [Int], storage: TensorStorage, dtype: SafetensorsDType = .float32) {
            self.name = name
            self.shape = shape
            self.storage = storage
            self.dtype = dtype
        }

        /// A tensor copied from an array.
        public init(name: String, shape: [Int], values: [Float], dtype: SafetensorsDType = .float32) {
            self.init(name: name, shape: shape, storage: TensorStorage(copying: values), dtype: dtype)
        }

        /// Bytes the tensor occupies on disk.
        public var byteCount: Int { storage.count * dtype.byteSize }
    }

    /// Writes `tensors` to `url` with the given metadata entries, in the given order (nil writes
    /// no `__metadata__` entry, as `save_file(..., metadata=None)` does).
    public static func write(
        _ tensors: [Tensor], metadata: [(key: String, value: String)]?, to url: URL
    ) throws {
        try validate(tensors, path: url.path)
        let ordered = tensors.sorted { a, b in
            if a.dtype != b.dtype { return a.dtype > b.dtype }
            return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }
        var entries: [(key: String, value: JSONValue)] = []
        if let metadata {
            entries.append(("__metadata__", .object(metadata.map { ($0.key, JSONValue.string($0.value)) })))
        }
        var offset = 0
        for tensor in ordered {
            let end = offset + tensor.byteCount
            entries.append((tensor.name, .object([
                ("dtype", .string(tensor.dtype.rawValue)),
                ("shape", .array(tensor.shape.map { .integer($0) })),
                ("data_offsets", .array([.integer(offset), .integer(end)])),
            ])))
            offset = end
        }
        var header = JSONWriter.bytes(.object(entries))
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
        try writeAtomically(to: url) { sink in
            var length = UInt64(header.count).littleEndian
            try Swift.withUnsafeBytes(of: &length) { try sink.write($0) }
            try sink.write(header)
            for tensor in ordered { try writeData(of: tensor, to: sink) }
        }
    }

    /// Writes `tensors` with metadata given as a dictionary (entries sorted by key, for determinism).
    public static func write(_ tensors: [Tensor], metadata: [String: String], to url: URL) throws {
        try write(tensors, metadata: metadata.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, to: url)
    }

    /// Writes a checkpoint into `directory` the way `save_pretrained` does: a single
    /// `<baseName>.safetensors` when everything fits in `maxShardBytes`, otherwise shards named
    /// `<baseName>-00001-of-0000N.safetensors` filled greedily in the given tensor order (a tensor
    /// larger than the limit gets a shard of its own), exactly as huggingface_hub splits, plus `<baseName>.safetensors.index.json`
    /// mapping each tensor to its shard. Returns the files written.
    @discardableResult
    public static func writeSharded(
        _ tensors: [Tensor], metadata: [(key: String, value: String)]? = [("format", "pt")],
        to directory: URL, maxShardBytes: Int, baseName: String = "model"
    ) throws -> [URL] {
        let indexURL = directory.appendingPathComponent("\(baseName).safetensors.index.json")
        guard maxShardBytes > 0 else {
            throw ModelIOError.invalidArgument(path: directory.path, reason: "maxShardBytes must be positive, got \(maxShardBytes)")
        }
        try validate(tensors, path: directory.path)
        var shards: [[Tensor]] = []
        var current: [Tensor] = []
        var currentBytes = 0
        for tensor in tensors {
            // The split of huggingface_hub's `split_state_dict_into_shards_factory`: an oversized
            // tensor becomes a shard of its own at once, the current shard carries on.
            if tensor.byteCount > maxShardBytes {
                shards.append([tensor])
                continue
            }
            if currentBytes + tensor.byteCount > maxShardBytes {
                shards.append(current)
                current = []
                currentBytes = 0
            }
            current.append(tensor)
            currentBytes += tensor.byteCount
        }
        if !current.isEmpty || shards.isEmpty { shards.append(current) }

        if shards.count == 1 {
            let url = directory.appendingPathComponent("\(baseName).safetensors")
            try write(shards[0], metadata: metadata, to: url)
            return [url]
        }
        var urls: [URL] = []
        var weightMap: [(key: String, value: JSONValue)] = []
        for (i, shard) in shards.enumerated() {
            let fileName = String(format: "%@-%05d-of-%05d.safetensors", baseName, i + 1, shards.count)
            let url = directory.appendingPathComponent(fileName)
            try write(shard, metadata: metadata, to: url)
            urls.append(url)
            weightMap += shard.map { ($0.name, JSONValue.string(fileName)) }
        }
        weightMap.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        let totalSize = tensors.reduce(0) { $0 + $1.byteCount }
        // The layout of `json.dumps(index, indent=2, sort_keys=True)`, as transformers writes it.
        var text = JSONWriter.bytes(.object([
            ("metadata", .object([("total_size", .integer(totalSize))])),
            ("weight_map", .object(weightMap)),
        ]), indent: 2)
        text.append(0x0A)
        try writeAtomically(to: indexURL) { try $0.write(text) }
        urls.append(indexURL)
        return urls
    }

    private static func validate(_ tensors: [Tensor], path: String) throws {
        var names = Set<String>()
        for tensor in tensors {
            guard names.insert(tensor.name).inserted else {
                throw ModelIOError.invalidArgument(path: path, reason: "tensor name \"\(tensor.name)\" appears twice")
            }
            guard tensor.name != "__metadata__" else {
                throw ModelIOError.invalidArgument(path: path, reason: "\"__metadata__\" is reserved and cannot name a tensor")
            }
            guard [.float32, .float16, .bfloat16, .int64].contains(tensor.dtype) else {
                throw ModelIOError.invalidArgument(path: path, reason: "tensor \"\(tensor.name)\": can only write F32, F16, BF16 or I64, not \(tensor.dtype.rawValue)")
            }
            guard tensor.storage.format == .f32 else {
                throw ModelIOError.invalidArgument(path: path, reason: "tensor \"\(tensor.name)\" is held in \(tensor.storage.format) for inference; save the model before holding it in 16 bits")
            }
            guard tensor.shape.allSatisfy({ $0 >= 0 }), tensor.shape.reduce(1, *) == tensor.storage.count else {
                throw ModelIOError.invalidArgument(path: path, reason: "tensor \"\(tensor.name)\": shape \(tensor.shape) does not hold \(tensor.storage.count) elements")
            }
        }
    }

    /// Streams one tensor's data, converting to 16 bits in fixed-size chunks so no full-size
    /// temporary is ever allocated.
    private static func writeData(of tensor: Tensor, to sink: FileSink) throws {
        let values = tensor.storage.pointer
        let count = tensor.storage.count
        switch tensor.dtype {
        case .float32:
            try sink.write(UnsafeRawBufferPointer(start: values, count: count * 4))
        case .float16, .bfloat16:
            let chunk = 1 << 16
            var scratch = [UInt16](repeating: 0, count: chunk)
            var start = 0
            while start < count {
                let n = min(chunk, count - start)
                try scratch.withUnsafeMutableBufferPointer { buffer in
                    if tensor.dtype == .float16 {
                        for i in 0..<n { buffer[i] = floatToHalfBits(values[start + i]).littleEndian }
                    } else {
                        for i in 0..<n { buffer[i] = floatToBFloat16Bits(values[start + i]).littleEndian }
                    }
                    try sink.write(UnsafeRawBufferPointer(start: buffer.baseAddress, count: n * 2))
                }
                start += n
            }
        case .int64:
            // Integer tensors (time steps, class labels) are held as exact Floats (|x| < 2^24).
            var scratch = [Int64](repeating: 0, count: count)
            for i in 0..<count { scratch[i] = Int64(values[i]).littleEndian }
            try scratch.withUnsafeBytes { try sink.write($0) }
        default:
            preconditionFailure("validated above")
        }
        withExtendedLifetime(tensor.storage) {}
    }
}
