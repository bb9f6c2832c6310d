import AlignTemplates
import AlignTokenizers

/// Where the completion starts in the token ids.
public enum BoundaryMode: String, Sendable {
    /// TRL 1.16 (the default, for parity): tokenise the prompt alone and prompt+completion together; the
    /// completion starts at their common-prefix length (the minimum over both completions of a pair). When
    /// tokens merge across the boundary, the end of the prompt is left out and a warning quotes it.
    case commonPrefix
    /// The original DPO repository: tokenise the prompt (with the tokenizer's own special tokens, as at
    /// inference) and each completion (without) separately, and concatenate. The prompt is then exactly
    /// what the model sees when it generates.
    case separate
}

/// Which end of an over-long sequence survives truncation.
public enum TruncationMode: String, Sendable, CaseIterable {
    /// Keep the first tokens (TRL's default; drops examples whose prompt alone fills `maxLength`).
    case keepStart = "keep_start"
    /// Keep the last tokens (for a prompt-first cut: keep the end of the dialogue).
    case keepEnd = "keep_end"
}

/// How examples become token ids, and how long they may be.
public struct PreparationOptions: Sendable {
    /// Longest sequence (prompt + completion) in tokens; nil for no limit. TRL's default is 1024.
    public var maxLength: Int?
    /// When set, the original DPO repository's prompt-first truncation: if prompt + longest completion exceeds
    /// `maxLength`, the prompt is cut to `maxPromptLength` (by `truncationMode`), then completions to
    /// `maxLength − maxPromptLength` from the right. Nothing is dropped. Must be below `maxLength`.
    /// Used by DPO and KTO; ignored by reward and SFT preparation.
    public var maxPromptLength: Int?
    /// Which end survives truncation.
    public var truncationMode: TruncationMode
    /// Where the completion starts.
    public var boundary: BoundaryMode
    /// Append the EOS token's text to plain-text completions that do not already end with it (TRL does;
    /// conversational data gets its end-of-turn from the chat template instead).
    public var appendsEOS: Bool
    /// When a conversational prompt ends with an assistant turn, render it with `continueFinalMessage`
    /// (an assistant prefill) instead of adding a generation prompt. TRL's trainers always add the
    /// generation prompt, so this is off by default.
    public var continuesFinalAssistantTurn: Bool

    /// Options; the defaults are TRL 1.16's.
    public init(maxLength: Int? = 1024, maxPromptLength: Int? = nil, truncationMode: TruncationMode = .keepStart,
                boundary: BoundaryMode = .commonPrefix, appendsEOS: Bool = true,
                continuesFinalAssistantTurn: Bool = false) {
        self.maxLength = maxLength
        self.maxPromptLength = maxPromptLength
        self.truncationMode = truncationMode
        self.boundary = boundary
        self.appendsEOS = appendsEOS
        self.continuesFinalAssistantTurn = continuesFinalAssistantTurn
    }
}

/// What preparation did to a dataset: how many examples were cut or dropped, and why it may be wrong.
public struct PreparationSummary: Sendable, Equatable {
    /// Examples given to preparation.
    public var inputExamples = 0
    /// Examples kept.
    public var keptExamples = 0
    /// Examples dropped: prompt alone ≥ `maxLength` (DPO/KTO keep_start), a sequence over `maxLength`
    /// (reward), or nothing left to train on after truncation (SFT).
    public var droppedExamples = 0
    /// Kept examples with at least one sequence longer than `maxLength` (cut by the collator, or by the
    /// prompt-first rule at preparation).
    public var truncatedExamples = 0
    /// Examples whose tokenised prompt is not a prefix of prompt+completion (see ``BoundaryMode``).
    public var boundaryMismatches = 0
    /// Examples whose ids start with the BOS token twice (the text already held it and the tokenizer added another).
    public var doubledBOS = 0
    /// Where the dropped examples came from (file rows), when known.
    public var droppedRows: [RowLocation] = []
    /// Human-readable warnings, each problem reported once per dataset, quoting the first example.
    public var warnings: [String] = []

    /// An empty summary.
    public init() {}
}

/// Turns prompts and completions into token ids the way the trainers do: plain text through the
/// tokenizer, conversations through the chat template.
public struct ExampleEncoder: Sendable {
    /// The tokenizer.
    public let tokenizer: Tokenizer
    /// The chat template for conversational data (nil when the tokenizer has none).
    public let chatTemplate: ChatTemplate?

