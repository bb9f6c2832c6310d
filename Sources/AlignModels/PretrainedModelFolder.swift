import AlignKernels
import AlignModelIO
import AlignNN
import AlignTensor
import Foundation

/// A causal LM stored as a Hugging Face model folder (`save_pretrained` layout): each architecture's
/// weight mapping (`Llama/LlamaWeightMapping.swift`, `GPT2/GPT2WeightMapping.swift`) says how its
/// parameters are named and laid out on disk, which is all that loading, saving and restoring a
/// checkpoint in place need.
public protocol HuggingFaceCausalLanguageModel: CausalLanguageModel {
    /// `config.json` generated from the model's configuration, with Hugging Face's key names.
    func huggingFaceConfiguration() throws -> JSONDocument
    /// The state dict exactly as `save_pretrained` writes it: Hugging Face names and on-disk
    /// layouts, each tied tensor once (under the name transformers keeps), values in fp32.
    func huggingFaceTensors() -> [SafetensorsWriter.Tensor]
    /// The `bos`/`eos`/`pad` token ids for a generated `generation_config.json`.
    var generationTokenIDs: (bos: Int?, eos: LlamaConfiguration.TokenIDs?, pad: Int?) { get }
    /// The transformers class of this architecture with a sequence-classification head
    /// (`LlamaForSequenceClassification`, ...): a reward model's `architectures`.
    var sequenceClassificationClassName: String { get }
    /// The checkpoint of a folder saved from this model (headers only), opened with the names this
    /// architecture's checkpoints use and checked to hold exactly this model's layers.
    func checkpointWeights(in directory: URL) throws -> CheckpointWeights
    /// Parameters whose checkpoint layout is the transpose of the model's (GPT-2's Conv1D weights).
    var transposedParameterNames: Set<String> { get }
}

extension CausalLanguageModel {
    /// Restores this model's weights in place from a Hugging Face folder saved from a model of the
    /// same configuration (a training checkpoint): every parameter is found by name, checked
    /// (floating-point dtype, shape, the checkpoint's layer count) before any is replaced, and
    /// loaded into the existing parameter, so optimiser state and references to the parameters
    /// stay valid and no second model is built. File checksums are the caller's (the trainer
    /// verifies `checksums.json` first).
    ///
    /// A model training adapters restores only them, from the PEFT files in `directory`
    /// (``PEFTAdapter/restore(into:from:modulesToSave:)``): its base is frozen and unchanged.
    public func loadWeights(from directory: URL) throws {
        if hasAdapters {
            try PEFTAdapter.restore(into: self, from: directory)
            return
        }
        guard let model = self as? any HuggingFaceCausalLanguageModel else {
            throw ModelError.unsupported("restoring \(type(of: self)) from a Hugging Face folder")
        }
        try model.checkpointWeights(in: directory).restore(model, transposed: model.transposedParameterNames)
    }
}

/// A parameter's value as a writer tensor, sharing its storage when that is already exactly the
/// tensor's elements (no copy of a large model just to save it).
func writerTensor(_ name: String, _ value: Tensor) -> SafetensorsWriter.Tensor {
    let plain = value.offset == 0 && value.storage.count == value.count ? value : withNoGrad { value.copy() }
    return SafetensorsWriter.Tensor(name: name, shape: plain.shape, storage: plain.storage)
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
        return try loadCausalLanguageModel(gguf: GGUFFile(url: url))
    }
    return try loadHuggingFaceFolder(url, languageModelHead: true).model
}

/// Loads a causal LM from a GGUF file the caller has opened (and may go on reading: its tokenizer,
/// say), so the file is parsed once. Only llama.cpp's `llama` and `qwen2` architectures load.
public func loadCausalLanguageModel(gguf file: GGUFFile) throws -> any CausalLanguageModel {
    try loadGGUF(file, languageModelHead: true)
}

/// The GGUF loader; with `languageModelHead` false, the decoder alone (a reward model's body).
func loadGGUF(_ file: GGUFFile, languageModelHead: Bool) throws -> any HuggingFaceCausalLanguageModel {
    guard let architecture = file.architecture, LlamaWeightMapping.ggufArchitectures.contains(architecture) else {
        throw ModelError.unsupported("\(file.url.lastPathComponent): GGUF architecture \"\(file.architecture ?? "missing")\" (supported: llama, qwen2)")
    }
    do { return try LlamaForCausalLM(gguf: file, languageModelHead: languageModelHead) } catch let error as ModelError { throw error.located(in: file.url) }
}

/// The architectures a Hugging Face folder may hold.
enum FolderArchitecture { case llama, gpt2 }

/// Which architecture a folder's `config.json` names (see ``loadCausalLanguageModel(directory:)``).
func folderArchitecture(_ url: URL) throws -> FolderArchitecture {
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
        if llamaTypes.contains(type) { return .llama }
        if type == "gpt2" { return .gpt2 }
    } else if architectures.contains(where: llamaClasses.contains) {
        return .llama
    } else if architectures.contains("GPT2LMHeadModel") {
        return .gpt2
    }
    let named = [probe.modelType.map { "model_type \"\($0)\"" }, architectures.isEmpty ? nil : "architectures \(architectures)"]
        .compactMap { $0 }.joined(separator: ", ")
    throw ModelError.unsupported("\(configURL.path): \(named.isEmpty ? "no model_type or architectures" : named) (supported: llama, qwen2, mistral, gpt2)")
}

/// Loads a Hugging Face folder through its architecture's weight mapping, returning the opened
/// checkpoint too; with `languageModelHead` false, the body alone (a reward model reads its
/// `score.weight` from the same checkpoint).
func loadHuggingFaceFolder(_ url: URL, languageModelHead: Bool) throws -> (model: any HuggingFaceCausalLanguageModel, checkpoint: CheckpointWeights) {
    switch try folderArchitecture(url) {
    case .llama:
        let loaded = try LlamaForCausalLM.load(folder: url, languageModelHead: languageModelHead)
        return (loaded.model, loaded.checkpoint)
    case .gpt2:
        let loaded = try GPT2LMHeadModel.load(folder: url, languageModelHead: languageModelHead)
        return (loaded.model, loaded.checkpoint)
    }
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
    try saveCausalLanguageModel(model, to: directory, sourceDirectory: sourceDirectory, tokenizerDirectory: sourceDirectory,
                                extraFiles: extraFiles)
}

/// ``saveCausalLanguageModel(_:to:sourceDirectory:extraFiles:)`` with the tokenizer files copied
/// from `tokenizerDirectory` (none when nil) rather than from the source folder: for a model
/// loaded from one place and paired with another model's tokenizer.
public func saveCausalLanguageModel(_ model: any CausalLanguageModel, to directory: URL, sourceDirectory: URL?,
                                    tokenizerDirectory: URL?, extraFiles: [String: Data] = [:]) throws {
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
        try writeFolderContents(model, into: staging, sourceDirectory: sourceDirectory, tokenizerDirectory: tokenizerDirectory)
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
private func writeFolderContents(_ model: any HuggingFaceCausalLanguageModel, into folder: URL, sourceDirectory: URL?,
                                 tokenizerDirectory: URL?) throws {
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
    if let tokenizerDirectory {
        for name in huggingFaceTokenizerFiles {
            let file = tokenizerDirectory.appendingPathComponent(name)
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
