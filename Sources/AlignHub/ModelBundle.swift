import AlignModelIO
import AlignModels
import AlignTemplates
import AlignTokenizers
import Foundation

/// A model with everything needed to talk to it: the network, its tokenizer and chat template,
/// and where it came from (a Hugging Face folder or a llama.cpp GGUF file).
public struct ModelBundle {
    public let model: any CausalLanguageModel
    public let tokenizer: Tokenizer
    public let chatTemplate: ChatTemplate?
    /// The folder or `.gguf` file it was loaded from.
    public let source: URL
    /// The vocabulary read from the GGUF file the bundle was loaded from (nil for a folder): what
    /// `save(to:)` writes out as Hugging Face tokenizer files, since a GGUF carries no tokenizer.json.
    public let vocabulary: BPEVocabulary?

    /// Whether `source` is a GGUF file (otherwise a Hugging Face folder).
    public var isGGUF: Bool { source.pathExtension.lowercased() == "gguf" }

    /// Loads `path`: a folder with `config.json` + safetensors + tokenizer files, or a `.gguf`.
    public init(path: String) throws {
        let url = URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ModelIOError.io(path: url.path, reason: "no such file or folder")
        }
        source = url
        model = try loadCausalLanguageModel(directory: url)
        vocabulary = url.pathExtension.lowercased() == "gguf" ? try BPEVocabulary(gguf: GGUFFile(url: url)) : nil
        let tok = try vocabulary.map { try Tokenizer(vocabulary: $0, source: url.path) } ?? Tokenizer(directory: url)
        // Every id the tokenizer can produce indexes the model's embedding rows; one past them would read
        // outside the table (unchecked in release builds) instead of failing.
        if tok.vocabularySize > model.vocabularySize {
            let tokenizerSource = vocabulary == nil ? url.appendingPathComponent("tokenizer.json").path : url.path
            throw TokenizerError(tokenizerSource, "the tokenizer has ids up to \(tok.vocabularySize - 1), but the model has only "
                                 + "\(model.vocabularySize) embedding rows (vocab_size in \(vocabulary == nil ? "config.json" : "the GGUF metadata"))")
        }
        tokenizer = tok
        var context: [String: TemplateValue] = [:]
        if let bos = tok.bosToken { context["bos_token"] = .string(bos) }
        if let eos = tok.eosToken { context["eos_token"] = .string(eos) }
        chatTemplate = try tok.chatTemplate.map { try ChatTemplate($0, defaultContext: context, origin: tok.chatTemplateOrigin) }
    }

    /// Saves the (trained) model in Hugging Face layout, copying config and tokenizer files from
    /// a source folder when there is one. A model loaded from a GGUF file gets `tokenizer.json`,
    /// `tokenizer_config.json` and `special_tokens_map.json` generated from its vocabulary, so the
    /// folder loads with `AutoTokenizer` (and `Tokenizer(directory:)`) and encodes as before.
    public func save(to directory: URL) throws {
        let tokenizerFiles = try vocabulary?.huggingFaceTokenizerFiles() ?? [:]
        try saveCausalLanguageModel(model, to: directory, sourceDirectory: isGGUF ? nil : source, extraFiles: tokenizerFiles)
    }

    /// The id used to pad batches: the tokenizer's pad token, else its EOS token, else 0.
    public var padID: Int32 { Int32(tokenizer.padTokenID ?? tokenizer.eosTokenID ?? 0) }
}

extension ModelBundle {
    /// Writes a Llama-family model as an F32 (or F16) llama-architecture GGUF that llama.cpp reads.
    /// When the model came from a GGUF file, its `tokenizer.*` metadata (vocabulary, merges,
    /// special ids, chat template) is carried over so the file is self-contained.
    public func saveGGUF(to url: URL, type: GGMLType = .f32) throws {
        guard let llama = model as? LlamaForCausalLM else {
            throw ModelError.unsupported("GGUF export of \(Swift.type(of: model)); only Llama-family models are written")
        }
        let c = llama.configuration
        let config = LlamaConfig(hiddenSize: c.hiddenSize, layerCount: c.numHiddenLayers, headCount: c.numAttentionHeads,
                                 keyValueHeadCount: c.numKeyValueHeads, intermediateSize: c.intermediateSize,
                                 rmsNormEpsilon: Double(c.rmsNormEps), ropeTheta: Double(c.ropeTheta),
                                 vocabularySize: c.vocabSize, maxPositionEmbeddings: c.maxPositionEmbeddings,
                                 tieWordEmbeddings: c.tieWordEmbeddings, headDimension: c.resolvedHeadDim,
                                 bosTokenID: c.bosTokenId, eosTokenID: c.eosTokenId?.all.first, padTokenID: c.padTokenId)
        var seen = Set<ObjectIdentifier>()
        let tensors: [LlamaGGUF.NamedTensor] = llama.namedParameters().compactMap { name, p in
            guard seen.insert(ObjectIdentifier(p)).inserted else { return nil }
            return (name: name, shape: p.shape, storage: p.value.copy().storage)
        }
        var extra: [(key: String, value: GGUFValue)] = []
        if isGGUF {
            let source = try GGUFFile(url: self.source)
            for key in source.metadataKeys where key.hasPrefix("tokenizer.") {
                if let value = source.metadata[key] { extra.append((key: key, value: value)) }
            }
        }
        try LlamaGGUF.write(huggingFaceTensors: tensors, config: config, extraMetadata: extra, type: type, to: url)
    }
}
