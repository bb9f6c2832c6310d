// Dataset preparation per objective, as TRL 1.16's `_prepare_dataset` methods do it: EOS append, tokenisation,
// the boundary rule, and the drops and cuts each trainer applies.

/// A tokenised preference pair: TRL's `prompt_ids`, `chosen_ids` and `rejected_ids` columns.
///
/// For DPO the completions start after `promptIDs`. For reward modelling `promptIDs` is empty and
/// `chosenIDs`/`rejectedIDs` are the whole prompt+completion sequences.
public struct TokenizedPair: Sendable, Equatable {
    /// The prompt's ids (up to the boundary).
    public var promptIDs: [Int32]
    /// The chosen completion's ids.
    public var chosenIDs: [Int32]
    /// The rejected completion's ids.
    public var rejectedIDs: [Int32]
    /// The row's `margin` column (reward modelling), when present.
    public var margin: Float?
    /// Where the row came from.
    public var location: RowLocation?

    /// Creates a pair.
    public init(promptIDs: [Int32], chosenIDs: [Int32], rejectedIDs: [Int32], margin: Float? = nil,
                location: RowLocation? = nil) {
        self.promptIDs = promptIDs
        self.chosenIDs = chosenIDs
        self.rejectedIDs = rejectedIDs
        self.margin = margin
        self.location = location
    }
}

/// A tokenised unpaired example (KTO): TRL's `prompt_ids`, `completion_ids`, `KL_completion_ids`, `label`.
public struct TokenizedUnpaired: Sendable, Equatable {
    /// The prompt's ids.
    public var promptIDs: [Int32]
    /// The completion's ids.
    public var completionIDs: [Int32]
    /// The mismatched completion paired with this prompt for the KL estimate (another row's completion),
    /// or nil when KL pairs were not built.
    public var klCompletionIDs: [Int32]?
    /// True for desirable, false for undesirable.
    public var label: Bool
    /// Where the row came from.
    public var location: RowLocation?

    /// Creates an example.
    public init(promptIDs: [Int32], completionIDs: [Int32], klCompletionIDs: [Int32]? = nil, label: Bool,
                location: RowLocation? = nil) {
        self.promptIDs = promptIDs
        self.completionIDs = completionIDs
        self.klCompletionIDs = klCompletionIDs
        self.label = label
        self.location = location
    }
}

/// A tokenised SFT sequence: TRL's `input_ids` and `labels` (−100 where no loss is taken).
public struct TokenizedSequence: Sendable, Equatable {
    /// The token ids.
    public var inputIDs: [Int32]
    /// `inputIDs` where the loss is taken, ``ignoredLabel`` elsewhere (the prompt, with completion-only loss).
    public var labels: [Int32]
    /// Where the row came from.
    public var location: RowLocation?

    /// Creates a sequence.
    public init(inputIDs: [Int32], labels: [Int32], location: RowLocation? = nil) {
        precondition(inputIDs.count == labels.count, "labels must have one entry per id")
        self.inputIDs = inputIDs
        self.labels = labels
        self.location = location
    }
}

/// The label value that takes no loss (PyTorch's `ignore_index`).
public let ignoredLabel: Int32 = -100

extension PreferenceDataset {
    /// Prepares pairs for DPO as TRL 1.16's `DPOObjective._prepare_dataset` does.
    ///
    /// Plain-text completions get the EOS text appended (unless present); prompt and prompt+completion are
    /// tokenised (``BoundaryMode``). With keep_start truncation and no `maxPromptLength`, pairs whose prompt alone
    /// has ≥ `maxLength` tokens are dropped; the rest stay uncut here (the ``PreferenceCollator`` cuts them, as TRL's
    /// collator does) and are counted in ``PreparationSummary/truncatedExamples``. With `maxPromptLength`, the
    /// original repository's prompt-first cut is applied here instead.
    public func tokenizedForDPO(encoder: ExampleEncoder, options: PreparationOptions = PreparationOptions()) throws
        -> (pairs: [TokenizedPair], summary: PreparationSummary) {
        try validate(options)
        var log = WarningLog()
        var pairs: [TokenizedPair] = []
        pairs.reserveCapacity(examples.count)
        for example in examples {
            var chosen = example.chosen, rejected = example.rejected
            if options.appendsEOS {
                chosen = encoder.appendingEOS(chosen)
                rejected = encoder.appendingEOS(rejected)
            }
            let (prompt, completions) = try encoder.encode(prompt: example.prompt, completions: [chosen, rejected],
                                                           options: options, warnings: &log, location: example.location)
            var promptIDs = prompt, completionIDs = completions
            guard keepAndCut(prompt: &promptIDs, completions: &completionIDs, options: options,
                             location: example.location, log: &log) else { continue }
            pairs.append(TokenizedPair(promptIDs: promptIDs, chosenIDs: completionIDs[0], rejectedIDs: completionIDs[1],
                                       margin: example.margin.map(Float.init), location: example.location))
        }
        log.summary.inputExamples = examples.count
        log.summary.keptExamples = pairs.count
        return (pairs, log.summary)
    }

