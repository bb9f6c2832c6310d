/// A token from `added_tokens` (or a GGUF control/user-defined token): matched in raw text before
/// anything else and never split.
public struct AddedToken: Sendable, Hashable {
    /// The literal text of the token, e.g. `<|im_end|>`.
    public var content: String
    /// Its id.
    public var id: Int
    /// Special tokens are dropped by `decode(_:skipSpecialTokens: true)`.
    public var isSpecial: Bool
    /// Swallow whitespace to the left of a match.
    public var stripsLeft: Bool
    /// Swallow whitespace to the right of a match.
    public var stripsRight: Bool
    /// Match only where the token is not part of a larger word.
    public var isSingleWord: Bool
    /// Match on normalized text (with the token's own text normalized the same way) rather than on
    /// the raw input, as Hugging Face does.
    public var isNormalized: Bool

    /// Creates an added token; flags default to a plain special token.
    public init(content: String, id: Int, isSpecial: Bool = true, stripsLeft: Bool = false, stripsRight: Bool = false,
                isSingleWord: Bool = false, isNormalized: Bool = false) {
        self.content = content
        self.id = id
        self.isSpecial = isSpecial
        self.stripsLeft = stripsLeft
        self.stripsRight = stripsRight
        self.isSingleWord = isSingleWord
        self.isNormalized = isNormalized
    }
}

/// One piece of input after added-token matching: raw text to run through the model, or a token id.
enum Segment {
    case text(Range<Int>)
    case token(Int32)
}

/// Leftmost-longest matcher for added tokens over Unicode scalars.
struct AddedTokenMatcher {
    private struct Entry {
        var scalars: [UInt32]
        var token: AddedToken
    }
    /// Candidates by first scalar, longest first.
    private var byFirstScalar: [UInt32: [Entry]] = [:]
    /// Whether some token starts with each ASCII scalar, so most positions skip the dictionary.
    private var asciiStarts = [Bool](repeating: false, count: 128)

    /// Indexes `tokens`, spelled as `spelling` says (the normalizer, for normalized tokens).
    init(_ tokens: [AddedToken], spelling: ([UInt32]) -> [UInt32] = { $0 }) {
        for token in tokens where !token.content.isEmpty {
            let values = spelling(scalars(token.content))
            guard let first = values.first else { continue }
            byFirstScalar[first, default: []].append(Entry(scalars: values, token: token))
        }
        for key in byFirstScalar.keys {
            byFirstScalar[key]!.sort { $0.scalars.count > $1.scalars.count }
            if key < 128 { asciiStarts[Int(key)] = true }
        }
    }

    var isEmpty: Bool { byFirstScalar.isEmpty }

    /// Splits `text` into model text and added tokens.
    func segments(_ text: UnsafeBufferPointer<UInt32>) -> [Segment] {
        guard !byFirstScalar.isEmpty else { return text.isEmpty ? [] : [.text(0..<text.count)] }
        var result: [Segment] = []
        var textStart = 0
        var i = 0
        let n = text.count
        @inline(__always) func isSpace(_ v: UInt32) -> Bool { ScalarClass.of(v) & ScalarClass.space != 0 }
        @inline(__always) func isWord(_ v: UInt32) -> Bool {
            let k = ScalarClass.of(v)
            return k == ScalarClass.letter || k == ScalarClass.number || v == 0x5F
        }
        while i < n {
            let first = text[i]
            if first < 128 && !asciiStarts[Int(first)] {
                i += 1
                continue
            }
            guard let candidates = byFirstScalar[first] else {
                i += 1
                continue
            }
            var matched: Entry? = nil
            for entry in candidates where i + entry.scalars.count <= n {
                guard text[i..<(i + entry.scalars.count)].elementsEqual(entry.scalars) else { continue }
                if entry.token.isSingleWord {
                    let end = i + entry.scalars.count
                    if (i > 0 && isWord(text[i - 1])) || (end < n && isWord(text[end])) { continue }
                }
                matched = entry
                break
            }
            guard let entry = matched else {
                i += 1
                continue
            }
            var start = i
            var end = i + entry.scalars.count
            if entry.token.stripsLeft { while start > textStart && isSpace(text[start - 1]) { start -= 1 } }
            if entry.token.stripsRight { while end < n && isSpace(text[end]) { end += 1 } }
            if start > textStart { result.append(.text(textStart..<start)) }
            result.append(.token(Int32(entry.token.id)))
            textStart = end
            i = end
        }
        if textStart < n { result.append(.text(textStart..<n)) }
        return result
    }
}
