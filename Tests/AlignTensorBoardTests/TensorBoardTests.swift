import AlignTensorBoard
import Foundation
import Testing
import TestSupport

/// The events of Tests/Fixtures/tensorboard/expected.json (written by
/// scripts/fixtures/make_tensorboard_fixture.py with TensorBoard's own EventFileWriter).
private func fixtureEvents() throws -> [TensorBoardEvent] {
    let url = fixturesDirectory.appendingPathComponent("tensorboard/expected.json")
    let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    func number(_ any: Any?) -> Double {
        switch any {
        case let s as String: return s == "NaN" ? .nan : s == "Infinity" ? .infinity : -.infinity
        case let n as NSNumber: return n.doubleValue
        default: Issue.record("not a number: \(String(describing: any))"); return 0
        }
    }
    return (root["events"] as! [[String: Any]]).map { e in
        var event = TensorBoardEvent(wallTime: number(e["wall_time"]), step: Int64(truncating: e["step"] as! NSNumber))
        event.fileVersion = e["file_version"] as? String
        event.sourceWriter = e["source_writer"] as? String
        if let tag = e["tag"] as? String { event.scalars = [.init(tag: tag, value: Float(number(e["value"])))] }
        if e["session_status"] as? String == "START" { event.sessionStatus = .start }
        return event
    }
}

private func fixtureFile() throws -> [UInt8] {
    Array(try Data(contentsOf: fixturesDirectory.appendingPathComponent("tensorboard/events.out.tfevents.fixture")))
}

/// Same value, NaN equal to NaN (bit patterns may differ in payload; TensorBoard writes the quiet NaN).
private func same(_ a: Float, _ b: Float) -> Bool { a.isNaN ? b.isNaN : a == b && a.sign == b.sign }

@Suite struct TensorBoardFixtureTests {
    @Test func alignEncodesTensorBoardsOwnFileByteForByte() throws {
        let expected = try fixtureEvents()
        #expect(expected.count == 12)
        let ours = expected.flatMap { TFRecord.frame($0.encoded()) }
        let theirs = try fixtureFile()
        #expect(ours.count == theirs.count)
        if let i = zip(ours, theirs).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            Issue.record("first differing byte at offset \(i)")
        }
        #expect(ours == theirs)
    }

    @Test func alignReadsTensorBoardsOwnFile() throws {
        let events = try TensorBoardEvent.events(inFile: try fixtureFile())
        let expected = try fixtureEvents()
        try #require(events.count == expected.count)
        for (got, want) in zip(events, expected) {
            #expect(got.wallTime == want.wallTime)
            #expect(got.step == want.step)
            #expect(got.fileVersion == want.fileVersion)
            #expect(got.sourceWriter == want.sourceWriter)
            #expect(got.sessionStatus == want.sessionStatus)
            #expect(got.scalars.map(\.tag) == want.scalars.map(\.tag))
            for (g, w) in zip(got.scalars, want.scalars) { #expect(same(g.value, w.value), "\(g.tag): \(g.value) vs \(w.value)") }
        }
        #expect(events.first?.fileVersion == "brain.Event:2")
    }

    @Test func damagedRecordsAreNamed() throws {
        var file = try fixtureFile()
        file[30] ^= 0x01  // inside the first event's data
        #expect(throws: TensorBoardError.malformed("record 0 at byte 0: data checksum mismatch")) { try TFRecord.records(file) }
        var header = try fixtureFile()
        header[2] ^= 0x10  // the first record's length
        #expect(throws: TensorBoardError.malformed("record 0 at byte 0: length checksum mismatch")) { try TFRecord.records(header) }
        let cut = Array(try fixtureFile().dropLast(3))
        #expect(throws: (any Error).self) { try TFRecord.records(cut) }
    }
}

@Suite struct ProtobufAndFramingTests {
    @Test func varintsAndFixedWidthValues() throws {
        var w = ProtobufWriter()
        w.int64(2, 300)
        #expect(w.bytes == [0x10, 0xAC, 0x02])
        var n = ProtobufWriter()
        n.int64(2, -1)
        #expect(n.bytes == [0x10] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
        var f = ProtobufWriter()
        f.float(2, 1)
        f.double(1, -2)
        #expect(f.bytes == [0x15, 0x00, 0x00, 0x80, 0x3F, 0x09, 0, 0, 0, 0, 0, 0, 0, 0xC0])
        let fields = try ProtobufReader.fields(w.bytes + n.bytes + f.bytes)
        #expect(fields.map(\.field) == [2, 2, 2, 1])
        #expect(fields[1].value == .varint(UInt64.max))
        #expect(throws: (any Error).self) { try ProtobufReader.fields([0x10, 0x80]) }
    }

