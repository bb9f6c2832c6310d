import AlignModelIO
import AlignTemplates
import AlignTokenizers
import Foundation

/// The text side every bundle shares: a tokenizer and chat template read from a Hugging Face
/// folder (tokenizer.json, tokenizer_config.json, chat_template.jinja) or from an opened GGUF
/// file's `tokenizer.*` metadata, plus what exporting them needs afterwards. The GGUF file itself
/// is not kept (its memory mapping is released once loading is done); only its tokenizer entries.
struct BundleText {
    let tokenizer: Tokenizer
    let chatTemplate: ChatTemplate?
    /// The folder or `.gguf` file the tokenizer was read from.
    let source: URL
    /// The vocabulary of a GGUF source (nil for a folder).
    let vocabulary: BPEVocabulary?
    /// A GGUF source's `tokenizer.*` metadata keys in file order, with their values: copied
    /// verbatim into an exported GGUF file.
    let ggufTokenizerKeys: [String]
    let ggufTokenizerValues: [String: GGUFValue]

    /// Whether the tokenizer came from a GGUF file.
    var isGGUF: Bool { vocabulary != nil }

    /// Reads the tokenizer of `source` (from `gguf`, its opened file, when it is one), checks that
    /// every id it can produce has an embedding row in a model of `modelVocabularySize` rows loaded
    /// from `modelSource`, then builds the chat template.
    init(source: URL, gguf: GGUFFile?, modelVocabularySize: Int, modelSource: URL) throws {
        self.source = source
        vocabulary = try gguf.map { try BPEVocabulary(gguf: $0) }
        let tok = try vocabulary.map { try Tokenizer(vocabulary: $0, source: source.path) } ?? Tokenizer(directory: source)
        try BundleText.check(tok, fromGGUF: gguf != nil, source: source, fits: modelVocabularySize, modelSource: modelSource)
        tokenizer = tok
        var context: [String: TemplateValue] = [:]
        if let bos = tok.bosToken { context["bos_token"] = .string(bos) }
        if let eos = tok.eosToken { context["eos_token"] = .string(eos) }
        chatTemplate = try tok.chatTemplate.map { try ChatTemplate($0, defaultContext: context, origin: tok.chatTemplateOrigin) }
        let keys = gguf?.metadataKeys.filter { $0.hasPrefix("tokenizer.") } ?? []
        ggufTokenizerKeys = keys
        ggufTokenizerValues = Dictionary(uniqueKeysWithValues: keys.compactMap { key in gguf?.metadata[key].map { (key, $0) } })
    }

    /// Checks that this tokenizer fits a model of `modelVocabularySize` rows loaded from `modelSource`.
    func check(fits modelVocabularySize: Int, modelSource: URL) throws {
        try BundleText.check(tokenizer, fromGGUF: isGGUF, source: source, fits: modelVocabularySize, modelSource: modelSource)
    }

    /// Every id the tokenizer can produce indexes the model's embedding rows; one past them would
    /// read outside the table (unchecked in release builds) instead of failing.
    private static func check(_ tok: Tokenizer, fromGGUF: Bool, source: URL, fits modelVocabularySize: Int, modelSource: URL) throws {
        guard tok.vocabularySize > modelVocabularySize else { return }
        let tokenizerSource = fromGGUF ? source.path : source.appendingPathComponent("tokenizer.json").path
        let modelIsGGUF = modelSource.pathExtension.lowercased() == "gguf"
        var setting = modelIsGGUF ? "the GGUF metadata" : "config.json"
        if modelSource.standardizedFileURL != source.standardizedFileURL {
            setting += " of \(modelIsGGUF ? modelSource.path : modelSource.appendingPathComponent("config.json").path)"
        }
        throw TokenizerError(tokenizerSource, "the tokenizer has ids up to \(tok.vocabularySize - 1), but the model has only "
                             + "\(modelVocabularySize) embedding rows (vocab_size in \(setting))")
    }

    /// The `tokenizer.*` entries of a GGUF source, in file order (empty for a folder).
    var ggufTokenizerMetadata: [(key: String, value: GGUFValue)] {
        ggufTokenizerKeys.compactMap { key in ggufTokenizerValues[key].map { (key: key, value: $0) } }
    }

    /// Hugging Face tokenizer files for a GGUF source (generated from its vocabulary), none for a
    /// folder (whose own files are copied instead).
    func generatedTokenizerFiles() throws -> [String: Data] {
        try vocabulary?.huggingFaceTokenizerFiles() ?? [:]
    }
}

/// A model path as given (`~` expanded), checked to exist.
func existingModelURL(_ path: String) throws -> URL {
    let url = URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
    guard FileManager.default.fileExists(atPath: url.path) else {
        throw ModelIOError.io(path: url.path, reason: "no such file or folder")
    }
    return url
}

/// The parsed GGUF file at `url` when it is one (opened once, then passed to every reader), else nil.
func openedGGUF(_ url: URL) throws -> GGUFFile? {
    url.pathExtension.lowercased() == "gguf" ? try GGUFFile(url: url) : nil
}
