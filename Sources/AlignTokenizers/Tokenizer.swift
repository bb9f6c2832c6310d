import Foundation

/// A Hugging Face-compatible BPE tokenizer: byte-level BPE (GPT-2, Llama-3, Qwen2, SmolLM2) and
/// SentencePiece-style BPE with byte fallback (Llama-2, Mistral), loaded from `tokenizer.json` (+
/// `tokenizer_config.json`) or built from raw vocabulary arrays (a GGUF file's).
///
/// Encoding runs the same pipeline as the `tokenizers` library: added tokens are matched first and
/// never split; the text between them is normalized, pre-tokenized into words, and each word is
/// BPE-encoded (with a per-word cache); the post-processor adds special tokens on request.
///
/// ```swift
/// let tokenizer = try Tokenizer(directory: URL(fileURLWithPath: "SmolLM2-135M-Instruct"))
/// let ids = tokenizer.encode("Hello world", addSpecialTokens: false)
/// let text = tokenizer.decode(ids, skipSpecialTokens: true)
/// ```
///
/// Instances are immutable apart from an internal, lock-protected word cache, so they can be shared
/// across threads.
public final class Tokenizer: @unchecked Sendable {
    let model: BPEModel
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let postProcessor: PostProcessor?
    let decoder: Decoder?
    /// Added tokens matched on the raw text (`normalized: false`), then those matched on normalized text.
    let rawMatcher: AddedTokenMatcher
    let normalizedMatcher: AddedTokenMatcher
    /// Token string of every id (added tokens override the model's spelling).
    let tokens: [String?]
    let addedIDs: [String: Int]
    let specialIDs: Set<Int>
    /// The merges in priority order, as loaded; `BPEModel` keeps them only as a lookup table, and
    /// writing the vocabulary out again (`ggufVocabulary()`) needs the order.
    let mergeList: [(String, String)]

    /// The added tokens (special and user-defined), in id order.
    public let addedTokens: [AddedToken]
    /// The raw Jinja chat template (`chat_template` in tokenizer_config.json, the "default" entry when
    /// it is a list of named templates, or `chat_template.jinja` beside it), unrendered.
    public let chatTemplate: String?
    /// Where `chatTemplate` came from, for error messages: "PATH (chat_template)" for a configuration
    /// key, the path of a `chat_template.jinja`, or "PATH (tokenizer.chat_template)" for a GGUF file.
    public let chatTemplateOrigin: String?
    /// The beginning-of-sequence token's text, when configured.
    public let bosToken: String?
    /// The end-of-sequence token's text, when configured.
    public let eosToken: String?
    /// The padding token's text, when configured.
    public let padToken: String?
    /// The unknown token's text, when configured.
    public let unknownToken: String?
    /// `add_bos_token` from the configuration (or GGUF), when given.
    public let addsBOSToken: Bool?
    /// `add_eos_token` from the configuration (or GGUF), when given.
    public let addsEOSToken: Bool?
    /// `model_max_length` from the configuration (huge sentinel values are clamped to `Int.max`).
    public let modelMaxLength: Int?

    // MARK: Loading

    /// Loads `tokenizer.json` and, when present, `tokenizer_config.json` from a folder.
    /// `special_tokens_map.json` overrides a legacy configuration's special tokens when present.
    public convenience init(directory: URL) throws {
        func optional(_ name: String) -> URL? {
            let url = directory.appendingPathComponent(name)
            return FileManager.default.fileExists(atPath: url.path) ? url : nil
        }
        try self.init(tokenizerJSON: directory.appendingPathComponent("tokenizer.json"),
                      configJSON: optional("tokenizer_config.json"), specialTokensMapJSON: optional("special_tokens_map.json"))
    }

