import AlignModelIO
import AlignTokenizers

extension BPEVocabulary {
    /// The tokenizer stored in a GGUF file's `tokenizer.ggml.*` metadata (llama.cpp's layout):
    /// tokens, scores, token types, merges, the pre-tokenizer name, special ids and flags, and the
    /// chat template.
    ///
    /// - Parameter preTokenizerName: overrides `tokenizer.ggml.pre`. llama.cpp's "smollm" isolates
    ///   digits as SmolLM2's own tokenizer.json does; transformers' GGUF conversion uses plain
    ///   "gpt2" instead, which differs on runs of spaces before digits.
    public init(gguf: GGUFFile, preTokenizerName: String? = nil) throws {
        let m = gguf.metadata
        func fail(_ reason: String) -> ModelIOError { .malformed(path: gguf.url.path, reason: reason) }
        guard let kind = m["tokenizer.ggml.model"]?.stringValue else { throw fail("no tokenizer.ggml.model: the file carries no tokenizer") }
        guard let model = BPEVocabulary.Model(rawValue: kind) else {
            throw ModelIOError.unsupported(path: gguf.url.path, reason: "tokenizer model \"\(kind)\" (supported: gpt2, llama)")
        }
        guard let tokens = m["tokenizer.ggml.tokens"]?.stringArrayValue else { throw fail("tokenizer.ggml.tokens missing or not strings") }
        let scores = m["tokenizer.ggml.scores"]?.arrayValue?.compactMap { $0.doubleValue.map(Float.init) }
        let types = m["tokenizer.ggml.token_type"]?.arrayValue?.compactMap(\.intValue)
        self.init(model: model, tokens: tokens, scores: scores, tokenTypes: types,
                  merges: m["tokenizer.ggml.merges"]?.stringArrayValue ?? [],
                  preTokenizerName: preTokenizerName ?? m["tokenizer.ggml.pre"]?.stringValue,
                  bosTokenID: m["tokenizer.ggml.bos_token_id"]?.intValue,
                  eosTokenID: m["tokenizer.ggml.eos_token_id"]?.intValue,
                  padTokenID: m["tokenizer.ggml.padding_token_id"]?.intValue,
                  unknownTokenID: m["tokenizer.ggml.unknown_token_id"]?.intValue,
                  addsBOS: m["tokenizer.ggml.add_bos_token"]?.boolValue ?? false,
                  addsEOS: m["tokenizer.ggml.add_eos_token"]?.boolValue ?? false,
                  addsSpacePrefix: m["tokenizer.ggml.add_space_prefix"]?.boolValue ?? true,
                  chatTemplate: m["tokenizer.chat_template"]?.stringValue,
                  contextLength: gguf.architecture.flatMap { m["\($0).context_length"]?.intValue })
    }
}

extension BPEVocabulary {
    /// The `tokenizer.ggml.*` and `tokenizer.chat_template` entries that store this vocabulary in
    /// a GGUF file, as llama.cpp's converter writes them and as ``init(gguf:preTokenizerName:)``,
    /// llama.cpp and transformers' GGUF reader read them: the model ("gpt2" or "llama"), the
    /// pre-tokenizer name (byte-level only), tokens, scores, token types, merges, the special ids,
    /// the add-BOS/EOS and space-prefix flags and the chat template.
    public var ggufMetadata: [(key: String, value: GGUFValue)] {
        var entries: [(key: String, value: GGUFValue)] = [("tokenizer.ggml.model", .string(model.rawValue))]
        if model == .byteLevel { entries.append(("tokenizer.ggml.pre", .string(preTokenizerName ?? "default"))) }
        entries.append(("tokenizer.ggml.tokens", .array(.string, tokens.map { .string($0) })))
        if let scores { entries.append(("tokenizer.ggml.scores", .array(.float32, scores.map { .float32($0) }))) }
        // llama.cpp's converter stores token types as int32.
        if let tokenTypes { entries.append(("tokenizer.ggml.token_type", .array(.int32, tokenTypes.map { .int32(Int32($0)) }))) }
        if !merges.isEmpty { entries.append(("tokenizer.ggml.merges", .array(.string, merges.map { .string($0) }))) }
        for (key, id) in [("bos_token_id", bosTokenID), ("eos_token_id", eosTokenID),
                          ("unknown_token_id", unknownTokenID), ("padding_token_id", padTokenID)] {
            if let id, id >= 0 { entries.append(("tokenizer.ggml." + key, .uint32(UInt32(id)))) }
        }
        entries.append(("tokenizer.ggml.add_bos_token", .bool(addsBOS)))
        entries.append(("tokenizer.ggml.add_eos_token", .bool(addsEOS)))
        // A byte-level vocabulary never prefixes a space (llama.cpp's converter writes false there too).
        entries.append(("tokenizer.ggml.add_space_prefix", .bool(model == .sentencePiece && addsSpacePrefix)))
        if let chatTemplate { entries.append(("tokenizer.chat_template", .string(chatTemplate))) }
        return entries
    }
}
