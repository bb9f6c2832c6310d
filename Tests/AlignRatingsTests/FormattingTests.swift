import Foundation
import Testing

@testable import AlignRatings

private let abcText = """
    {"winner": "A", "loser": "B"}
    {"winner": "A", "loser": "B"}
    {"winner": "B", "loser": "A"}
    {"winner": "B", "loser": "C"}
    {"winner": "C", "loser": "B"}
    {"a": "A", "b": "C", "winner": "a"}
    {"a": "A", "b": "C", "winner": "b"}
    {"a": "B", "b": "C", "winner": "tie"}
    """

@Test func jsonHasTheDocumentedShape() throws {
    let set = try ComparisonSet(json: Array(abcText.utf8), source: "abc.jsonl")
    let result = try BradleyTerry(bootstrapSamples: 50, seed: 1).fit(set)
    let text = result.json()
    let root = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    let items = try #require(root["items"] as? [[String: Any]])
    #expect(items.count == 3)
    for item in items {
        #expect(Set(item.keys) == ["id", "strength", "elo", "ci_low", "ci_high", "wins", "losses", "ties"])
    }
    #expect(items.map { $0["id"] as? String } == result.items.map { $0.id.description })
    let strengths = items.map { $0["strength"] as! Double }
    #expect(strengths == strengths.sorted(by: >))
    // Shortest round-trip decimals, so the text holds each Double exactly (Foundation's reader on
    // Linux may round the last bit, hence the ulp slack on the parsed values).
    for (parsed, item) in zip(strengths, result.items) {
        #expect(text.contains("\"strength\": \(item.strength),"))
        #expect(abs(parsed - item.strength) <= 4 * item.strength.ulp)
    }
    #expect(text.contains("\"elo\": \(result.items[0].elo),"))
    #expect(text.contains("\"ci_low\": \(result.items[0].interval!.lowerBound),"))
    #expect(items.first { $0["id"] as? String == "C" }?["ties"] as? Int == 1)
    #expect(root["ties_model"] as? String == "half")
    #expect(root["bootstrap"] as? Int == 50 && root["seed"] as? Int == 1)
    #expect(root["prior_sd"] is NSNull)
    #expect((root["warnings"] as? [String])?.isEmpty == false || result.warnings.isEmpty)
}

@Test func jsonWritesNumericIDsAsNumbersAndNullIntervalsWithoutBootstrap() throws {
    var set = ComparisonSet()
    set.append(winner: 7, loser: "x\"y")
    set.append(winner: "x\"y", loser: 7)
    let text = try BradleyTerry(ties: .davidson, bootstrapSamples: 0).fit(set).json()
    #expect(text.contains("{\"id\": 7, \"strength\": 0, \"elo\": 1500, \"ci_low\": null, \"ci_high\": null, \"wins\": 1, \"losses\": 1, \"ties\": 0}"))
    #expect(text.contains("\"id\": \"x\\\"y\""))
    #expect(text.contains("\"ties_model\": \"davidson\""))
    #expect(text.contains("\"nu\": 0,"))
    #expect(try JSONSerialization.jsonObject(with: Data(text.utf8)) is [String: Any])
}

@Test func tableShowsRanksEloIntervalsAndTheMatrix() throws {
    let set = try ComparisonSet(json: Array(abcText.utf8), source: "abc.jsonl")
    let result = try BradleyTerry(bootstrapSamples: 50, seed: 1).fit(set)
    let table = result.table()
    let lines = table.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    #expect(lines[0] == "Bradley–Terry ratings of 3 items from 8 comparisons, ties count as half a win each")
    #expect(lines[2].hasPrefix("Rank  Item  Strength") && lines[2].hasSuffix("Elo  W  L  T"))
    #expect(lines[2].contains("95% CI"))
    let top = result.items[0]
    #expect(lines[3].hasPrefix("   1  \(top.id)"))
    #expect(lines[3].contains(String(format: "%.3f", top.strength)))
    #expect(lines[3].contains(String(format: "%.0f", top.elo)))
    #expect(table.contains("Predicted P(row beats column):"))
    // The matrix is complementary: P(A beats B) + P(B beats A) = 1, printed with two decimals.
    let a = result.items[0], b = result.items[1]
    let pab = String(format: "%.2f", 1 / (1 + exp(b.strength - a.strength)))
    #expect(table.contains(pab))
    #expect(!result.table(matrixItemLimit: 2).contains("Predicted P("))
    #expect(result.table(matrixItemLimit: 2).contains("shown for at most 2 items"))
}
