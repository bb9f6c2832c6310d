import Foundation
import Testing
@testable import AlignSentiment

@Suite("Movie review snippets and prompts")
struct MovieReviewSnippetsTests {
    /// A small corpus in the real file's shape: CRLF line ends and no final line end.
    static let sample: String = {
        let lines = [
            "1\t2.27\tThe Rock is destined to be the 21st Century's new ''Conan''.",
            "2\t3.53\tThe gorgeously elaborate continuation of ''The Lord of the Rings'' trilogy is so huge.",
            "3\t-0.5\tEffective but too-tepid biopic",
            "4\t1.0\tTwo words",
            "5\t-2.9\tA   remarkably\tawful, long-winded and tiresome film that nobody asked for at all.",
        ] + (6...60).map { "\($0)\t\(Double($0) / 20 - 1.5)\tReview number \($0) has quite a few words to cut from here on." }
        return lines.joined(separator: "\r\n")
    }()

    @Test func parsesCRLFLinesWithoutCarriageReturns() throws {
        let reviews = try MovieReviewSnippets(parsing: Self.sample, fileName: "sample.txt")
        #expect(reviews.snippets.count == 60)
        #expect(reviews.snippets[0] == MovieReviewSnippet(
            id: 1, score: 2.27, text: "The Rock is destined to be the 21st Century's new ''Conan''."))
        #expect(reviews.snippets[2].score == -0.5)
        #expect(reviews.snippets.allSatisfy { !$0.text.unicodeScalars.contains("\r") })
        // A trailing line end and LF-only files parse the same.
        let lf = try MovieReviewSnippets(
            parsing: Self.sample.replacingOccurrences(of: "\r\n", with: "\n") + "\n", fileName: "lf.txt")
        #expect(lf.snippets == reviews.snippets)
    }

    @Test func malformedLinesNameFileAndLine() {
        let cases: [(String, Int, String)] = [
            ("1\t0.5\tfine\r\n2\t0.5\r\n", 2, "expected id<TAB>score<TAB>text"),
            ("1\t0.5\tfine\r\nx\t0.5\ttext\r\n", 2, "id 'x' is not an integer"),
            ("1\t0.5\tfine\r\n\r\n3\tgood\ttext", 3, "score 'good' is not a number"),
            ("1\t0.5\tfine\r\n1\t0.7\tagain", 2, "id 1 repeats line 1"),
            ("1\t0.5\t  \r\n", 1, "review text is empty"),
        ]
        for (text, line, reason) in cases {
            #expect(throws: DataFileError(file: "bad.txt", line: line, reason: reason)) {
                try MovieReviewSnippets(parsing: text, fileName: "bad.txt")
            }
        }
        #expect(DataFileError(file: "bad.txt", line: 2, reason: "oops").description == "bad.txt:2: oops")
    }

    @Test func missingFileIsAnError() {
        let url = URL(fileURLWithPath: "/nonexistent/align/reviews.txt")
        #expect(throws: DataFileError.self) { try MovieReviewSnippets(contentsOf: url) }
    }

    @Test func promptsAreWordPrefixesOfTwoToEightWords() throws {
        let reviews = try MovieReviewSnippets(parsing: Self.sample, fileName: "sample.txt")
        let split = reviews.prompts(seed: 7, heldOutFraction: 0.25)
        let byID = Dictionary(uniqueKeysWithValues: reviews.snippets.map { ($0.id, $0) })
        var lengths = Set<Int>()
        for prompt in split.train + split.heldOut {
            let words = prompt.text.split(separator: " ")
            lengths.insert(words.count)
            #expect((2...8).contains(words.count))
            let source = try #require(byID[prompt.id])
            let sourceWords = MovieReviewSnippets.words(of: source.text)
            #expect(words.count < sourceWords.count, "a prompt must leave words to continue")
            #expect(Array(sourceWords.prefix(words.count)).map(String.init) == words.map(String.init))
            #expect(prompt.sourceScore == source.score)
        }
        #expect(lengths.count >= 5, "prefix lengths should vary, got \(lengths.sorted())")
        // "Two words" cannot leave a word after a two-word prefix.
        #expect(split.skippedIDs == [4])
        #expect(split.train.count + split.heldOut.count + split.skippedIDs.count == 60)
        // Internal whitespace runs (spaces, tabs) become single spaces.
        if let five = (split.train + split.heldOut).first(where: { $0.id == 5 }) {
            #expect(five.text.hasPrefix("A remarkably"))
        }
    }

    @Test func splitsAreDisjointAndDeterministic() throws {
        let reviews = try MovieReviewSnippets(parsing: Self.sample, fileName: "sample.txt")
        let a = reviews.prompts(seed: 42, heldOutFraction: 0.3)
        let b = reviews.prompts(seed: 42, heldOutFraction: 0.3)
        #expect(a == b)
        #expect(Set(a.train.map(\.id)).isDisjoint(with: a.heldOut.map(\.id)))
        #expect(!a.train.isEmpty && !a.heldOut.isEmpty)
        let c = reviews.prompts(seed: 43, heldOutFraction: 0.3)
        #expect(c != a, "another seed should change the split or the prefixes")
        // A review's fate depends on its id, not on its neighbours.
        let subset = MovieReviewSnippetsTests.subset(reviews, keeping: { $0.id % 2 == 0 })
        let d = subset.prompts(seed: 42, heldOutFraction: 0.3)
        #expect(d.heldOut == a.heldOut.filter { $0.id % 2 == 0 })
        #expect(reviews.prompts(seed: 1, heldOutFraction: 0).heldOut.isEmpty)
        #expect(reviews.prompts(seed: 1, heldOutFraction: 1).train.isEmpty)
    }

    static func subset(_ reviews: MovieReviewSnippets, keeping keep: (MovieReviewSnippet) -> Bool) -> MovieReviewSnippets {
        let text = reviews.snippets.filter(keep).map { "\($0.id)\t\($0.score)\t\($0.text)" }.joined(separator: "\r\n")
        return try! MovieReviewSnippets(parsing: text, fileName: "subset")
    }

    @Test func splitMixMatchesReferenceStream() {
        // SplitMix64 seeded with 1234567: published first outputs of the reference C code.
        var generator = SplitMix64(seed: 1_234_567)
        #expect(generator.next() == 6_457_827_717_110_365_317)
        #expect(generator.next() == 3_203_168_211_198_807_973)
        var draws = SplitMix64(seed: 9)
        for _ in 0..<1000 {
            #expect((2...8).contains(draws.nextInt(in: 2...8)))
            let u = draws.nextUnit()
            #expect(u >= 0 && u < 1)
        }
    }

    @Test("the real corpus parses: 10,605 snippets", .enabled(if: FileManager.default.fileExists(
        atPath: MovieReviewSnippets.file(in: VaderSentiment.defaultCacheDirectory).path),
        "movie review snippets not in the asset cache; run scripts/fetch-assets.sh"))
    func realCorpus() throws {
        let reviews = try MovieReviewSnippets(cacheDirectory: VaderSentiment.defaultCacheDirectory)
        #expect(reviews.snippets.count == 10_605)
        #expect(reviews.snippets.first?.id == 1 && reviews.snippets.last?.id == 10_605)
        let split = reviews.prompts(seed: 0, heldOutFraction: 0.1)
        let heldOutShare = Double(split.heldOut.count) / Double(split.train.count + split.heldOut.count)
        #expect(abs(heldOutShare - 0.1) < 0.02)
        #expect(Set(split.train.map(\.id)).isDisjoint(with: split.heldOut.map(\.id)))
    }
}
