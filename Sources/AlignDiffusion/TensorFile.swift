import AlignKernels
import AlignModelIO
import AlignTensor
import Foundation

/// Named tensors read from and written to one safetensors file (the `predict`, `scheduler-step`,
/// pairs and noise-dump files). Integer tensors are held as exact Floats.
public struct TensorFile {
    public let url: URL
    let file: SafetensorsFile

    public init(url: URL) throws {
        self.url = url
        file = try SafetensorsFile(url: url)
    }

    public var names: [String] { file.tensorNames }
    public func contains(_ name: String) -> Bool { file.info(name) != nil }

    /// Tensor `name` as fp32, with its shape checked against `rank` when given.
    public func tensor(_ name: String, rank: Int? = nil) throws -> Tensor {
        guard let info = file.info(name) else { throw DiffusionError("\(url.path): no tensor \"\(name)\" (has \(names.joined(separator: ", ")))") }
        if let rank, info.shape.count != rank { throw DiffusionError("\(url.path): \(name) has shape \(info.shape), expected \(rank) dimensions") }
        let (shape, storage) = try file.loadFloat32(name)
        return Tensor(storage: storage, shape: shape)
    }

    /// Integer tensor `name` (int64 or int32 on disk).
    public func integers(_ name: String, rank: Int? = nil) throws -> [Int] {
        guard let info = file.info(name) else { throw DiffusionError("\(url.path): no tensor \"\(name)\" (has \(names.joined(separator: ", ")))") }
        guard [.int64, .int32].contains(info.dtype) else { throw DiffusionError("\(url.path): \(name) has dtype \(info.dtype.rawValue), expected I64") }
        return try tensor(name, rank: rank).toArray().map { Int($0) }
    }

    /// Writes float tensors and integer tensors (I64) into one file.
    public static func write(floats: [(String, Tensor)], integers: [(String, [Int], [Int])] = [], to url: URL) throws {
        var out: [SafetensorsWriter.Tensor] = floats.map { name, t in
            SafetensorsWriter.Tensor(name: name, shape: t.shape, storage: withNoGrad { t.copy() }.storage)
        }
        for (name, shape, values) in integers {
            out.append(SafetensorsWriter.Tensor(name: name, shape: shape, values: values.map { Float($0) }, dtype: .int64))
        }
        try SafetensorsWriter.write(out, metadata: nil, to: url)
    }
}
