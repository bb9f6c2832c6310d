import AlignData
import AlignTokenizers
import Foundation
import TestSupport

/// Shared loaders for the TRL fixtures (Tests/Fixtures, written by scripts/fixtures/).
enum Fixture {
    static func url(_ path: String) -> URL { fixturesDirectory.appendingPathComponent(path) }

    /// The tiny byte-level BPE tokenizer every fixture model shares (ChatML template, EOS `<|im_end|>`, pad 0).
    static let tokenizer: Tokenizer = try! Tokenizer(directory: url("models/llama"))

    static let encoder: ExampleEncoder = try! ExampleEncoder(tokenizer: tokenizer)

    /// A JSON fixture as Foundation objects.
    static func json(_ path: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url(path)))
    }

    /// An integer list from a JSON fixture, as Int32.
    static func ints(_ value: Any?) -> [Int32] {
        (value as? [Any] ?? []).map { Int32(($0 as! NSNumber).intValue) }
    }

    /// A temporary file holding `text`.
    static func temporaryFile(_ text: String, name: String = "data.jsonl") throws -> URL {
        let folder = testScratchDirectory.appendingPathComponent("AlignDataTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent(name)
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file
    }
}

/// Row-major labels TRL builds from ids and a completion mask: the id where the mask is 1, −100 elsewhere.
func labels(_ ids: [Int32], _ mask: [Float]) -> [Int32] {
    zip(ids, mask).map { $1 == 1 ? $0 : -100 }
}
