import AlignKernels
import AlignModelIO
import AlignNN
import AlignTensor
import Foundation

/// A causal LM that can be written as a Hugging Face model folder (`save_pretrained` layout).
public protocol HuggingFaceCausalLanguageModel: CausalLanguageModel {
    /// `config.json` generated from the model's configuration, with Hugging Face's key names.
    func huggingFaceConfiguration() throws -> JSONDocument
    /// The state dict exactly as `save_pretrained` writes it: Hugging Face names and on-disk
    /// layouts, each tied tensor once (under the name transformers keeps), values in fp32.
    func huggingFaceTensors() -> [SafetensorsWriter.Tensor]
    /// The `bos`/`eos`/`pad` token ids for a generated `generation_config.json`.
    var generationTokenIDs: (bos: Int?, eos: LlamaConfiguration.TokenIDs?, pad: Int?) { get }
}

/// A parameter's value as a writer tensor, sharing its storage when that is already exactly the
/// tensor's elements (no copy of a large model just to save it).
func writerTensor(_ name: String, _ value: Tensor) -> SafetensorsWriter.Tensor {
    let plain = value.offset == 0 && value.storage.count == value.count ? value : withNoGrad { value.copy() }
    return SafetensorsWriter.Tensor(name: name, shape: plain.shape, storage: plain.storage)
}

extension LlamaForCausalLM: HuggingFaceCausalLanguageModel {
    /// `config.json` for this model: its configuration plus the settings transformers would write
    /// that Align does not model (`hidden_act`, `dtype`).
    public func huggingFaceConfiguration() throws -> JSONDocument {
        var document = try JSONDocument(encoding: configuration)
        document.set("hidden_act", string: "silu")
        document.set("dtype", string: "float32")
        return document
    }

    /// Every parameter under its Hugging Face name; a tied LM head is not written (transformers
    /// 5 `save_pretrained` drops `lm_head.weight` and re-ties it on load).
    public func huggingFaceTensors() -> [SafetensorsWriter.Tensor] {
        namedParameters().map { writerTensor($0.name, $0.parameter.value) }
    }

    /// The configuration's `bos_token_id`, `eos_token_id` and `pad_token_id`.
    public var generationTokenIDs: (bos: Int?, eos: LlamaConfiguration.TokenIDs?, pad: Int?) {
        (configuration.bosTokenId, configuration.eosTokenId, configuration.padTokenId)
    }
}

extension GPT2LMHeadModel: HuggingFaceCausalLanguageModel {
    /// `config.json` for this model, with `dtype` float32.
    public func huggingFaceConfiguration() throws -> JSONDocument {
        var document = try JSONDocument(encoding: configuration)
        document.set("dtype", string: "float32")
        return document
    }

    /// Every parameter under its Hugging Face name with the Conv1D weights transposed back to
    /// their (in, out) layout; the tied LM head is not written (transformers keeps `wte`).
    public func huggingFaceTensors() -> [SafetensorsWriter.Tensor] {
        let conv1D = Set((0..<configuration.nLayer).flatMap { GPT2LMHeadModel.conv1DWeightNames(layer: $0) })
        return namedParameters().map { name, parameter in
            guard conv1D.contains(name) else { return writerTensor(name, parameter.value) }
            let stored = withNoGrad { parameter.value.transposed() }
            return SafetensorsWriter.Tensor(name: name, shape: stored.shape, storage: stored.storage)
        }
    }

    /// The configuration's `bos_token_id`, `eos_token_id` and `pad_token_id`.
    public var generationTokenIDs: (bos: Int?, eos: LlamaConfiguration.TokenIDs?, pad: Int?) {
        (configuration.bosTokenId, configuration.eosTokenId, configuration.padTokenId)
    }
}

/// Tokenizer and template files `save_pretrained` / `tokenizer.save_pretrained` leave in a model
/// folder; saving copies whichever of them the source folder has.
public let huggingFaceTokenizerFiles = [
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "chat_template.jinja", "chat_template.json", "vocab.json", "merges.txt", "tokenizer.model",
]

/// The `model_type` and `architectures` of a `config.json`, enough to choose a model class.
struct ArchitectureProbe: Decodable {
    var modelType: String?
    var architectures: [String]?
    enum CodingKeys: String, CodingKey { case modelType = "model_type", architectures }
}

