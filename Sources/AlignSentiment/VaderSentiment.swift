import Foundation

/// VADER's scores for one text: the proportions of negative, neutral and positive words (which sum
/// to about 1) and the normalised compound score in [-1, 1].
public struct SentimentScores: Sendable, Hashable, Codable {
    /// Proportion of the text's sentiment mass that is negative, in [0, 1].
    public var negative: Double
    /// Proportion of the text's words that carry no sentiment, in [0, 1].
    public var neutral: Double
    /// Proportion of the text's sentiment mass that is positive, in [0, 1].
    public var positive: Double
    /// The normalised sum of all word valences, in [-1, 1]; the usual single-number score.
    public var compound: Double

    /// Creates scores from their four parts.
    public init(negative: Double, neutral: Double, positive: Double, compound: Double) {
        self.negative = negative
        self.neutral = neutral
        self.positive = positive
        self.compound = compound
    }

    /// The scores of a text with no words: all four are zero, as in the Python package.
    public static let zero = SentimentScores(negative: 0, neutral: 0, positive: 0, compound: 0)
}

/// What the rules know about one lower-cased word, gathered into one table so that scoring a token
/// costs a single hash lookup.
struct WordInfo: Sendable {
    /// The lexicon's mean valence (meaningful when `inLexicon`).
    var valence = 0.0
    var inLexicon = false
    /// The booster/dampener increment (meaningful when `isBooster`).
    var booster = 0.0
    var isBooster = false
    /// In VADER's NEGATE list.
    var isNegation = false
    /// Id of a word the rules or idiom tables test for (see `Keyword`), or -1.
    var wordID: Int32 = -1
}

/// A two- or three-word idiom as word ids (`third` is -1 for two words; one-word entries, which the
/// n-gram checks can never reach, are not stored).
struct Phrase: Sendable {
    var first: Int32
    var second: Int32
    var third: Int32
    var value: Double
}

/// One token of the text, with everything the rules need already looked up.
struct Token {
    var info: WordInfo
    /// Python's `token.isupper()` on the token as written.
    var isUpper: Bool
    /// `negated([token])`: in the NEGATE list or containing "n't".
    var negates: Bool
}

/// VADER (Valence Aware Dictionary and sEntiment Reasoner), ported from vaderSentiment 3.3.2 so
/// that every score equals the Python package's, including its quirks:
///
/// - tokens are whitespace-separated, with ASCII punctuation stripped from both ends unless that
///   leaves two code points or fewer (so ":)" and "ok." keep theirs); single letters are kept;
/// - the "but" rule uses `list.index` on valence values, so a repeated valence is rescaled at its
///   first occurrence (possibly more than once) instead of at its own position;
/// - `"so"`/`"this"` right before a word multiplies it by 1.25 when the word three back is not in
///   the lexicon (an operator-precedence slip in "never so" detection);
/// - idioms are only looked up for words at index 3 or later whose third predecessor is not in the
///   lexicon, and sentiment-laden idioms without lexicon words are never scored;
/// - ALL-CAPS emphasis on a word of valence 0 (a "no" before a lexicon word) subtracts 0.733.
///
/// The analyser is an immutable value: share one across threads freely.
///
/// ```swift
/// let vader = try VaderSentiment(cacheDirectory: VaderSentiment.defaultCacheDirectory)
/// vader.scores("The book was good.").compound   // 0.4404
/// ```
public struct VaderSentiment: Sendable {
    /// Every word any rule cares about, keyed by its lower-cased code points.
    let words: [CodePointKey: WordInfo]
    /// Multi-word SPECIAL_CASES entries.
    let specialPhrases: [Phrase]
    /// Multi-word booster entries ("kind of", "sort of", "just enough").
    let boosterPhrases: [Phrase]
    /// Single-code-point emoji → description (multi-code-point keys can never match, because the
    /// Python package compares one code point at a time).
    let emojiDescriptions: [UInt32: String]
    /// The smallest emoji code point, so ordinary text skips the emoji table entirely.
    let smallestEmoji: UInt32

    /// Number of distinct lexicon entries loaded.
    public let lexiconCount: Int

