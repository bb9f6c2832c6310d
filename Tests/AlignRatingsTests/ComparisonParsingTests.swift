import Testing

@testable import AlignRatings

/// Parses `text` as a comparison file named "prefs.jsonl".
private func parse(_ text: String) throws -> ComparisonSet {
    try ComparisonSet(json: Array(text.utf8), source: "prefs.jsonl")
}

/// The error `text` raises, as printed.
private func failure(_ text: String) -> String? {
    do {
        _ = try parse(text)
        return nil
    } catch let error as ComparisonParseError {
        return error.description
    } catch {
        return "unexpected \(error)"
    }
}

@Test func readsBothRecordFormsFromJSONLines() throws {
    let set = try parse("""
        {"winner": "A", "loser": "B"}

        {"a": "B", "b": "C", "winner": "b"}
        {"a": "C", "b": "A", "winner": "tie"}\r
        {"a": "A", "b": "C", "winner": "a"}
        """)
    #expect(set.items == ["A", "B", "C"])
    #expect(set.comparisons == [
        Comparison(first: 0, second: 1, outcome: .firstWins),
        Comparison(first: 1, second: 2, outcome: .secondWins),
        Comparison(first: 2, second: 0, outcome: .tie),
        Comparison(first: 0, second: 2, outcome: .firstWins),
    ])
    let tallies = set.tallies()
    #expect(tallies[0] == (wins: 2, losses: 0, ties: 1))
    #expect(tallies[2] == (wins: 1, losses: 1, ties: 1))
}

@Test func numericIDsStayNumbersAndDifferFromStrings() throws {
    let set = try parse("""
        {"winner": 1, "loser": 2.50}
        {"winner": "1", "loser": -3e2}
        """)
    #expect(set.items == [.number("1"), .number("2.50"), .string("1"), .number("-3e2")])
    #expect(set.items[0] != set.items[2])
    #expect(set.items[1].description == "2.50")
}

@Test func weightsAndCounts() throws {
    let set = try parse("""
        {"winner": "A", "loser": "B", "weight": 2.5}
        {"a": "A", "b": "B", "winner": "tie", "count": 3}
        """)
    #expect(set.comparisons.map(\.weight) == [2.5, 3])
    #expect(set.totalWeight == 5.5)
}

@Test func readsAJSONArrayAndReportsTheElementLine() throws {
    let good = try parse("""
          [
          {"winner": "A", "loser": "B"},
          {"a": "B", "b": "A", "winner": "tie"}
        ]
        """)
    #expect(good.comparisons.count == 2)
    #expect(failure("""
        [
          {"winner": "A", "loser": "B"},
          {"a": "B",
           "b": "A"}
        ]
        """) == "prefs.jsonl:3: missing \"winner\" (expected \"a\", \"b\" or \"tie\")")
    #expect(failure("[\n{\"winner\": \"A\", \"loser\": \"B\"}\n{\"winner\": \"B\"}]")
        == "prefs.jsonl:3: invalid JSON: expected ',' or ']' but found '{' (column 1)")
}

@Test func errorMessagesNameFileLineAndReason() {
    let first = "{\"winner\": \"A\", \"loser\": \"B\"}\n"
    #expect(failure(first + "{\"loser\": \"B\"}") == "prefs.jsonl:2: missing \"winner\"")
    #expect(failure(first + "\n{\"winner\": \"B\"}") == "prefs.jsonl:3: missing \"loser\"")
    #expect(failure(first + "{\"a\": \"A\", \"b\": \"B\"}")
        == "prefs.jsonl:2: missing \"winner\" (expected \"a\", \"b\" or \"tie\")")
    #expect(failure(first + "{\"a\": \"A\", \"b\": \"B\", \"winner\": \"A\"}")
        == "prefs.jsonl:2: \"winner\" must be \"a\", \"b\" or \"tie\", found \"A\"")
    #expect(failure(first + "{\"a\": \"A\", \"b\": \"B\", \"winner\": 1}")
        == "prefs.jsonl:2: \"winner\" must be \"a\", \"b\" or \"tie\", found 1")
    #expect(failure(first + "{\"a\": \"A\", \"winner\": \"a\"}") == "prefs.jsonl:2: missing \"b\"")
    #expect(failure(first + "{\"winner\": [\"A\"], \"loser\": \"B\"}")
        == "prefs.jsonl:2: \"winner\" must be a string or number id, found an array")
    #expect(failure(first + "{\"winner\": \"A\", \"loser\": \"A\"}")
        == "prefs.jsonl:2: an item cannot be compared with itself (A)")
    #expect(failure(first + "{\"winner\": \"A\", \"loser\": \"B\", \"weight\": 0}")
        == "prefs.jsonl:2: \"weight\" must be a positive number, found 0")
    #expect(failure(first + "{\"winner\": \"A\", \"loser\": \"B\", \"count\": \"2\"}")
        == "prefs.jsonl:2: \"count\" must be a positive number, found \"2\"")
    #expect(failure(first + "{\"winner\": \"A\", \"loser\": \"B\", \"a\": \"C\", \"b\": \"D\"}")
        == "prefs.jsonl:2: mixes the {\"winner\", \"loser\"} and {\"a\", \"b\", \"winner\"} forms")
    #expect(failure(first + "{\"prompt\": \"x\"}")
        == "prefs.jsonl:2: expected \"winner\" and \"loser\" (or \"a\", \"b\" and \"winner\"), found keys: \"prompt\"")
    #expect(failure(first + "[1, 2]")
        == "prefs.jsonl:2: expected a JSON object with \"winner\" and \"loser\" (or \"a\", \"b\" and \"winner\"), found an array")
    #expect(failure(first + "{\"winner\": \"A\", \"loser\": \"B\"") == "prefs.jsonl:2: invalid JSON: unterminated object (column 29)")
    #expect(failure(first + "{\"winner\": \"A\", \"loser\": \"B\"} x")
        == "prefs.jsonl:2: invalid JSON: unexpected 'x' after the JSON value (column 31)")
    #expect(failure(first + "{\"winner\": 01, \"loser\": \"B\"}")
        == "prefs.jsonl:2: invalid JSON: expected ',' or '}' but found '1' (column 13)")
    #expect(failure("\n  \n") == "prefs.jsonl: no comparisons found")
    #expect(failure("[]") == "prefs.jsonl: no comparisons found")
}

@Test func deepNestingIsAnErrorNotACrash() {
    let deep = "{\"winner\": \"A\", \"loser\": \"B\", \"x\": " + String(repeating: "[", count: 100_000) + "}"
    #expect(failure(deep) == "prefs.jsonl:1: invalid JSON: nesting deeper than 256 levels (column 291)")
}

@Test func jsonStringsDecodeEscapes() throws {
    let set = try parse(#"{"winner": "caf\u00e9 \"q\" \ud83d\ude00", "loser": "tab\there"}"#)
    #expect(set.items == [.string("café \"q\" 😀"), .string("tab\there")])
}

@Test func skipsAByteOrderMark() throws {
    let set = try ComparisonSet(json: [0xEF, 0xBB, 0xBF] + Array("{\"winner\": 1, \"loser\": 2}".utf8), source: "x")
    #expect(set.comparisons.count == 1)
}