/// Loads a causal LM from a Hugging Face model folder, or from a `.gguf` file of llama.cpp's
/// `llama` or `qwen2` architecture.
///
/// The folder's `config.json` picks the class: `model_type` `llama`, `qwen2` or `mistral` (or
/// architectures `LlamaForCausalLM`, `Qwen2ForCausalLM`, `MistralForCausalLM`) give
/// ``LlamaForCausalLM``; `gpt2` (`GPT2LMHeadModel`) gives ``GPT2LMHeadModel``. Anything else
/// throws ``ModelError/unsupported(_:)`` naming the architecture.
public func loadCausalLanguageModel(directory url: URL) throws -> any CausalLanguageModel {
    if url.pathExtension.lowercased() == "gguf" {
        let file = try GGUFFile(url: url)
        guard let architecture = file.architecture, LlamaConfig.architectures.contains(architecture) else {
            throw ModelError.unsupported("\(url.lastPathComponent): GGUF architecture \"\(file.architecture ?? "missing")\" (supported: llama, qwen2)")
        }
        do { return try LlamaForCausalLM(gguf: url) } catch let error as ModelError { throw error.located(in: url) }
    }
    let configURL = url.appendingPathComponent("config.json")
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
        throw ModelError.unreadable(path: url.path, reason: "no such model folder or .gguf file")
    }
    guard isDirectory.boolValue else {
        throw ModelError.unreadable(path: url.path, reason: "not a model folder (config.json + safetensors) or a .gguf file")
    }
    let probe = try readConfigurationFile(ArchitectureProbe.self, url: configURL)
    let llamaTypes: Set<String> = ["llama", "qwen2", "mistral"]
    let llamaClasses: Set<String> = ["LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM"]
    let architectures = probe.architectures ?? []
    if let type = probe.modelType {
        if llamaTypes.contains(type) { return try LlamaForCausalLM(directory: url) }
        if type == "gpt2" { return try GPT2LMHeadModel(directory: url) }
    } else if architectures.contains(where: llamaClasses.contains) {
        return try LlamaForCausalLM(directory: url)
    } else if architectures.contains("GPT2LMHeadModel") {
        return try GPT2LMHeadModel(directory: url)
    }
    let named = [probe.modelType.map { "model_type \"\($0)\"" }, architectures.isEmpty ? nil : "architectures \(architectures)"]
        .compactMap { $0 }.joined(separator: ", ")
    throw ModelError.unsupported("\(configURL.path): \(named.isEmpty ? "no model_type or architectures" : named) (supported: llama, qwen2, mistral, gpt2)")
}

/// Writes `model` as a Hugging Face model folder that `from_pretrained` loads:
/// - `model.safetensors`: fp32, Hugging Face names and layouts, tied tensors once, header
///   metadata `{"format":"pt"}` (sharded with an index beyond 50 GB, `save_pretrained`'s default);
/// - `config.json`: the source folder's file key for key, with only what saving changes applied
///   (`dtype` becomes float32, plus any setting of the model's configuration that differs), or a
///   generated one when there is no source folder;
/// - `generation_config.json`: copied from the source folder, or generated from the token ids;
/// - every tokenizer file of ``huggingFaceTokenizerFiles`` the source folder has;
/// - `extraFiles`, file name to contents (e.g. tokenizer files generated for a model loaded from a
///   GGUF file), written last so they take the place of any copied file of the same name.
///
/// Everything is written into a temporary sibling folder which then replaces `directory` (a
/// previous folder there is moved aside and removed only once the new one is in place), so a
/// crash never leaves a half-written model under `directory`.
public func saveCausalLanguageModel(_ model: any CausalLanguageModel, to directory: URL, sourceDirectory: URL? = nil,
                                    extraFiles: [String: Data] = [:]) throws {
    guard let model = model as? any HuggingFaceCausalLanguageModel else {
        throw ModelError.unsupported("saving \(type(of: model)) in Hugging Face layout")
    }
    // Plain names only: an extra file must land inside the folder, never beside or above it.
    for name in extraFiles.keys where name.isEmpty || name == "." || name == ".." || name.contains("/") {
        throw ModelError.unsupported("extra file name \"\(name)\": not a plain file name")
    }
    let fm = FileManager.default
    let destination = directory.standardizedFileURL
    let parent = destination.deletingLastPathComponent()
    let staging = parent.appendingPathComponent(".\(destination.lastPathComponent).saving-\(UUID().uuidString)")
    do {
        try fm.createDirectory(at: staging, withIntermediateDirectories: true)
    } catch {
        throw ModelError.unreadable(path: staging.path, reason: "cannot create: \(error.localizedDescription)")
    }
    do {
        try writeFolderContents(model, into: staging, sourceDirectory: sourceDirectory)
        for (name, data) in extraFiles.sorted(by: { $0.key < $1.key }) {
            try writeFile(data, to: staging.appendingPathComponent(name))
        }
        try replaceDirectory(destination, with: staging)
    } catch {
        try? fm.removeItem(at: staging)
        throw error
    }
}