    /// An encoder for `tokenizer`, with `chatTemplate` or else the tokenizer's own template, whose
    /// special-token variables (`bos_token`, `eos_token`, ...) come from the tokenizer.
    public init(tokenizer: Tokenizer, chatTemplate: ChatTemplate? = nil) throws {
        self.tokenizer = tokenizer
        if let chatTemplate {
            self.chatTemplate = chatTemplate
        } else if let source = tokenizer.chatTemplate {
            var context: [String: TemplateValue] = [:]
            if let t = tokenizer.bosToken { context["bos_token"] = .string(t) }
            if let t = tokenizer.eosToken { context["eos_token"] = .string(t) }
            if let t = tokenizer.padToken { context["pad_token"] = .string(t) }
            if let t = tokenizer.unknownToken { context["unk_token"] = .string(t) }
            self.chatTemplate = try ChatTemplate(source, defaultContext: context, origin: tokenizer.chatTemplateOrigin)
        } else {
            self.chatTemplate = nil
        }
    }

    /// Plain text as TRL tokenises it: `tokenizer(text)`, so with the post-processor's special tokens.
    public func encode(text: String, addSpecialTokens: Bool = true) -> [Int32] {
        tokenizer.encode(text, addSpecialTokens: addSpecialTokens).map { Int32(truncatingIfNeeded: $0) }
    }

    /// A conversation rendered by the chat template and tokenised without special tokens (the template
    /// writes its own), as transformers' `apply_chat_template(tokenize=True)` does.
    public func encode(messages: [ChatMessage], addGenerationPrompt: Bool, continueFinalMessage: Bool = false)
        throws -> [Int32] {
        encode(text: try render(messages, addGenerationPrompt: addGenerationPrompt,
                                continueFinalMessage: continueFinalMessage), addSpecialTokens: false)
    }

    /// The chat template's text for a conversation.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool, continueFinalMessage: Bool = false)
        throws -> String {
        guard let chatTemplate else {
            throw DatasetError(file: "tokenizer", "conversational data needs a chat template, and the tokenizer has none")
        }
        return try chatTemplate.render(messages: messages, addGenerationPrompt: addGenerationPrompt,
                                       continueFinalMessage: continueFinalMessage)
    }

    /// `text` with the EOS token's text appended unless it already ends with it (compared by Unicode
    /// scalars, as Python's `str.endswith`).
    func appendingEOS(_ content: ExampleContent) -> ExampleContent {
        guard case .text(let s) = content, let eos = tokenizer.eosToken, !eos.isEmpty else { return content }
        return s.unicodeScalars.reversed().starts(with: eos.unicodeScalars.reversed()) ? content : .text(s + eos)
    }

    /// The prompt rendered as TRL renders it alone: with the generation prompt (or, with
    /// `continuesFinalAssistantTurn` and a final assistant turn, as an open assistant prefill).
    func renderPrompt(_ prompt: [ChatMessage], options: PreparationOptions) throws -> String {
        let continues = options.continuesFinalAssistantTurn && prompt.last?.role == "assistant"
        return try render(prompt, addGenerationPrompt: !continues, continueFinalMessage: continues)
    }

    /// Tokenises a prompt with one or more completions (DPO: chosen and rejected; KTO/SFT: one) and splits
    /// at the boundary. Completions must already carry their EOS text when wanted.
    func encode(prompt: ExampleContent, completions: [ExampleContent], options: PreparationOptions,
                warnings: inout WarningLog, location: RowLocation?) throws -> (prompt: [Int32], completions: [[Int32]]) {
        let encoded = try encodeSplitting(prompt: prompt, completions: completions, options: options,
                                          warnings: &warnings, location: location)
        // A sequence of no tokens at all has no position to score and no last token to read a
        // reward at; it means the tokenizer covers none of the text (a vocabulary without byte
        // fallback), which only a clear refusal explains.
        if encoded.prompt.isEmpty, encoded.completions.contains(where: \.isEmpty) { throw DatasetError.noTokens(at: location) }
        return encoded
    }

