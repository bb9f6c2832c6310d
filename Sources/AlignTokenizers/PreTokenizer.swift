/// A piece of text flowing through pre-tokenization: scalar values plus whether it begins at the very
/// start of the input (Metaspace's `prepend_scheme: "first"` needs to know). The scalars are borrowed
/// from a buffer that outlives the visit, so splitting allocates and retains nothing.
struct Fragment {
    var scalars: UnsafeBufferPointer<UInt32>
    var atStart: Bool

    /// The sub-fragment covering `range` (0-based in the result).
    @inline(__always)
    func slice(_ range: Range<Int>) -> Fragment {
        Fragment(scalars: UnsafeBufferPointer(rebasing: scalars[range]), atStart: atStart && range.lowerBound == 0)
    }
}

/// How a `Split` pre-tokenizer treats the matches it finds (Hugging Face `SplitDelimiterBehavior`).
enum SplitBehavior: String {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"
}

/// A pre-tokenizer from `tokenizer.json` (`pre_tokenizer`): cuts normalized text into the words the BPE
/// model encodes independently. `ByteLevel` does not change the scalars here; it marks the model as
/// byte-level, which then maps UTF-8 bytes to its alphabet itself.
indirect enum PreTokenizer {
    case sequence([PreTokenizer])
    /// `ByteLevel`: optional prefix space, then (if `useRegex`) the GPT-2 pattern.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    /// `Split` with one of the known regexes, `Isolated` behaviour.
    case regex(RegexScanners.Pattern, SplitBehavior)
    /// `Split` on a literal string.
    case literal([UInt32], SplitBehavior)
    /// `Digits`: each number scalar alone (`individual`) or runs of them.
    case digits(individual: Bool)
    /// `Metaspace`: spaces become the replacement, optionally prepended, optionally split before it.
    case metaspace(replacement: UInt32, prepend: PrependScheme, split: Bool)
    /// `WhitespaceSplit`: split on whitespace, dropping it.
    case whitespaceSplit
    /// `Whitespace`: the matches of `\w+|[^\w\s]+` (word runs and punctuation runs), whitespace dropped.
    case whitespace

    /// When Metaspace prepends its replacement character.
    enum PrependScheme: String {
        case always, first, never
    }

    /// Parses the `pre_tokenizer` JSON object; `file` names the source for errors.
    init(json: [String: Any], file: String) throws {
        let type = json["type"] as? String ?? ""
        switch type {
        case "Sequence":
            let items = json["pretokenizers"] as? [[String: Any]] ?? []
            let steps = try items.map { try PreTokenizer(json: $0, file: file) }
            if let index = steps.firstIndex(where: { if case .byteLevel = $0 { return true } else { return false } }),
               index != steps.count - 1 {
                throw TokenizerError(file, "a ByteLevel pre-tokenizer must come last in its Sequence")
            }
            self = .sequence(steps)
        case "ByteLevel":
            self = .byteLevel(addPrefixSpace: JSON.bool(json["add_prefix_space"]) ?? true,
                              useRegex: JSON.bool(json["use_regex"]) ?? true)
        case "Split":
            let behaviorName = json["behavior"] as? String ?? "Isolated"
            guard let behavior = SplitBehavior(rawValue: behaviorName) else {
                throw TokenizerError(file, "Split behavior \"\(behaviorName)\" is not supported")
            }
            if JSON.bool(json["invert"]) == true {
                throw TokenizerError(file, "Split with invert: true is not supported")
            }
            let pattern = json["pattern"] as? [String: Any] ?? [:]
            if let regex = pattern["Regex"] as? String {
                guard let known = RegexScanners.Pattern(regex: regex) else {
                    throw TokenizerError(file, "Split regex is not one of the known GPT-2/Llama-3/Qwen2 patterns: \(regex)")
                }
                self = .regex(known, behavior)
            } else if let literal = pattern["String"] as? String, !literal.isEmpty {
                self = .literal(scalars(literal), behavior)
            } else {
                throw TokenizerError(file, "Split pre-tokenizer without a String or Regex pattern")
            }
        case "Digits":
            self = .digits(individual: JSON.bool(json["individual_digits"]) ?? false)
        case "Metaspace":
            let replacement = (json["replacement"] as? String)?.unicodeScalars.first?.value ?? 0x2581
            self = .metaspace(replacement: replacement, prepend: try metaspaceScheme(json, file: file),
                              split: JSON.bool(json["split"]) ?? true)
        case "WhitespaceSplit":
            self = .whitespaceSplit
        case "Whitespace":
            self = .whitespace
        default:
            throw TokenizerError(file, "pre-tokenizer type \"\(type)\" is not supported")
        }
    }

    /// Whether a `ByteLevel` step is present (the model must then work on bytes).
    var isByteLevel: Bool {
        switch self {
        case .byteLevel: return true
        case .sequence(let steps): return steps.contains { $0.isByteLevel }
        default: return false
        }
    }

    /// The non-sequence steps, in order (nested sequences flattened).
    var steps: [PreTokenizer] {
        if case .sequence(let items) = self { return items.flatMap(\.steps) }
        return [self]
    }

    /// Splits one fragment with this (non-sequence) step, handing each piece to `emit`.
    func split(_ fragment: Fragment, buffers: ScanBuffers, emit: (Fragment) -> Void) {
        switch self {
        case .sequence(let items):
            // Never reached through `PreTokenization`, which flattens sequences; kept total for safety.
            PreTokenization(items.flatMap(\.steps)).forEachWord(fragment, emit)
        case .byteLevel(let addPrefixSpace, let useRegex):
            if addPrefixSpace && fragment.scalars.first != 0x20 {
                let prefixed = [0x20] + Array(fragment.scalars)
                prefixed.withUnsafeBufferPointer { buffer in
                    let piece = Fragment(scalars: buffer, atStart: fragment.atStart)
                    if useRegex { splitByPattern(.gpt2, .isolated, piece, buffers: buffers, emit: emit) } else { emit(piece) }
                }
            } else if useRegex {
                splitByPattern(.gpt2, .isolated, fragment, buffers: buffers, emit: emit)
            } else {
                emit(fragment)
            }
        case .regex(let pattern, let behavior):
            splitByPattern(pattern, behavior, fragment, buffers: buffers, emit: emit)
        case .literal(let literal, let behavior):
            var matches: [Range<Int>] = []
            let s = fragment.scalars
            var i = 0
            while i + literal.count <= s.count {
                if s[i..<(i + literal.count)].elementsEqual(literal) {
                    matches.append(i..<(i + literal.count))
                    i += literal.count
                } else {
                    i += 1
                }
            }
            cut(fragment, matches: matches, behavior: behavior, emit: emit)
        case .digits(let individual):
            var matches: [Range<Int>] = []
            for i in fragment.scalars.indices where ScalarClass.of(fragment.scalars[i]) == ScalarClass.number {
                matches.append(i..<(i + 1))
            }
            cut(fragment, matches: matches, behavior: individual ? .isolated : .contiguous, emit: emit)
        case .metaspace(let replacement, let prepend, let split):
            var scalars = fragment.scalars.map { $0 == 0x20 ? replacement : $0 }
            let wantsPrefix = prepend == .always || (prepend == .first && fragment.atStart)
            if wantsPrefix && scalars.first != replacement { scalars.insert(replacement, at: 0) }
            scalars.withUnsafeBufferPointer { buffer in
                let piece = Fragment(scalars: buffer, atStart: fragment.atStart)
                if split {
                    let matches = buffer.indices.filter { buffer[$0] == replacement }.map { $0..<($0 + 1) }
                    cut(piece, matches: matches, behavior: .mergedWithNext, emit: emit)
                } else {
                    emit(piece)
                }
            }
        case .whitespaceSplit:
            var matches: [Range<Int>] = []
            for i in fragment.scalars.indices where ScalarClass.of(fragment.scalars[i]) & ScalarClass.space != 0 {
                matches.append(i..<(i + 1))
            }
            cut(fragment, matches: matches, behavior: .removed, emit: emit)
        case .whitespace:
            let s = fragment.scalars
            var i = 0
            while i < s.count {
                if isRegexWordScalar(s[i]) {
                    var j = i + 1
                    while j < s.count && isRegexWordScalar(s[j]) { j += 1 }
                    emit(fragment.slice(i..<j))
                    i = j
                } else if ScalarClass.of(s[i]) & ScalarClass.space == 0 {
                    var j = i + 1
                    while j < s.count && !isRegexWordScalar(s[j]) && ScalarClass.of(s[j]) & ScalarClass.space == 0 { j += 1 }
                    emit(fragment.slice(i..<j))
                    i = j
                } else {
                    i += 1
                }
            }
        }
    }

    /// Runs a regex scanner over the fragment; its matches tile the text, so every behaviour other than
    /// `Isolated` reduces to simple joins of neighbouring matches.
    private func splitByPattern(_ pattern: RegexScanners.Pattern, _ behavior: SplitBehavior, _ fragment: Fragment,
                                buffers: ScanBuffers, emit: (Fragment) -> Void) {
        let s = fragment.scalars
        guard !s.isEmpty else { return }
        ScalarClass.classify(s, into: &buffers.classes)
        buffers.ends.removeAll(keepingCapacity: true)
        buffers.classes.withUnsafeBufferPointer { classes in
            RegexScanners.scan(pattern, s, classes, ends: &buffers.ends)
        }
        if behavior == .isolated {
            var start = 0
            for end in buffers.ends {
                emit(fragment.slice(start..<end))
                start = end
            }
        } else {
            var matches: [Range<Int>] = []
            var start = 0
            for end in buffers.ends {
                matches.append(start..<end)
                start = end
            }
            cut(fragment, matches: matches, behavior: behavior, emit: emit)
        }
    }

    /// Cuts a fragment around `matches` (sorted, non-overlapping absolute ranges) as `behavior` says.
    private func cut(_ fragment: Fragment, matches: [Range<Int>], behavior: SplitBehavior, emit: (Fragment) -> Void) {
        let s = fragment.scalars
        // Build (range, isMatch) pieces first, then combine according to the behaviour.
        var pieces: [(Range<Int>, Bool)] = []
        var cursor = 0
        for match in matches {
            if match.lowerBound > cursor { pieces.append((cursor..<match.lowerBound, false)) }
            pieces.append((match, true))
            cursor = match.upperBound
        }
        if cursor < s.count { pieces.append((cursor..<s.count, false)) }

        var combined: [Range<Int>] = []
        switch behavior {
        case .isolated:
            combined = pieces.map(\.0)
        case .removed:
            combined = pieces.filter { !$0.1 }.map(\.0)
        case .mergedWithPrevious:
            // A match joins the piece before it, unless that piece is itself a match.
            var previousWasMatch = false
            for (range, isMatch) in pieces {
                if isMatch && !previousWasMatch, let last = combined.last {
                    combined[combined.count - 1] = last.lowerBound..<range.upperBound
                } else {
                    combined.append(range)
                }
                previousWasMatch = isMatch
            }
        case .mergedWithNext:
            // Mirror image: walking backwards, a match joins the piece after it unless that is a match.
            var nextWasMatch = false
            for (range, isMatch) in pieces.reversed() {
                if isMatch && !nextWasMatch, let last = combined.last {
                    combined[combined.count - 1] = range.lowerBound..<last.upperBound
                } else {
                    combined.append(range)
                }
                nextWasMatch = isMatch
            }
            combined.reverse()
        case .contiguous:
            var previousWasMatch = false
            for (range, isMatch) in pieces {
                if isMatch && previousWasMatch, let last = combined.last {
                    combined[combined.count - 1] = last.lowerBound..<range.upperBound
                } else {
                    combined.append(range)
                }
                previousWasMatch = isMatch
            }
        }
        for range in combined where !range.isEmpty { emit(fragment.slice(range)) }
    }
}