    /// Loads a `tokenizer.json`, an optional `tokenizer_config.json` and an optional
    /// `special_tokens_map.json` (whose `bos_token`, `eos_token`, `pad_token`, `unk_token` override the
    /// configuration's when the configuration has no `added_tokens_decoder`, as in transformers' legacy
    /// loading path; newer configurations carry their special tokens themselves). A `chat_template.jinja` beside the configuration is used
    /// when the configuration itself has no template (transformers 5 saves templates that way).
    ///
    /// Hostile or broken files are refused with a ``TokenizerError`` naming the file and key: invalid
    /// JSON (with line and column), an empty vocabulary, token ids outside the entries the file holds,
    /// and special tokens that are not tokens of `tokenizer.json`.
    public init(tokenizerJSON: URL, configJSON: URL? = nil, specialTokensMapJSON: URL? = nil) throws {
        let file = tokenizerJSON.path
        let root = try JSON.object(at: tokenizerJSON)
        guard let modelJSON = root["model"] as? [String: Any] else {
            throw TokenizerError(file, "missing \"model\"")
        }
        let type = modelJSON["type"] as? String ?? (modelJSON["merges"] != nil ? "BPE" : "unknown")
        guard type == "BPE" else {
            throw TokenizerError(file, "model type \"\(type)\" is not supported (only BPE)")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let affix = modelJSON[key] as? String, !affix.isEmpty {
                throw TokenizerError(file, "BPE \(key) \"\(affix)\" is not supported")
            }
        }
        guard let vocabJSON = modelJSON["vocab"] as? [String: Any] else {
            throw TokenizerError(file, "model has no \"vocab\" object")
        }
        // An empty vocabulary encodes every text to nothing, which would score every completion
        // 0.0 and train on nothing without a word of warning.
        guard !vocabJSON.isEmpty else {
            throw TokenizerError(file, "model.vocab is empty: a tokenizer needs at least one token")
        }
        let addedJSON = root["added_tokens"] as? [Any] ?? []
        // Ids index tables of that size (and the model's embedding rows), so each must fit the entries
        // the file actually holds: an id of 2^31 would otherwise allocate gigabytes before anything
        // else could complain. Real tokenizers number their tokens densely from 0.
        let idLimit = vocabJSON.count + addedJSON.count
        func checkedID(_ value: Any?, _ what: @autoclosure () -> String) throws -> Int {
            guard let id = JSON.int(value) else {
                throw TokenizerError(file, "\(what()) has no integer id (found \(JSON.describe(value)))")
            }
            guard id >= 0, id < idLimit else {
                throw TokenizerError(file, "\(what()) has id \(id), outside 0..<\(idLimit) (the file has \(vocabJSON.count) "
                                     + "vocabulary entries and \(addedJSON.count) added tokens)")
            }
            return id
        }
        var vocabulary: [String: Int32] = [:]
        vocabulary.reserveCapacity(vocabJSON.count)
        for (token, value) in vocabJSON {
            vocabulary[token] = Int32(try checkedID(value, "model.vocab entry \(JSON.quoted(token))"))
        }
        var merges: [(String, String)] = []
        let mergesJSON = modelJSON["merges"] as? [Any] ?? []
        merges.reserveCapacity(mergesJSON.count)
        for (index, entry) in mergesJSON.enumerated() {
            if let line = entry as? String {
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw TokenizerError(file, "merge \(index) \"\(line)\" is not two tokens") }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let pair = entry as? [String], pair.count == 2 {
                merges.append((pair[0], pair[1]))
            } else {
                throw TokenizerError(file, "merge \(index) is neither \"a b\" nor [\"a\", \"b\"]")
            }
        }

        normalizer = try (root["normalizer"] as? [String: Any]).map { try Normalizer(json: $0, file: file) }
        preTokenizer = try (root["pre_tokenizer"] as? [String: Any]).map { try PreTokenizer(json: $0, file: file) }
        decoder = try (root["decoder"] as? [String: Any]).map { try Decoder(json: $0, file: file) }
        let isByteLevel = preTokenizer?.isByteLevel ?? false

        var added: [AddedToken] = []
        for (index, item) in addedJSON.enumerated() {
            guard let entry = item as? [String: Any], let content = entry["content"] as? String else {
                throw TokenizerError(file, "added_tokens[\(index)] has no \"content\" string")
            }
            let id = try checkedID(entry["id"], "added_tokens[\(index)] \(JSON.quoted(content))")
            added.append(AddedToken(content: content, id: id, isSpecial: JSON.bool(entry["special"]) ?? false,
                                    stripsLeft: JSON.bool(entry["lstrip"]) ?? false,
                                    stripsRight: JSON.bool(entry["rstrip"]) ?? false,
                                    isSingleWord: JSON.bool(entry["single_word"]) ?? false,
                                    isNormalized: JSON.bool(entry["normalized"]) ?? false))
        }

        mergeList = merges
        model = BPEModel(vocabulary: vocabulary, merges: merges, isByteLevel: isByteLevel,
                         unknownToken: modelJSON["unk_token"] as? String,
                         byteFallback: JSON.bool(modelJSON["byte_fallback"]) ?? false,
                         fusesUnknown: JSON.bool(modelJSON["fuse_unk"]) ?? false,
                         ignoresMerges: JSON.bool(modelJSON["ignore_merges"]) ?? false)

        // tokenizer_config.json: special token names, flags, template. special_tokens_map.json, when
        // given, overrides the special tokens only for a legacy configuration (one without
        // added_tokens_decoder), which is when transformers still reads it.
        var config: [String: Any] = [:]
        if let configJSON {
            config = try JSON.object(at: configJSON)
        }
        var specials: [String: (text: String, file: String)] = [:]
        func readSpecialTokens(_ object: [String: Any], file: String) throws {
            for key in Tokenizer.specialTokenKeys {
                guard let value = object[key], !(value is NSNull) else { continue }
                guard let text = JSON.tokenString(value) else {
                    throw TokenizerError(file, "\(key) is \(JSON.describe(value)), expected a string or {\"content\": \"...\"}")
                }
                specials[key] = (text, file)
            }
        }
        if let configJSON { try readSpecialTokens(config, file: configJSON.path) }
        if let specialTokensMapJSON, config["added_tokens_decoder"] == nil {
            try readSpecialTokens(try JSON.object(at: specialTokensMapJSON), file: specialTokensMapJSON.path)
        }
        if specials["unk_token"] == nil, let unk = modelJSON["unk_token"] as? String {
            specials["unk_token"] = (unk, file)
        }
        bosToken = specials["bos_token"]?.text
        eosToken = specials["eos_token"]?.text
        padToken = specials["pad_token"]?.text
        unknownToken = specials["unk_token"]?.text
        addsBOSToken = JSON.bool(config["add_bos_token"])
        addsEOSToken = JSON.bool(config["add_eos_token"])
        modelMaxLength = JSON.int(config["model_max_length"])
        var template: String? = nil, templateOrigin: String? = nil
        if let configJSON, let value = config["chat_template"], !(value is NSNull) {
            guard let text = Tokenizer.chatTemplate(from: value) else {
                throw TokenizerError(configJSON.path, "chat_template is \(JSON.describe(value)), expected a string or a list of "
                                     + "{\"name\": ..., \"template\": ...}")
            }
            (template, templateOrigin) = (text, "\(configJSON.path) (chat_template)")
        }
        if template == nil, let configJSON {
            let jinja = configJSON.deletingLastPathComponent().appendingPathComponent("chat_template.jinja")
            if FileManager.default.fileExists(atPath: jinja.path) {
                guard let data = FileManager.default.contents(atPath: jinja.path) else {
                    throw TokenizerError(jinja.path, "cannot read file")
                }
                guard let text = String(validating: data, as: UTF8.self) else {
                    throw TokenizerError(jinja.path, "not valid UTF-8")
                }
                (template, templateOrigin) = (text, jinja.path)
            }
        }
        chatTemplate = template
        chatTemplateOrigin = templateOrigin

        // The tokenizer.json post-processor decides which special tokens encode adds. Without one,
        // fall back on add_bos_token/add_eos_token, as transformers' Llama tokenizers rebuild it.
        (tokens, addedIDs, specialIDs, addedTokens) = Tokenizer.tables(vocabulary: vocabulary, added: added,
                                                                       normalizer: normalizer)
        (rawMatcher, normalizedMatcher) = Tokenizer.matchers(added, normalizer: normalizer)
        // A special token the vocabulary lacks would silently never be produced (an EOS that never
        // stops generation, padding with id 0): refuse, naming the file and key that configured it.
        for key in Tokenizer.specialTokenKeys {
            guard let (text, origin) = specials[key].map({ ($0.text, $0.file) }) else { continue }
            if addedIDs[text] == nil && vocabulary[text] == nil {
                let name = origin == file ? "model.\(key)" : key
                throw TokenizerError(origin, "\(name) \(JSON.quoted(text)) is not a token of \(tokenizerJSON.lastPathComponent) "
                                     + "(neither in model.vocab nor in added_tokens)")
            }
        }
        if let post = root["post_processor"] as? [String: Any] {
            postProcessor = try PostProcessor(json: post, file: file, idLimit: idLimit)
        } else if addsBOSToken == true || addsEOSToken == true {
            func lookup(_ token: String?) -> [Int32] {
                guard let token, let id = added.first(where: { $0.content == token })?.id ?? vocabulary[token].map(Int.init)
                else { return [] }
                return [Int32(id)]
            }
            postProcessor = .template(prefix: addsBOSToken == true ? lookup(bosToken) : [],
                                      suffix: addsEOSToken == true ? lookup(eosToken) : [])
        } else {
            postProcessor = nil
        }
    }