/// The model folder's files, written into `folder`.
private func writeFolderContents(_ model: any HuggingFaceCausalLanguageModel, into folder: URL, sourceDirectory: URL?) throws {
    let fm = FileManager.default
    try SafetensorsWriter.writeSharded(model.huggingFaceTensors(), metadata: [("format", "pt")], to: folder,
                                       maxShardBytes: 50_000_000_000)
    let generated = try model.huggingFaceConfiguration()
    var config = generated
    if let source = sourceDirectory?.appendingPathComponent("config.json"), fm.fileExists(atPath: source.path) {
        config = try JSONDocument(contentsOf: source)
        let sourceType = config.stringValue(forKey: "model_type"), ownType = generated.stringValue(forKey: "model_type")
        guard sourceType == nil || sourceType == ownType else {
            throw ModelError.unsupported("\(source.path) describes model_type \"\(sourceType!)\", the model is \"\(ownType ?? "?")\"")
        }
        config.merge(changesFrom: generated)
        // transformers 4 wrote the dtype as `torch_dtype`; keep one key, now saying what we wrote.
        if config.contains("torch_dtype") && !config.contains("dtype") { config.set("torch_dtype", string: "float32") }
    }
    try writeFile(config.data(), to: folder.appendingPathComponent("config.json"))

    let generationSource = sourceDirectory?.appendingPathComponent("generation_config.json")
    if let generationSource, fm.fileExists(atPath: generationSource.path) {
        try copyFile(generationSource, to: folder.appendingPathComponent("generation_config.json"))
    } else {
        struct GenerationConfig: Encodable {
            var fromModelConfig = true
            var bos: Int?, eos: LlamaConfiguration.TokenIDs?, pad: Int?
            enum CodingKeys: String, CodingKey { case fromModelConfig = "_from_model_config", bos = "bos_token_id", eos = "eos_token_id", pad = "pad_token_id" }
        }
        let ids = model.generationTokenIDs
        let document = try JSONDocument(encoding: GenerationConfig(bos: ids.bos, eos: ids.eos, pad: ids.pad))
        try writeFile(document.data(), to: folder.appendingPathComponent("generation_config.json"))
    }
    if let sourceDirectory {
        for name in huggingFaceTokenizerFiles {
            let file = sourceDirectory.appendingPathComponent(name)
            if fm.fileExists(atPath: file.path) { try copyFile(file, to: folder.appendingPathComponent(name)) }
        }
    }
}

private func writeFile(_ data: Data, to url: URL) throws {
    do { try data.write(to: url) } catch {
        throw ModelError.unreadable(path: url.path, reason: "cannot write: \(error.localizedDescription)")
    }
}

private func copyFile(_ source: URL, to destination: URL) throws {
    do { try FileManager.default.copyItem(at: source, to: destination) } catch {
        throw ModelError.unreadable(path: source.path, reason: "cannot copy to \(destination.path): \(error.localizedDescription)")
    }
}

/// Puts `staging` at `destination` by rename. rename(2) cannot replace a non-empty folder, so an
/// existing one is first renamed aside and deleted only after the new folder is in place.
private func replaceDirectory(_ destination: URL, with staging: URL) throws {
    let fm = FileManager.default
    var backup: URL?
    if fm.fileExists(atPath: destination.path) {
        let aside = destination.deletingLastPathComponent()
            .appendingPathComponent(".\(destination.lastPathComponent).replaced-\(UUID().uuidString)")
        guard rename(destination.path, aside.path) == 0 else {
            throw ModelError.unreadable(path: destination.path, reason: "cannot move the old folder aside: \(String(cString: strerror(errno)))")
        }
        backup = aside
    }
    guard rename(staging.path, destination.path) == 0 else {
        let reason = String(cString: strerror(errno))
        if let backup { _ = rename(backup.path, destination.path) }
        throw ModelError.unreadable(path: destination.path, reason: "cannot move the saved folder into place: \(reason)")
    }
    if let backup { try? fm.removeItem(at: backup) }
}
