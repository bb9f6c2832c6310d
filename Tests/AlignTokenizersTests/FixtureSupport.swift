import Foundation
@testable import AlignTokenizers

/// Locations and loaders for the fixtures written by scripts/make_tokenizer_fixtures.py.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// The trained tokenizers, one folder each.
    static let names = [
        "gpt2", "gpt2_prefix_space", "llama3", "qwen2", "smollm_digits", "spm_legacy", "spm_metaspace", "whitespace",
    ]

    static func folder(_ name: String) -> URL { root.appendingPathComponent(name) }

    static func tokenizer(_ name: String) throws -> Tokenizer { try Tokenizer(directory: folder(name)) }

    /// One expected row: the text, its ids without and with special tokens, and its decodes.
    struct Row: Decodable {
        var text: String
        var ids: [Int]
        var ids_special: [Int]
        var decoded: String
        var decoded_skip: String
    }

    static func rows(_ url: URL) throws -> [Row] {
        try JSONDecoder().decode([Row].self, from: Data(contentsOf: url))
    }

    static func expected(_ name: String) throws -> [Row] {
        try rows(folder(name).appendingPathComponent("expected.json"))
    }

    /// The real SmolLM2 tokenizer derived from the GGUF (outside git), when the fixture script has run.
    static let cache: URL = {
        if let path = ProcessInfo.processInfo.environment["ALIGN_CACHE"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/align")
    }()
    static let smolLM2Folder = cache.appendingPathComponent("smollm2/tokenizer")
    static var hasSmolLM2: Bool {
        FileManager.default.fileExists(atPath: smolLM2Folder.appendingPathComponent("tokenizer.json").path)
    }
    static var hasSmolLM2GGUFVocabulary: Bool {
        FileManager.default.fileExists(atPath: smolLM2Folder.appendingPathComponent("gguf_vocab.json").path)
    }

    /// Human-readable description of the first few mismatching rows.
    static func mismatches(_ rows: [Row], _ actual: (Row) -> (got: String, want: String)?) -> [String] {
        var report: [String] = []
        for row in rows {
            if let (got, want) = actual(row) {
                report.append("text \(row.text.debugDescription): got \(got), want \(want)")
                if report.count >= 5 { break }
            }
        }
        return report
    }
}