    @Test func maskedChecksumFollowsTheTFRecordFormula() {
        // CRC-32C("123456789") is the standard check value 0xE3069283.
        let crc: UInt32 = 0xE306_9283
        #expect(TFRecord.maskedCRC32C(Array("123456789".utf8)) == ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8)
        let record = TFRecord.frame([1, 2, 3])
        #expect(record.count == 8 + 4 + 3 + 4)
        #expect(Array(record[0..<8]) == [3, 0, 0, 0, 0, 0, 0, 0])
        #expect((try? TFRecord.records(record)) == [[1, 2, 3]])
    }
}

@Suite struct TensorBoardWriterTests {
    private func temporaryFolder() throws -> URL {
        let url = testScratchDirectory.appendingPathComponent("align-tb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func trainingAndEvalRowsUseTransformersTags() throws {
        let row: [String: Double] = ["loss": 0.5, "rewards/chosen": -0.25, "learning_rate": 5e-6, "grad_norm": .nan,
                                     "epoch": 0.5, "step": 4]
        #expect(TensorBoardWriter.scalars(forRow: row).map(\.tag)
            == ["train/epoch", "train/grad_norm", "train/learning_rate", "train/loss", "train/rewards/chosen"])
        let eval: [String: Double] = ["eval_loss": 0.75, "eval_rewards/margins": .infinity, "epoch": 1, "step": 8]
        #expect(TensorBoardWriter.scalars(forRow: eval).map(\.tag) == ["eval/loss", "eval/rewards/margins", "train/epoch"])
    }

    @Test func writesAReadableEventFileFlushedAfterEachRow() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let date = Date(timeIntervalSince1970: 1_764_700_000.5)
        let run = TensorBoardWriter.runDirectory(output: root, date: date, hostname: "box")
        #expect(run.deletingLastPathComponent().lastPathComponent == "runs")
        #expect(run.lastPathComponent.hasSuffix("_box"))
        let writer = try TensorBoardWriter(directory: run, hostname: "box", clock: { date })
        #expect(writer.fileURL.lastPathComponent == "events.out.tfevents.1764700000.box")
        try writer.log(row: ["loss": 0.6931, "grad_norm": .nan, "learning_rate": 1e-5, "epoch": 0.25, "step": 1])
        // Read while the writer is still open: nothing may wait in a buffer.
        var events = try TensorBoardEvent.events(inFile: Array(Data(contentsOf: writer.fileURL)))
        #expect(events.count == 5)
        #expect(events[0].fileVersion == "brain.Event:2" && events[0].sourceWriter == "align" && events[0].step == 0)
        #expect(events[0].wallTime == 1_764_700_000.5)
        #expect(events.dropFirst().allSatisfy { $0.step == 1 && $0.scalars.count == 1 && $0.wallTime == 1_764_700_000.5 })
        #expect(events[1].scalars[0].tag == "train/epoch" && events[1].scalars[0].value == 0.25)
        #expect(events[2].scalars[0].tag == "train/grad_norm" && events[2].scalars[0].value.isNaN)
        #expect(events[4].scalars[0].tag == "train/loss" && events[4].scalars[0].value == Float(0.6931))
        try writer.log(row: ["eval_loss": -.infinity, "epoch": 0.5, "step": 2])
        events = try TensorBoardEvent.events(inFile: Array(Data(contentsOf: writer.fileURL)))
        #expect(events.suffix(2).map { $0.scalars[0].tag } == ["eval/loss", "train/epoch"])
        #expect(events[5].scalars[0].value == -.infinity && events[5].step == 2)
        #expect(TensorBoardWriter.latestRunDirectory(output: root)?.lastPathComponent == run.lastPathComponent)
    }

    @Test func aResumedRunAddsAFileThatRestartsAtItsStep() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let date = Date(timeIntervalSince1970: 1_764_700_000)
        let first = try TensorBoardWriter(directory: root, hostname: "box", clock: { date })
        let second = try TensorBoardWriter(directory: root, hostname: "box", restartStep: 11, clock: { date })
        #expect(first.fileURL != second.fileURL)
        #expect(second.fileURL.lastPathComponent == "events.out.tfevents.1764700000.box.1")
        let events = try TensorBoardEvent.events(inFile: Array(Data(contentsOf: second.fileURL)))
        #expect(events.count == 2)
        #expect(events[1].sessionStatus == .start && events[1].step == 11)
    }
}
