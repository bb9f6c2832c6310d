import AlignData
import AlignJSON
import AlignParquet
import Foundation
import Testing
import TestSupport

/// Parquet files written by pyarrow (scripts/fixtures/make_parquet_fixtures.py) read back row for row
/// as pyarrow reads them, through the dataset types, and damaged files refused in our words.
@Suite struct ParquetTests {
    static let fixtures = ["pairs_none", "pairs_snappy", "pairs_zstd", "pairs_gzip", "conversational", "conversational_v2",
                           "nested", "nested_v2", "types", "types_plain", "kto", "messages", "large_string", "delta"]

    static func url(_ name: String) -> URL { fixturesDirectory.appendingPathComponent("parquet/\(name)") }

    static func expected(_ name: String) throws -> [JSONValue] {
        try readJSONRows(url("\(name).jsonl")).map(\.value)
    }

    @Test(arguments: fixtures) func rowsMatchPyarrow(_ name: String) throws {
        let file = try ParquetFile(contentsOf: Self.url("\(name).parquet"))
        let rows = try file.rows()
        let expected = try Self.expected(name)
        #expect(rows.count == expected.count)
        #expect(file.rowCount == expected.count)
        for (i, (row, want)) in zip(rows, expected).enumerated() where row != want {
            Issue.record("\(name) row \(i): got \(row), pyarrow read \(want)")
            break
        }
    }

