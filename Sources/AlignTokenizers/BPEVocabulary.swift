/// Raw vocabulary arrays from which a `Tokenizer` can be built without `tokenizer.json`, following
/// llama.cpp's GGUF conventions (`tokenizer.ggml.*`).
public struct BPEVocabulary: Sendable {
    /// The tokenizer family (`tokenizer.ggml.model`).
    public enum Model: String, Sendable {
        /// "gpt2": byte-level BPE over UTF-8 bytes spelled in the GPT-2 alphabet.
        case byteLevel = "gpt2"
        /// "llama": SentencePiece-style BPE over characters, spaces as "▁", `<0xNN>` byte fallback.
        case sentencePiece = "llama"
    }

    /// The family.
    public var model: Model
    /// Token strings by id (`tokenizer.ggml.tokens`).
    public var tokens: [String]
    /// Per-token scores (`tokenizer.ggml.scores`); a SentencePiece vocabulary without merges merges by them.
    public var scores: [Float]?
    /// llama.cpp token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    public var tokenTypes: [Int]?
    /// Merges as "left right" strings, highest priority first (`tokenizer.ggml.merges`).
    public var merges: [String]
    /// llama.cpp's pre-tokenizer name (`tokenizer.ggml.pre`); nil means "default" (GPT-2).
    public var preTokenizerName: String?
    /// Id of the beginning-of-sequence token (`tokenizer.ggml.bos_token_id`).
    public var bosTokenID: Int?
    /// Id of the end-of-sequence token (`tokenizer.ggml.eos_token_id`).
    public var eosTokenID: Int?
    /// Id of the padding token (`tokenizer.ggml.padding_token_id`).
    public var padTokenID: Int?
    /// Id of the unknown token (`tokenizer.ggml.unknown_token_id`).
    public var unknownTokenID: Int?
    /// Whether `encode(_:addSpecialTokens: true)` prepends BOS (`tokenizer.ggml.add_bos_token`).
    public var addsBOS: Bool
    /// Whether `encode(_:addSpecialTokens: true)` appends EOS (`tokenizer.ggml.add_eos_token`).
    public var addsEOS: Bool
    /// SentencePiece: prefix "▁" to text (`tokenizer.ggml.add_space_prefix`, default true).
    public var addsSpacePrefix: Bool
    /// Emit a word whole when it is itself a token (Llama-3 tokenizers).
    public var ignoresMerges: Bool
    /// The raw chat template (`tokenizer.chat_template`).
    public var chatTemplate: String?
    /// The model's context length, reported as `modelMaxLength`.
    public var contextLength: Int?

    /// Creates a vocabulary description; only `model` and `tokens` are required.
    public init(model: Model, tokens: [String], scores: [Float]? = nil, tokenTypes: [Int]? = nil, merges: [String] = [],
                preTokenizerName: String? = nil, bosTokenID: Int? = nil, eosTokenID: Int? = nil, padTokenID: Int? = nil,
                unknownTokenID: Int? = nil, addsBOS: Bool = false, addsEOS: Bool = false, addsSpacePrefix: Bool = true,
                ignoresMerges: Bool? = nil, chatTemplate: String? = nil, contextLength: Int? = nil) {
        self.model = model
        self.tokens = tokens
        self.scores = scores
        self.tokenTypes = tokenTypes
        self.merges = merges
        self.preTokenizerName = preTokenizerName
        self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID
        self.padTokenID = padTokenID
        self.unknownTokenID = unknownTokenID
        self.addsBOS = addsBOS
        self.addsEOS = addsEOS
        self.addsSpacePrefix = addsSpacePrefix
        // Llama-3's Hugging Face tokenizer sets ignore_merges; llama.cpp sets it for every name it
        // reads as the Llama-3 pre-tokenizer.
        self.ignoresMerges = ignoresMerges ?? BPEVocabulary.llama3Names.contains(preTokenizerName ?? "")
        self.chatTemplate = chatTemplate
        self.contextLength = contextLength
    }

    /// llama.cpp's names for its Llama-3 pre-tokenizer type (which also turns on ignore_merges).
    static let llama3Names: Set<String> = [
        "llama3", "llama-bpe", "llama-v3", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano",
    ]