    /// Loads the VADER lexicon (`vader_lexicon.txt`: token, mean valence, standard deviation, raw
    /// ratings, tab-separated) and, optionally, the emoji lexicon (`emoji_utf8_lexicon.txt`: emoji,
    /// description). Without the emoji lexicon emoji are scored as ordinary (unknown) characters.
    ///
    /// - Throws: `DataFileError` naming the file (and line) that is missing or malformed.
    public init(lexiconURL: URL, emojiLexiconURL: URL?) throws {
        let lexicon = try readUTF8File(lexiconURL)
        let emoji = try emojiLexiconURL.map(readUTF8File)
        try self.init(
            lexicon: lexicon, emojiLexicon: emoji,
            lexiconName: lexiconURL.path, emojiLexiconName: emojiLexiconURL?.path ?? "")
    }

    /// Loads both lexicons from an Align asset cache (`<cache>/vader/vader_lexicon.txt` and
    /// `<cache>/vader/emoji_utf8_lexicon.txt`, as `scripts/fetch-assets.sh` lays them out).
    ///
    /// - Throws: `DataFileError` when either file is missing or malformed.
    public init(cacheDirectory: URL) throws {
        let files = Self.lexiconFiles(in: cacheDirectory)
        try self.init(lexiconURL: files.lexicon, emojiLexiconURL: files.emoji)
    }

    /// Builds the analyser from lexicon texts already in memory.
    ///
    /// - Parameters:
    ///   - lexicon: the contents of `vader_lexicon.txt`.
    ///   - emojiLexicon: the contents of `emoji_utf8_lexicon.txt`, or `nil` to leave emoji alone.
    ///   - lexiconName, emojiLexiconName: names used in error messages.
    /// - Throws: `DataFileError` for a line without a tab or with a valence that is not a number.
    public init(
        lexicon: String, emojiLexicon: String?,
        lexiconName: String = "vader_lexicon.txt", emojiLexiconName: String = "emoji_utf8_lexicon.txt"
    ) throws {
        var table: [CodePointKey: WordInfo] = [:]
        table.reserveCapacity(8192)

        // Lexicon: like the Python loader, strip each line and read the first two tab-separated
        // fields; a later duplicate replaces an earlier one. Blank lines are skipped.
        for (number, rawLine) in splitLines(lexicon).enumerated() {
            let line = pythonStrip(rawLine)
            if line.isEmpty { continue }
            let fields = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count >= 2 else {
                throw DataFileError(file: lexiconName, line: number + 1, reason: "expected token<TAB>valence")
            }
            guard let valence = Double(pythonStrip(fields[1])) else {
                throw DataFileError(
                    file: lexiconName, line: number + 1, reason: "valence '\(fields[1])' is not a number")
            }
            table[CodePointKey(String(fields[0])), default: WordInfo()].valence = valence
            table[CodePointKey(String(fields[0])), default: WordInfo()].inLexicon = true
        }
        lexiconCount = table.count

        // Rule words.
        for word in VaderRules.negations {
            table[CodePointKey(word), default: WordInfo()].isNegation = true
        }
        var nextID = Int32(VaderRules.keywords.count)
        for (id, word) in VaderRules.keywords.enumerated() {
            table[CodePointKey(word), default: WordInfo()].wordID = Int32(id)
        }
        func phrase(_ text: String, _ value: Double) -> Phrase? {
            let parts = text.split(separator: " ").map(String.init)
            guard parts.count == 2 || parts.count == 3 else { return nil }
            var ids: [Int32] = []
            for part in parts {
                let key = CodePointKey(part)
                if let id = table[key]?.wordID, id >= 0 {
                    ids.append(id)
                } else {
                    table[key, default: WordInfo()].wordID = nextID
                    ids.append(nextID)
                    nextID += 1
                }
            }
            return Phrase(first: ids[0], second: ids[1], third: ids.count == 3 ? ids[2] : -1, value: value)
        }
        var boosterPhrases: [Phrase] = []
        for (word, value) in VaderRules.boosters {
            if word.contains(" ") {
                if let p = phrase(word, value) { boosterPhrases.append(p) }
            } else {
                table[CodePointKey(word), default: WordInfo()].booster = value
                table[CodePointKey(word), default: WordInfo()].isBooster = true
            }
        }
        self.boosterPhrases = boosterPhrases
        specialPhrases = VaderRules.specialCases.compactMap { phrase($0.0, $0.1) }
        words = table

        // Emoji lexicon: emoji<TAB>description per line.
        var emoji: [UInt32: String] = [:]
        if let emojiLexicon {
            for (number, rawLine) in splitLines(emojiLexicon).enumerated() {
                let line = pythonStrip(rawLine)
                if line.isEmpty { continue }
                let fields = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
                guard fields.count >= 2 else {
                    throw DataFileError(
                        file: emojiLexiconName, line: number + 1, reason: "expected emoji<TAB>description")
                }
                let scalars = fields[0].unicodeScalars
                if scalars.count == 1 {
                    emoji[scalars.first!.value] = String(fields[1])
                }
            }
        }
        emojiDescriptions = emoji
        smallestEmoji = emoji.keys.min() ?? UInt32.max
    }