    /// Builds a tokenizer from raw vocabulary arrays, as a GGUF file stores them (llama.cpp conventions).
    /// `source` names where they came from (a GGUF file's path) in errors and in `chatTemplateOrigin`.
    public init(vocabulary: BPEVocabulary, source: String = "vocabulary") throws {
        // The same pipeline `BPEVocabulary.huggingFaceTokenizerFiles()` writes out, so a tokenizer
        // reloaded from those files encodes exactly like this one.
        let pipeline = try vocabulary.pipeline(source: source)
        let map = pipeline.vocabulary, count = vocabulary.tokens.count
        normalizer = pipeline.normalizer
        preTokenizer = pipeline.preTokenizer
        decoder = pipeline.decoder
        let unknown = pipeline.unknownToken
        mergeList = pipeline.merges
        model = BPEModel(vocabulary: map, merges: pipeline.merges, ranks: pipeline.ranks,
                         isByteLevel: vocabulary.model == .byteLevel, unknownToken: unknown,
                         byteFallback: vocabulary.model == .sentencePiece, fusesUnknown: false,
                         ignoresMerges: vocabulary.ignoresMerges)
        let added = pipeline.addedTokens
        func text(_ id: Int?) -> String? { id.flatMap { $0 >= 0 && $0 < count ? vocabulary.tokens[$0] : nil } }
        bosToken = text(vocabulary.bosTokenID)
        eosToken = text(vocabulary.eosTokenID)
        padToken = text(vocabulary.padTokenID)
        unknownToken = unknown
        addsBOSToken = vocabulary.addsBOS
        addsEOSToken = vocabulary.addsEOS
        modelMaxLength = vocabulary.contextLength
        chatTemplate = vocabulary.chatTemplate
        chatTemplateOrigin = vocabulary.chatTemplate == nil ? nil : "\(source) (tokenizer.chat_template)"
        let prefix = vocabulary.addsBOS ? vocabulary.bosTokenID.map { [Int32($0)] } ?? [] : []
        let suffix = vocabulary.addsEOS ? vocabulary.eosTokenID.map { [Int32($0)] } ?? [] : []
        postProcessor = .template(prefix: prefix, suffix: suffix)
        (tokens, addedIDs, specialIDs, addedTokens) = Tokenizer.tables(vocabulary: map, added: added, normalizer: normalizer)
        (rawMatcher, normalizedMatcher) = Tokenizer.matchers(added, normalizer: normalizer)
    }