    /// The pre-tokenizer for a llama.cpp `tokenizer.ggml.pre` name, or nil when not supported.
    /// Names are grouped as llama.cpp's llama-vocab.cpp groups them into pre-tokenizer types, each
    /// type with one regex: GPT-2's, Llama-3's (also DBRX, Smaug), Qwen2's (also StableLM2,
    /// Hunyuan), or digits first and then GPT-2's (StarCoder, SmolLM, ...).
    static func preTokenizer(named name: String?) -> PreTokenizer? {
        let gpt2 = PreTokenizer.byteLevel(addPrefixSpace: false, useRegex: true)
        func split(_ pattern: RegexScanners.Pattern) -> PreTokenizer {
            .sequence([.regex(pattern, .isolated), .byteLevel(addPrefixSpace: false, useRegex: false)])
        }
        let key = name ?? "default"
        if llama3Names.contains(key) { return split(.llama3(maxDigits: 3)) }
        switch key {
        case "default", "gpt2", "gpt-2", "phi-2", "olmo", "mpt", "jais", "trillion", "granite-docling", "exaone4",
             "jina-es", "jina-de", "jina-v2-es", "jina-v2-de", "jina-v1-en", "jina-v2-code", "roberta-bpe",
             "gigachat", "a.x-4.0", "mellum", "modern-bert":
            return gpt2
        case "smaug-bpe", "dbrx":
            return split(.llama3(maxDigits: 3))
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan":
            return split(.llama3(maxDigits: 1))
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b":
            // llama.cpp: every digit alone, then the GPT-2 pattern.
            return .sequence([.digits(individual: true), gpt2])
        default:
            return nil
        }
    }

    /// Everything a tokenizer built from this vocabulary runs, derived once so that
    /// `Tokenizer(vocabulary:)` and the Hugging Face export (`huggingFaceTokenizerFiles()`) cannot
    /// drift apart.
    struct Pipeline {
        var normalizer: Normalizer?
        var preTokenizer: PreTokenizer?
        var decoder: Decoder
        /// Token string to id; a spelling listed twice keeps its first id.
        var vocabulary: [String: Int32]
        var merges: [(String, String)]
        /// Merge ranks when merges were derived from scores (equal scores share a rank), else nil.
        var ranks: [Int]?
        /// Tokens matched whole in text, in id order.
        var addedTokens: [AddedToken]
        /// The unknown token's text, when its id is valid.
        var unknownToken: String?
    }