    /// The Align asset cache: `$ALIGN_CACHE`, or `~/.cache/align` when it is unset.
    public static var defaultCacheDirectory: URL {
        if let path = ProcessInfo.processInfo.environment["ALIGN_CACHE"], !path.isEmpty {
            return URL(fileURLWithPath: path, isDirectory: true)
        }
        return FileManager.default.homeDirectoryForCurrentUser
            .appendingPathComponent(".cache/align", isDirectory: true)
    }

    /// Where the two lexicon files live inside an Align asset cache.
    public static func lexiconFiles(in cacheDirectory: URL) -> (lexicon: URL, emoji: URL) {
        let folder = cacheDirectory.appendingPathComponent("vader", isDirectory: true)
        return (folder.appendingPathComponent("vader_lexicon.txt"),
                folder.appendingPathComponent("emoji_utf8_lexicon.txt"))
    }

    /// VADER's scores for `text`, rounded as the Python package rounds them (proportions to 3
    /// decimals, compound to 4), so they compare equal to `polarity_scores`.
    public func scores(_ text: String) -> SentimentScores {
        let raw = unroundedScores(text)
        return SentimentScores(
            negative: pythonRound(raw.negative, digits: 3), neutral: pythonRound(raw.neutral, digits: 3),
            positive: pythonRound(raw.positive, digits: 3), compound: pythonRound(raw.compound, digits: 4))
    }

    /// VADER's scores for `text` before the package's final rounding: finer-grained rewards, with
    /// fewer exact ties between similar texts.
    public func unroundedScores(_ text: String) -> SentimentScores {
        var exclamations = 0
        var questions = 0
        let tokens = tokenize(text, exclamations: &exclamations, questions: &questions)
        if tokens.isEmpty { return .zero }
        var sentiments = [Double](repeating: 0, count: tokens.count)
        tokens.withUnsafeBufferPointer { tokens in
            sentiments.withUnsafeMutableBufferPointer { sentiments in
                valences(tokens, into: sentiments)
                applyButRule(tokens, sentiments)
            }
        }
        return combine(sentiments, exclamations: exclamations, questions: questions)
    }

    // MARK: - Text to tokens

    /// Emoji substitution, stripping, splitting and punctuation trimming as the Python package
    /// does them; also counts the "!" and "?" that the punctuation emphasis uses.
    ///
    /// Works on the UTF-8 bytes: Python splits on code points, and walking `unicodeScalars` with
    /// its index validation cost more than all the rules together.
    func tokenize(_ text: String, exclamations: inout Int, questions: inout Int) -> [Token] {
        var source = containsEmoji(text) ? substituteEmoji(text) : text
        var bangs = 0, marks = 0
        let tokens = source.withUTF8 { bytes -> [Token] in
            var tokens: [Token] = []
            tokens.reserveCapacity(bytes.count / 4 + 1)
            var i = 0
            var start = -1  // start of the token being read, or -1 between tokens
            while i < bytes.count {
                let (value, length) = decodeScalar(bytes, at: i)
                if value == 0x21 { bangs += 1 } else if value == 0x3F { marks += 1 }
                if isPythonWhitespace(value) {
                    if start >= 0 {
                        tokens.append(makeToken(bytes, from: start, to: i))
                        start = -1
                    }
                } else if start < 0 {
                    start = i
                }
                i &+= length
            }
            if start >= 0 { tokens.append(makeToken(bytes, from: start, to: bytes.count)) }
            return tokens
        }
        exclamations += bangs
        questions += marks
        return tokens
    }