    /// Id-to-token table (model vocabulary overlaid with added tokens) and the added-token lookups.
    /// Like Hugging Face, a normalized added token is spelled as the normalizer writes it (Llama-2's
    /// "<x>" becomes "▁<x>"), and decoding uses that spelling.
    private static func tables(vocabulary: [String: Int32], added: [AddedToken], normalizer: Normalizer?)
        -> ([String?], [String: Int], Set<Int>, [AddedToken]) {
        let size = max(Int(vocabulary.values.max() ?? -1), added.map(\.id).max() ?? -1) + 1
        var tokens = [String?](repeating: nil, count: size)
        for (token, id) in vocabulary { tokens[Int(id)] = token }
        var ids: [String: Int] = [:]
        for token in added {
            if token.isNormalized, let normalizer {
                tokens[token.id] = string(normalizer.normalize(scalars(token.content)))
            } else {
                tokens[token.id] = token.content
            }
            ids[token.content] = token.id
        }
        let sorted = added.sorted { $0.id < $1.id }
        return (tokens, ids, Set(added.filter(\.isSpecial).map(\.id)), sorted)
    }

    /// Hugging Face matches `normalized: false` tokens on the raw text first, then `normalized: true`
    /// ones on each normalized stretch, spelling those tokens through the normalizer too (so with
    /// Llama-2's Prepend("▁") a normalized "<x>" is looked for as "▁<x>").
    private static func matchers(_ added: [AddedToken], normalizer: Normalizer?) -> (AddedTokenMatcher, AddedTokenMatcher) {
        let raw = AddedTokenMatcher(added.filter { !$0.isNormalized })
        let normalized = AddedTokenMatcher(added.filter(\.isNormalized)) { normalizer?.normalize($0) ?? $0 }
        return (raw, normalized)
    }

