import Foundation

// Turning a Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) into the raw vocabulary
// arrays a GGUF file stores (`tokenizer.ggml.*`), so that a model converted to GGUF carries its
// tokenizer. The inverse of `Tokenizer(vocabulary:)`: the vocabulary this returns builds a tokenizer
// that runs the same pipeline and gives the same ids, and anything GGUF cannot say is refused here
// rather than written as something else.

extension Tokenizer {
    /// The `tokenizer.ggml.*` pre-tokenizer names written for byte-level tokenizers, each with the
    /// Hugging Face pre-tokenizer it stands for (see `BPEVocabulary.preTokenizer(named:)`): GPT-2's
    /// ByteLevel regex, Llama-3's and Qwen2's Split + ByteLevel, SmolLM's Digits + ByteLevel.
    static let ggufPreTokenizerNames = ["gpt2", "llama-bpe", "qwen2", "smollm"]

    /// This tokenizer as llama.cpp's GGUF vocabulary: tokens by id, token types (control for
    /// special added tokens, user-defined for other added tokens, unused for ids the tokenizer
    /// lacks below `vocabularySize`, spelled `[PAD<id>]` as llama.cpp's converter does), merges in
    /// priority order, the special token ids, whether BOS/EOS are added (from the post-processor)
    /// and the chat template.
    ///
    /// - Byte-level BPE (GPT-2, Llama-3, Qwen2, SmolLM) becomes `tokenizer.ggml.model` "gpt2" with
    ///   the llama.cpp name of its pre-tokenizer. An NFC normalizer (Qwen2's) is not carried: GGUF
    ///   has no key for it and llama.cpp's converter drops it too, so only text that is not already
    ///   in NFC encodes differently.
    /// - SentencePiece-style BPE in the Llama-2 layout (Prepend "▁" + Replace normalizer, no
    ///   pre-tokenizer, byte fallback over all 256 `<0xNN>` tokens; Llama-2, Mistral) becomes
    ///   "llama", with byte tokens typed as bytes, the unknown token as unknown, the space-prefix
    ///   flag, and scores for llama.cpp, which merges by score rather than by the merge list: each
    ///   token scores minus the rank of the first merge that makes it, so merging by score repeats
    ///   the merge order (tokens no merge makes score below all of them).
    ///
    /// - Parameters:
    ///   - vocabularySize: the model's embedding rows; the token list is padded to it, since
    ///     llama.cpp expects one token per row.
    ///   - contextLength: reported as the vocabulary's context length (`model_max_length` when
    ///     written back as Hugging Face files); defaults to this tokenizer's `modelMaxLength`.
    /// - Throws: `TokenizerError` for what a GGUF vocabulary cannot express: other SentencePiece
    ///   layouts (Metaspace), normalizers other than these, a pre-tokenizer llama.cpp has no name
    ///   for, another decoder, post-processors adding anything but one BOS and one EOS, added tokens
    ///   with `lstrip`/`rstrip`/`single_word` (or, for SentencePiece, `normalized`), tokens with a
    ///   space in a merge.
    public func ggufVocabulary(vocabularySize: Int? = nil, contextLength: Int? = nil) throws -> BPEVocabulary {
        let source = "tokenizer"
        // llama.cpp gives added tokens no strip or single-word flags from the file, so a token that
        // swallows the spaces beside it would encode differently.
        if let token = addedTokens.first(where: { $0.stripsLeft || $0.stripsRight || $0.isSingleWord }) {
            throw TokenizerError(source, "added token \"\(token.content)\" has lstrip, rstrip or single_word set, which GGUF cannot hold")
        }

        // Special ids: the configured tokens, with BOS/EOS also taken from what the post-processor
        // adds (a tokenizer may add a BOS its configuration does not name).
        let (prefix, suffix) = postProcessor?.addedIDs ?? ([], [])
        guard prefix.count <= 1, suffix.count <= 1 else {
            throw TokenizerError(source, "the post-processor adds \(prefix.map(String.init)) before and \(suffix.map(String.init)) after a sequence; GGUF can only say \"add BOS\" and \"add EOS\"")
        }
        var bos = bosTokenID, eos = eosTokenID
        if let added = prefix.first.map(Int.init) {
            guard bos == nil || bos == added else { throw TokenizerError(source, "the post-processor adds id \(added) before a sequence, the BOS token is \(bos!)") }
            bos = added
        }
        if let added = suffix.first.map(Int.init) {
            guard eos == nil || eos == added else { throw TokenizerError(source, "the post-processor adds id \(added) after a sequence, the EOS token is \(eos!)") }
            eos = added
        }

        let size = max(vocabularySize ?? 0, tokens.count)
        var strings: [String] = [], types: [Int] = []
        strings.reserveCapacity(size)
        types.reserveCapacity(size)
        let addedByID = Dictionary(addedTokens.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let byteIDs = Set((model.byteFallbackIDs ?? []).map(Int.init))
        let unknown = unknownTokenID
        for id in 0..<size {
            if let token = id < tokens.count ? tokens[id] : nil {
                strings.append(token)
                if let added = addedByID[id] {
                    types.append(!added.isSpecial ? 4 : id == unknown && !model.isByteLevel ? 2 : 3)
                } else {
                    types.append(byteIDs.contains(id) ? 6 : 1)
                }
            } else {
                strings.append("[PAD\(id)]")
                types.append(5)
            }
        }
        var merges: [String] = []
        merges.reserveCapacity(mergeList.count)
        for (left, right) in mergeList {
            guard !left.contains(" "), !right.contains(" ") else {
                throw TokenizerError(source, "merge \"\(left)\" + \"\(right)\" has a space in a token, which GGUF's \"a b\" merges cannot hold")
            }
            merges.append(left + " " + right)
        }

        let vocabulary: BPEVocabulary
        if model.isByteLevel {
            vocabulary = try byteLevelVocabulary(
                tokens: strings, types: types, merges: merges, bos: bos, eos: eos, addsBOS: !prefix.isEmpty,
                addsEOS: !suffix.isEmpty, contextLength: contextLength ?? modelMaxLength)
        } else {
            vocabulary = try sentencePieceVocabulary(
                tokens: strings, types: types, merges: merges, bos: bos, eos: eos, addsBOS: !prefix.isEmpty,
                addsEOS: !suffix.isEmpty, contextLength: contextLength ?? modelMaxLength)
        }

        // The GGUF tokenizer must match whole in text exactly the tokens this one does: a token the
        // vocabulary spells twice, say, would otherwise change ids silently.
        let rebuilt = try Tokenizer(vocabulary: vocabulary)
        let ownAdded = addedTokens.map { "\($0.id) \($0.content) \($0.isSpecial)" }
        let rebuiltAdded = rebuilt.addedTokens.map { "\($0.id) \($0.content) \($0.isSpecial)" }
        guard ownAdded == rebuiltAdded else {
            throw TokenizerError(source, "added tokens do not survive as GGUF token types: \(Set(ownAdded).symmetricDifference(rebuiltAdded).sorted().prefix(3))")
        }
        for (token, id) in model.vocabulary where rebuilt.model.vocabulary[token] != id {
            throw TokenizerError(source, "token \"\(token)\" (id \(id)) is spelled twice in the vocabulary; GGUF keeps only its first id")
        }
        return vocabulary
    }

    /// The "gpt2" vocabulary, once the pre-tokenizer, normalizer and decoder are known to be ones
    /// llama.cpp names.
    private func byteLevelVocabulary(tokens: [String], types: [Int], merges: [String], bos: Int?, eos: Int?,
                                     addsBOS: Bool, addsEOS: Bool, contextLength: Int?) throws -> BPEVocabulary {
        let source = "tokenizer"
        guard model.byteFallbackIDs == nil else {
            throw TokenizerError(source, "a byte-level tokenizer with byte fallback has no GGUF form")
        }
        // Qwen2's NFC is the one normalizer byte-level tokenizers have; GGUF has no key for it and
        // llama.cpp's converter drops it, so text already in NFC (nearly all text) is unaffected.
        // Any other normalizer changes ids on ordinary text: refuse.
        if let normalizer {
            guard case .nfc = normalizer else {
                throw TokenizerError(source, "normalizer \(Self.describe(normalizer.huggingFaceJSON)) has no GGUF form")
            }
        }
        // The pre-tokenizer must be exactly one llama.cpp names (compared as tokenizer.json
        // objects, which leaves out offset-only settings such as trim_offsets).
        let ownPreTokenizer = preTokenizer.map { ExportJSON.bytes($0.huggingFaceJSON) }
        guard let preName = Tokenizer.ggufPreTokenizerNames.first(where: { name in
            BPEVocabulary.preTokenizer(named: name).map { ExportJSON.bytes($0.huggingFaceJSON) } == ownPreTokenizer
        }) else {
            throw TokenizerError(source, "pre-tokenizer has no llama.cpp name (supported: GPT-2, Llama-3, Qwen2, SmolLM patterns): \(preTokenizer.map { Self.describe($0.huggingFaceJSON) } ?? "none")")
        }
        guard model.ignoresMerges == BPEVocabulary.llama3Names.contains(preName) else {
            throw TokenizerError(source, "ignore_merges \(model.ignoresMerges) does not go with the \"\(preName)\" pre-tokenizer in llama.cpp")
        }
        if let decoder, ExportJSON.bytes(decoder.huggingFaceJSON) != ExportJSON.bytes(Decoder.byteLevel.huggingFaceJSON) {
            throw TokenizerError(source, "decoder is not ByteLevel, which is all a GGUF byte-level vocabulary decodes with")
        }
        return BPEVocabulary(
            model: .byteLevel, tokens: tokens, tokenTypes: types, merges: merges, preTokenizerName: preName,
            bosTokenID: bos, eosTokenID: eos, padTokenID: padTokenID, unknownTokenID: unknownTokenID,
            addsBOS: addsBOS, addsEOS: addsEOS, ignoresMerges: model.ignoresMerges,
            chatTemplate: chatTemplate, contextLength: contextLength)
    }

    /// The "llama" vocabulary, once the tokenizer is known to be in the Llama-2 layout: its
    /// normalizer and decoder must be exactly those `Tokenizer(vocabulary:)` builds for one.
    private func sentencePieceVocabulary(tokens: [String], types: [Int], merges: [String], bos: Int?, eos: Int?,
                                         addsBOS: Bool, addsEOS: Bool, contextLength: Int?) throws -> BPEVocabulary {
        let source = "tokenizer"
        guard preTokenizer == nil, model.byteFallbackIDs != nil, !model.ignoresMerges else {
            throw TokenizerError(source, "only byte-level tokenizers and SentencePiece-style ones in the Llama-2 layout (Prepend + Replace normalizer, no pre-tokenizer, byte fallback over all 256 <0xNN> tokens) can be written to GGUF")
        }
        if let token = addedTokens.first(where: \.isNormalized) {
            throw TokenizerError(source, "added token \"\(token.content)\" is matched on normalized text, which a GGUF vocabulary cannot say")
        }
        // llama.cpp merges by token score: a token scores minus the rank of the first merge that
        // makes it, the rest below every merge.
        var scores = [Float](repeating: -Float(mergeList.count + 1), count: tokens.count)
        var scored = Set<Int32>()
        for (rank, (left, right)) in mergeList.enumerated() {
            if let id = model.vocabulary[left + right], scored.insert(id).inserted { scores[Int(id)] = -Float(rank) }
        }
        for addsSpacePrefix in [true, false] {
            let vocabulary = BPEVocabulary(
                model: .sentencePiece, tokens: tokens, scores: scores, tokenTypes: types, merges: merges,
                bosTokenID: bos, eosTokenID: eos, padTokenID: padTokenID, unknownTokenID: unknownTokenID,
                addsBOS: addsBOS, addsEOS: addsEOS, addsSpacePrefix: addsSpacePrefix, ignoresMerges: false,
                chatTemplate: chatTemplate, contextLength: contextLength)
            let pipeline = try vocabulary.pipeline(source: source)
            if pipeline.normalizer.map({ ExportJSON.bytes($0.huggingFaceJSON) }) == normalizer.map({ ExportJSON.bytes($0.huggingFaceJSON) })
                && ExportJSON.bytes(pipeline.decoder.huggingFaceJSON) == decoder.map({ ExportJSON.bytes($0.huggingFaceJSON) }) {
                return vocabulary
            }
        }
        throw TokenizerError(source, "SentencePiece-style normalizer \(normalizer.map { Self.describe($0.huggingFaceJSON) } ?? "none") and decoder \(decoder.map { Self.describe($0.huggingFaceJSON) } ?? "none") are not the Llama-2 layout a GGUF \"llama\" vocabulary stands for")
    }

    private static func describe(_ json: ExportJSON) -> String {
        String(decoding: ExportJSON.bytes(json), as: UTF8.self).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }
}

extension PostProcessor {
    /// The ids this post-processor puts before and after a single sequence.
    var addedIDs: (prefix: [Int32], suffix: [Int32]) {
        switch self {
        case .template(let prefix, let suffix): return (prefix, suffix)
        case .none: return ([], [])
        case .sequence(let steps):
            // Each step wraps the result of the previous one.
            return steps.reduce(into: ([], [])) { result, step in
                let (p, s) = step.addedIDs
                result = (p + result.0, result.1 + s)
            }
        }
    }
}
