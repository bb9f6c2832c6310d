import AlignKernels
import AlignModelIO
import AlignTensor
import Foundation

/// A golden file under `Tests/Fixtures` (safetensors written by the scripts in
/// `scripts/fixtures/`), read through Align's own safetensors reader.
public struct GoldenFile {
    public let file: SafetensorsFile

    /// Opens `Tests/Fixtures/<relativePath>`.
    public init(_ relativePath: String) throws {
        file = try SafetensorsFile(url: fixturesDirectory.appendingPathComponent(relativePath))
    }

    /// The tensor `key` as fp32 (F64 values are rounded once, on load).
    public func tensor(_ key: String) throws -> Tensor {
        let (shape, storage) = try file.loadFloat32(key)
        return Tensor(storage: storage, shape: shape)
    }

    /// The integer tensor `key` (ids, targets, positions, masks) as Int32.
    public func ints(_ key: String) throws -> [Int32] {
        try tensor(key).toArray().map { Int32($0) }
    }

    /// A `__metadata__` value.
    public func metadata(_ key: String) -> String? { file.metadata[key] }
}