/// Rust regex's Unicode `\w`: Alphabetic, marks, decimal digits, connector punctuation, join controls.
func isRegexWordScalar(_ value: UInt32) -> Bool {
    if value < 128 {
        return (value >= 0x30 && value <= 0x39) || (value >= 0x41 && value <= 0x5A) || (value >= 0x61 && value <= 0x7A)
            || value == 0x5F
    }
    guard let scalar = Unicode.Scalar(value) else { return false }
    let properties = scalar.properties
    if properties.isAlphabetic || properties.isJoinControl { return true }
    switch properties.generalCategory {
    case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
    default: return false
    }
}

/// Reusable buffers for one pre-tokenization step, so scanning allocates nothing per fragment.
final class ScanBuffers {
    var classes: [UInt8] = []
    var ends: [Int] = []
}

/// Runs a chain of pre-tokenizer steps depth-first: each piece a step produces goes straight through
/// the remaining steps to the consumer, so no list of all the words of a long text is ever built.
/// Each depth has its own buffers, which is what makes the recursion safe.
struct PreTokenization {
    let steps: [PreTokenizer]
    let buffers: [ScanBuffers]

    init(_ steps: [PreTokenizer]) {
        self.steps = steps
        buffers = steps.map { _ in ScanBuffers() }
    }

    /// Calls `body` with every non-empty word of `fragment`, in order.
    func forEachWord(_ fragment: Fragment, _ body: (Fragment) -> Void) {
        visit(fragment, depth: 0, body)
    }

    private func visit(_ fragment: Fragment, depth: Int, _ body: (Fragment) -> Void) {
        guard !fragment.scalars.isEmpty else { return }
        if depth == steps.count {
            body(fragment)
            return
        }
        steps[depth].split(fragment, buffers: buffers[depth]) { piece in
            visit(piece, depth: depth + 1, body)
        }
    }
}

/// Reads Metaspace's `prepend_scheme`, or the older `add_prefix_space` flag (true means "always").
func metaspaceScheme(_ json: [String: Any], file: String) throws -> PreTokenizer.PrependScheme {
    if let name = json["prepend_scheme"] as? String {
        guard let scheme = PreTokenizer.PrependScheme(rawValue: name) else {
            throw TokenizerError(file, "unknown Metaspace prepend_scheme \"\(name)\"")
        }
        return scheme
    }
    if let add = JSON.bool(json["add_prefix_space"]) { return add ? .always : .never }
    return .always
}