    /// `_strip_punc_if_word` plus the look-ups for the token `bytes[start..<end]`: strip ASCII
    /// punctuation from both ends, but keep the token as written when two code points or fewer
    /// would remain (emoticons like ":)").
    func makeToken(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int) -> Token {
        var low = start, high = end
        while low < high && isASCIIPunctuation(UInt32(bytes[low])) { low &+= 1 }
        while high > low && isASCIIPunctuation(UInt32(bytes[high &- 1])) { high &-= 1 }
        // Count code points (UTF-8 lead bytes) left, stopping at three.
        var points = 0
        var probe = low
        while probe < high && points <= 2 {
            if bytes[probe] & 0xC0 != 0x80 { points &+= 1 }
            probe &+= 1
        }
        if points <= 2 {
            low = start
            high = end
        }
        let word = UnsafeBufferPointer(rebasing: bytes[low..<high])

        var isASCII = true, hasUpper = false, hasLower = false
        for byte in word {
            if byte >= 0x80 { isASCII = false; break }
            if byte >= 0x41 && byte <= 0x5A { hasUpper = true } else if byte >= 0x61 && byte <= 0x7A { hasLower = true }
        }
        let isUpper: Bool
        let lower: String
        if isASCII {
            isUpper = hasUpper && !hasLower
            lower = String(unsafeUninitializedCapacity: word.count) { buffer in
                for k in 0..<word.count {
                    let byte = word[k]
                    buffer[k] = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
                }
                return word.count
            }
        } else {
            let original = String(decoding: word, as: UTF8.self)
            isUpper = pythonIsUpper(original.unicodeScalars)
            lower = pythonLower(original)
        }
        let info = words[CodePointKey(lower)] ?? WordInfo()
        return Token(info: info, isUpper: isUpper, negates: info.isNegation || containsBytes(lower, "n't"))
    }

    func containsEmoji(_ text: String) -> Bool {
        // Every emoji is outside ASCII: pure-ASCII text needs no look-ups.
        if smallestEmoji >= 0x80 && !text.utf8.contains(where: { $0 >= 0x80 }) { return false }
        for scalar in text.unicodeScalars where scalar.value >= smallestEmoji {
            if emojiDescriptions[scalar.value] != nil { return true }
        }
        return false
    }

    /// Replaces each emoji code point with its description, inserting a space before it unless the
    /// previous character was an ASCII space (and none after it: "😍!" becomes "smiling face…!").
    func substituteEmoji(_ text: String) -> String {
        var result = String()
        result.reserveCapacity(text.utf8.count + 64)
        var previousWasSpace = true
        for scalar in text.unicodeScalars {
            if scalar.value >= smallestEmoji, let description = emojiDescriptions[scalar.value] {
                if !previousWasSpace { result.unicodeScalars.append(" ") }
                result += description
                previousWasSpace = false
            } else {
                result.unicodeScalars.append(scalar)
                previousWasSpace = scalar == " "
            }
        }
        return result
    }

    // MARK: - Rules

    /// The valence of every token, with boosters, negation, caps, idioms and "least" applied.
    func valences(_ tokens: UnsafeBufferPointer<Token>, into sentiments: UnsafeMutableBufferPointer<Double>) {
        let count = tokens.count
        var upper = 0
        for token in tokens where token.isUpper { upper += 1 }
        // Caps emphasise only when the text mixes ALL-CAPS and other words.
        let capsDiffer = upper > 0 && upper < count
        for i in 0..<count {
            let token = tokens[i]
            // Boosters and the "kind" of "kind of" carry no valence of their own.
            if token.info.isBooster {
                sentiments[i] = 0
                continue
            }
            if i < count - 1 && token.info.wordID == Keyword.kind && tokens[i + 1].info.wordID == Keyword.of {
                sentiments[i] = 0
                continue
            }
            sentiments[i] = token.info.inLexicon ? valence(at: i, tokens, capsDiffer: capsDiffer) : 0
        }
    }

