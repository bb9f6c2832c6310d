import Foundation
import Testing
@testable import AlignTokenizers
import TestSupport

/// `BPEVocabulary.huggingFaceTokenizerFiles()`: the written tokenizer.json + tokenizer_config.json,
/// loaded back with `Tokenizer(directory:)`, must encode and decode exactly like
/// `Tokenizer(vocabulary:)` on the same vocabulary.
///
/// Checked once with Hugging Face itself (scripts/check_tokenizer_export.py, 2026-11-22 23:30 UTC,
/// transformers 5.23, tokenizers 0.23): `tokenizers.Tokenizer.from_file` and
/// `AutoTokenizer.from_pretrained(folder)` give Align's ids (with and without special tokens) and
/// decodes (with and without skipping special tokens), 0 differences, for
/// - the SmolLM2-135M-Instruct vocabulary ("smollm" pre-tokenizer) on the 497 texts of
///   smollm2_expected.json + fuzz_expected.json, and the files from the GGUF itself on 337 texts;
/// - the folder `ModelBundle.save(to:)` writes for that GGUF (also `apply_chat_template` text and
///   ids equal to Align's, and AutoModelForCausalLM loads it and answers "What is 2+2?" with
///   "The answer is 4");
/// - the SentencePiece-style spm_legacy vocabulary (BOS added, byte fallback) on 497 texts.
/// Against transformers' own GGUF conversion (plain GPT-2 splitting) the SmolLM2 files differ on
/// 1 of 337 texts, "   123 ...", where "smollm" keeps the space run whole as SmolLM2's own
/// tokenizer.json does.
@Suite struct HuggingFaceExportTests {
    /// Writes the vocabulary's files into a fresh folder and loads them back.
    static func roundTrip(_ vocabulary: BPEVocabulary) throws -> (Tokenizer, [String: Data]) {
        let files = try vocabulary.huggingFaceTokenizerFiles()
        let folder = testScratchDirectory.appendingPathComponent("align-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for (name, data) in files { try data.write(to: folder.appendingPathComponent(name)) }
        return (try Tokenizer(directory: folder), files)
    }

    /// For the one-off check with Hugging Face (scripts/check_tokenizer_export.py DIR):
    /// ALIGN_TOKENIZER_EXPORT_KEEP=DIR keeps the written files in DIR/<name>, with Align's ids and
    /// decodes of `texts` in DIR/<name>/align_ids.json.
    static func keep(_ files: [String: Data], tokenizer: Tokenizer, texts: [String], name: String) throws {
        guard let root = ProcessInfo.processInfo.environment["ALIGN_TOKENIZER_EXPORT_KEEP"], !root.isEmpty else { return }
        let folder = URL(fileURLWithPath: root).appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (file, data) in files { try data.write(to: folder.appendingPathComponent(file)) }
        let rows: [[String: Any]] = texts.map { text in
            let ids = tokenizer.encode(text, addSpecialTokens: false), special = tokenizer.encode(text, addSpecialTokens: true)
            return ["text": text, "ids": ids, "ids_special": special,
                    "decoded": tokenizer.decode(special), "decoded_skip": tokenizer.decode(special, skipSpecialTokens: true)]
        }
        try JSONSerialization.data(withJSONObject: rows).write(to: folder.appendingPathComponent("align_ids.json"))
    }

    /// Texts that exercise every pre-tokenizer path: the committed SmolLM2 corpus and the fuzz texts.
    static let corpus: [String] = {
        var texts = (try? Fixtures.rows(Fixtures.root.appendingPathComponent("smollm2_expected.json")).map(\.text)) ?? []
        if let data = try? Data(contentsOf: Fixtures.root.appendingPathComponent("fuzz_expected.json")),
           let table = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            texts += table["texts"] as? [String] ?? []
        }
        return texts
    }()

    /// First few differences between two tokenizers on `texts` (ids with and without special
    /// tokens, and both decodes).
    static func differences(_ a: Tokenizer, _ b: Tokenizer, on texts: [String]) -> [String] {
        var report: [String] = []
        for text in texts where report.count < 5 {
            for special in [false, true] {
                let x = a.encode(text, addSpecialTokens: special), y = b.encode(text, addSpecialTokens: special)
                if x != y { report.append("\(text.debugDescription) special=\(special): \(x) vs \(y)") }
            }
            let ids = a.encode(text, addSpecialTokens: true)
            for skip in [false, true] where a.decode(ids, skipSpecialTokens: skip) != b.decode(ids, skipSpecialTokens: skip) {
                report.append("decode \(text.debugDescription) skip=\(skip): \(a.decode(ids, skipSpecialTokens: skip).debugDescription) vs \(b.decode(ids, skipSpecialTokens: skip).debugDescription)")
            }
        }
        return report
    }