    /// Prepares pairs for a reward model as TRL 1.16's `RewardObjective._prepare_dataset` does: EOS text appended
    /// to plain-text completions, then prompt+chosen and prompt+rejected tokenised each as **one** sequence (no
    /// boundary rule), and pairs with either sequence longer than `maxLength` **dropped** (never cut).
    /// The returned pairs have empty `promptIDs`.
    public func tokenizedForReward(encoder: ExampleEncoder, maxLength: Int? = 1024) throws
        -> (pairs: [TokenizedPair], summary: PreparationSummary) {
        var log = WarningLog()
        var pairs: [TokenizedPair] = []
        pairs.reserveCapacity(examples.count)
        for example in examples {
            var sequences: [[Int32]] = []
            for completion in [example.chosen, example.rejected] {
                switch example.prompt + encoder.appendingEOS(completion) {
                case .text(let t): sequences.append(encoder.encode(text: t))
                case .messages(let m): sequences.append(try encoder.encode(messages: m, addGenerationPrompt: false))
                }
            }
            if sequences.contains(where: \.isEmpty) { throw DatasetError.noTokens(at: example.location) }
            log.checkBOS(sequences[0], bos: encoder.tokenizer.bosTokenID, location: example.location)
            if let maxLength, sequences.contains(where: { $0.count > maxLength }) {
                log.summary.droppedExamples += 1
                if let l = example.location { log.summary.droppedRows.append(l) }
                continue
            }
            pairs.append(TokenizedPair(promptIDs: [], chosenIDs: sequences[0], rejectedIDs: sequences[1],
                                       margin: example.margin.map(Float.init), location: example.location))
        }
        log.summary.inputExamples = examples.count
        log.summary.keptExamples = pairs.count
        return (pairs, log.summary)
    }
}

extension UnpairedDataset {
    /// Prepares examples for KTO as TRL 1.16's `KTOObjective._prepare_dataset` does: EOS text appended to
    /// plain-text completions, the boundary rule on prompt and prompt+completion, examples whose prompt alone
    /// has ≥ `maxLength` tokens dropped (without `maxPromptLength`), and, when `klChunkSize` is given, the
    /// mismatched KL completions.
    ///
    /// KL pairs: TRL maps the kept rows in consecutive chunks of `per_device_train_batch_size` rows and rotates
    /// completions by one inside each chunk, so row i of a chunk gets row i−1's completion and the first row
    /// gets the chunk's last. Pass the training batch size as `klChunkSize`. A chunk of one row (batch size 1,
    /// which TRL refuses) pairs the row with its own completion, so its KL term is then matched, not mismatched.
    public func tokenizedForKTO(encoder: ExampleEncoder, options: PreparationOptions = PreparationOptions(),
                                klChunkSize: Int? = nil) throws
        -> (examples: [TokenizedUnpaired], summary: PreparationSummary) {
        try validate(options)
        if let k = klChunkSize, k < 1 { throw DatasetError(file: "options", "klChunkSize must be at least 1") }
        var log = WarningLog()
        var rows: [TokenizedUnpaired] = []
        rows.reserveCapacity(examples.count)
        for example in examples {
            let completion = options.appendsEOS ? encoder.appendingEOS(example.completion) : example.completion
            let (prompt, completions) = try encoder.encode(prompt: example.prompt, completions: [completion],
                                                           options: options, warnings: &log, location: example.location)
            // KTO drops on the prompt length whatever the truncation mode (its collator only keeps the start).
            var kto = options
            if kto.maxPromptLength == nil { kto.truncationMode = .keepStart }
            var promptIDs = prompt, completionIDs = completions
            guard keepAndCut(prompt: &promptIDs, completions: &completionIDs, options: kto,
                             location: example.location, log: &log) else { continue }
            rows.append(TokenizedUnpaired(promptIDs: promptIDs, completionIDs: completionIDs[0], label: example.label,
                                          location: example.location))
        }
        if let chunk = klChunkSize {
            var start = 0
            while start < rows.count {
                let end = min(start + chunk, rows.count)
                let last = rows[end - 1].completionIDs
                for i in stride(from: end - 1, to: start, by: -1) { rows[i].klCompletionIDs = rows[i - 1].completionIDs }
                rows[start].klCompletionIDs = last
                start = end
            }
        }
        log.summary.inputExamples = examples.count
        log.summary.keptExamples = rows.count
        return (rows, log.summary)
    }
}

