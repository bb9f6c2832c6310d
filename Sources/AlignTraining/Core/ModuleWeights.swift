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
}
