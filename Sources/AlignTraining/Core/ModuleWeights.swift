import AlignModelIO
import AlignModels
import AlignNN
import AlignTensor
import Foundation

/// A module's parameters as a safetensors file under their Hugging Face names (tied parameters
/// once, under their first name), and back.
public enum ModuleWeights {
    /// Writes every distinct parameter as F32.
    public static func save(_ module: Module, to url: URL, metadata: [String: String] = ["format": "pt"]) throws {
        var seen = Set<ObjectIdentifier>()
        var tensors: [SafetensorsWriter.Tensor] = []
        for (name, p) in module.namedParameters() where seen.insert(ObjectIdentifier(p)).inserted {
            tensors.append(SafetensorsWriter.Tensor(name: name, shape: p.shape, storage: p.value.copy().storage))
        }
        try SafetensorsWriter.write(tensors, metadata: metadata, to: url)
    }

    /// Loads every parameter present in the file (by name, shapes checked) into `module`.
    /// A parameter missing from the file is an error unless `allowMissing` lists it.
    public static func load(_ module: Module, from url: URL, allowMissing: Set<String> = []) throws {
        let file = try SafetensorsFile(url: url)
        let names = Set(file.tensorNames)
        var seen = Set<ObjectIdentifier>()
        for (name, p) in module.namedParameters() where seen.insert(ObjectIdentifier(p)).inserted {
            guard names.contains(name) else {
                if allowMissing.contains(name) { continue }
                throw ModelIOError.tensorNotFound(path: url.path, name: name)
            }
            let (shape, storage) = try file.loadFloat32(name)
            guard shape == p.shape else {
                throw ModelIOError.malformed(path: url.path, reason: "tensor \(name) has shape \(shape), the model expects \(p.shape)")
            }
            p.assign(Tensor(storage: storage, shape: shape))
        }
    }

    /// Restores `model`'s weights from a Hugging Face folder written by `saveCausalLanguageModel`,
    /// whose on-disk layouts may differ from the in-memory ones (GPT-2's Conv1D weights are stored
    /// transposed): the folder is loaded as a model of its own, then copied over by name.
    public static func loadHuggingFaceFolder(_ model: any CausalLanguageModel, from directory: URL) throws {
        let saved = try loadCausalLanguageModel(directory: directory)
        let values = Dictionary(saved.namedParameters().map { ($0.name, $0.parameter.value) }, uniquingKeysWith: { a, _ in a })
        for (name, p) in model.namedParameters() {
            guard let v = values[name] else { throw ModelIOError.tensorNotFound(path: directory.path, name: name) }
            guard v.shape == p.shape else {
                throw ModelIOError.malformed(path: directory.path, reason: "tensor \(name) has shape \(v.shape), the model expects \(p.shape)")
            }
            p.assign(v)
        }
    }
}