    /// The tokenizer pipeline this vocabulary describes, following llama.cpp: byte-level BPE with the
    /// pre-tokenizer its `pre` name denotes, or SentencePiece-style BPE over "▁"-spelled text with
    /// byte fallback. Throws for inconsistent arrays or an unsupported pre-tokenizer name.
    func pipeline(source: String = "vocabulary") throws -> Pipeline {
        guard !tokens.isEmpty else { throw TokenizerError(source, "no tokens") }
        let count = tokens.count
        if let tokenTypes, tokenTypes.count != count {
            throw TokenizerError(source, "\(tokenTypes.count) token types for \(count) tokens")
        }
        if let scores, scores.count != count {
            throw TokenizerError(source, "\(scores.count) scores for \(count) tokens")
        }
        // Ids become Int32 token ids and index the token list, so a named special id outside it
        // would either trap or name no token; llama.cpp's own keys name the culprit.
        for (key, id) in [("bos_token_id", bosTokenID), ("eos_token_id", eosTokenID),
                          ("padding_token_id", padTokenID), ("unknown_token_id", unknownTokenID)] {
            if let id, id < 0 || id >= count {
                throw TokenizerError(source, "tokenizer.ggml.\(key) is \(id), but the vocabulary has \(count) tokens (ids 0..<\(count))")
            }
        }
        var map: [String: Int32] = [:]
        map.reserveCapacity(count)
        for (id, token) in tokens.enumerated() where map[token] == nil { map[token] = Int32(id) }

        var merges: [(String, String)] = []
        var ranks: [Int]? = nil
        merges.reserveCapacity(self.merges.count)
        for (index, line) in self.merges.enumerated() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw TokenizerError(source, "merge \(index) \"\(line)\" is not two tokens") }
            merges.append((String(parts[0]), String(parts[1])))
        }
        if merges.isEmpty && model == .sentencePiece {
            guard let scores else { throw TokenizerError(source, "a SentencePiece vocabulary needs merges or scores") }
            (merges, ranks) = BPEVocabulary.mergesFromScores(tokens: tokens, scores: scores, types: tokenTypes, vocabulary: map)
        }

        let normalizer: Normalizer?, preTokenizer: PreTokenizer?, decoder: Decoder
        switch model {
        case .byteLevel:
            guard let pattern = BPEVocabulary.preTokenizer(named: preTokenizerName) else {
                throw TokenizerError(source, "pre-tokenizer \"\(preTokenizerName ?? "")\" is not supported")
            }
            normalizer = nil
            preTokenizer = pattern
            decoder = .byteLevel
        case .sentencePiece:
            // llama.cpp prefixes a space to every stretch of text after a special token, like the
            // legacy Llama-2 normalizer (Prepend "▁" + Replace " " → "▁").
            let prefix: [Normalizer] = addsSpacePrefix ? [.prepend([0x2581])] : []
            normalizer = .sequence(prefix + [.replace(pattern: [0x20], content: [0x2581])])
            preTokenizer = nil
            decoder = .sequence([.replace(pattern: "\u{2581}", content: " "), .byteFallback, .fuse] +
                                (addsSpacePrefix ? [.strip(content: " ", start: 1, stop: 0)] : []))
        }
        let unknown = unknownTokenID.flatMap { $0 >= 0 && $0 < count ? tokens[$0] : nil }
        return Pipeline(normalizer: normalizer, preTokenizer: preTokenizer, decoder: decoder, vocabulary: map,
                        merges: merges, ranks: ranks, addedTokens: addedTokens(), unknownToken: unknown)
    }

    /// The tokens matched whole in text, in id order. llama.cpp matches every unknown (2), control
    /// (3) and user-defined (4) token in text; the first two are special (dropped when decoding with
    /// `skipSpecialTokens`). Without token types, the named special ids (BOS, EOS, padding, unknown)
    /// are the only ones known to be special.
    func addedTokens() -> [AddedToken] {
        var added: [AddedToken] = []
        if let tokenTypes {
            for (id, type) in tokenTypes.enumerated() where type == 2 || type == 3 || type == 4 {
                added.append(AddedToken(content: tokens[id], id: id, isSpecial: type != 4))
            }
        } else {
            let named = Set([bosTokenID, eosTokenID, padTokenID, unknownTokenID].compactMap { $0 })
            for id in named.sorted() where id >= 0 && id < tokens.count {
                added.append(AddedToken(content: tokens[id], id: id, isSpecial: true))
            }
        }
        return added
    }

    /// Merges implied by SentencePiece scores (llama.cpp's SPM tokenizer): any two tokens whose
    /// concatenation is a token may merge, the concatenation with the higher score first and the
    /// leftmost pair among equal scores, which equal ranks reproduce.
    static func mergesFromScores(tokens: [String], scores: [Float], types: [Int]?, vocabulary: [String: Int32])
        -> ([(String, String)], [Int]) {
        var candidates: [(left: String, right: String, score: Float)] = []
        for (id, token) in tokens.enumerated() {
            if let types, types[id] != 1 && types[id] != 4 { continue }  // only normal and user text merge
            let characters = Array(token.unicodeScalars)
            guard characters.count >= 2 else { continue }
            for cut in 1..<characters.count {
                let left = string(characters[..<cut].map(\.value)), right = string(characters[cut...].map(\.value))
                if vocabulary[left] != nil && vocabulary[right] != nil {
                    candidates.append((left, right, scores[id]))
                }
            }
        }
        candidates.sort { $0.score > $1.score }
        var ranks: [Int] = []
        ranks.reserveCapacity(candidates.count)
        var rank = -1
        var previous: Float? = nil
        for candidate in candidates {
            if candidate.score != previous {
                rank += 1
                previous = candidate.score
            }
            ranks.append(rank)
        }
        return (candidates.map { ($0.left, $0.right) }, ranks)
    }
}
