@testable import AlignData
import Foundation
import Testing

/// JSON Lines rows are judged as they are parsed: a strict read ends at the first malformed row instead of
/// parsing (and holding) the whole file first. Profiling FuzzJSONLines showed the old read-everything-then-judge
/// loop spending most of its strict reads on lines after the error it would report (issue 11).
@Suite struct StreamingReadTests {
    let good = #"{"prompt": "Hi", "chosen": " a", "rejected": " b"}"#

    @Test func rowsAreHandedOverOneAtATimeAndTheReadStopsWhenTheConsumerThrows() throws {
        let text = ([good, "{oops"] + Array(repeating: good, count: 1_000)).joined(separator: "\n")
        let file = try Fixture.temporaryFile(text)
        var visited: [Int] = []
        #expect(throws: DatasetError.self) {
            try RowReader.forEachRow(of: file) { row in
                visited.append(row.location.line)
                _ = try row.value.get()
            }
        }
        #expect(visited == [1, 2])
        // Without an error every row arrives, in order, as `rows(of:)` returns them.
        var all: [Int] = []
        try RowReader.forEachRow(of: file) { all.append($0.location.line) }
        #expect(all == Array(1...1_002))
        #expect(try RowReader.rows(of: file).map(\.location.line) == all)
    }

    @Test func strictReadsReportTheFirstBadRowInFileOrder() throws {
        // Line 2 fails to decode, line 3 to parse, line 4 is an invalid row kind: line 2 is the error.
        let text = [good, #"{"prompt": "x", "chosen": 3, "rejected": "z"}"#, "{oops", "[1, 2]", good]
            .joined(separator: "\n")
        let file = try Fixture.temporaryFile(text)
        #expect(throws: DatasetError.self) { try PreferenceDataset(contentsOf: file) }
        do { _ = try PreferenceDataset(contentsOf: file) } catch let e as DatasetError {
            #expect(e.description == "data.jsonl:2: field \"chosen\" is a number, expected a string")
        }
        // Skipping still reads to the end and counts every bad row.
        let skipped = try PreferenceDataset(contentsOf: file, options: ReadOptions(skipBadRows: true))
        #expect(skipped.examples.map { $0.location?.line } == [1, 5])
        #expect(skipped.report.totalRows == 5 && skipped.report.skippedRows == 3)
        #expect(skipped.report.skippedReasons.map { $0.location?.line } == [2, 3, 4])
    }

    @Test func arraysStillFailOnASyntaxErrorBeforeAnyRowIsJudged() throws {
        // A JSON array has no per-row resynchronisation: its syntax error wins over an earlier bad row,
        // with or without skipping.
        let text = "[" + #"{"prompt": "x", "chosen": 3, "rejected": "z"}"# + ",\n" + good + ",\n{oops}]"
        let file = try Fixture.temporaryFile(text, name: "rows.json")
        for options in [ReadOptions(), ReadOptions(skipBadRows: true)] {
            do {
                _ = try PreferenceDataset(contentsOf: file, options: options)
                Issue.record("no error")
            } catch let e as DatasetError {
                #expect(e.description.hasPrefix("rows.json:3 (element 2): invalid JSON"), "\(e)")
            }
        }
    }
}
