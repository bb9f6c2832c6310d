import AlignTemplates
import Foundation

/// Pairs for DPO and reward modelling, read from JSON Lines or a JSON array.
///
/// Accepts `{"prompt", "chosen", "rejected"}` and implicit-prompt `{"chosen", "rejected"}` rows, either as
/// plain strings or as message lists (conversational). The format is detected from the first valid row and
/// every other row must match it. Implicit prompts are extracted as TRL's `extract_prompt` does.
///
/// ```swift
/// let pairs = try PreferenceDataset(contentsOf: URL(fileURLWithPath: "pairs.jsonl"))
/// print(pairs.examples.count, pairs.format, pairs.isConversational)
/// ```
public struct PreferenceDataset: Sendable {
    /// The pairs, in file order (skipped rows left out).
    public var examples: [PreferenceExample]
    /// `.preference` or `.implicitPreference` (the prompts are then already extracted).
    public var format: DatasetFormat
    /// Whether prompts and completions are message lists.
    public var isConversational: Bool
    /// Row counts and skipped rows.
    public var report: ReadReport

    /// Reads and validates a file; throws a ``DatasetError`` naming `file:line` for the first malformed row
    /// (or skips such rows with `options.skipBadRows`).
    public init(contentsOf url: URL, options: ReadOptions = ReadOptions()) throws {
        let loaded = try DatasetLoader.load(url, options: options, accepting: [.preference, .implicitPreference],
                                            decode: DatasetLoader.preference)
        self.examples = loaded.examples
        self.format = loaded.format
        self.isConversational = loaded.isConversational
        self.report = loaded.report
    }

    /// Wraps pairs built in memory (all of them text, or all of them messages).
    public init(examples: [PreferenceExample], format: DatasetFormat = .preference) {
        self.examples = examples
        self.format = format
        self.isConversational = examples.first?.chosen.isConversational ?? false
        self.report = ReadReport()
        self.report.totalRows = examples.count
    }
}

/// Unpaired examples for KTO. Reads `{"prompt", "completion", "label"}` rows, or preference rows (explicit
/// or implicit prompt), which are unpaired as TRL's `unpair_preference_dataset` does.
public struct UnpairedDataset: Sendable {
    /// The examples, in TRL's order.
    public var examples: [UnpairedExample]
    /// The format of the file (`.unpaired`, or the preference format that was unpaired).
    public var format: DatasetFormat
    /// Whether prompts and completions are message lists.
    public var isConversational: Bool
    /// Row counts and skipped rows (of the file, before unpairing).
    public var report: ReadReport

    /// Reads a file. Preference files are unpaired with ``init(unpairing:chunkSize:)``'s default chunk size.
    public init(contentsOf url: URL, options: ReadOptions = ReadOptions()) throws {
        let loaded = try DatasetLoader.load(url, options: options,
                                            accepting: [.unpaired, .preference, .implicitPreference]) { d, format, conv in
            if format == .unpaired {
                return DatasetLoader.Row.unpaired(try DatasetLoader.unpaired(d, format, conv))
            }
            return DatasetLoader.Row.pair(try DatasetLoader.preference(d, format, conv))
        }
        if loaded.format == .unpaired {
            var dataset = UnpairedDataset(examples: loaded.examples.compactMap {
                if case .unpaired(let u) = $0 { return u } else { return nil }
            })
            dataset.isConversational = loaded.isConversational
            dataset.report = loaded.report
            self = dataset
        } else {
            let pairs = loaded.examples.compactMap { if case .pair(let p) = $0 { return p } else { return nil } }
            var dataset = PreferenceDataset(examples: pairs, format: loaded.format)
            dataset.report = loaded.report
            self.init(unpairing: dataset)
        }
    }

    /// Wraps examples built in memory.
    public init(examples: [UnpairedExample]) {
        self.examples = examples
        self.format = .unpaired
        self.isConversational = examples.first?.completion.isConversational ?? false
        self.report = ReadReport()
        self.report.totalRows = examples.count
    }

