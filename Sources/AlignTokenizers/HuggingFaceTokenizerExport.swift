import Foundation

// Writing a `BPEVocabulary` (typically read from a GGUF file, which carries no tokenizer.json) as
// the Hugging Face tokenizer files `AutoTokenizer.from_pretrained` and `Tokenizer(directory:)` load.
//
// The files describe exactly the pipeline `Tokenizer(vocabulary:)` runs (both come from
// `BPEVocabulary.pipeline()`), serialised component by component, so a reloaded tokenizer gives the
// same ids. For byte-level vocabularies the pre-tokenizer follows the GGUF `pre` name the way
// llama.cpp reads it: "smollm" becomes Digits(individual) + ByteLevel, as in SmolLM2's own
// tokenizer.json, where transformers' GGUF conversion would fall back on plain GPT-2 splitting.

extension BPEVocabulary {
    /// The Hugging Face tokenizer files for this vocabulary, by file name: `tokenizer.json`,
    /// `tokenizer_config.json` and `special_tokens_map.json`, as UTF-8 JSON.
    ///
    /// - `tokenizer.json`: a BPE model over the vocabulary in id order and the merges (derived from
    ///   scores when a SentencePiece vocabulary has none); byte-level vocabularies get the
    ///   pre-tokenizer their `pre` name denotes and a ByteLevel decoder, SentencePiece ones the
    ///   legacy Llama-2 normalizer (Prepend "▁" + Replace), byte fallback and matching decoders;
    ///   unknown and control tokens are special added tokens, user-defined ones plain added tokens;
    ///   a TemplateProcessing post-processor adds BOS/EOS when the vocabulary says so.
    /// - `tokenizer_config.json`: the special tokens, `add_bos_token`/`add_eos_token`, the chat
    ///   template, `model_max_length` (the context length) and `tokenizer_class`
    ///   "PreTrainedTokenizerFast".
    /// - `special_tokens_map.json`: the named special tokens and the other special added tokens.
    ///
    /// The named special tokens (BOS, EOS, padding, unknown) are written whatever their token type,
    /// since training and generation need them. transformers makes each of them a special added
    /// token, so in the rare vocabulary where one is an ordinary (type 1) token, Hugging Face
    /// matches that token whole in text where llama.cpp and Align do not.
    ///
    /// - Throws: `TokenizerError` when the vocabulary is inconsistent or its pre-tokenizer name is
    ///   not one Align supports (the same cases in which `Tokenizer(vocabulary:)` throws).
    public func huggingFaceTokenizerFiles() throws -> [String: Data] {
        let pipeline = try pipeline()
        let named = namedSpecialTokens(pipeline)
        return [
            "tokenizer.json": Data(ExportJSON.bytes(tokenizerJSON(pipeline))),
            "tokenizer_config.json": Data(ExportJSON.bytes(tokenizerConfigJSON(pipeline, named: named))),
            "special_tokens_map.json": Data(ExportJSON.bytes(specialTokensMapJSON(pipeline, named: named))),
        ]
    }