    /// `sentiment_valence` for a token that is in the lexicon.
    func valence(at i: Int, _ tokens: UnsafeBufferPointer<Token>, capsDiffer: Bool) -> Double {
        let count = tokens.count
        let token = tokens[i]
        let lexiconValence = token.info.valence
        var valence = lexiconValence
        // "no" before another lexicon word negates that word instead of scoring itself.
        if token.info.wordID == Keyword.no && i != count - 1 && tokens[i + 1].info.inLexicon {
            valence = 0
        }
        if (i > 0 && tokens[i - 1].info.wordID == Keyword.no)
            || (i > 1 && tokens[i - 2].info.wordID == Keyword.no)
            || (i > 2 && tokens[i - 3].info.wordID == Keyword.no
                && (tokens[i - 1].info.wordID == Keyword.or || tokens[i - 1].info.wordID == Keyword.nor)) {
            valence = lexiconValence * VaderRules.negationScalar
        }
        if token.isUpper && capsDiffer {
            if valence > 0 { valence += VaderRules.capsIncrement } else { valence -= VaderRules.capsIncrement }
        }
        for distance in 0..<3 where i > distance && !tokens[i - (distance + 1)].info.inLexicon {
            var scalar = boosterScalar(tokens[i - (distance + 1)], valence: valence, capsDiffer: capsDiffer)
            // Modifiers further away count less.
            if distance == 1 && scalar != 0 { scalar = scalar * 0.95 }
            if distance == 2 && scalar != 0 { scalar = scalar * 0.9 }
            valence = valence + scalar
            valence = negationCheck(valence, tokens, distance: distance, i: i)
            if distance == 2 {
                valence = idiomCheck(valence, tokens, i: i)
            }
        }
        return leastCheck(valence, tokens, i: i)
    }

    /// `scalar_inc_dec`: the booster's increment, signed like the valence, plus caps emphasis.
    @inline(__always)
    func boosterScalar(_ word: Token, valence: Double, capsDiffer: Bool) -> Double {
        guard word.info.isBooster else { return 0 }
        var scalar = word.info.booster
        if valence < 0 { scalar *= -1 }
        if word.isUpper && capsDiffer {
            if valence > 0 { scalar += VaderRules.capsIncrement } else { scalar -= VaderRules.capsIncrement }
        }
        return scalar
    }

    /// `_negation_check` for the modifier `distance + 1` words before token `i`.
    func negationCheck(_ valence: Double, _ tokens: UnsafeBufferPointer<Token>, distance: Int, i: Int) -> Double {
        @inline(__always) func id(_ j: Int) -> Int32 { tokens[j].info.wordID }
        switch distance {
        case 0:
            return tokens[i - 1].negates ? valence * VaderRules.negationScalar : valence
        case 1:
            if id(i - 2) == Keyword.never && (id(i - 1) == Keyword.so || id(i - 1) == Keyword.this) {
                return valence * 1.25
            } else if id(i - 2) == Keyword.without && id(i - 1) == Keyword.doubt {
                return valence
            } else if tokens[i - 2].negates {
                return valence * VaderRules.negationScalar
            }
            return valence
        default:
            // Python reads `a and (b or c) or (d or e)`: the second disjunct stands alone, so
            // "so"/"this" right before the word always boosts here.
            if (id(i - 3) == Keyword.never && (id(i - 2) == Keyword.so || id(i - 2) == Keyword.this))
                || (id(i - 1) == Keyword.so || id(i - 1) == Keyword.this) {
                return valence * 1.25
            } else if id(i - 3) == Keyword.without && (id(i - 2) == Keyword.doubt || id(i - 1) == Keyword.doubt) {
                return valence
            } else if tokens[i - 3].negates {
                return valence * VaderRules.negationScalar
            }
            return valence
        }
    }

    /// The value of the two-word phrase `a b` in `table`, if any.
    @inline(__always)
    func lookup(_ table: [Phrase], _ a: Int32, _ b: Int32) -> Double? {
        if a < 0 || b < 0 { return nil }
        for p in table where p.first == a && p.second == b && p.third == -1 { return p.value }
        return nil
    }

    /// The value of the three-word phrase `a b c` in `table`, if any. A word outside every phrase
    /// has id -1, which must not be mistaken for the "no third word" marker of two-word phrases.
    @inline(__always)
    func lookup(_ table: [Phrase], _ a: Int32, _ b: Int32, _ c: Int32) -> Double? {
        if a < 0 || b < 0 || c < 0 { return nil }
        for p in table where p.first == a && p.second == b && p.third == c { return p.value }
        return nil
    }

