/// A piece of text flowing through pre-tokenization: scalar values plus whether it begins at the very
/// start of the input (Metaspace's `prepend_scheme: "first"` needs to know).
struct Fragment {
    var scalars: ArraySlice<UInt32>
    var atStart: Bool
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

    /// Splits every fragment, appending the results to `output`. `scratch` holds reusable buffers.
    func apply(_ input: [Fragment], into output: inout [Fragment], scratch: inout PreTokenizerScratch) {
        switch self {
        case .sequence(let steps):
            var current = input
            var next: [Fragment] = []
            for step in steps {
                next.removeAll(keepingCapacity: true)
                step.apply(current, into: &next, scratch: &scratch)
                swap(&current, &next)
            }
            output.append(contentsOf: current)
        default:
            for fragment in input { applyOne(fragment, into: &output, scratch: &scratch) }
        }
    }

    private func applyOne(_ fragment: Fragment, into output: inout [Fragment], scratch: inout PreTokenizerScratch) {
        switch self {
        case .sequence:
            apply([fragment], into: &output, scratch: &scratch)
        case .byteLevel(let addPrefixSpace, let useRegex):
            var piece = fragment
            if addPrefixSpace && piece.scalars.first != 0x20 {
                piece.scalars = ArraySlice([0x20] + piece.scalars)
            }
            if useRegex {
                splitByPattern(.gpt2, .isolated, piece, into: &output, scratch: &scratch)
            } else {
                output.append(piece)
            }
        case .regex(let pattern, let behavior):
            splitByPattern(pattern, behavior, fragment, into: &output, scratch: &scratch)
        case .literal(let literal, let behavior):
            var matches: [Range<Int>] = []
            let s = fragment.scalars
            var i = s.startIndex
            while i + literal.count <= s.endIndex {
                if s[i..<(i + literal.count)].elementsEqual(literal) {
                    matches.append(i..<(i + literal.count))
                    i += literal.count
                } else {
                    i += 1
                }
            }
            emit(fragment, matches: matches, behavior: behavior, into: &output)
        case .digits(let individual):
            var matches: [Range<Int>] = []
            for i in fragment.scalars.indices where ScalarClass.of(fragment.scalars[i]) == ScalarClass.number {
                matches.append(i..<(i + 1))
            }
            emit(fragment, matches: matches, behavior: individual ? .isolated : .contiguous, into: &output)
        case .metaspace(let replacement, let prepend, let split):
            var scalars = fragment.scalars.map { $0 == 0x20 ? replacement : $0 }
            let wantsPrefix = prepend == .always || (prepend == .first && fragment.atStart)
            if wantsPrefix && scalars.first != replacement { scalars.insert(replacement, at: 0) }
            let piece = Fragment(scalars: scalars[...], atStart: fragment.atStart)
            if split {
                let matches = scalars.indices.filter { scalars[$0] == replacement }.map { $0..<($0 + 1) }
                emit(piece, matches: matches, behavior: .mergedWithNext, into: &output)
            } else {
                output.append(piece)
            }
        case .whitespaceSplit:
            var matches: [Range<Int>] = []
            for i in fragment.scalars.indices where ScalarClass.of(fragment.scalars[i]) & ScalarClass.space != 0 {
                matches.append(i..<(i + 1))
            }
            emit(fragment, matches: matches, behavior: .removed, into: &output)
        }
    }

    /// Runs a regex scanner over the fragment; its matches tile the text, so every behaviour other than
    /// `Isolated` reduces to simple joins of neighbouring matches.
    private func splitByPattern(_ pattern: RegexScanners.Pattern, _ behavior: SplitBehavior, _ fragment: Fragment,
                                into output: inout [Fragment], scratch: inout PreTokenizerScratch) {
        let s = fragment.scalars
        guard !s.isEmpty else { return }
        ScalarClass.classify(s, into: &scratch.classes)
        scratch.ends.removeAll(keepingCapacity: true)
        s.withUnsafeBufferPointer { sp in
            scratch.classes.withUnsafeBufferPointer { cp in
                RegexScanners.scan(pattern, sp, cp, ends: &scratch.ends)
            }
        }
        if behavior == .isolated {
            var start = s.startIndex
            for end in scratch.ends {
                let absoluteEnd = s.startIndex + end
                output.append(Fragment(scalars: s[start..<absoluteEnd], atStart: fragment.atStart && start == s.startIndex))
                start = absoluteEnd
            }
        } else {
            var matches: [Range<Int>] = []
            var start = s.startIndex
            for end in scratch.ends {
                matches.append(start..<(s.startIndex + end))
                start = s.startIndex + end
            }
            emit(fragment, matches: matches, behavior: behavior, into: &output)
        }
    }

    /// Cuts a fragment around `matches` (sorted, non-overlapping absolute ranges) as `behavior` says.
    private func emit(_ fragment: Fragment, matches: [Range<Int>], behavior: SplitBehavior, into output: inout [Fragment]) {
        let s = fragment.scalars
        // Build (range, isMatch) pieces first, then combine according to the behaviour.
        var pieces: [(Range<Int>, Bool)] = []
        var cursor = s.startIndex
        for match in matches {
            if match.lowerBound > cursor { pieces.append((cursor..<match.lowerBound, false)) }
            pieces.append((match, true))
            cursor = match.upperBound
        }
        if cursor < s.endIndex { pieces.append((cursor..<s.endIndex, false)) }

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
        for range in combined where !range.isEmpty {
            output.append(Fragment(scalars: s[range], atStart: fragment.atStart && range.lowerBound == s.startIndex))
        }
    }
}

/// Reusable buffers for pre-tokenization, so scanning allocates nothing per fragment.
struct PreTokenizerScratch {
    var classes: [UInt8] = []
    var ends: [Int] = []
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
