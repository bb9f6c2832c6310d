import AlignKernels
import AlignModelIO
import AlignModels
import ArgumentParser
import Foundation

/// `align inspect`: describes a model file (safetensors file or folder, or GGUF) and optionally
/// loads every tensor to fp32, timing it, which checks the whole file and measures load speed.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a safetensors checkpoint or GGUF file; --load dequantises every tensor and times it.")

    @Argument(help: "A .gguf file, a .safetensors file, an index .json, or a checkpoint folder.")
    var path: String

    @Flag(help: "Load (dequantise) every tensor to fp32, under Hugging Face names for llama GGUF files.")
    var load = false

    @Option(help: "How many tensors to list (0 lists none).")
    var tensors = 12

    func run() throws {
        let url = URL(fileURLWithPath: path)
        if url.pathExtension == "gguf" {
            try inspectGGUF(url)
        } else {
            try inspectSafetensors(url)
        }
    }

    private func inspectGGUF(_ url: URL) throws {
        let file = try GGUFFile(url: url)
        print("GGUF v\(file.version), \(file.tensors.count) tensors, \(file.metadata.count) metadata entries, alignment \(file.alignment)")
        for key in file.metadataKeys {
            print("  \(key) = \(summary(file.metadata[key]!))")
        }
        var counts: [String: Int] = [:]
        for tensor in file.tensors { counts[tensor.type.description, default: 0] += 1 }
        print("tensor types: " + counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
        for tensor in file.tensors.prefix(tensors) {
            print("  \(tensor.name) \(tensor.type) \(tensor.shape)")
        }
        if file.architecture == "llama", let config = try? LlamaConfiguration(gguf: file) {
            let json = String(decoding: try config.huggingFaceConfiguration(dtype: "float32").data(), as: UTF8.self)
            print("Hugging Face config:\n\(json)")
        }
        guard load else { return }
        let start = DispatchTime.now().uptimeNanoseconds
        var elements = 0
        if file.architecture == "llama" {
            let (_, loaded) = try LlamaWeightMapping.loadHuggingFaceTensors(from: file)
            elements = loaded.reduce(0) { $0 + $1.storage.count }
        } else {
            for tensor in file.tensors where tensor.type.canDequantize {
                elements += try file.loadFloat32(tensor.name).storage.count
            }
        }
        report(elements: elements, since: start)
    }

    private func inspectSafetensors(_ url: URL) throws {
        let reader = try CheckpointReader(url: url)
        print("safetensors checkpoint: \(reader.files.count) file(s), \(reader.tensorNames.count) tensors, metadata \(reader.metadata)")
        for name in reader.tensorNames.prefix(tensors) {
            if let info = reader.info(name) { print("  \(name) \(info.dtype.rawValue) \(info.shape)") }
        }
        guard load else { return }
        let start = DispatchTime.now().uptimeNanoseconds
        var elements = 0
        for name in reader.tensorNames { elements += try reader.loadFloat32(name).storage.count }
        report(elements: elements, since: start)
    }

    private func report(elements: Int, since start: UInt64) {
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        print(String(format: "loaded %d elements (%.1f MB fp32) in %.3f s", elements, Double(elements) * 4 / 1e6, seconds))
    }

    private func summary(_ value: GGUFValue) -> String {
        switch value {
        case .string(let s): return s.count > 60 ? "\"\(s.prefix(60))…\" (\(s.count) characters)" : "\"\(s)\""
        case .array(let type, let elements):
            let head = elements.prefix(3).map(summary).joined(separator: ", ")
            return "[\(type)] × \(elements.count): [\(head)\(elements.count > 3 ? ", …" : "")]"
        case .float32(let f): return "\(f)"
        case .float64(let d): return "\(d)"
        case .bool(let b): return "\(b)"
        default: return value.intValue.map(String.init) ?? "\(value)"
        }
    }
}
