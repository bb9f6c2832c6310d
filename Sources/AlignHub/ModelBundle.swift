import AlignModelIO
import AlignModels
import AlignNN
import AlignTensor
import AlignTemplates
import AlignTokenizers
import Foundation

/// A model with everything needed to talk to it: the network, its tokenizer and chat template,
/// and where they came from (a Hugging Face folder or a llama.cpp GGUF file).
public struct ModelBundle {
    /// The network.
    public let model: any CausalLanguageModel
    /// The folder or `.gguf` file the model was loaded from.
    public let source: URL
    /// The tokenizer, its chat template and their source.
    let text: BundleText
    /// `general.name` of the GGUF file the model was loaded from (nil for a folder).
    let ggufName: String?

    /// The tokenizer (from ``tokenizerSource``).
    public var tokenizer: Tokenizer { text.tokenizer }
    /// The chat template, when the tokenizer files (or the GGUF metadata) carry one.
    public var chatTemplate: ChatTemplate? { text.chatTemplate }
    /// Where the tokenizer and chat template came from: ``source``, unless this bundle was made by
    /// ``withModel(loadedFrom:)`` from another model's bundle.
    public var tokenizerSource: URL { text.source }
    /// The vocabulary read from the GGUF file the tokenizer came from (nil for a folder): what
    /// `save(to:)` writes out as Hugging Face tokenizer files, since a GGUF carries no tokenizer.json.
    public var vocabulary: BPEVocabulary? { text.vocabulary }

    /// Whether `source` is a GGUF file (otherwise a Hugging Face folder).
    public var isGGUF: Bool { source.pathExtension.lowercased() == "gguf" }

    /// Loads `path`: a folder with `config.json` + safetensors + tokenizer files, or a `.gguf`,
    /// which is opened once and read for both the weights and the tokenizer.
    public init(path: String) throws {
        let url = try existingModelURL(path)
        let gguf = try openedGGUF(url)
        let model = try gguf.map { try loadCausalLanguageModel(gguf: $0) } ?? loadCausalLanguageModel(directory: url)
        let text = try BundleText(source: url, gguf: gguf, modelVocabularySize: model.vocabularySize, modelSource: url)
        self.init(model: model, source: url, text: text, ggufName: gguf?.metadata["general.name"]?.stringValue)
    }

    private init(model: any CausalLanguageModel, source: URL, text: BundleText, ggufName: String?) {
        self.model = model
        self.source = source
        self.text = text
        self.ggufName = ggufName
    }

    /// A bundle with a second model and this bundle's tokenizer and chat template: only the weights
    /// of `path` (a folder or `.gguf`; default this bundle's own source) are loaded, through the
    /// same loader as ``init(path:)``, and no tokenizer or template is built again. For a reference
    /// model beside a policy. Throws if the tokenizer has ids beyond the model's embedding rows.
    public func withModel(loadedFrom path: String? = nil) throws -> ModelBundle {
        let url = try path.map(existingModelURL) ?? source
        let gguf = try openedGGUF(url)
        let model = try gguf.map { try loadCausalLanguageModel(gguf: $0) } ?? loadCausalLanguageModel(directory: url)
        try text.check(fits: model.vocabularySize, modelSource: url)
        return ModelBundle(model: model, source: url, text: text, ggufName: gguf?.metadata["general.name"]?.stringValue)
    }

    /// Saves the (trained) model in Hugging Face layout, copying config files from a source folder
    /// and tokenizer files from the tokenizer's folder when there are such. A tokenizer loaded from
    /// a GGUF file gets `tokenizer.json`, `tokenizer_config.json` and `special_tokens_map.json`
    /// generated from its vocabulary, so the folder loads with `AutoTokenizer` (and
    /// `Tokenizer(directory:)`) and encodes as before.
    ///
    /// A model with adapters attached saves the adapters instead, in PEFT's layout
    /// (``saveAdapter(to:)``): the trained weights are only those.
    public func save(to directory: URL) throws {
        if model.hasAdapters { return try saveAdapter(to: directory) }
        try saveCausalLanguageModel(model, to: directory, sourceDirectory: isGGUF ? nil : source,
                                    tokenizerDirectory: text.isGGUF ? nil : text.source, extraFiles: try text.generatedTokenizerFiles())
    }

    /// What an adapter saved from this bundle names as its base (`base_model_name_or_path`): the
    /// Hub id or path the user gave, when set, else the source path.
    public var baseModelName: String?

    /// Attaches the PEFT adapter in `path` (a folder with `adapter_config.json` and
    /// `adapter_model.safetensors`; r, α and targets come from its config) and freezes the base.
    @discardableResult
    public func loadAdapter(from path: String) throws -> LoRAConfiguration {
        let url = URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
        guard PEFTAdapter.isAdapterFolder(url) else {
            throw ModelError.unreadable(path: url.path, reason: "no \(PEFTAdapter.configFile): not a PEFT adapter folder")
        }
        return try PEFTAdapter.load(into: model, from: url)
    }