    /// A `BPEVocabulary` holding a committed fixture tokenizer's arrays, as a GGUF would: added
    /// tokens become control (special) or user-defined tokens, `<0xNN>` tokens byte tokens.
    static func vocabulary(fixture name: String, model: BPEVocabulary.Model, pre: String?) throws -> BPEVocabulary {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.folder(name).appendingPathComponent("tokenizer.json"))) as! [String: Any]
        let modelJSON = json["model"] as! [String: Any]
        let vocab = modelJSON["vocab"] as! [String: Int]
        let added = json["added_tokens"] as! [[String: Any]]
        var tokens = [String](repeating: "", count: vocab.count + added.count)
        var types = [Int](repeating: 1, count: tokens.count)
        for (token, id) in vocab { tokens[id] = token; types[id] = token.hasPrefix("<0x") && token.count == 6 ? 6 : 1 }
        for entry in added {
            let id = entry["id"] as! Int
            tokens[id] = entry["content"] as! String
            types[id] = entry["special"] as! Bool ? 3 : 4
        }
        let count = tokens.prefix { !$0.isEmpty }.count
        let merges = (modelJSON["merges"] as! [Any]).map { entry in
            (entry as? [String]).map { "\($0[0]) \($0[1])" } ?? entry as! String
        }
        let special = { (text: String) in tokens.firstIndex(of: text) }
        return BPEVocabulary(
            model: model, tokens: Array(tokens.prefix(count)), tokenTypes: Array(types.prefix(count)), merges: merges,
            preTokenizerName: pre, bosTokenID: special("<s>") ?? special("<|begin_of_text|>"),
            eosTokenID: special("</s>") ?? special("<|end_of_text|>") ?? special("<|endoftext|>"),
            unknownTokenID: special("<unk>"), addsBOS: model == .sentencePiece,
            ignoresMerges: modelJSON["ignore_merges"] as? Bool, chatTemplate: "{{ messages }}", contextLength: 2048)
    }

    /// Each byte-level fixture rebuilt as a GGUF-style vocabulary under its llama.cpp pre name: the
    /// written files reload to the same tokenizer, which also gives Hugging Face's fixture ids.
    @Test(arguments: [("gpt2", "gpt2"), ("llama3", "llama3"), ("qwen2", "qwen2"), ("smollm_digits", "smollm")])
    func byteLevelFixturesRoundTrip(fixture: String, pre: String) throws {
        let vocabulary = try Self.vocabulary(fixture: fixture, model: .byteLevel, pre: pre)
        let direct = try Tokenizer(vocabulary: vocabulary)
        let (reloaded, _) = try Self.roundTrip(vocabulary)
        #expect(Self.corpus.count > 400)
        let report = Self.differences(direct, reloaded, on: Self.corpus)
        #expect(report.isEmpty, "\(fixture):\n\(report.joined(separator: "\n"))")
        // The fixture's own Hugging Face ids, where no added token needs flags a GGUF cannot carry
        // and (Qwen2's NFC normalizer, which a GGUF does not record either) normalization changes nothing.
        let inexpressible = ["<mask>", "<norm>", "two words"]
        var checked = 0
        for row in try Fixtures.expected(fixture)
        where !inexpressible.contains(where: row.text.contains) && row.text.precomposedStringWithCanonicalMapping.unicodeScalars.elementsEqual(row.text.unicodeScalars) {
            #expect(reloaded.encode(row.text, addSpecialTokens: false) == row.ids, "\(fixture) \(row.text.debugDescription)")
            checked += 1
        }
        #expect(checked > 40)
        #expect(reloaded.eosToken == direct.eosToken && reloaded.eosToken != nil)
        #expect(reloaded.modelMaxLength == 2048 && reloaded.chatTemplate == "{{ messages }}")
        #expect(reloaded.addedTokens == direct.addedTokens)
    }

    /// The legacy Llama-2 fixture as a SentencePiece vocabulary with merges: BOS added, byte
    /// fallback, the prefix "▁" after every special token, decoding with the prefix stripped.
    @Test func sentencePieceFixtureRoundTrip() throws {
        let vocabulary = try Self.vocabulary(fixture: "spm_legacy", model: .sentencePiece, pre: nil)
        let direct = try Tokenizer(vocabulary: vocabulary)
        let (reloaded, files) = try Self.roundTrip(vocabulary)
        try Self.keep(files, tokenizer: direct, texts: Self.corpus, name: "spm_legacy")
        let report = Self.differences(direct, reloaded, on: Self.corpus)
        #expect(report.isEmpty, "spm_legacy:\n\(report.joined(separator: "\n"))")
        for row in try Fixtures.expected("spm_legacy") where !["<mask>", "<norm>", "two words"].contains(where: row.text.contains) {
            #expect(reloaded.encode(row.text, addSpecialTokens: true) == row.ids_special, "\(row.text.debugDescription)")
        }
        let json = try JSONSerialization.jsonObject(with: #require(files["tokenizer.json"])) as! [String: Any]
        let model = json["model"] as! [String: Any]
        #expect(model["byte_fallback"] as? Bool == true && model["unk_token"] as? String == "<unk>")
        #expect((json["normalizer"] as? [String: Any])?["type"] as? String == "Sequence")
        #expect((json["post_processor"] as? [String: Any])?["type"] as? String == "TemplateProcessing")
        let config = try JSONSerialization.jsonObject(with: #require(files["tokenizer_config.json"])) as! [String: Any]
        #expect(config["add_bos_token"] as? Bool == true && config["bos_token"] as? String == "<s>")
        #expect(config["tokenizer_class"] as? String == "PreTrainedTokenizerFast")
    }

    /// A SentencePiece vocabulary without merges (merged by score, as llama.cpp does) and without a
    /// space prefix: the derived merges are written out, and the reloaded tokenizer agrees on
    /// merging, byte fallback, special and user-defined tokens in text, and decoding.
    @Test func sentencePieceScoresRoundTrip() throws {
        let bytes = (0..<256).map { String(format: "<0x%02X>", $0) }
        let words = ["▁", "a", "b", "c", "ab", "bc", "▁a", "▁abc", "▁b", "▁c", "ca", "▁ca", "▁cab"]
        let tokens = ["<unk>", "<s>", "</s>", "<tool>"] + bytes + words
        let scores = tokens.indices.map { -Float($0) }
        let types = tokens.map { token -> Int in
            if token == "<unk>" { return 2 }
            if token == "<s>" || token == "</s>" { return 3 }
            if token == "<tool>" { return 4 }
            return token.hasPrefix("<0x") ? 6 : 1
        }
        for prefix in [true, false] {
            let vocabulary = BPEVocabulary(model: .sentencePiece, tokens: tokens, scores: scores, tokenTypes: types,
                                           bosTokenID: 1, eosTokenID: 2, unknownTokenID: 0, addsBOS: true, addsEOS: true,
                                           addsSpacePrefix: prefix)
            let direct = try Tokenizer(vocabulary: vocabulary)
            let (reloaded, files) = try Self.roundTrip(vocabulary)
            let texts = ["abc", "cab ca b", "  abc  ", "é", "a<tool>b</s>c", "<s>abc", "<unk> ab", "\n\tabcé😀", ""]
            let report = Self.differences(direct, reloaded, on: texts + Self.corpus.prefix(100))
            #expect(report.isEmpty, "prefix=\(prefix):\n\(report.joined(separator: "\n"))")
            let id = { (token: String) in direct.id(forToken: token)! }
            #expect(reloaded.encode("a<tool>b", addSpecialTokens: true)
                    == [1] + (prefix ? [id("▁a")] : [id("a")]) + [id("<tool>")] + (prefix ? [id("▁b")] : [id("b")]) + [2])
            #expect(reloaded.decode(reloaded.encode("cab é", addSpecialTokens: true), skipSpecialTokens: true) == "cab é")
            let json = try JSONSerialization.jsonObject(with: #require(files["tokenizer.json"])) as! [String: Any]
            let merges = (json["model"] as! [String: Any])["merges"] as! [String]
            #expect(merges.contains("a b") && merges.contains("▁c ab"))
            let added = (json["added_tokens"] as! [[String: Any]]).map { "\($0["content"] as! String):\($0["special"] as! Bool)" }
            #expect(added == ["<unk>:true", "<s>:true", "</s>:true", "<tool>:false"])
        }
    }

    /// Files are JSON laid out like save_pretrained's: vocabulary by id, escapes only where needed.
    @Test func writtenJSONIsOrderedAndEscaped() throws {
        let tokens = ["<|end|>", "a", "\"", "\\", "Ċ", "\u{1}", "é"]
        let vocabulary = BPEVocabulary(model: .byteLevel, tokens: tokens, tokenTypes: [3, 1, 1, 1, 1, 1, 1],
                                       eosTokenID: 0, padTokenID: 1, chatTemplate: "{{ \"x\" }}\n")
        let files = try vocabulary.huggingFaceTokenizerFiles()
        #expect(Set(files.keys) == ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"])
        let data = try #require(files["tokenizer.json"])
        let text = try #require(String(data: data, encoding: .utf8))
        #expect(text.contains(#""\"": 2,"#) && text.contains(#""\\": 3,"#) && text.contains(#""\u0001": 5,"#))
        #expect(text.contains("\"é\": 6"))
        let positions = tokens.map { text.range(of: "\n      \(String(data: try! JSONSerialization.data(withJSONObject: $0, options: .fragmentsAllowed), encoding: .utf8)!): ")?.lowerBound }
        #expect(positions.allSatisfy { $0 != nil })
        #expect(zip(positions, positions.dropFirst()).allSatisfy { $0! < $1! })
        let config = try JSONSerialization.jsonObject(with: #require(files["tokenizer_config.json"])) as! [String: Any]
        #expect(config["chat_template"] as? String == "{{ \"x\" }}\n")
        // The padding id names an ordinary token ("a"); it is still the padding token.
        #expect(config["eos_token"] as? String == "<|end|>" && config["pad_token"] as? String == "a")
        #expect(config["bos_token"] == nil && config["model_max_length"] == nil)
        let map = try JSONSerialization.jsonObject(with: #require(files["special_tokens_map.json"])) as! [String: Any]
        #expect((map["eos_token"] as? [String: Any])?["content"] as? String == "<|end|>")
    }

    /// llama.cpp's other names for the Llama-3, Qwen2 and GPT-2 pre-tokenizer types are written
    /// as those types' Hugging Face pre-tokenizers (Llama-3's with ignore_merges, as llama.cpp).
    @Test(arguments: [("falcon3", "Split", true), ("pixtral", "Split", true), ("lfm2", "Split", true),
                      ("stablelm2", "Split", false), ("kormo", "Split", false), ("phi-2", "ByteLevel", false),
                      ("exaone4", "ByteLevel", false)])
    func llamaCppAliasesMapToTheirType(pre: String, type: String, ignoresMerges: Bool) throws {
        let vocabulary = try Self.vocabulary(fixture: type == "Split" ? (ignoresMerges ? "llama3" : "qwen2") : "gpt2",
                                             model: .byteLevel, pre: pre)
        #expect(vocabulary.ignoresMerges == ignoresMerges)
        let files = try vocabulary.huggingFaceTokenizerFiles()
        let json = try JSONSerialization.jsonObject(with: #require(files["tokenizer.json"])) as! [String: Any]
        let preTokenizer = json["pre_tokenizer"] as! [String: Any]
        let first = (preTokenizer["pretokenizers"] as? [[String: Any]])?.first ?? preTokenizer
        #expect(first["type"] as? String == type)
        if type == "Split" {
            let regex = (first["pattern"] as? [String: Any])?["Regex"] as? String
            #expect(regex == (ignoresMerges ? RegexScanners.Pattern.llama3Source : RegexScanners.Pattern.qwen2Source))
        }
        #expect((json["model"] as! [String: Any])["ignore_merges"] as? Bool == ignoresMerges)
    }

    /// Pre-tokenizer names Align cannot run are refused rather than written as something else.
    @Test func unsupportedPreTokenizerIsRefused() {
        #expect(throws: TokenizerError.self) {
            try BPEVocabulary(model: .byteLevel, tokens: ["a"], preTokenizerName: "tekken").huggingFaceTokenizerFiles()
        }
    }

    /// The real SmolLM2 vocabulary under llama.cpp's "smollm" pre-tokenizer (Digits + ByteLevel,
    /// as SmolLM2's original tokenizer.json): written, reloaded, identical on the whole corpus.
    @Test(.enabled(if: Fixtures.hasSmolLM2GGUFVocabulary, "run scripts/make_tokenizer_fixtures.py"))
    func smolLM2RoundTrip() throws {
        let vocabulary = try FixtureParityTests.smolLM2Vocabulary(preTokenizerName: nil)
        #expect(vocabulary.preTokenizerName == "smollm")
        let direct = try Tokenizer(vocabulary: vocabulary)
        let (reloaded, files) = try Self.roundTrip(vocabulary)
        try Self.keep(files, tokenizer: direct, texts: Self.corpus, name: "smollm2")
        let report = Self.differences(direct, reloaded, on: Self.corpus)
        #expect(report.isEmpty, "SmolLM2:\n\(report.joined(separator: "\n"))")
        #expect(reloaded.vocabularySize == 49152 && reloaded.eosTokenID == 2 && reloaded.padTokenID == 2)
        #expect(reloaded.bosToken == "<|im_start|>" && reloaded.unknownToken == "<|endoftext|>")
        let json = try JSONSerialization.jsonObject(with: #require(files["tokenizer.json"])) as! [String: Any]
        let steps = ((json["pre_tokenizer"] as! [String: Any])["pretokenizers"] as! [[String: Any]]).map { $0["type"] as! String }
        #expect(steps == ["Digits", "ByteLevel"])
        #expect((json["added_tokens"] as! [Any]).count == 17)
    }
}
