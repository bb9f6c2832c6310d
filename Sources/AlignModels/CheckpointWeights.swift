import AlignModelIO
import AlignNN
import AlignTensor
import Foundation

/// The weight source every model folder loads through: each tensor is found by its Hugging Face
/// name (or an alias a published checkpoint uses), its dtype must be floating point and its shape
/// the one the configuration implies, all checked from the header before any data is read, so a
/// config that disagrees with its checkpoint fails with both named instead of allocating for it.
public struct CheckpointWeights {
    /// The folder's safetensors file(s).
    public let checkpoint: CheckpointReader
    /// The model folder.
    public let directory: URL
    /// Other names to try for a tensor (GPT-2's original upload drops `transformer.`).
    public var aliases: (String) -> [String] = { _ in [] }

    /// Opens the folder's checkpoint (headers only).
    public init(directory: URL) throws {
        self.directory = directory
        checkpoint = try CheckpointReader(url: directory)
    }

    /// Where a tensor lives, for messages.
    func fileName(of name: String) -> String {
        checkpoint.file(containing: name)?.url.lastPathComponent ?? "the checkpoint"
    }

    /// The stored name of `name`, if present under it or an alias.
    public func storedName(_ name: String) -> String? {
        ([name] + aliases(name)).first { checkpoint.info($0) != nil }
    }

    /// Checks from the header alone that `name` is stored (under it or an alias) as floating point
    /// with `shape`; returns the stored name.
    public func check(_ name: String, _ shape: [Int]) throws -> String {
        guard let stored = storedName(name), let info = checkpoint.info(stored) else {
            throw ModelError.unreadable(path: directory.path, reason: "the checkpoint has no tensor \(name), which config.json implies")
        }
        guard [.float32, .float16, .bfloat16, .float64].contains(info.dtype) else {
            throw ModelError.unreadable(path: directory.appendingPathComponent(fileName(of: stored)).path,
                                        reason: "tensor \(stored) has dtype \(info.dtype.rawValue); model weights must be floating point (F32, F16, BF16, F64)")
        }
        guard info.shape == shape else {
            throw ModelError.unreadable(path: directory.appendingPathComponent(fileName(of: stored)).path,
                                        reason: "tensor \(stored) has shape \(info.shape), config.json implies \(shape)")
        }
        return stored
    }

    /// Loads `name` as fp32 after checking its dtype and shape against `shape`.
    public func load(_ name: String, _ shape: [Int]) throws -> Tensor {
        let stored = try check(name, shape)
        let (_, storage) = try checkpoint.loadFloat32(stored)
        return Tensor(storage: storage, shape: shape)
    }

    /// Restores every parameter of `module` in place (tied parameters once, under their first
    /// name), keeping each parameter's identity: what resuming from a checkpoint needs, without
    /// building a second model. Every tensor is checked (present, floating point, the expected
    /// shape) before any value is replaced, so a checkpoint that does not fit leaves the module as
    /// it was. `transposed` names parameters stored as the transpose of their in-memory layout
    /// (GPT-2's Conv1D weights).
    public func restore(_ module: Module, transposed: Set<String> = []) throws {
        var seen = Set<ObjectIdentifier>()
        let targets = module.namedParameters().filter { seen.insert(ObjectIdentifier($0.parameter)).inserted }.map { name, parameter in
            (name: name, parameter: parameter, transposed: transposed.contains(name),
             storedShape: transposed.contains(name) ? Array(parameter.shape.reversed()) : parameter.shape)
        }
        for target in targets { _ = try check(target.name, target.storedShape) }
        for target in targets {
            let value = try load(target.name, target.storedShape)
            target.parameter.assign(target.transposed ? withNoGrad { value.transposed().copy() } : value)
        }
    }

    /// Checks that the checkpoint holds exactly `layers` numbered blocks under `prefix`
    /// (`model.layers.` → `model.layers.0.…`), naming both numbers when it does not.
    public func checkLayerCount(prefix: String, key: String, layers: Int) throws {
        var present = Set<Int>()
        for name in checkpoint.tensorNames {
            for candidate in [name, "transformer." + name] where candidate.hasPrefix(prefix) {
                let rest = candidate.dropFirst(prefix.count)
                if let dot = rest.firstIndex(of: "."), let i = Int(rest[..<dot]) { present.insert(i) }
            }
        }
        let count = present.count
        guard count == layers, present.max().map({ $0 == count - 1 }) ?? true else {
            throw ModelError.unreadable(path: directory.appendingPathComponent("config.json").path,
                                        reason: "\(key) is \(layers), but the checkpoint holds \(count) layer\(count == 1 ? "" : "s") (\(prefix)N)")
        }
    }

    /// Refuses an untied LM head stored beside `tie_word_embeddings: true` (which would be
    /// silently ignored): the checkpoint and the config disagree about what the model is.
    public func checkTiedHead(tied: Bool, headName: String) throws {
        if tied, storedName(headName) != nil {
            throw ModelError.unreadable(path: directory.appendingPathComponent("config.json").path,
                                        reason: "tie_word_embeddings is true, but the checkpoint has its own \(headName); set tie_word_embeddings to false to use it")
        }
    }
}
