import AlignKernels
import AlignModelIO
import AlignNN
import AlignTensor
import Foundation

/// Adapters as PEFT stores them (`PeftModel.save_pretrained` / `from_pretrained`): a folder with
/// `adapter_config.json` and `adapter_model.safetensors`, whose keys are
/// `base_model.model.<module path>.lora_A.weight`, `….lora_B.weight` and, for DoRA,
/// `….lora_magnitude_vector`.
///
/// ```swift
/// try model.attachAdapters(LoRAConfiguration(rank: 16, alpha: 32, targetModules: ["all-linear"]))
/// try PEFTAdapter.save(model, baseModel: "HuggingFaceTB/SmolLM2-135M", to: folder)
/// let config = try PEFTAdapter.load(into: otherModel, from: folder)   // r, α, targets from the file
/// ```
public enum PEFTAdapter {
    public static let configFile = "adapter_config.json"
    public static let weightsFile = "adapter_model.safetensors"
    static let keyPrefix = "base_model.model."

    /// Whether `directory` holds a PEFT adapter (its config file).
    public static func isAdapterFolder(_ directory: URL) -> Bool {
        FileManager.default.fileExists(atPath: directory.appendingPathComponent(configFile).path)
    }

    /// The fields of `adapter_config.json` Align reads and writes; other keys PEFT writes take
    /// PEFT's defaults when read.
    struct Config: Codable {
        var peftType: String?
        var baseModelNameOrPath: String?
        var targetModules: TargetModules?
        var r: Int?
        var loraAlpha: Double?
        var loraDropout: Double?
        var useRslora: Bool?
        var useDora: Bool?
        var bias: String?
        var taskType: String?
        var fanInFanOut: Bool?
        var inferenceMode: Bool?
        var initLoraWeights: Bool?
        var modulesToSave: [String]?
        var rankPattern: [String: Int]?
        var alphaPattern: [String: Double]?

        enum CodingKeys: String, CodingKey {
            case peftType = "peft_type", baseModelNameOrPath = "base_model_name_or_path", targetModules = "target_modules"
            case r, loraAlpha = "lora_alpha", loraDropout = "lora_dropout", useRslora = "use_rslora", useDora = "use_dora"
            case bias, taskType = "task_type", fanInFanOut = "fan_in_fan_out", inferenceMode = "inference_mode"
            case initLoraWeights = "init_lora_weights", modulesToSave = "modules_to_save"
            case rankPattern = "rank_pattern", alphaPattern = "alpha_pattern"
        }
    }

