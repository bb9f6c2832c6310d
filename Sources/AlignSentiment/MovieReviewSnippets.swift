import Foundation

/// One Rotten Tomatoes snippet from VADER's movie-review ground truth.
public struct MovieReviewSnippet: Sendable, Hashable, Codable {
    /// The snippet's id in the file (unique).
    public var id: Int
    /// The mean human sentiment rating, from about -4 (very negative) to +4 (very positive).
    public var score: Double
    /// The snippet's text.
    public var text: String

    /// Creates a snippet from its parts.
    public init(id: Int, score: Double, text: String) {
        self.id = id
        self.score = score
        self.text = text
    }
}

/// A prompt cut from a review: its first few words, for a policy to continue.
public struct ReviewPrompt: Sendable, Hashable, Codable {
    /// The id of the review it was cut from.
    public var id: Int
    /// The review's first words, joined by single spaces.
    public var text: String
    /// The human rating of the whole review, kept for analysis (not a reward).
    public var sourceScore: Double

    /// Creates a prompt from its parts.
    public init(id: Int, text: String, sourceScore: Double) {
        self.id = id
        self.text = text
        self.sourceScore = sourceScore
    }
}

/// Prompts split into a training set and a held-out set with no review in both.
public struct ReviewPromptSplit: Sendable, Hashable {
    /// Prompts to train on, in file order.
    public var train: [ReviewPrompt]
    /// Prompts to evaluate on, in file order; their review ids never occur in `train`.
    public var heldOut: [ReviewPrompt]
    /// Ids of reviews too short to cut a prefix from (fewer words than the shortest prefix + 1).
    public var skippedIDs: [Int]
}

/// VADER's movie-review ground truth (`movieReviewSnippets_GroundTruth.txt`): 10,605 lines of
/// `id<TAB>score<TAB>text`, CRLF line ends, UTF-8.
///
/// ```swift
/// let reviews = try MovieReviewSnippets(cacheDirectory: VaderSentiment.defaultCacheDirectory)
/// let split = reviews.prompts(seed: 42, heldOutFraction: 0.1)
/// ```
public struct MovieReviewSnippets: Sendable {
    /// The snippets in file order.
    public let snippets: [MovieReviewSnippet]

    /// Reads the snippets file.
    ///
    /// - Throws: `DataFileError` naming the file, and the line for a malformed line (fewer than three
    ///   tab-separated fields, an id that is not an integer or repeats, a score that is not a
    ///   number, empty text).
    public init(contentsOf url: URL) throws {
        try self.init(parsing: readUTF8File(url), fileName: url.path)
    }

    /// Reads `<cache>/vader/movieReviewSnippets_GroundTruth.txt` from an Align asset cache.
    public init(cacheDirectory: URL) throws {
        try self.init(contentsOf: Self.file(in: cacheDirectory))
    }

    /// Where the snippets file lives inside an Align asset cache.
    public static func file(in cacheDirectory: URL) -> URL {
        cacheDirectory.appendingPathComponent("vader/movieReviewSnippets_GroundTruth.txt")
    }

    /// Parses snippets from text already in memory; `fileName` is used in error messages.
    /// Lines may end in LF or CRLF; blank lines (such as a final line ending) are skipped.
    public init(parsing text: String, fileName: String) throws {
        var snippets: [MovieReviewSnippet] = []
        var lineOfID: [Int: Int] = [:]
        for (index, rawLine) in splitLines(text).enumerated() {
            let number = index + 1
            var line = rawLine
            if line.utf8.last == 0x0D { line = Substring(line.utf8.dropLast()) }
            if pythonStrip(line).isEmpty { continue }
            let fields = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else {
                throw DataFileError(file: fileName, line: number, reason: "expected id<TAB>score<TAB>text")
            }
            guard let id = Int(pythonStrip(fields[0])) else {
                throw DataFileError(file: fileName, line: number, reason: "id '\(fields[0])' is not an integer")
            }
            guard let score = Double(pythonStrip(fields[1])), score.isFinite else {
                throw DataFileError(file: fileName, line: number, reason: "score '\(fields[1])' is not a number")
            }
            let body = pythonStrip(fields[2])
            guard !body.isEmpty else {
                throw DataFileError(file: fileName, line: number, reason: "review text is empty")
            }
            if let earlier = lineOfID[id] {
                throw DataFileError(file: fileName, line: number, reason: "id \(id) repeats line \(earlier)")
            }
            lineOfID[id] = number
            snippets.append(MovieReviewSnippet(id: id, score: score, text: String(body)))
        }
        self.snippets = snippets
    }

    /// Cuts every review into one prompt, its first k words, with k uniform in `prefixWords` but
    /// always leaving at least one word of the review to continue; reviews too short for that are
    /// skipped and listed.
    ///
    /// Each review's choices (held out or not, k) come from a generator seeded by `seed` and the
    /// review's id alone, so a review keeps its split and prefix when the file is filtered or
    /// reordered, and the same seed always gives the same prompts. Each review is held out with
    /// probability `heldOutFraction`, so the held-out share is close to, not exactly, that fraction.
    ///
    /// - Parameters:
    ///   - seed: fixes every random choice.
    ///   - heldOutFraction: probability that a review goes to the held-out split, in [0, 1].
    ///   - prefixWords: how many words a prompt keeps (2...8 by default).
    public func prompts(
        seed: UInt64, heldOutFraction: Double = 0.1, prefixWords: ClosedRange<Int> = 2...8
    ) -> ReviewPromptSplit {
        precondition((0...1).contains(heldOutFraction), "heldOutFraction must lie in [0, 1]")
        precondition(prefixWords.lowerBound >= 1, "a prompt needs at least one word")
        var split = ReviewPromptSplit(train: [], heldOut: [], skippedIDs: [])
        for snippet in snippets {
            var generator = SplitMix64(seed: SplitMix64.mix(seed ^ SplitMix64.mix(UInt64(bitPattern: Int64(snippet.id)))))
            // Draw the split first so it does not depend on the review's length.
            let heldOut = generator.nextUnit() < heldOutFraction
            let words = Self.words(of: snippet.text)
            let longest = min(prefixWords.upperBound, words.count - 1)
            guard longest >= prefixWords.lowerBound else {
                split.skippedIDs.append(snippet.id)
                continue
            }
            let count = generator.nextInt(in: prefixWords.lowerBound...longest)
            let prompt = ReviewPrompt(
                id: snippet.id, text: words[0..<count].joined(separator: " "), sourceScore: snippet.score)
            if heldOut { split.heldOut.append(prompt) } else { split.train.append(prompt) }
        }
        return split
    }

    /// The whitespace-separated words of `text` (Python `str.split()` semantics, as VADER uses).
    static func words(of text: String) -> [Substring] {
        text.unicodeScalars.split(whereSeparator: { isPythonWhitespace($0.value) }).map { Substring($0) }
    }
}
