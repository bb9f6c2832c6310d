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

/// The real lexicons from the Align asset cache, or nil when they have not been fetched.
let cachedVader: VaderSentiment? = {
    let files = VaderSentiment.lexiconFiles(in: VaderSentiment.defaultCacheDirectory)
    guard FileManager.default.fileExists(atPath: files.lexicon.path),
          FileManager.default.fileExists(atPath: files.emoji.path) else { return nil }
    return try? VaderSentiment(cacheDirectory: VaderSentiment.defaultCacheDirectory)
}()

let lexiconMissing = "VADER lexicon not in the asset cache; run scripts/fetch-assets.sh (or set ALIGN_CACHE)"

@Suite("VADER against vaderSentiment 3.3.2")
struct VaderGoldenTests {
    @Test("every golden score matches the Python package to 1e-4", .enabled(if: cachedVader != nil, Comment(rawValue: lexiconMissing)))
    func goldenScores() throws {
        let vader = try #require(cachedVader)
        let golden = try VaderGolden.load()
        #expect(golden.cases.count >= 350)
        #expect(golden.cases.filter { $0.source == "handWritten" }.count >= 100)
        var worst = 0.0
        for c in golden.cases {
            let s = vader.scores(c.text)
            let d = max(abs(s.negative - c.scores.neg), abs(s.neutral - c.scores.neu),
                        abs(s.positive - c.scores.pos), abs(s.compound - c.scores.compound))
            worst = max(worst, d)
            #expect(d <= 1e-4, "\(c.text.debugDescription): got \(s), want \(c.scores)")
        }
        print("VADER golden: \(golden.cases.count) cases, max |rounded Swift - Python| = \(worst)")
    }

    @Test("unrounded scores reproduce the Python arithmetic", .enabled(if: cachedVader != nil, Comment(rawValue: lexiconMissing)))
    func rawScores() throws {
        let vader = try #require(cachedVader)
        let golden = try VaderGolden.load()
        var worst = 0.0
        for c in golden.cases {
            let s = vader.unroundedScores(c.text)
            let d = max(abs(s.negative - c.raw.neg), abs(s.neutral - c.raw.neu),
                        abs(s.positive - c.raw.pos), abs(s.compound - c.raw.compound))
            worst = max(worst, d)
            #expect(d <= 1e-12, "\(c.text.debugDescription): got \(s), want \(c.raw)")
        }
        print("VADER golden: max |unrounded Swift - Python| = \(worst)")
    }
}