    /// `target_modules`: a list of names or paths, or one string (`all-linear`, or a regular
    /// expression PEFT matches against whole module paths).
    enum TargetModules: Codable {
        case list([String]), string(String)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .string(s) } else { self = .list(try c.decode([String].self)) }
        }
        func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self { case .list(let l): try c.encode(l); case .string(let s): try c.encode(s) }
        }
        var names: [String] { switch self { case .list(let l): return l; case .string(let s): return [s] } }
    }

    /// Writes `adapter_config.json` and `adapter_model.safetensors` for the adapters attached to
    /// `model` into `directory` (created if missing). `extraTensors` (full PEFT keys) are added to
    /// the weights file, as `modules_to_save` entries (a reward model's trained head).
    public static func save(_ model: Module, baseModel: String, to directory: URL, taskType: String = "CAUSAL_LM",
                            modulesToSave: [(name: String, parameter: Parameter)] = []) throws {
        let adapted = model.adaptedLinears()
        guard let first = adapted.first?.adapter.configuration else {
            throw ModelError.unsupported("saving adapters of a model that has none")
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var tensors: [SafetensorsWriter.Tensor] = []
        var generators: [String] = []
        for (path, _, adapter) in adapted {
            for (name, p) in adapter.parameters {
                tensors.append(SafetensorsWriter.Tensor(name: keyPrefix + path + "." + name, shape: p.shape, storage: p.value.copy().storage))
            }
            generators.append(adapter.generator.state.map { String($0) }.joined(separator: ":"))
        }
        for (name, p) in modulesToSave {
            tensors.append(SafetensorsWriter.Tensor(name: keyPrefix + name, shape: p.shape, storage: p.value.copy().storage))
        }
        // The dropout streams, so a resumed run draws the same masks (PEFT ignores metadata).
        var metadata = ["format": "pt"]
        if first.dropout > 0 { metadata["align.dropout_generators"] = generators.joined(separator: ",") }
        try SafetensorsWriter.write(tensors, metadata: metadata, to: directory.appendingPathComponent(weightsFile))

        // all-linear is written as the short names it reached (PEFT accepts them; it writes full
        // paths itself), given names as given.
        var targets = first.resolvedTargets
        if targets == ["all-linear"] {
            targets = Array(Set(adapted.map { String($0.path.split(separator: ".").last ?? "") })).sorted()
        }
        let heads = modulesToSave.compactMap { $0.name.split(separator: ".").first.map(String.init) }
        // Floats written as their shortest decimal (0.05, not 0.05000000074505806).
        func decimal(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }
        let config = Config(peftType: "LORA", baseModelNameOrPath: baseModel, targetModules: .list(targets), r: first.rank,
                            loraAlpha: decimal(first.alpha), loraDropout: decimal(first.dropout), useRslora: first.useRSLoRA,
                            useDora: first.useDoRA, bias: "none", taskType: taskType, fanInFanOut: false, inferenceMode: true,
                            initLoraWeights: true, modulesToSave: heads.isEmpty ? nil : Array(Set(heads)).sorted(),
                            rankPattern: [:], alphaPattern: [:])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(config).write(to: directory.appendingPathComponent(configFile))
    }

    /// The configuration `adapter_config.json` describes (r, α, dropout, targets, rsLoRA, DoRA).
    public static func configuration(in directory: URL) throws -> LoRAConfiguration {
        let config = try readConfig(directory)
        return LoRAConfiguration(rank: config.r ?? 8, alpha: Float(config.loraAlpha ?? 8), dropout: Float(config.loraDropout ?? 0),
                                 targetModules: config.targetModules?.names ?? [], useRSLoRA: config.useRslora ?? false,
                                 useDoRA: config.useDora ?? false)
    }

    /// `base_model_name_or_path` of the adapter, if recorded.
    public static func baseModel(in directory: URL) throws -> String? { try readConfig(directory).baseModelNameOrPath }

    static func readConfig(_ directory: URL) throws -> Config {
        let url = directory.appendingPathComponent(configFile)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ModelError.unreadable(path: url.path, reason: "no adapter_config.json: not a PEFT adapter folder")
        }
        let config: Config
        do { config = try JSONDecoder().decode(Config.self, from: data) } catch {
            throw ModelError.unreadable(path: url.path, reason: "not a PEFT adapter config: \(error)")
        }
        if let type = config.peftType, type != "LORA" {
            throw ModelError.unsupported("\(url.path): peft_type \(type); Align reads LORA adapters (LoRA, rsLoRA, DoRA)")
        }
        if let bias = config.bias, bias != "none" {
            throw ModelError.unsupported("\(url.path): bias \"\(bias)\"; Align's adapters leave biases untouched (bias \"none\")")
        }
        return config
    }

    /// Attaches the adapters of a PEFT folder to `model` (replacing any it has) and freezes the
    /// base. r comes from each A matrix (so `rank_pattern` needs nothing), α from
    /// `alpha_pattern` or `lora_alpha`. Tensors named in `modulesToSave` keys (without the
    /// `base_model.model.` prefix) are loaded into those parameters of `model` and left trainable.
    /// Returns the configuration read.
    @discardableResult
    public static func load(into model: Module, from directory: URL) throws -> LoRAConfiguration {
        let config = try readConfig(directory)
        let base = try configuration(in: directory)
        let url = directory.appendingPathComponent(weightsFile)
        let file = try SafetensorsFile(url: url)
        let linears = Dictionary(model.namedLinears().map { ($0.path, $0.linear) }, uniquingKeysWith: { a, _ in a })
        let parameters = Dictionary(model.namedParameters().map { ($0.name, $0.parameter) }, uniquingKeysWith: { a, _ in a })
        var paths: [String] = []
        var extra: [(Parameter, Tensor)] = []
        for name in file.tensorNames.sorted() {
            guard name.hasPrefix(keyPrefix) else {
                throw ModelError.unreadable(path: url.path, reason: "tensor \(name) is not a PEFT key (base_model.model.…)")
            }
            let key = String(name.dropFirst(keyPrefix.count))
            if key.hasSuffix(".lora_A.weight") {
                paths.append(String(key.dropLast(".lora_A.weight".count)))
            } else if key.hasSuffix(".lora_B.weight") || key.hasSuffix(".lora_magnitude_vector") || key.hasSuffix(".lora_magnitude_vector.weight") {
                continue
            } else if let p = parameters[key] ?? parameters[key.replacingOccurrences(of: ".modules_to_save.default", with: "")] {
                let (shape, storage) = try file.loadFloat32(name)
                guard shape == p.shape else {
                    throw ModelError.unreadable(path: url.path, reason: "tensor \(name) has shape \(shape), the model expects \(p.shape)")
                }
                extra.append((p, Tensor(storage: storage, shape: shape)))
            } else {
                throw ModelError.unreadable(path: url.path, reason: "tensor \(name) matches nothing in the model")
            }
        }
        guard !paths.isEmpty else { throw ModelError.unreadable(path: url.path, reason: "no lora_A tensors") }
        let names = Set(file.tensorNames)
        let generators = file.metadata["align.dropout_generators"]?.split(separator: ",").map {
            $0.split(separator: ":").compactMap { UInt64($0) }
        }
        var adapters: [(Linear, LoRAAdapter)] = []
        for (i, path) in paths.enumerated() {
            guard let linear = linears[path] else {
                throw ModelError.unreadable(path: url.path, reason: "adapter for \(path), which is not a linear layer of the model")
            }
            func tensor(_ suffix: String) throws -> Tensor? {
                let name = keyPrefix + path + suffix
                guard names.contains(name) else { return nil }
                let (shape, storage) = try file.loadFloat32(name)
                return Tensor(storage: storage, shape: shape)
            }
            guard let a = try tensor(".lora_A.weight"), let b = try tensor(".lora_B.weight") else {
                throw ModelError.unreadable(path: url.path, reason: "\(path) has lora_A without lora_B")
            }
            let magnitude = try tensor(".lora_magnitude_vector") ?? tensor(".lora_magnitude_vector.weight")
            let outF = linear.weight.shape[0], inF = linear.weight.shape[1]
            guard a.rank == 2, b.rank == 2, a.shape[1] == inF, b.shape[0] == outF, b.shape[1] == a.shape[0],
                  magnitude.map({ $0.shape == [outF] }) ?? true else {
                throw ModelError.unreadable(path: url.path, reason: "\(path): lora_A \(a.shape), lora_B \(b.shape)\(magnitude.map { ", magnitude \($0.shape)" } ?? "") do not fit the layer's weight \(linear.weight.shape)")
            }
            if base.useDoRA && magnitude == nil {
                throw ModelError.unreadable(path: url.path, reason: "use_dora is set but \(path) has no lora_magnitude_vector")
            }
            var c = base
            if let alpha = config.alphaPattern?.first(where: { path == $0.key || path.hasSuffix("." + $0.key) })?.value { c.alpha = Float(alpha) }
            let adapter = LoRAAdapter(a: a, b: b, magnitude: magnitude, configuration: c, seed: UInt64(i))
            if let state = generators?[safe: i], state.count == 4 { adapter.generator.state = state }
            adapters.append((linear, adapter))
        }
        for (_, linear) in linears { linear.adapter = nil; linear.referenceAdapter = nil }
        model.freeze()
        for (linear, adapter) in adapters { linear.adapter = adapter }
        for (p, t) in extra { p.assign(t); p.requiresGrad = true }
        return base
    }

    /// Restores the values of adapters already attached (a training checkpoint), in place: the
    /// parameters keep their identity, so optimiser state still refers to them.
    public static func restore(into model: Module, from directory: URL, modulesToSave: [(name: String, parameter: Parameter)] = []) throws {
        let url = directory.appendingPathComponent(weightsFile)
        let file = try SafetensorsFile(url: url)
        let names = Set(file.tensorNames)
        let generators = file.metadata["align.dropout_generators"]?.split(separator: ",").map {
            $0.split(separator: ":").compactMap { UInt64($0) }
        }
        var targets: [(String, Parameter)] = modulesToSave.map { (keyPrefix + $0.name, $0.parameter) }
        let adapted = model.adaptedLinears()
        for (path, _, adapter) in adapted {
            targets += adapter.parameters.map { (keyPrefix + path + "." + $0.name, $0.parameter) }
        }
        var loaded: [(Parameter, Tensor)] = []
        for (name, p) in targets {
            guard names.contains(name) else { throw ModelIOError.tensorNotFound(path: url.path, name: name) }
            let (shape, storage) = try file.loadFloat32(name)
            guard shape == p.shape else {
                throw ModelError.unreadable(path: url.path, reason: "tensor \(name) has shape \(shape), the adapter expects \(p.shape)")
            }
            loaded.append((p, Tensor(storage: storage, shape: shape)))
        }
        for (p, t) in loaded { p.assign(t) }
        if let generators, generators.count == adapted.count {
            for (state, entry) in zip(generators, adapted) where state.count == 4 { entry.adapter.generator.state = state }
        }
    }
}

extension Array {
    fileprivate subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