    /// The special-token keys of tokenizer_config.json and special_tokens_map.json that Align reads.
    static let specialTokenKeys = ["bos_token", "eos_token", "pad_token", "unk_token"]

    /// `chat_template` as a string, or the "default" entry of a list of named templates.
    static func chatTemplate(from value: Any?) -> String? {
        if let string = value as? String { return string }
        if let list = value as? [[String: Any]] {
            let entry = list.first { $0["name"] as? String == "default" } ?? list.first
            return entry?["template"] as? String
        }
        return nil
    }

    // MARK: Vocabulary

    /// Number of ids (one past the largest model or added token id).
    public var vocabularySize: Int { tokens.count }

    /// The id of a token string (added tokens first, then the model vocabulary, in its own spelling).
    public func id(forToken token: String) -> Int? {
        if let id = addedIDs[token] { return id }
        return model.vocabulary[token].map(Int.init)
    }

    /// The token string of an id, in the vocabulary's own spelling (e.g. "Ġworld"), or nil.
    public func token(forID id: Int) -> String? {
        id >= 0 && id < tokens.count ? tokens[id] : nil
    }

    /// Whether an id is a special added token (dropped by `decode(_:skipSpecialTokens: true)`).
    public func isSpecialToken(_ id: Int) -> Bool { specialIDs.contains(id) }

    /// The id of `bosToken`.
    public var bosTokenID: Int? { bosToken.flatMap(id(forToken:)) }
    /// The id of `eosToken`.
    public var eosTokenID: Int? { eosToken.flatMap(id(forToken:)) }
    /// The id of `padToken`.
    public var padTokenID: Int? { padToken.flatMap(id(forToken:)) }
    /// The id of `unknownToken`.
    public var unknownTokenID: Int? { unknownToken.flatMap(id(forToken:)) }

    // MARK: Encoding and decoding

    /// Encodes text to token ids. With `addSpecialTokens`, the post-processor's tokens (e.g. Llama's BOS)
    /// surround the result; special tokens written in the text are recognised either way.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        let scalarValues = scalars(text)
        var ids: [Int32] = []
        ids.reserveCapacity(scalarValues.count / 3 + 4)
        var utf8: [UInt8] = []
        let pipeline = PreTokenization(preTokenizer?.steps ?? [])
        func encodeText(_ fragment: Fragment) {
            pipeline.forEachWord(fragment) { word in model.encode(word.scalars, into: &ids, utf8: &utf8) }
        }
        // Text between raw-matched tokens: normalize, match normalized tokens, pre-tokenize the rest.
        func encodeStretch(_ stretch: UnsafeBufferPointer<UInt32>, atStart: Bool) {
            for segment in normalizedMatcher.segments(stretch) {
                switch segment {
                case .token(let id):
                    ids.append(id)
                case .text(let range):
                    encodeText(Fragment(scalars: UnsafeBufferPointer(rebasing: stretch[range]),
                                        atStart: atStart && range.lowerBound == 0))
                }
            }
        }
        scalarValues.withUnsafeBufferPointer { all in
            for segment in rawMatcher.segments(all) {
                switch segment {
                case .token(let id):
                    ids.append(id)
                case .text(let range):
                    let stretch = UnsafeBufferPointer(rebasing: all[range])
                    if let normalizer {
                        normalizer.normalize(Array(stretch)).withUnsafeBufferPointer {
                            encodeStretch($0, atStart: range.lowerBound == 0)
                        }
                    } else {
                        encodeStretch(stretch, atStart: range.lowerBound == 0)
                    }
                }
            }
        }
        if addSpecialTokens, let postProcessor { ids = postProcessor.process(ids) }
        return ids.map(Int.init)
    }

    /// Decodes ids to text through the tokenizer's decoder; unknown ids are skipped, and with
    /// `skipSpecialTokens` so are special added tokens.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var pieces: [String] = []
        pieces.reserveCapacity(ids.count)
        for id in ids {
            guard let token = token(forID: id) else { continue }
            if skipSpecialTokens && specialIDs.contains(id) { continue }
            pieces.append(token)
        }
        guard let decoder else { return pieces.joined(separator: " ") }
        return decoder.decode(pieces).joined()
    }
}