    /// Turns each pair into a desirable row (its chosen completion) and an undesirable one (rejected), in
    /// TRL's order: `datasets.map(batched=True)` hands `_unpair_row` chunks of `chunkSize` pairs (1000 by
    /// default), and each chunk becomes [all its chosen rows; all its rejected rows]. Extra columns are copied.
    public init(unpairing pairs: PreferenceDataset, chunkSize: Int = 1000) {
        precondition(chunkSize > 0, "chunkSize must be positive")
        var rows: [UnpairedExample] = []
        rows.reserveCapacity(pairs.examples.count * 2)
        var start = 0
        while start < pairs.examples.count {
            let chunk = pairs.examples[start..<min(start + chunkSize, pairs.examples.count)]
            for p in chunk {
                rows.append(UnpairedExample(prompt: p.prompt, completion: p.chosen, label: true, extras: p.extras,
                                            location: p.location))
            }
            for p in chunk {
                rows.append(UnpairedExample(prompt: p.prompt, completion: p.rejected, label: false, extras: p.extras,
                                            location: p.location))
            }
            start += chunkSize
        }
        examples = rows
        format = pairs.format
        isConversational = pairs.isConversational
        report = pairs.report
    }
}

/// Supervised fine-tuning data: `{"prompt", "completion"}`, `{"messages"}` or `{"text"}` rows.
public struct LanguageModelingDataset: Sendable {
    /// The examples, in file order.
    public var examples: [LanguageModelingExample]
    /// `.promptCompletion`, `.messages` or `.text`.
    public var format: DatasetFormat
    /// Whether the content is message lists.
    public var isConversational: Bool
    /// Row counts and skipped rows.
    public var report: ReadReport

    /// Reads and validates a file.
    public init(contentsOf url: URL, options: ReadOptions = ReadOptions()) throws {
        let loaded = try DatasetLoader.load(url, options: options, accepting: [.promptCompletion, .messages, .text]) {
            d, format, conv in
            let extras = try d.extras()
            switch format {
            case .promptCompletion:
                return LanguageModelingExample(prompt: try d.content("prompt", conversational: conv, allowEmpty: true),
                                               completion: try d.content("completion", conversational: conv),
                                               extras: extras, location: d.location)
            case .messages:
                return LanguageModelingExample(prompt: nil, completion: try d.content("messages", conversational: true),
                                               extras: extras, location: d.location)
            default:
                return LanguageModelingExample(prompt: nil, completion: try d.content("text", conversational: false),
                                               extras: extras, location: d.location)
            }
        }
        self.examples = loaded.examples
        self.format = loaded.format
        self.isConversational = loaded.isConversational
        self.report = loaded.report
    }

    /// Wraps examples built in memory.
    public init(examples: [LanguageModelingExample], format: DatasetFormat) {
        self.examples = examples
        self.format = format
        self.isConversational = examples.first?.completion.isConversational ?? false
        self.report = ReadReport()
        self.report.totalRows = examples.count
    }
}

/// Splits an implicit-prompt pair into prompt, chosen and rejected as TRL 1.16's `extract_prompt` does.
///
/// The prompt is the longest common prefix, in Unicode scalars for text (Python indexes strings by code
/// point) or in whole messages for conversations, with TRL's exact edge cases:
/// - when the texts first differ right after a space, that space moves to the completions;
/// - when one is a prefix of the other, the loop ends without a difference and the prompt stops one
///   element short of the shorter one (the last element stays in both completions);
/// - when the very first elements differ and the chosen text *ends* with a space, Python's index −1
///   wraps: the prompt is all of chosen but its last character, and the completions are the last
///   character of each.
/// Both sides must be non-empty and of the same kind.
public func extractPrompt(chosen: ExampleContent, rejected: ExampleContent) -> (prompt: ExampleContent,
                                                                                 chosen: ExampleContent,
                                                                                 rejected: ExampleContent) {
    switch (chosen, rejected) {
    case (.text(let c), .text(let r)):
        let cs = Array(c.unicodeScalars), rs = Array(r.unicodeScalars)
        let (p, ci, ri) = commonPrefixSplit(cs, rs, isSpace: { $0 == " " })
        func string(_ s: ArraySlice<Unicode.Scalar>) -> String {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: s)
            return String(view)
        }
        return (.text(string(cs[..<p])), .text(string(cs[ci...])), .text(string(rs[ri...])))
    case (.messages(let c), .messages(let r)):
        let (p, ci, ri) = commonPrefixSplit(c, r, isSpace: { _ in false })
        return (.messages(Array(c[..<p])), .messages(Array(c[ci...])), .messages(Array(r[ri...])))
    default:
        preconditionFailure("chosen and rejected must both be text or both be messages")
    }
}

/// TRL's loop, with Python's negative indices resolved: returns the prompt end in `c` and the start of
/// each completion.
func commonPrefixSplit<T: Equatable>(_ c: [T], _ r: [T], isSpace: (T) -> Bool) -> (Int, Int, Int) {
    let n = min(c.count, r.count)
    precondition(n > 0, "extract_prompt needs non-empty chosen and rejected")
    var idx = n - 1  // Python leaves the loop variable at its last value when nothing differs
    for i in 0..<n where c[i] != r[i] {
        idx = i
        let before = i == 0 ? c[c.count - 1] : c[i - 1]  // c[idx - 1], with Python's wrap-around at 0
        if isSpace(before) { idx -= 1 }
        break
    }
    if idx >= 0 { return (idx, idx, idx) }
    // idx == -1: c[:-1], c[-1:], r[-1:]
    return (c.count - 1, c.count - 1, r.count - 1)
}

