import Foundation
import Testing
@testable import AlignSentiment

/// The golden cases written by scripts/make_vader_fixtures.py from vaderSentiment 3.3.2.
struct VaderGolden: Decodable {
    struct Scores: Decodable {
        var neg: Double
        var neu: Double
        var pos: Double
        var compound: Double
    }
    struct Case: Decodable {
        var source: String
        var text: String
        var scores: Scores
        var raw: Scores
    }
    var package: String
    var cases: [Case]

    static let url = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/AlignSentiment/vader_golden.json")

    static func load() throws -> VaderGolden {
        try JSONDecoder().decode(VaderGolden.self, from: Data(contentsOf: url))
    }
}

/// Whether the real lexicons are in the Align asset cache.
let vaderLexiconAvailable: Bool = {
    let files = VaderSentiment.lexiconFiles(in: VaderSentiment.defaultCacheDirectory)
    return FileManager.default.fileExists(atPath: files.lexicon.path)
        && FileManager.default.fileExists(atPath: files.emoji.path)
}()

/// The analyser over the real lexicons, loaded once; a load failure fails the tests that use it
/// (rather than skipping them) because the files are present.
let cachedVader = Result { try VaderSentiment(cacheDirectory: VaderSentiment.defaultCacheDirectory) }

let lexiconMissing = "VADER lexicon not in the asset cache; run scripts/fetch-assets.sh (or set ALIGN_CACHE)"

@Suite("VADER against vaderSentiment 3.3.2")
struct VaderGoldenTests {
    /// Scores every golden case with `score`, expects each of the four values within `tolerance`
    /// of `expected(case)`, and returns the largest difference seen.
    func compare(
        _ score: (String) -> SentimentScores, _ expected: (VaderGolden.Case) -> VaderGolden.Scores,
        tolerance: Double
    ) throws -> Double {
        var worst = 0.0
        for c in try VaderGolden.load().cases {
            let s = score(c.text), want = expected(c)
            let d = max(abs(s.negative - want.neg), abs(s.neutral - want.neu),
                        abs(s.positive - want.pos), abs(s.compound - want.compound))
            worst = max(worst, d)
            #expect(d <= tolerance, "\(c.text.debugDescription): got \(s), want \(want)")
        }
        return worst
    }

    @Test("every golden score matches the Python package to 1e-4", .enabled(if: vaderLexiconAvailable, Comment(rawValue: lexiconMissing)))
    func goldenScores() throws {
        let vader = try cachedVader.get()
        let golden = try VaderGolden.load()
        #expect(golden.cases.count >= 350)
        #expect(golden.cases.filter { $0.source == "handWritten" }.count >= 100)
        let worst = try compare(vader.scores, \.scores, tolerance: 1e-4)
        print("VADER golden: \(golden.cases.count) cases, max |rounded Swift - Python| = \(worst)")
    }

    @Test("unrounded scores reproduce the Python arithmetic", .enabled(if: vaderLexiconAvailable, Comment(rawValue: lexiconMissing)))
    func rawScores() throws {
        let vader = try cachedVader.get()
        let worst = try compare(vader.unroundedScores, \.raw, tolerance: 1e-12)
        print("VADER golden: max |unrounded Swift - Python| = \(worst)")
    }
}