    /// `(key, token)` for each of bos/eos/unk/pad with a valid id, in that order: the added token
    /// with that id, or a plain (unflagged) description of an ordinary token.
    private func namedSpecialTokens(_ pipeline: Pipeline) -> [(key: String, token: AddedToken)] {
        let byID = Dictionary(pipeline.addedTokens.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let ids: [(String, Int?)] = [("bos_token", bosTokenID), ("eos_token", eosTokenID),
                                     ("unk_token", unknownTokenID), ("pad_token", padTokenID)]
        return ids.compactMap { key, id in
            guard let id, id >= 0, id < tokens.count else { return nil }
            return (key: key, token: byID[id] ?? AddedToken(content: tokens[id], id: id))
        }
    }

    private func tokenizerJSON(_ pipeline: Pipeline) -> ExportJSON {
        let byteLevel = model == .byteLevel
        // Vocabulary in id order, each spelling once (its first id, as the pipeline's lookup keeps).
        var vocab: [(String, ExportJSON)] = []
        vocab.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() where pipeline.vocabulary[token] == Int32(id) {
            vocab.append((token, .int(id)))
        }
        // "a b" strings load in every tokenizers version; a token with a space in it needs the pair form.
        let pairForm = pipeline.merges.contains { $0.0.contains(" ") || $0.1.contains(" ") }
        let merges: [ExportJSON] = pipeline.merges.map { left, right in
            pairForm ? .array([.string(left), .string(right)]) : .string(left + " " + right)
        }
        let modelJSON: ExportJSON = .object([
            ("type", .string("BPE")),
            ("dropout", .null),
            ("unk_token", pipeline.unknownToken.map(ExportJSON.string) ?? .null),
            ("continuing_subword_prefix", .null),
            ("end_of_word_suffix", .null),
            ("fuse_unk", .bool(false)),
            ("byte_fallback", .bool(!byteLevel)),
            ("ignore_merges", .bool(ignoresMerges)),
            ("vocab", .object(vocab)),
            ("merges", .array(merges)),
        ])
        let added: [ExportJSON] = pipeline.addedTokens.map { token in
            .object([
                ("id", .int(token.id)), ("content", .string(token.content)),
                ("single_word", .bool(token.isSingleWord)), ("lstrip", .bool(token.stripsLeft)),
                ("rstrip", .bool(token.stripsRight)), ("normalized", .bool(token.isNormalized)),
                ("special", .bool(token.isSpecial)),
            ])
        }
        return .object([
            ("version", .string("1.0")),
            ("truncation", .null),
            ("padding", .null),
            ("added_tokens", .array(added)),
            ("normalizer", pipeline.normalizer?.huggingFaceJSON ?? .null),
            ("pre_tokenizer", pipeline.preTokenizer?.huggingFaceJSON ?? .null),
            ("post_processor", postProcessorJSON()),
            ("decoder", pipeline.decoder.huggingFaceJSON),
            ("model", modelJSON),
        ])
    }

    /// TemplateProcessing with BOS/EOS when the vocabulary adds them; otherwise the ByteLevel
    /// processor (offsets only) for byte-level vocabularies, as GPT-2-style tokenizer.json files
    /// have, and none for SentencePiece ones.
    private func postProcessorJSON() -> ExportJSON {
        func token(_ id: Int?) -> (text: String, id: Int)? {
            id.flatMap { $0 >= 0 && $0 < tokens.count ? (tokens[$0], $0) : nil }
        }
        let bos = addsBOS ? token(bosTokenID) : nil, eos = addsEOS ? token(eosTokenID) : nil
        guard bos != nil || eos != nil else {
            guard model == .byteLevel else { return .null }
            // GPT-2's and SmolLM2's own settings; a ByteLevel post-processor only adjusts offsets.
            return .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(true)),
                            ("trim_offsets", .bool(false)), ("use_regex", .bool(true))])
        }
        func special(_ text: String, _ typeID: Int) -> ExportJSON {
            .object([("SpecialToken", .object([("id", .string(text)), ("type_id", .int(typeID))]))])
        }
        func sequence(_ name: String, _ typeID: Int) -> ExportJSON {
            .object([("Sequence", .object([("id", .string(name)), ("type_id", .int(typeID))]))])
        }
        func around(_ name: String, _ typeID: Int) -> [ExportJSON] {
            (bos.map { [special($0.text, typeID)] } ?? []) + [sequence(name, typeID)] + (eos.map { [special($0.text, typeID)] } ?? [])
        }
        var specials: [(String, ExportJSON)] = []
        for entry in [bos, eos].compactMap({ $0 }) where !specials.contains(where: { $0.0 == entry.text }) {
            specials.append((entry.text, .object([("id", .string(entry.text)), ("ids", .array([.int(entry.id)])),
                                                  ("tokens", .array([.string(entry.text)]))])))
        }
        return .object([
            ("type", .string("TemplateProcessing")),
            ("single", .array(around("A", 0))),
            ("pair", .array(around("A", 0) + around("B", 1))),
            ("special_tokens", .object(specials)),
        ])
    }

    private func tokenizerConfigJSON(_ pipeline: Pipeline, named: [(key: String, token: AddedToken)]) -> ExportJSON {
        var members: [(String, ExportJSON)] = [("add_bos_token", .bool(addsBOS)), ("add_eos_token", .bool(addsEOS))]
        // transformers 4 reads the added tokens' flags from here; 5 takes them from tokenizer.json.
        members.append(("added_tokens_decoder", .object(pipeline.addedTokens.map { token in
            (String(token.id), .object([
                ("content", .string(token.content)), ("lstrip", .bool(token.stripsLeft)),
                ("normalized", .bool(token.isNormalized)), ("rstrip", .bool(token.stripsRight)),
                ("single_word", .bool(token.isSingleWord)), ("special", .bool(token.isSpecial)),
            ]))
        })))
        for (key, token) in named { members.append((key, .string(token.content))) }
        if let chatTemplate { members.append(("chat_template", .string(chatTemplate))) }
        // Decoding must give back the text exactly, not with spaces before punctuation removed.
        members.append(("clean_up_tokenization_spaces", .bool(false)))
        if let contextLength { members.append(("model_max_length", .int(contextLength))) }
        members.append(("tokenizer_class", .string("PreTrainedTokenizerFast")))
        members.sort { $0.0 < $1.0 }  // save_pretrained writes sorted keys
        return .object(members)
    }

    private func specialTokensMapJSON(_ pipeline: Pipeline, named: [(key: String, token: AddedToken)]) -> ExportJSON {
        let namedIDs = Set(named.map(\.token.id))
        let others = pipeline.addedTokens.filter { $0.isSpecial && !namedIDs.contains($0.id) }
        func entry(_ token: AddedToken) -> ExportJSON {
            .object([("content", .string(token.content)), ("lstrip", .bool(token.stripsLeft)),
                     ("normalized", .bool(token.isNormalized)), ("rstrip", .bool(token.stripsRight)),
                     ("single_word", .bool(token.isSingleWord))])
        }
        var members: [(String, ExportJSON)] = []
        if !others.isEmpty { members.append(("additional_special_tokens", .array(others.map(entry)))) }
        for key in ["bos_token", "eos_token", "pad_token", "unk_token"] {
            if let token = named.first(where: { $0.key == key })?.token { members.append((key, entry(token))) }
        }
        return .object(members)
    }
}