    /// Writes the attached adapters as PEFT does (`adapter_config.json`, `adapter_model.safetensors`)
    /// with the tokenizer files, as TRL leaves a PEFT run's output folder.
    public func saveAdapter(to directory: URL) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        try PEFTAdapter.save(model, baseModel: baseModelName ?? source.path, to: directory)
        if !text.isGGUF {
            for name in huggingFaceTokenizerFiles {
                let file = text.source.appendingPathComponent(name), target = directory.appendingPathComponent(name)
                guard fm.fileExists(atPath: file.path) else { continue }
                try? fm.removeItem(at: target)
                try fm.copyItem(at: file, to: target)
            }
        }
        for (name, data) in try text.generatedTokenizerFiles() {
            try data.write(to: directory.appendingPathComponent(name))
        }
    }

    /// The id used to pad batches: the tokenizer's pad token, else its EOS token, else 0.
    public var padID: Int32 { Int32(tokenizer.padTokenID ?? tokenizer.eosTokenID ?? 0) }
}

extension ModelBundle {
    /// Writes a Llama-family model as an F32 (or F16) GGUF file that llama.cpp, transformers'
    /// GGUF reader and Align load: Qwen2 as llama.cpp's `qwen2` architecture (attention biases,
    /// Q/K rows as Hugging Face has them), Llama and Mistral as `llama` (Q/K rows permuted, as
    /// llama.cpp's converter does). The file carries the tokenizer and chat template: a model
    /// loaded from a GGUF file keeps that file's `tokenizer.*` metadata; one loaded from a Hugging
    /// Face folder gets its tokenizer written as `tokenizer.ggml.*` entries
    /// (``AlignTokenizers/Tokenizer/ggufVocabulary(vocabularySize:contextLength:)``), so the
    /// file encodes, renders chats and computes exactly as the folder did.
    ///
    /// Throws rather than write a file that would compute differently: for RoPE scaling (llama.cpp
    /// keeps llama3 scaling as a `rope_freqs` table no reader here turns back into the setting),
    /// for architectures other than these, and for tokenizers GGUF cannot express.
    public func saveGGUF(to url: URL, type: GGMLType = .f32) throws {
        guard let llama = model as? LlamaForCausalLM else {
            throw ModelError.unsupported("GGUF export of \(Swift.type(of: model)); only Llama, Qwen2 and Mistral models are written")
        }
        var configuration = llama.configuration
        // Refused before any tensor is copied or the tokenizer converted.
        _ = try LlamaWeightMapping.ggufArchitecture(of: configuration)
        var seen = Set<ObjectIdentifier>()
        // Adapters are written merged into their layers' weights (the model itself is unchanged).
        var merged: [ObjectIdentifier: Tensor] = [:]
        for (_, linear, adapter) in llama.adaptedLinears() {
            merged[ObjectIdentifier(linear.weight)] = adapter.mergedWeight(linear.weight.value)
        }
        let tensors: [LlamaWeightMapping.NamedTensor] = llama.namedParameters().compactMap { name, p in
            guard seen.insert(ObjectIdentifier(p)).inserted else { return nil }
            let value = merged[ObjectIdentifier(p)] ?? p.value.copy()
            return (name: name, shape: p.shape, storage: value.storage)
        }
        var extra: [(key: String, value: GGUFValue)] = []
        if text.isGGUF {
            extra = text.ggufTokenizerMetadata
        } else {
            let vocabulary = try tokenizer.ggufVocabulary(vocabularySize: configuration.vocabSize)
            guard vocabulary.tokens.count == configuration.vocabSize else {
                throw ModelError.unsupported("GGUF export: the tokenizer has \(vocabulary.tokens.count) tokens, the model \(configuration.vocabSize) embedding rows")
            }
            extra = vocabulary.ggufMetadata
            // The special ids are the tokenizer's: config.json's (a bos_token_id the tokenizer does
            // not use, say) would make the GGUF tokenizer another one.
            configuration.bosTokenId = nil
            configuration.eosTokenId = nil
            configuration.padTokenId = nil
        }
        try LlamaWeightMapping.writeGGUF(huggingFaceTensors: tensors, configuration: configuration, name: ggufModelName,
                                         extraMetadata: extra, type: type, to: url)
    }

    /// `general.name`: a GGUF source's own name, else the folder name with each word capitalised,
    /// as llama.cpp's converter names a model from its folder ("mistral" → "Mistral"). The bare
    /// lower-case "mistral" would also trip transformers' GGUF reader, which takes a llama file of
    /// exactly that name for a Mistral one and then finds no gguf-py tensor map for it.
    var ggufModelName: String {
        if isGGUF, let ggufName { return ggufName }
        var result = "", afterLetter = false
        for character in source.deletingPathExtension().lastPathComponent {
            result += afterLetter ? String(character) : character.uppercased()
            afterLetter = character.isLetter
        }
        return result
    }
}
