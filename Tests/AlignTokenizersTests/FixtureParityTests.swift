import Foundation
import Testing
@testable import AlignTokenizers
import TestSupport

/// Ids and decodes identical to the Hugging Face `tokenizers` library, text by text.
@Suite struct FixtureParityTests {
    @Test(arguments: Fixtures.names)
    func idsMatchHuggingFace(name: String) throws {
        let tokenizer = try Fixtures.tokenizer(name)
        let rows = try Fixtures.expected(name)
        #expect(rows.count > 40)
        let plain = Fixtures.mismatches(rows) { row in
            let ids = tokenizer.encode(row.text, addSpecialTokens: false)
            return ids == row.ids ? nil : ("\(ids)", "\(row.ids)")
        }
        #expect(plain.isEmpty, "\(name) without special tokens:\n\(plain.joined(separator: "\n"))")
        let special = Fixtures.mismatches(rows) { row in
            let ids = tokenizer.encode(row.text, addSpecialTokens: true)
            return ids == row.ids_special ? nil : ("\(ids)", "\(row.ids_special)")
        }
        #expect(special.isEmpty, "\(name) with special tokens:\n\(special.joined(separator: "\n"))")
    }

    @Test(arguments: Fixtures.names)
    func decodesMatchHuggingFace(name: String) throws {
        let tokenizer = try Fixtures.tokenizer(name)
        let rows = try Fixtures.expected(name)
        let kept = Fixtures.mismatches(rows) { row in
            let text = tokenizer.decode(row.ids, skipSpecialTokens: false)
            return text == row.decoded ? nil : (text.debugDescription, row.decoded.debugDescription)
        }
        #expect(kept.isEmpty, "\(name) decode:\n\(kept.joined(separator: "\n"))")
        let skipped = Fixtures.mismatches(rows) { row in
            let text = tokenizer.decode(row.ids, skipSpecialTokens: true)
            return text == row.decoded_skip ? nil : (text.debugDescription, row.decoded_skip.debugDescription)
        }
        #expect(skipped.isEmpty, "\(name) decode skipping special tokens:\n\(skipped.joined(separator: "\n"))")
    }

    /// Byte-level tokenizers reproduce every text exactly (the SentencePiece ones normalise spaces;
    /// `<mask>` is an lstrip token, which swallows the space before it by design; qwen2 applies NFC).
    @Test(arguments: ["gpt2", "llama3", "qwen2", "smollm_digits"])
    func byteLevelRoundTrips(name: String) throws {
        let tokenizer = try Fixtures.tokenizer(name)
        for row in try Fixtures.expected(name) where !row.text.contains(" <mask>") {
            let expected = name == "qwen2" ? row.text.precomposedStringWithCanonicalMapping : row.text
            #expect(tokenizer.decode(tokenizer.encode(row.text, addSpecialTokens: false)) == expected)
        }
    }

