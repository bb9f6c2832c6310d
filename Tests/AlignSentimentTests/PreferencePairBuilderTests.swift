import Foundation
import Testing
@testable import AlignSentiment

@Suite("Preference pairs and KTO rows from scored samples")
struct PreferencePairBuilderTests {
    static func row(_ prompt: String, _ scored: [(String, Double)]) -> ScoredPrompt {
        ScoredPrompt(prompt: prompt, completions: scored.map { ScoredCompletion(text: $0.0, score: $0.1) })
    }

    static let rows = [
        row("p1", [("a", 0.2), ("b", 0.9), ("c", -0.4)]),
        row("p2", [("d", 0.5), ("e", 0.5)]),                 // a tie
        row("p3", [("f", 0.1)]),                             // nothing to pair
        row("p4", [("g", -0.3), ("h", .nan), ("i", 0.3)]),   // one invalid score
    ]

    @Test func bestVersusWorst() {
        let result = PreferencePairBuilder(pairing: .bestVersusWorst, tieTolerance: 1e-6).pairs(from: Self.rows)
        #expect(result.pairs == [
            PreferencePair(prompt: "p1", chosen: "b", rejected: "c", chosenScore: 0.9, rejectedScore: -0.4),
            PreferencePair(prompt: "p4", chosen: "i", rejected: "g", chosenScore: 0.3, rejectedScore: -0.3),
        ])
        #expect(abs(result.pairs[0].margin - 1.3) < 1e-12)
        #expect(result.droppedTies == 1)
        #expect(result.invalidScores == 1)
        #expect(result.promptsWithoutPairs == 2)
    }

    @Test func allPairsOrientsEveryPairAndDropsTies() {
        let result = PreferencePairBuilder(pairing: .allPairs, tieTolerance: 0.15).pairs(from: [
            Self.row("p", [("a", 0.2), ("b", 0.9), ("c", 0.1), ("d", 0.9)]),
        ])
        // Pairs (a,b) (a,c)* (a,d) (b,c) (b,d)* (c,d): * are ties under 0.15.
        #expect(result.droppedTies == 2)
        #expect(result.pairs.map { "\($0.chosen)>\($0.rejected)" } == ["b>a", "d>a", "b>c", "d>c"])
        #expect(result.pairs.allSatisfy { $0.margin >= 0.15 && $0.chosenScore > $0.rejectedScore })
        #expect(result.promptsWithoutPairs == 0)
    }

    @Test func ktoThresholdLabelsEveryValidCompletion() {
        let result = PreferencePairBuilder().ktoExamples(from: Self.rows, labeling: .threshold(0.2))
        #expect(result.examples.map(\.completion) == ["a", "b", "c", "d", "e", "f", "g", "i"])
        // Strictly above the threshold: 0.2 itself is undesirable.
        #expect(result.examples.map(\.label) == [false, true, false, true, true, false, false, true])
        #expect(result.invalidScores == 1)
        #expect(result.desirableCount == 4 && result.undesirableCount == 4)
    }

    /// A sample that stopped at once has empty text, which every trainer's reader refuses: with
    /// `skipsEmptyCompletions` (as `align judge` runs) it is never paired or labelled.
    @Test func emptyCompletionsAreLeftOut() {
        let rows = [Self.row("p", [("", 0.9), ("a", 0.1), ("b", -0.5)]), Self.row("q", [("", 0.4), ("c", 0.2)])]
        var builder = PreferencePairBuilder()
        builder.skipsEmptyCompletions = true
        let pairs = builder.pairs(from: rows)
        #expect(pairs.pairs.map { "\($0.chosen)>\($0.rejected)" } == ["a>b"])
        #expect(pairs.emptyCompletions == 2 && pairs.promptsWithoutPairs == 1)
        let kto = builder.ktoExamples(from: rows, labeling: .threshold(0))
        #expect(kto.examples.map(\.completion) == ["a", "b", "c"] && kto.emptyCompletions == 2)
        // Off by default: the demo trains on empty completions in memory (just their EOS).
        #expect(PreferencePairBuilder().pairs(from: rows).pairs.map(\.chosen) == ["", ""])
    }

    @Test func ktoPromptMedianDropsTheMiddle() {
        let result = PreferencePairBuilder(tieTolerance: 1e-9).ktoExamples(from: [
            Self.row("odd", [("a", 0.2), ("b", 0.9), ("c", -0.4)]),       // median 0.2: "a" dropped
            Self.row("even", [("d", 1), ("e", 2), ("f", 3), ("g", 10)]),   // median 2.5
            Self.row("single", [("h", 0.7)]),                              // all at the median
        ], labeling: .promptMedian)
        #expect(result.examples.map { "\($0.completion)\($0.label ? "+" : "-")" } == ["b+", "c-", "d-", "e-", "f+", "g+"])
        #expect(result.droppedAtMedian == 2)
        #expect(PreferencePairBuilder.median([3, 1, 2]) == 2)
        #expect(PreferencePairBuilder.median([4, 1, 3, 2]) == 2.5)
    }

    @Test func encodesTRLColumnNames() throws {
        let pair = PreferencePair(prompt: "p", chosen: "good", rejected: "bad", chosenScore: 0.5, rejectedScore: -0.25)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(pair), as: UTF8.self)
        #expect(json == #"{"chosen":"good","margin":0.75,"prompt":"p","rejected":"bad","score_chosen":0.5,"score_rejected":-0.25}"#)
        let kto = KTOExample(prompt: "p", completion: "c", label: true, score: 0.5)
        let ktoJSON = String(decoding: try encoder.encode(kto), as: UTF8.self)
        #expect(ktoJSON == #"{"completion":"c","label":true,"prompt":"p","score":0.5}"#)
        #expect(try JSONDecoder().decode(PreferencePair.self, from: Data(json.utf8)) == pair)
    }
}
