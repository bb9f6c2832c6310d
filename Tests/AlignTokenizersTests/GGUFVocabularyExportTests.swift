import Foundation
import Testing
@testable import AlignTokenizers
import TestSupport

/// `Tokenizer.ggufVocabulary()`: Hugging Face tokenizers written as GGUF vocabulary arrays, on the
/// trained tokenizer fixtures (scripts/make_tokenizer_fixtures.py).
@Suite struct GGUFVocabularyExportTests {
    /// The fixture's tokenizer.json and tokenizer_config.json in a fresh folder, with every added
    /// token's lstrip/rstrip/single_word/normalized flag cleared (the fixtures set them to test the
    /// Hugging Face loader; GGUF cannot hold them).
    static func withoutStripFlags(_ name: String) throws -> (Tokenizer, URL) {
        let folder = testScratchDirectory.appendingPathComponent("align-gguf-vocab-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.folder(name).appendingPathComponent("tokenizer.json"))) as! [String: Any]
        json["added_tokens"] = (json["added_tokens"] as! [[String: Any]]).map { token in
            var token = token
            for flag in ["lstrip", "rstrip", "single_word", "normalized"] { token[flag] = false }
            return token
        }
        try JSONSerialization.data(withJSONObject: json).write(to: folder.appendingPathComponent("tokenizer.json"))
        try FileManager.default.copyItem(at: Fixtures.folder(name).appendingPathComponent("tokenizer_config.json"),
                                         to: folder.appendingPathComponent("tokenizer_config.json"))
        return (try Tokenizer(directory: folder), folder)
    }

    /// The byte-level fixtures get llama.cpp's pre-tokenizer name, and the tokenizer rebuilt from
    /// the arrays (what reading the GGUF gives) encodes and decodes every corpus text as the
    /// original does, with the same special tokens and template. Qwen2's NFC normalizer is not
    /// carried, so there the one corpus text not in NFC gives the same ids only once put in NFC.
    @Test(arguments: [("gpt2", "gpt2"), ("llama3", "llama-bpe"), ("qwen2", "qwen2"), ("smollm_digits", "smollm")])
    func byteLevelFixturesKeepTheirIDs(_ name: String, _ preName: String) throws {
        let (tokenizer, folder) = try Self.withoutStripFlags(name)
        defer { try? FileManager.default.removeItem(at: folder) }
        let vocabulary = try tokenizer.ggufVocabulary()
        #expect(vocabulary.model == .byteLevel && vocabulary.preTokenizerName == preName)
        #expect(vocabulary.chatTemplate == tokenizer.chatTemplate && vocabulary.chatTemplate != nil)
        let rebuilt = try Tokenizer(vocabulary: vocabulary)
        #expect(rebuilt.eosTokenID == tokenizer.eosTokenID && rebuilt.padTokenID == tokenizer.padTokenID)
        #expect(rebuilt.addedTokens.map(\.content) == tokenizer.addedTokens.map(\.content))
        #expect(vocabulary.addsBOS == (name == "llama3"))
        var compared = 0, nonNFC = 0
        for row in try Fixtures.expected(name) {
            // Swift's == compares canonically equivalent strings as equal: compare scalars.
            if name == "qwen2" && !row.text.precomposedStringWithCanonicalMapping.unicodeScalars.elementsEqual(row.text.unicodeScalars) {
                nonNFC += 1
                // The GGUF tokenizer gives Hugging Face's ids once the text is in NFC.
                #expect(rebuilt.encode(row.text.precomposedStringWithCanonicalMapping) == tokenizer.encode(row.text))
                continue
            }
            compared += 1
            #expect(rebuilt.encode(row.text, addSpecialTokens: false) == tokenizer.encode(row.text, addSpecialTokens: false), "\(row.text.debugDescription)")
            #expect(rebuilt.encode(row.text, addSpecialTokens: true) == tokenizer.encode(row.text, addSpecialTokens: true), "\(row.text.debugDescription)")
            let ids = tokenizer.encode(row.text, addSpecialTokens: true)
            #expect(rebuilt.decode(ids) == tokenizer.decode(ids) && rebuilt.decode(ids, skipSpecialTokens: true) == tokenizer.decode(ids, skipSpecialTokens: true))
        }
        #expect(compared > 50 && nonNFC == (name == "qwen2" ? 1 : 0))
    }

    /// The Llama-2-layout SentencePiece fixture becomes a "llama" vocabulary: byte tokens typed 6,
    /// `<unk>` 2, BOS added, and the same ids and decodes on every corpus text, both with the merge
    /// list (what Align and transformers read) and from the scores alone (how llama.cpp merges).
    @Test func sentencePieceFixtureKeepsItsIDs() throws {
        let (tokenizer, folder) = try Self.withoutStripFlags("spm_legacy")
        defer { try? FileManager.default.removeItem(at: folder) }
        let vocabulary = try tokenizer.ggufVocabulary()
        #expect(vocabulary.model == .sentencePiece && vocabulary.addsSpacePrefix && vocabulary.addsBOS && !vocabulary.addsEOS)
        let types = try #require(vocabulary.tokenTypes)
        #expect(types[0] == 2 && types[1] == 3 && types[2] == 3 && types.filter { $0 == 6 }.count == 256)
        #expect(vocabulary.tokens[types.firstIndex(of: 6)!] == "<0x00>")
        var scoresOnly = vocabulary
        scoresOnly.merges = []
        for (label, rebuilt) in [("merges", try Tokenizer(vocabulary: vocabulary)), ("scores", try Tokenizer(vocabulary: scoresOnly))] {
            var mismatches: [String] = []
            for row in try Fixtures.expected("spm_legacy") {
                for special in [false, true] where rebuilt.encode(row.text, addSpecialTokens: special) != tokenizer.encode(row.text, addSpecialTokens: special) {
                    mismatches.append("\(row.text.debugDescription) \(rebuilt.encode(row.text, addSpecialTokens: special)) vs \(tokenizer.encode(row.text, addSpecialTokens: special))")
                }
                let ids = tokenizer.encode(row.text)
                #expect(rebuilt.decode(ids) == tokenizer.decode(ids), "\(label): \(row.text.debugDescription)")
            }
            #expect(mismatches.isEmpty, "\(label): \(mismatches.count) mismatches, first \(mismatches.prefix(3))")
        }
    }

    /// What GGUF cannot hold is refused by name: strip flags, a prefix space, whitespace splitting,
    /// SentencePiece with Metaspace, normalized added tokens in a SentencePiece vocabulary.
    @Test(arguments: ["gpt2", "gpt2_prefix_space", "whitespace", "spm_legacy", "spm_metaspace"])
    func inexpressibleFixturesAreRefused(_ name: String) throws {
        let tokenizer = try Fixtures.tokenizer(name)
        #expect(throws: TokenizerError.self) { try tokenizer.ggufVocabulary() }
    }
}