extension LanguageModelingDataset {
    /// Prepares SFT sequences as TRL 1.16's `SFTObjective._prepare_dataset` does.
    ///
    /// - Prompt-completion rows: EOS text appended to plain-text completions; the boundary rule gives the
    ///   completion start; with `completionOnlyLoss` (nil means on for prompt-completion data, as in TRL) the
    ///   prompt's labels are ``ignoredLabel``.
    /// - `{"text"}` rows: EOS text appended, every token trained. `{"messages"}` rows: the chat template's text,
    ///   every token trained.
    /// - Unless `packed` (packing cuts to its own row length), sequences are cut to `maxLength` here by
    ///   `truncationMode`, and sequences left with no trained token are dropped.
    public func tokenizedForSFT(encoder: ExampleEncoder, options: PreparationOptions = PreparationOptions(),
                                completionOnlyLoss: Bool? = nil, packed: Bool = false) throws
        -> (sequences: [TokenizedSequence], summary: PreparationSummary) {
        var log = WarningLog()
        let completionOnly = completionOnlyLoss ?? (format == .promptCompletion)
        var sequences: [TokenizedSequence] = []
        sequences.reserveCapacity(examples.count)
        for example in examples {
            var ids: [Int32]
            var promptLength = 0
            let completion = options.appendsEOS ? encoder.appendingEOS(example.completion) : example.completion
            if let prompt = example.prompt {
                let (p, c) = try encoder.encode(prompt: prompt, completions: [completion], options: options,
                                                warnings: &log, location: example.location)
                ids = p + c[0]
                promptLength = completionOnly ? p.count : 0
            } else {
                switch completion {
                case .text(let t): ids = encoder.encode(text: t)
                case .messages(let m): ids = try encoder.encode(messages: m, addGenerationPrompt: false)
                }
                log.checkBOS(ids, bos: encoder.tokenizer.bosTokenID, location: example.location)
            }
            var labels = ids
            for i in 0..<promptLength { labels[i] = ignoredLabel }
            if !packed, let maxLength = options.maxLength, ids.count > maxLength {
                log.summary.truncatedExamples += 1
                switch options.truncationMode {
                case .keepStart:
                    ids.removeLast(ids.count - maxLength)
                    labels.removeLast(labels.count - maxLength)
                case .keepEnd:
                    ids.removeFirst(ids.count - maxLength)
                    labels.removeFirst(labels.count - maxLength)
                }
                if !labels.contains(where: { $0 != ignoredLabel }) {
                    log.summary.truncatedExamples -= 1
                    log.summary.droppedExamples += 1
                    if let l = example.location { log.summary.droppedRows.append(l) }
                    continue
                }
            }
            sequences.append(TokenizedSequence(inputIDs: ids, labels: labels, location: example.location))
        }
        log.summary.inputExamples = examples.count
        log.summary.keptExamples = sequences.count
        return (sequences, log.summary)
    }
}

func validate(_ options: PreparationOptions) throws {
    if let m = options.maxLength, m < 1 { throw DatasetError(file: "options", "maxLength must be at least 1") }
    if let p = options.maxPromptLength {
        guard let m = options.maxLength else {
            throw DatasetError(file: "options", "maxPromptLength needs maxLength")
        }
        if p < 0 || p >= m {
            throw DatasetError(file: "options", "maxPromptLength (\(p)) must be in 0..<maxLength (\(m))")
        }
    }
}

/// Applies the drop rule and, with `maxPromptLength`, the prompt-first cut; counts what happened.
/// Returns false when the example is dropped.
func keepAndCut(prompt: inout [Int32], completions: inout [[Int32]], options: PreparationOptions,
                location: RowLocation?, log: inout WarningLog) -> Bool {
    guard let maxLength = options.maxLength else { return true }
    let longest = completions.map(\.count).max() ?? 0
    if let maxPromptLength = options.maxPromptLength {
        // Original DPO repository: cut the prompt first, then the completions from the right.
        guard prompt.count + longest > maxLength else { return true }
        log.summary.truncatedExamples += 1
        if prompt.count > maxPromptLength {
            switch options.truncationMode {
            case .keepStart: prompt.removeLast(prompt.count - maxPromptLength)
            case .keepEnd: prompt.removeFirst(prompt.count - maxPromptLength)
            }
        }
        if prompt.count + longest > maxLength {
            let room = maxLength - maxPromptLength
            for i in completions.indices where completions[i].count > room {
                completions[i].removeLast(completions[i].count - room)
            }
        }
        return true
    }
    if options.truncationMode == .keepStart && prompt.count >= maxLength {
        log.summary.droppedExamples += 1
        if let location { log.summary.droppedRows.append(location) }
        return false
    }
    if prompt.count + longest > maxLength { log.summary.truncatedExamples += 1 }
    return true
}

/// A 64-bit FNV-1a digest of prepared pairs (every id, in order, with the boundaries between lists), so a
/// cache of reference log-probabilities can be keyed by the exact data it was computed from, not the file
/// name: re-tokenising with another tokenizer, template or truncation setting changes the digest.
public func fingerprint<C: Collection>(of pairs: C) -> UInt64 where C.Element == TokenizedPair {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    @inline(__always) func mix(_ value: Int32) {
        var v = UInt32(bitPattern: value)
        for _ in 0..<4 {
            hash = (hash ^ UInt64(v & 0xFF)) &* 0x0000_0100_0000_01B3
            v >>= 8
        }
    }
    for pair in pairs {
        for list in [pair.promptIDs, pair.chosenIDs, pair.rejectedIDs] {
            mix(Int32(truncatingIfNeeded: list.count))  // length first: [1][2,3] and [1,2][3] differ
            for id in list { mix(id) }
        }
        mix(pair.margin.map { Int32(bitPattern: $0.bitPattern) } ?? -1)
    }
    return hash
}
