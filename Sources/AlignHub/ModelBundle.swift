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
        let c = llama.configuration
        let architecture: String
        switch c.modelType {
        case "qwen2":
            guard c.attentionBias else { throw ModelError.unsupported("GGUF export of a qwen2 model without attention biases") }
            architecture = "qwen2"
        case "llama", "mistral": architecture = "llama"
        default: throw ModelError.unsupported("GGUF export of model_type \"\(c.modelType)\" (supported: llama, qwen2, mistral)")
        }
        if let scaling = c.ropeScaling, scaling.ropeType != "default" {
            throw ModelError.unsupported("GGUF export of rope_scaling \"\(scaling.ropeType)\": llama.cpp keeps it as a rope_freqs table that neither Align nor transformers' GGUF reader turns back into the setting, so the file would not compute as the model does")
        }
        var config = LlamaConfig(hiddenSize: c.hiddenSize, layerCount: c.numHiddenLayers, headCount: c.numAttentionHeads,
                                 keyValueHeadCount: c.numKeyValueHeads, intermediateSize: c.intermediateSize,
                                 rmsNormEpsilon: Double(c.rmsNormEps), ropeTheta: Double(c.ropeTheta),
                                 vocabularySize: c.vocabSize, maxPositionEmbeddings: c.maxPositionEmbeddings,
                                 tieWordEmbeddings: c.tieWordEmbeddings, headDimension: c.resolvedHeadDim,
                                 bosTokenID: c.bosTokenId, eosTokenID: c.eosTokenId?.all.first, padTokenID: c.padTokenId,
                                 architecture: architecture, attentionBias: c.attentionBias)
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
        } else {
            let vocabulary = try tokenizer.ggufVocabulary(vocabularySize: c.vocabSize)
            guard vocabulary.tokens.count == c.vocabSize else {
                throw ModelError.unsupported("GGUF export: the tokenizer has \(vocabulary.tokens.count) tokens, the model \(c.vocabSize) embedding rows")
            }
            extra = vocabulary.ggufMetadata
            // The special ids are the tokenizer's: config.json's (a bos_token_id the tokenizer does
            // not use, say) would make the GGUF tokenizer another one.
            config.bosTokenID = nil
            config.eosTokenID = nil
            config.padTokenID = nil
        }
        try LlamaGGUF.write(huggingFaceTensors: tensors, config: config, name: ggufModelName,
                            extraMetadata: extra, type: type, to: url)
    }

    /// `general.name`: a GGUF source's own name, else the folder name with each word capitalised,
    /// as llama.cpp's converter names a model from its folder ("mistral" → "Mistral"). The bare
    /// lower-case "mistral" would also trip transformers' GGUF reader, which takes a llama file of
    /// exactly that name for a Mistral one and then finds no gguf-py tensor map for it.
    var ggufModelName: String {
        if isGGUF, let name = (try? GGUFFile(url: source))?.metadata["general.name"]?.stringValue { return name }
        var result = "", afterLetter = false
        for character in source.deletingPathExtension().lastPathComponent {
            result += afterLetter ? String(character) : character.uppercased()
            afterLetter = character.isLetter
        }
        return result
    }
}