    /// Older tokenizer.json files write merges as "a b" strings rather than ["a", "b"] pairs.
    @Test func mergesWrittenAsStrings() throws {
        let source = Fixtures.folder("llama3").appendingPathComponent("tokenizer.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: source)) as! [String: Any]
        var model = json["model"] as! [String: Any]
        let pairs = model["merges"] as! [[String]]
        #expect(!pairs.isEmpty)
        model["merges"] = pairs.map { "\($0[0]) \($0[1])" }
        json["model"] = model
        let folder = testScratchDirectory.appendingPathComponent("align-merges-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: json).write(to: file)
        let tokenizer = try Tokenizer(tokenizerJSON: file)
        for row in try Fixtures.expected("llama3") {
            #expect(tokenizer.encode(row.text, addSpecialTokens: false) == row.ids)
        }
    }

    @Test(.enabled(if: Fixtures.hasSmolLM2, "run scripts/fetch-assets.sh and scripts/make_tokenizer_fixtures.py"))
    func smolLM2MatchesHuggingFace() throws {
        let tokenizer = try Tokenizer(directory: Fixtures.smolLM2Folder)
        let rows = try Fixtures.rows(Fixtures.root.appendingPathComponent("smollm2_expected.json"))
        #expect(rows.count > 300)
        #expect(tokenizer.vocabularySize == 49152)
        let report = Fixtures.mismatches(rows) { row in
            let ids = tokenizer.encode(row.text, addSpecialTokens: false)
            if ids != row.ids { return ("\(ids)", "\(row.ids)") }
            let text = tokenizer.decode(ids, skipSpecialTokens: false)
            if text != row.decoded { return (text.debugDescription, row.decoded.debugDescription) }
            let skipped = tokenizer.decode(ids, skipSpecialTokens: true)
            return skipped == row.decoded_skip ? nil : (skipped.debugDescription, row.decoded_skip.debugDescription)
        }
        #expect(report.isEmpty, "SmolLM2:\n\(report.joined(separator: "\n"))")
        #expect(tokenizer.eosToken == "<|im_end|>")
        #expect(tokenizer.eosTokenID == 2)
        #expect(tokenizer.padTokenID == 2)
        #expect(tokenizer.modelMaxLength == Int.max)  // 1e30 sentinel in the config, clamped
        #expect(tokenizer.chatTemplate?.contains("<|im_start|>") == true)  // from chat_template.jinja
    }

    static func smolLM2Vocabulary(preTokenizerName: String?) throws -> BPEVocabulary {
        let url = Fixtures.smolLM2Folder.appendingPathComponent("gguf_vocab.json")
        let raw = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        return BPEVocabulary(
            model: .byteLevel, tokens: raw["tokens"] as! [String], tokenTypes: raw["token_type"] as? [Int],
            merges: raw["merges"] as! [String], preTokenizerName: preTokenizerName ?? raw["pre"] as? String,
            bosTokenID: raw["bos_token_id"] as? Int, eosTokenID: raw["eos_token_id"] as? Int,
            padTokenID: raw["padding_token_id"] as? Int, unknownTokenID: raw["unknown_token_id"] as? Int,
            addsBOS: raw["add_bos_token"] as? Bool ?? false)
    }

    /// The raw-vocabulary initialiser on the real GGUF arrays gives the same ids as the tokenizer.json
    /// transformers derives from that GGUF. transformers uses the plain GPT-2 pattern for it, so the
    /// vocabulary is built with pre-tokenizer "gpt2" here; "smollm" is checked separately below.
    @Test(.enabled(if: Fixtures.hasSmolLM2GGUFVocabulary, "run scripts/make_tokenizer_fixtures.py"))
    func smolLM2FromGGUFArrays() throws {
        let tokenizer = try Tokenizer(vocabulary: Self.smolLM2Vocabulary(preTokenizerName: "gpt2"))
        #expect(tokenizer.eosTokenID == 2)
        #expect(tokenizer.bosToken == "<|im_start|>")
        let rows = try Fixtures.rows(Fixtures.root.appendingPathComponent("smollm2_expected.json"))
        let report = Fixtures.mismatches(rows) { row in
            let ids = tokenizer.encode(row.text, addSpecialTokens: false)
            if ids != row.ids { return ("\(ids)", "\(row.ids)") }
            let text = tokenizer.decode(ids, skipSpecialTokens: true)
            return text == row.decoded_skip ? nil : (text.debugDescription, row.decoded_skip.debugDescription)
        }
        #expect(report.isEmpty, "SmolLM2 from GGUF arrays:\n\(report.joined(separator: "\n"))")
    }

    /// llama.cpp's "smollm" pre-tokenizer isolates digits before the GPT-2 pattern (as SmolLM2's own
    /// tokenizer.json does), so a whitespace run before digits stays whole, unlike plain GPT-2.
    @Test(.enabled(if: Fixtures.hasSmolLM2GGUFVocabulary, "run scripts/make_tokenizer_fixtures.py"))
    func smolLM2GGUFPreTokenizerIsolatesDigits() throws {
        let smollm = try Tokenizer(vocabulary: Self.smolLM2Vocabulary(preTokenizerName: nil))
        let gpt2 = try Tokenizer(vocabulary: Self.smolLM2Vocabulary(preTokenizerName: "gpt2"))
        let spaces = try #require(smollm.id(forToken: "ĠĠĠ"))
        let twoSpaces = try #require(smollm.id(forToken: "ĠĠ")), space = try #require(smollm.id(forToken: "Ġ"))
        let digits = try ["1", "2", "3"].map { try #require(smollm.id(forToken: $0)) }
        #expect(smollm.encode("   123", addSpecialTokens: false) == [spaces] + digits)
        #expect(gpt2.encode("   123", addSpecialTokens: false) == [twoSpaces, space] + digits)
    }
}

/// Random concatenations of regex-sensitive pieces (whitespace runs, contractions in both cases,
/// non-ASCII letters and numbers, added tokens), encoded by every fixture tokenizer.
@Suite struct FuzzParityTests {
    struct Table: Decodable {
        var texts: [String]
        var ids: [String: [[Int]]]
    }

    static let table: Table? = try? JSONDecoder().decode(
        Table.self, from: Data(contentsOf: Fixtures.root.appendingPathComponent("fuzz_expected.json")))

    @Test(arguments: Fixtures.names)
    func fuzzIDsMatchHuggingFace(name: String) throws {
        let table = try #require(Self.table)
        let expected = try #require(table.ids[name])
        #expect(expected.count == table.texts.count && table.texts.count >= 100)
        let tokenizer = try Fixtures.tokenizer(name)
        var failures: [String] = []
        for (text, want) in zip(table.texts, expected) {
            let got = tokenizer.encode(text, addSpecialTokens: false)
            if got != want && failures.count < 5 { failures.append("\(text.debugDescription): got \(got), want \(want)") }
        }
        #expect(failures.isEmpty, "\(name):\n\(failures.joined(separator: "\n"))")
    }

    /// Encoding from several threads at once (sharing the word cache) gives the sequential answer.
    @Test func concurrentEncodingIsConsistent() async throws {
        let table = try #require(Self.table)
        let tokenizer = try Fixtures.tokenizer("llama3")
        let texts = table.texts
        let sequential = texts.map { tokenizer.encode($0, addSpecialTokens: false) }
        let fresh = try Fixtures.tokenizer("llama3")  // empty cache, filled concurrently
        let results = await withTaskGroup(of: (Int, [[Int]]).self) { group in
            for worker in 0..<4 {
                group.addTask { (worker, texts.map { fresh.encode($0, addSpecialTokens: false) }) }
            }
            var all: [(Int, [[Int]])] = []
            for await result in group { all.append(result) }
            return all
        }
        #expect(results.count == 4)
        for (_, ids) in results { #expect(ids == sequential) }
    }
}
