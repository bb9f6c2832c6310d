import AlignJSON
import AlignKernels
import Foundation

/// A prompt an online objective generates from.
public struct OnlinePrompt: Sendable {
    /// Token ids (after chat templating and truncation).
    public var ids: [Int32]
    /// The text given to text-based reward sources (the rendered template for conversations).
    public var text: String
    /// Where it came from (`prompts.jsonl:12`), for messages.
    public var location: String
    /// Extra string fields of the row (`answer` for the verifiable task), passed to reward sources.
    public var fields: [String: String]

    public init(ids: [Int32], text: String, location: String, fields: [String: String] = [:]) {
        self.ids = ids; self.text = text; self.location = location; self.fields = fields
    }
}

/// Shared pieces of the online objectives.
enum OnlineSupport {
    /// The seed of batch `index`'s sampling streams: a function of the run's seed and the batch
    /// alone, so a resumed run samples exactly what the uninterrupted one did.
    static func batchSeed(_ seed: UInt64, _ index: Int) -> UInt64 {
        var g = RandomGenerator(seed: seed ^ (UInt64(index + 1) &* 0xD1B5_4A32_D192_ED03))
        return g.next()
    }

    /// A float as JSON, in its shortest round-trip form (NaN and infinities as JSON5-style literals
    /// Python's `json` reads).
    static func number(_ x: Float) -> JSONValue {
        if x.isNaN { return .number(JSONNumber(text: "NaN")) }
        if x.isInfinite { return .number(JSONNumber(text: x > 0 ? "Infinity" : "-Infinity")) }
        return .number(JSONNumber(text: "\(x)"))
    }

    static func numbers(_ xs: some Sequence<Float>) -> JSONValue { .array(xs.map(number)) }
    static func ids(_ xs: [Int32]) -> JSONValue { .array(xs.map { .integer(Int($0)) }) }

    /// Encodes a Codable value as a JSON string value (checkpoint state).
    static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return .string(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue?) throws -> T? {
        guard case .string(let text)? = value else { return nil }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return try decoder.decode(T.self, from: Data(text.utf8))
    }
}

/// `--dump-rollouts FILE`: one JSON object per sampled sequence per step, appended as each batch
/// is generated. A fresh run empties the file; a resumed run drops the rows past its checkpoint.
public final class RolloutDump {
    public let url: URL

    public init(url: URL) { self.url = url }

    /// Empties the file (fresh run) or keeps only rows with `step` ≤ `keepThrough` (resume).
    func start(keepThrough: Int?) throws {
        guard let keepThrough, let text = try? String(contentsOf: url, encoding: .utf8) else {
            try Data().write(to: url)
            return
        }
        let kept = text.split(separator: "\n").filter { line in
            guard let row = try? JSONReader.parse(Array(line.utf8)), case .number(let n)? = row["step"], let s = n.integer else { return false }
            return s <= keepThrough
        }
        try (kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")).write(to: url, atomically: true, encoding: .utf8)
    }

    func append(_ rows: [JSONValue]) throws {
        var bytes: [UInt8] = []
        for row in rows {
            JSONWriter.write(row, into: &bytes)
            bytes.append(UInt8(ascii: "\n"))
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(bytes))
    }
}