/// The shared read-detect-validate loop behind the dataset types.
enum DatasetLoader {
    struct Loaded<T> {
        var examples: [T]
        var format: DatasetFormat
        var isConversational: Bool
        var report: ReadReport
    }

    enum Row {
        case pair(PreferenceExample)
        case unpaired(UnpairedExample)
    }

    /// The field whose kind (text or messages) decides whether a format's dataset is conversational.
    static func contentField(_ format: DatasetFormat) -> String {
        switch format {
        case .preference, .implicitPreference: return "chosen"
        case .unpaired, .promptCompletion: return "completion"
        case .messages: return "messages"
        case .text: return "text"
        }
    }

    static func load<T>(_ url: URL, options: ReadOptions, accepting accepted: [DatasetFormat],
                        decode: (RowDecoder, DatasetFormat, Bool) throws -> T) throws -> Loaded<T> {
        var report = ReadReport()
        var examples: [T] = []
        var format: DatasetFormat?
        var conversational = false
        var firstLocation = RowLocation(file: url.lastPathComponent, line: 1)
        // TRL's collators read `margin` for the batch when the first example has it, so once the first row
        // has one every row must.
        var needsMargin = false
        // Rows are judged as they are read, so without skipBadRows the first malformed row ends the read:
        // the rest of the file is never parsed.
        try RowReader.forEachRow(of: url) { row in
            report.totalRows += 1
            do {
                let decoder = try RowDecoder(try row.value.get(), at: row.location)
                if let format {
                    try decoder.check(format: format, firstLine: firstLocation)
                    if needsMargin && decoder.value("margin") == nil {
                        throw DatasetError(row.location, "missing field \"margin\" (the first row, at \(firstLocation), has one)")
                    }
                    examples.append(try decode(decoder, format, conversational))
                } else {
                    guard let detected = DatasetFormat.detect(keys: decoder.keys) else {
                        let fields = decoder.keys.map { "\"\($0)\"" }.joined(separator: ", ")
                        throw DatasetError(row.location, "row has fields [\(fields)], which match no known format; "
                                           + "expected \(accepted.map(\.description).joined(separator: " or "))")
                    }
                    guard accepted.contains(detected) else {
                        throw DatasetError(row.location, "row is a \(detected) row; expected "
                                           + accepted.map(\.description).joined(separator: " or "))
                    }
                    let conv = detected == .messages
                        || (detected != .text && decoder.isConversational(contentField(detected)))
                    // The format is fixed only by a row that also decodes cleanly.
                    examples.append(try decode(decoder, detected, conv))
                    format = detected
                    conversational = conv
                    needsMargin = decoder.value("margin") != nil
                    firstLocation = row.location
                }
            } catch let error as DatasetError {
                if options.skipBadRows { report.skip(error) } else { throw error }
            }
        }
        guard let format else {
            let why = report.skippedReasons.first.map { " (first problem: \($0))" } ?? ""
            throw DatasetError(file: url.lastPathComponent, "no valid rows\(why)")
        }
        return Loaded(examples: examples, format: format, isConversational: conversational, report: report)
    }

    static func preference(_ d: RowDecoder, _ format: DatasetFormat, _ conv: Bool) throws -> PreferenceExample {
        let extras = try d.extras()
        let chosen = try d.content("chosen", conversational: conv)
        let rejected = try d.content("rejected", conversational: conv)
        if format == .preference {
            return PreferenceExample(prompt: try d.content("prompt", conversational: conv, allowEmpty: true),
                                     chosen: chosen, rejected: rejected, extras: extras, location: d.location)
        }
        let split = extractPrompt(chosen: chosen, rejected: rejected)
        return PreferenceExample(prompt: split.prompt, chosen: split.chosen, rejected: split.rejected, extras: extras,
                                 location: d.location)
    }

    static func unpaired(_ d: RowDecoder, _ format: DatasetFormat, _ conv: Bool) throws -> UnpairedExample {
        UnpairedExample(prompt: try d.content("prompt", conversational: conv, allowEmpty: true),
                        completion: try d.content("completion", conversational: conv),
                        label: try d.label(), extras: try d.extras(), location: d.location)
    }
}