// MARK: - Components as tokenizer.json objects

extension RegexScanners.Pattern {
    /// The regex source Hugging Face's `Split` pre-tokenizer runs for this pattern.
    var huggingFaceSource: String {
        switch self {
        case .gpt2: return Self.gpt2Source
        case .llama3(3): return Self.llama3Source
        case .llama3(1): return Self.qwen2Source
        case .llama3(let maxDigits):
            return Self.llama3Source.replacingOccurrences(of: #"\p{N}{1,3}"#, with: #"\p{N}{1,\#(maxDigits)}"#)
        }
    }
}

extension SplitBehavior {
    /// tokenizers' spelling of the behaviour in JSON ("Isolated", ...), which is the raw value.
    var huggingFaceName: String { rawValue }
}

extension PreTokenizer {
    /// This pre-tokenizer as a tokenizer.json `pre_tokenizer` object.
    var huggingFaceJSON: ExportJSON {
        switch self {
        case .sequence(let steps):
            return .object([("type", .string("Sequence")), ("pretokenizers", .array(steps.map(\.huggingFaceJSON)))])
        case .byteLevel(let addPrefixSpace, let useRegex):
            return .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(addPrefixSpace)),
                            ("trim_offsets", .bool(true)), ("use_regex", .bool(useRegex))])
        case .regex(let pattern, let behavior):
            return .object([("type", .string("Split")), ("pattern", .object([("Regex", .string(pattern.huggingFaceSource))])),
                            ("behavior", .string(behavior.huggingFaceName)), ("invert", .bool(false))])
        case .literal(let literal, let behavior):
            return .object([("type", .string("Split")), ("pattern", .object([("String", .string(string(literal)))])),
                            ("behavior", .string(behavior.huggingFaceName)), ("invert", .bool(false))])
        case .digits(let individual):
            return .object([("type", .string("Digits")), ("individual_digits", .bool(individual))])
        case .metaspace(let replacement, let prepend, let split):
            return .object([("type", .string("Metaspace")), ("replacement", .string(string([replacement]))),
                            ("prepend_scheme", .string(prepend.rawValue)), ("split", .bool(split))])
        case .whitespaceSplit:
            return .object([("type", .string("WhitespaceSplit"))])
        case .whitespace:
            return .object([("type", .string("Whitespace"))])
        }
    }
}