    /// `_special_idioms_check` (only reached for i ≥ 3): idioms around the word replace its
    /// valence; booster bigrams before it ("kind of") add to it.
    func idiomCheck(_ valence: Double, _ tokens: UnsafeBufferPointer<Token>, i: Int) -> Double {
        var valence = valence
        let w0 = tokens[i].info.wordID, w1 = tokens[i - 1].info.wordID
        let w2 = tokens[i - 2].info.wordID, w3 = tokens[i - 3].info.wordID
        // First match wins, in the Python order: w1 w0, w2 w1 w0, w2 w1, w3 w2 w1, w3 w2.
        if let v = lookup(specialPhrases, w1, w0) ?? lookup(specialPhrases, w2, w1, w0)
            ?? lookup(specialPhrases, w2, w1) ?? lookup(specialPhrases, w3, w2, w1)
            ?? lookup(specialPhrases, w3, w2) {
            valence = v
        }
        if tokens.count - 1 > i, let v = lookup(specialPhrases, w0, tokens[i + 1].info.wordID) {
            valence = v
        }
        if tokens.count - 1 > i + 1,
           let v = lookup(specialPhrases, w0, tokens[i + 1].info.wordID, tokens[i + 2].info.wordID) {
            valence = v
        }
        // Booster n-grams accumulate, in the Python order w3 w2 w1, w3 w2, w2 w1.
        if let v = lookup(boosterPhrases, w3, w2, w1) { valence = valence + v }
        if let v = lookup(boosterPhrases, w3, w2) { valence = valence + v }
        if let v = lookup(boosterPhrases, w2, w1) { valence = valence + v }
        return valence
    }

    /// `_least_check`: "least" before a word negates it, except in "at least" and "very least".
    func leastCheck(_ valence: Double, _ tokens: UnsafeBufferPointer<Token>, i: Int) -> Double {
        guard i > 0, !tokens[i - 1].info.inLexicon, tokens[i - 1].info.wordID == Keyword.least else { return valence }
        if i > 1 {
            let before = tokens[i - 2].info.wordID
            return before != Keyword.at && before != Keyword.very ? valence * VaderRules.negationScalar : valence
        }
        return valence * VaderRules.negationScalar
    }

    /// `_but_check`: halves valences before the first "but" and multiplies those after it by 1.5,
    /// reproducing the Python loop exactly: for each value it rescales the FIRST position holding an
    /// equal value (`list.index`), so repeated valences land on earlier positions.
    func applyButRule(_ tokens: UnsafeBufferPointer<Token>, _ sentiments: UnsafeMutableBufferPointer<Double>) {
        guard let butIndex = tokens.firstIndex(where: { $0.info.wordID == Keyword.but }) else { return }
        for k in 0..<sentiments.count {
            let value = sentiments[k]
            var first = 0
            while sentiments[first] != value { first += 1 }
            if first < butIndex {
                sentiments[first] = value * 0.5
            } else if first > butIndex {
                sentiments[first] = value * 1.5
            }
        }
    }

    // MARK: - Scores

    /// `score_valence`: punctuation emphasis, normalisation and the three proportions.
    func combine(_ sentiments: [Double], exclamations: Int, questions: Int) -> SentimentScores {
        var sum = 0.0
        for s in sentiments { sum += s }
        let emphasis = Self.punctuationEmphasis(exclamations: exclamations, questions: questions)
        if sum > 0 { sum += emphasis } else if sum < 0 { sum -= emphasis }
        var compound = sum / (sum * sum + VaderRules.normalizationAlpha).squareRoot()
        compound = min(max(compound, -1), 1)

        var positive = 0.0, negative = 0.0, neutral = 0
        for s in sentiments {
            // ±1 compensates for neutral words being counted as 1.
            if s > 0 { positive += s + 1 }
            if s < 0 { negative += s - 1 }
            if s == 0 { neutral += 1 }
        }
        if positive > abs(negative) {
            positive += emphasis
        } else if positive < abs(negative) {
            negative -= emphasis
        }
        let total = positive + abs(negative) + Double(neutral)
        return SentimentScores(
            negative: abs(negative / total), neutral: abs(Double(neutral) / total),
            positive: abs(positive / total), compound: compound)
    }

    /// Emphasis from "!" (0.292 each, at most 4) and "?" (0.18 each for 2 or 3, 0.96 for more).
    static func punctuationEmphasis(exclamations: Int, questions: Int) -> Double {
        let bangs = Double(min(exclamations, 4)) * 0.292
        var marks = 0.0
        if questions > 1 {
            marks = questions <= 3 ? Double(questions) * 0.18 : 0.96
        }
        return bangs + marks
    }
}