    @Test func rowGroupsAndFieldOrder() throws {
        let file = try ParquetFile(contentsOf: Self.url("pairs_none.parquet"))
        #expect(file.rowGroupRowCounts == [5, 5, 3])
        #expect(file.fieldNames == ["prompt", "chosen", "rejected", "score", "rank", "verified", "note"])
        #expect(try file.rows(inRowGroup: 2).count == 3)
        let snappy = try ParquetFile(contentsOf: Self.url("pairs_snappy.parquet"))
        #expect(snappy.rowGroupRowCounts == [4, 4, 4, 1])
        let large = try ParquetFile(contentsOf: Self.url("large_string.parquet")).rows()
        if case .string(let s)? = large[1]["text"] { #expect(s.utf8.count == 100_000) } else { Issue.record("no large string") }
    }

    // MARK: - Datasets

    @Test func preferenceDatasetFromParquetEqualsJSONLines() throws {
        for name in ["pairs_none", "pairs_snappy", "pairs_zstd", "pairs_gzip", "conversational", "conversational_v2"] {
            let parquet = try PreferenceDataset(contentsOf: Self.url("\(name).parquet"))
            let json = try PreferenceDataset(contentsOf: Self.url("\(name).jsonl"))
            #expect(parquet.format == json.format)
            #expect(parquet.isConversational == json.isConversational)
            #expect(parquet.isConversational == name.hasPrefix("conversational"))
            #expect(parquet.examples.map(\.prompt) == json.examples.map(\.prompt))
            #expect(parquet.examples.map(\.chosen) == json.examples.map(\.chosen))
            #expect(parquet.examples.map(\.rejected) == json.examples.map(\.rejected))
            #expect(parquet.examples.map(\.extras) == json.examples.map(\.extras))
        }
        let pairs = try PreferenceDataset(contentsOf: Self.url("pairs_none.parquet"))
        #expect(pairs.examples[7].location?.description == "pairs_none.parquet row 7 (row group 1)")
    }

    @Test func unpairedAndLanguageModelingDatasets() throws {
        let kto = try UnpairedDataset(contentsOf: Self.url("kto.parquet"))
        let ktoJSON = try UnpairedDataset(contentsOf: Self.url("kto.jsonl"))
        #expect(kto.examples.map(\.prompt) == ktoJSON.examples.map(\.prompt))
        #expect(kto.examples.map(\.completion) == ktoJSON.examples.map(\.completion))
        #expect(kto.examples.map(\.label) == ktoJSON.examples.map(\.label))
        #expect(kto.format == .unpaired)
        let sft = try LanguageModelingDataset(contentsOf: Self.url("messages.parquet"))
        let sftJSON = try LanguageModelingDataset(contentsOf: Self.url("messages.jsonl"))
        #expect(sft.format == .messages)
        #expect(sft.examples.map(\.completion) == sftJSON.examples.map(\.completion))
    }

    @Test func foldersAndPatternsReadAsOneSplit() throws {
        let folder = testScratchDirectory.appendingPathComponent("AlignParquetTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for (source, target) in [("pairs_gzip", "train-00001-of-00002.parquet"), ("pairs_none", "train-00000-of-00002.parquet"),
                                 ("kto", "test-00000-of-00001.parquet")] {
            try FileManager.default.copyItem(at: Self.url("\(source).parquet"), to: folder.appendingPathComponent(target))
        }
        let train = try PreferenceDataset(contentsOf: folder.appendingPathComponent("train-*.parquet"))
        #expect(train.examples.count == 26)
        #expect(train.examples[13].location?.description == "train-00001-of-00002.parquet row 0 (row group 0)")
        // The whole folder mixes two layouts: the test split's rows are not pairs.
        #expect(throws: DatasetError.self) { try PreferenceDataset(contentsOf: folder) }
        #expect(throws: DatasetError.self) { try PreferenceDataset(contentsOf: folder.appendingPathComponent("dev-*.parquet")) }
    }

    // MARK: - Damaged files

    static func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: url("\(name).parquet"))) }

    func error(_ bytes: [UInt8], name: String = "broken.parquet") -> ParquetError? {
        do {
            let file = try ParquetFile(data: Data(bytes), name: name)
            _ = try file.rows()
        } catch let e as ParquetError {
            return e
        } catch {
            Issue.record("unexpected error type: \(error)")
        }
        return nil
    }

    @Test func damagedFilesAreNamedErrors() throws {
        let good = try Self.bytes("pairs_snappy")
        #expect(error([])?.description == "broken.parquet: not a Parquet file: 0 bytes is too short")
        var magic = good
        magic[0] = UInt8(ascii: "X")
        #expect(error(magic)?.description == "broken.parquet: not a Parquet file (it does not start with PAR1)")
        #expect(error(Array(good[..<(good.count - 100)]))?.description
                    == "broken.parquet: the file is truncated or damaged (it does not end with PAR1)")
        var length = good
        length[good.count - 5] = 0x7F  // footer length's high byte
        #expect(error(length)?.description.hasPrefix("broken.parquet: the footer length (") == true)
        var footer = good
        let footerLength = Int(good[good.count - 8]) | Int(good[good.count - 7]) << 8
        for i in (good.count - 8 - footerLength)..<(good.count - 8 - footerLength + 16) { footer[i] = 0xFF }
        #expect(error(footer)?.description.hasPrefix("broken.parquet: the footer is malformed") == true)
        // A page header overwritten inside the first column chunk: the row group and column are named.
        var page = try Self.bytes("types_plain")
        for i in 4..<14 { page[i] = 0xFF }
        let pageError = error(page)
        #expect(pageError?.rowGroup == 0)
        #expect(pageError?.column == "i8")
        #expect(pageError?.description.hasPrefix("broken.parquet: row group 0, column \"i8\": the page header at byte 4 is malformed") == true)
    }

    @Test func datasetErrorsNameTheParquetFile() throws {
        let folder = testScratchDirectory.appendingPathComponent("AlignParquetTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let truncated = folder.appendingPathComponent("train.parquet")
        try Data(try Self.bytes("pairs_zstd")[..<500]).write(to: truncated)
        do {
            _ = try PreferenceDataset(contentsOf: truncated)
            Issue.record("a truncated file was read")
        } catch let e as DatasetError {
            #expect(e.description == "train.parquet: the file is truncated or damaged (it does not end with PAR1)")
        }
        // Rows that are valid Parquet but not preference rows are named by row and row group.
        do {
            _ = try PreferenceDataset(contentsOf: Self.url("nested.parquet"))
            Issue.record("nested rows were read as pairs")
        } catch let e as DatasetError {
            #expect(e.description.hasPrefix("nested.parquet row 0 (row group 0): row is a conversation {messages} row; expected preference"))
        }
    }

    /// Hostile bytes: every mutation must end in rows or a ParquetError, never a crash or a hang.
    @Test(arguments: fixtures) func mutatedFilesNeverCrash(_ name: String) throws {
        let good = try Self.bytes(name)
        var rng = SplitMix(seed: UInt64(name.utf8.reduce(0) { $0 &* 31 &+ Int($1) }.magnitude))
        for trial in 0..<150 {
            var bytes = good
            switch trial % 3 {
            case 0:  // random bytes anywhere
                for _ in 0..<(1 + Int(rng.next() % 4)) { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            case 1:  // the footer, where every offset and count lives
                let footerLength = min(Int(good[good.count - 8]) | Int(good[good.count - 7]) << 8, good.count - 12)
                for _ in 0..<(1 + Int(rng.next() % 3)) {
                    bytes[good.count - 8 - footerLength + Int(rng.next() % UInt64(footerLength))] = UInt8(truncatingIfNeeded: rng.next())
                }
            default:  // a stretch of one byte value (runs, lengths, headers)
                let start = Int(rng.next() % UInt64(bytes.count))
                let value: UInt8 = [0x00, 0xFF, 0x7F, 0x80][Int(rng.next() % 4)]
                for i in start..<min(bytes.count, start + 1 + Int(rng.next() % 12)) { bytes[i] = value }
            }
            _ = error(bytes, name: name)
        }
    }
}

/// A small deterministic generator for the mutation test.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E9B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