    private func encodeSplitting(prompt: ExampleContent, completions: [ExampleContent], options: PreparationOptions,
                                 warnings: inout WarningLog, location: RowLocation?) throws -> (prompt: [Int32], completions: [[Int32]]) {
        let promptIDs: [Int32]
        var fulls: [[Int32]] = []
        switch options.boundary {
        case .commonPrefix:
            switch prompt {
            case .text(let p):
                promptIDs = encode(text: p)
                for c in completions { fulls.append(encode(text: p + (c.text ?? ""))) }
            case .messages(let p):
                promptIDs = encode(text: try renderPrompt(p, options: options), addSpecialTokens: false)
                for c in completions {
                    fulls.append(try encode(messages: p + (c.messages ?? []), addGenerationPrompt: false))
                }
            }
            var promptLength = promptIDs.count
            for full in fulls { promptLength = min(promptLength, commonPrefixLength(promptIDs, full)) }
            if promptLength < promptIDs.count {
                warnings.boundaryMismatch(dropped: tokenizer.decode(promptIDs[promptLength...].map(Int.init)),
                                          location: location)
            }
            warnings.checkBOS(promptIDs, bos: tokenizer.bosTokenID, location: location)
            return (Array(promptIDs[..<promptLength]), fulls.map { Array($0[promptLength...]) })
        case .separate:
            switch prompt {
            case .text(let p):
                promptIDs = encode(text: p)
                let pieces = completions.map { encode(text: $0.text ?? "", addSpecialTokens: false) }
                warnings.checkBOS(promptIDs, bos: tokenizer.bosTokenID, location: location)
                return (promptIDs, pieces)
            case .messages(let p):
                // As TRL's apply_chat_template splits text: the prompt is the common character prefix of the
                // prompt render and every full render; each completion is the rest of its full render.
                var promptText = Array(try renderPrompt(p, options: options).unicodeScalars)
                var fullTexts: [[Unicode.Scalar]] = []
                for c in completions {
                    let full = Array(try render(p + (c.messages ?? []), addGenerationPrompt: false).unicodeScalars)
                    promptText = Array(promptText[..<commonPrefixLength(promptText, full)])
                    fullTexts.append(full)
                }
                let ids = encode(text: String(String.UnicodeScalarView(promptText)), addSpecialTokens: false)
                let pieces = fullTexts.map {
                    encode(text: String(String.UnicodeScalarView($0[promptText.count...])), addSpecialTokens: false)
                }
                return (ids, pieces)
            }
        }
    }
}

extension DatasetError {
    /// A row whose prompt and a completion encode to no tokens at all: nothing to score and no
    /// last token to read a reward at.
    static func noTokens(at location: RowLocation?) -> DatasetError {
        let reason = "the prompt and a completion encode to no tokens (does the tokenizer cover this text?)"
        return location.map { DatasetError($0, reason) } ?? DatasetError(file: "data", reason)
    }
}

/// Number of leading elements two sequences share.
@inlinable
public func commonPrefixLength<T: Equatable>(_ a: [T], _ b: [T]) -> Int {
    let n = min(a.count, b.count)
    var i = 0
    while i < n && a[i] == b[i] { i &+= 1 }
    return i
}

/// Collects once-per-dataset warnings and their counts while a dataset is prepared.
struct WarningLog {
    var summary = PreparationSummary()
    private var warnedBoundary = false
    private var warnedBOS = false

    mutating func boundaryMismatch(dropped: String, location: RowLocation?) {
        summary.boundaryMismatches += 1
        guard !warnedBoundary else { return }
        warnedBoundary = true
        let at = location.map { " (first at \($0))" } ?? ""
        summary.warnings.append(
            "The tokenized prompt is not a prefix of the tokenized prompt+completion\(at): tokens merged across the "
            + "boundary or the chat template renders the prompt alone differently. The completion starts where they "
            + "diverge, so this end of the prompt is left out of the training sequence: \(dropped.debugDescription). "
            + "End prompts on a token boundary, or use BoundaryMode.separate.")
    }

    mutating func checkBOS(_ ids: [Int32], bos: Int?, location: RowLocation?) {
        guard let bos, ids.count >= 2, ids[0] == Int32(bos), ids[1] == Int32(bos) else { return }
        summary.doubledBOS += 1
        guard !warnedBOS else { return }
        warnedBOS = true
        let at = location.map { " (first at \($0))" } ?? ""
        summary.warnings.append(
            "The prompt starts with the BOS token twice\(at): the text (or chat template) already holds it and the "
            + "tokenizer adds another. Remove it from the data.")
    }
}