extension Normalizer {
    /// This normalizer as a tokenizer.json `normalizer` object.
    var huggingFaceJSON: ExportJSON {
        switch self {
        case .sequence(let steps):
            return .object([("type", .string("Sequence")), ("normalizers", .array(steps.map(\.huggingFaceJSON)))])
        case .prepend(let prefix):
            return .object([("type", .string("Prepend")), ("prepend", .string(string(prefix)))])
        case .replace(let pattern, let content):
            return .object([("type", .string("Replace")), ("pattern", .object([("String", .string(string(pattern)))])),
                            ("content", .string(string(content)))])
        case .nfc: return .object([("type", .string("NFC"))])
        case .nfd: return .object([("type", .string("NFD"))])
        case .nfkc: return .object([("type", .string("NFKC"))])
        case .nfkd: return .object([("type", .string("NFKD"))])
        case .lowercase: return .object([("type", .string("Lowercase"))])
        case .strip(let left, let right):
            return .object([("type", .string("Strip")), ("strip_left", .bool(left)), ("strip_right", .bool(right))])
        }
    }
}

extension Decoder {
    /// This decoder as a tokenizer.json `decoder` object.
    var huggingFaceJSON: ExportJSON {
        switch self {
        case .sequence(let steps):
            return .object([("type", .string("Sequence")), ("decoders", .array(steps.map(\.huggingFaceJSON)))])
        case .byteLevel:
            return .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(true)),
                            ("trim_offsets", .bool(true)), ("use_regex", .bool(true))])
        case .replace(let pattern, let content):
            return .object([("type", .string("Replace")), ("pattern", .object([("String", .string(pattern))])),
                            ("content", .string(content))])
        case .byteFallback:
            return .object([("type", .string("ByteFallback"))])
        case .fuse:
            return .object([("type", .string("Fuse"))])
        case .strip(let content, let start, let stop):
            return .object([("type", .string("Strip")), ("content", .string(String(content))),
                            ("start", .int(start)), ("stop", .int(stop))])
        case .metaspace(let replacement, let prepend):
            return .object([("type", .string("Metaspace")), ("replacement", .string(String(replacement))),
                            ("prepend_scheme", .string(prepend.rawValue)), ("split", .bool(true))])
        }
    }
}

// MARK: - Ordered JSON

/// A JSON value whose objects keep their members in the order given, so the written files list
/// the vocabulary by id and keys in the order Hugging Face writes them (Foundation's serializer
/// would reorder both).
indirect enum ExportJSON {
    case null
    case bool(Bool)
    case int(Int)
    case string(String)
    case array([ExportJSON])
    case object([(String, ExportJSON)])

    /// UTF-8 text laid out like Python's `json.dumps(indent=2, ensure_ascii=False)` (what
    /// `save_pretrained` writes), with a final newline.
    static func bytes(_ value: ExportJSON) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1 << 16)
        write(value, into: &out, level: 0)
        out.append(0x0A)
        return out
    }

    private static func write(_ value: ExportJSON, into out: inout [UInt8], level: Int) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .int(let number): out.append(contentsOf: String(number).utf8)
        case .string(let text): writeString(text, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, level: level + 1)
                write(element, into: &out, level: level + 1)
            }
            if !elements.isEmpty { newline(&out, level: level) }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, level: level + 1)
                writeString(member.0, into: &out)
                out.append(contentsOf: ": ".utf8)
                write(member.1, into: &out, level: level + 1)
            }
            if !members.isEmpty { newline(&out, level: level) }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func newline(_ out: inout [UInt8], level: Int) {
        out.append(0x0A)
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * level))
    }

    /// Quotes `text`, escaping only what JSON requires (quote, backslash, control characters);
    /// everything else stays raw UTF-8, as `ensure_ascii=False` leaves it.
    private static func writeString(_ text: String, into out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case 0x0A: out.append(contentsOf: #"\n"#.utf8)
            case 0x0D: out.append(contentsOf: #"\r"#.utf8)
            case 0x09: out.append(contentsOf: #"\t"#.utf8)
            case 0x08: out.append(contentsOf: #"\b"#.utf8)
            case 0x0C: out.append(contentsOf: #"\f"#.utf8)
            case 0..<0x20:
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
