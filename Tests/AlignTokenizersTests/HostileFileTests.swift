import Foundation
import Testing
@testable import AlignTokenizers
import TestSupport

/// Issue 11: broken or hostile tokenizer files end in a `TokenizerError` naming the file and key,
/// never a crash, a huge allocation or a tokenizer that silently encodes wrong.
@Suite struct HostileFileTests {
    /// A folder holding the given files (name → text), removed by `cleanup`.
    struct Folder {
        let url: URL
        init(_ files: [String: String]) throws {
            url = testScratchDirectory.appendingPathComponent("align-hostile-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            for (name, text) in files { try text.write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        }
        func path(_ name: String) -> String { url.appendingPathComponent(name).path }
        func cleanup() { try? FileManager.default.removeItem(at: url) }
    }

    /// A tiny valid byte-level-free BPE tokenizer.json with `added` spliced into `added_tokens`.
    static func tokenizerJSON(vocab: String = #"{"a": 0, "b": 1, "ab": 2, "<s>": 3}"#, added: String = "",
                              post: String = "null") -> String {
        """
        {"model": {"type": "BPE", "vocab": \(vocab), "merges": ["a b"]},
         "added_tokens": [\(added)], "post_processor": \(post)}
        """
    }

    /// Loads the folder and returns the error it must throw.
    static func loadError(_ folder: Folder) -> TokenizerError? {
        do {
            _ = try Tokenizer(directory: folder.url)
            Issue.record("loading should have failed")
            return nil
        } catch let error as TokenizerError {
            return error
        } catch {
            Issue.record("unexpected error type: \(error)")
            return nil
        }
    }

    @Test func validFixtureLoads() throws {
        let folder = try Folder(["tokenizer.json": Self.tokenizerJSON()])
        defer { folder.cleanup() }
        let tokenizer = try Tokenizer(directory: folder.url)
        #expect(tokenizer.encode("ab", addSpecialTokens: false) == [2])
        #expect(tokenizer.vocabularySize == 4)
    }

    @Test(arguments: [
        (#"{"content": "<x>", "id": 2147483648, "special": true}"#, "added_tokens[0] \"<x>\" has id 2147483648"),
        (#"{"content": "<x>", "id": 2147483000, "special": true}"#, "added_tokens[0] \"<x>\" has id 2147483000"),
        (#"{"content": "<x>", "id": -1, "special": true}"#, "has id -1"),
        (#"{"content": "<x>", "id": 99999999999999999999999, "special": true}"#, "has id 9223372036854775807"),
        (#"{"content": "<x>", "id": 1.5}"#, "has no integer id (found 1.5)"),
        (#"{"content": "<x>"}"#, "has no integer id (found missing)"),
        (#"{"id": 4}"#, "added_tokens[0] has no \"content\" string"),
    ])
    func addedTokenIDsAreCheckedBeforeAllocating(entry: String, expected: String) throws {
        let folder = try Folder(["tokenizer.json": Self.tokenizerJSON(added: entry)])
        defer { folder.cleanup() }
        let error = try #require(Self.loadError(folder))
        #expect(error.source == folder.path("tokenizer.json"))
        #expect(error.reason.contains(expected), "\(error)")
    }

    @Test func vocabularyIDsAreCheckedBeforeAllocating() throws {
        for (vocab, expected) in [(#"{"a": 0, "b": 2147483646}"#, "model.vocab entry \"b\" has id 2147483646, outside 0..<2"),
                                  (#"{"a": 0, "b": 4294967296}"#, "has id 4294967296"),
                                  (#"{"a": 0, "b": "one"}"#, "model.vocab entry \"b\" has no integer id (found the string \"one\")")] {
            let folder = try Folder(["tokenizer.json": Self.tokenizerJSON(vocab: vocab)])
            defer { folder.cleanup() }
            let error = try #require(Self.loadError(folder))
            #expect(error.source == folder.path("tokenizer.json"))
            #expect(error.reason.contains(expected), "\(error)")
        }
    }

    @Test func postProcessorIDsAreChecked() throws {
        let post = #"{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}], "#
            + #""special_tokens": {"<s>": {"id": "<s>", "ids": [3000000000], "tokens": ["<s>"]}}}"#
        let folder = try Folder(["tokenizer.json": Self.tokenizerJSON(post: post)])
        defer { folder.cleanup() }
        let error = try #require(Self.loadError(folder))
        #expect(error.reason.contains("post_processor special token \"<s>\" has id 3000000000"), "\(error)")
    }

    @Test func emptyVocabularyIsRefused() throws {
        let folder = try Folder(["tokenizer.json": Self.tokenizerJSON(vocab: "{}")])
        defer { folder.cleanup() }
        let error = try #require(Self.loadError(folder))
        #expect(error.source == folder.path("tokenizer.json"))
        #expect(error.reason.contains("model.vocab is empty"))
    }

    @Test(arguments: ["eos_token", "bos_token", "pad_token", "unk_token"])
    func specialTokenMissingFromVocabularyIsRefused(key: String) throws {
        for (file, content) in [("tokenizer_config.json", #"{"KEY": "<nope>"}"#),
                                ("tokenizer_config.json", #"{"KEY": {"content": "<nope>", "special": true}}"#),
                                ("special_tokens_map.json", #"{"KEY": "<nope>"}"#)] {
            let folder = try Folder(["tokenizer.json": Self.tokenizerJSON(),
                                     file: content.replacingOccurrences(of: "KEY", with: key)])
            defer { folder.cleanup() }
            let error = try #require(Self.loadError(folder))
            #expect(error.source == folder.path(file))
            #expect(error.reason == "\(key) \"<nope>\" is not a token of tokenizer.json (neither in model.vocab nor in added_tokens)")
        }
    }

    @Test func specialTokensThatExistLoadAndTheMapOverridesTheConfig() throws {
        let folder = try Folder(["tokenizer.json": Self.tokenizerJSON(added: #"{"content": "</s>", "id": 4, "special": true}"#),
                                 "tokenizer_config.json": #"{"eos_token": "<s>", "bos_token": "<s>", "pad_token": null}"#,
                                 "special_tokens_map.json": #"{"eos_token": {"content": "</s>"}}"#])
        defer { folder.cleanup() }
        let tokenizer = try Tokenizer(directory: folder.url)
        #expect(tokenizer.bosTokenID == 3)
        #expect(tokenizer.eosTokenID == 4)
        #expect(tokenizer.padToken == nil)
    }

    @Test func specialTokensMapIsIgnoredBesideAModernConfig() throws {
        // transformers reads special_tokens_map.json only for configurations without added_tokens_decoder.
        let folder = try Folder(["tokenizer.json": Self.tokenizerJSON(),
                                 "tokenizer_config.json": #"{"eos_token": "<s>", "added_tokens_decoder": {}}"#,
                                 "special_tokens_map.json": #"{"eos_token": "<nope>"}"#])
        defer { folder.cleanup() }
        #expect(try Tokenizer(directory: folder.url).eosToken == "<s>")
    }

    @Test func modelUnknownTokenMissingFromVocabularyIsRefused() throws {
        let json = Self.tokenizerJSON().replacingOccurrences(of: #""type": "BPE","#, with: #""type": "BPE", "unk_token": "<unk>","#)
        let folder = try Folder(["tokenizer.json": json])
        defer { folder.cleanup() }
        let error = try #require(Self.loadError(folder))
        #expect(error.source == folder.path("tokenizer.json"))
        #expect(error.reason.hasPrefix("model.unk_token \"<unk>\" is not a token"))
    }

    @Test func specialTokenOfTheWrongTypeIsRefused() throws {
        let folder = try Folder(["tokenizer.json": Self.tokenizerJSON(), "tokenizer_config.json": #"{"eos_token": 5}"#])
        defer { folder.cleanup() }
        let error = try #require(Self.loadError(folder))
        #expect(error.source == folder.path("tokenizer_config.json"))
        #expect(error.reason.contains("eos_token is 5, expected a string"))
    }

    @Test func jsonSyntaxErrorsGiveLineAndColumn() throws {
        let folder = try Folder(["tokenizer.json": "{\"model\": {\"type\": \"BPE\",\n  \"vocab\": {\"a\": 0 \"b\": 1}}}"])
        defer { folder.cleanup() }
        let error = try #require(Self.loadError(folder))
        #expect(error.source == folder.path("tokenizer.json"))
        #expect(error.reason.hasPrefix("not valid JSON at line 2, column 20 (byte 45): "), "\(error)")
        #expect(!error.description.contains("The data"))

        let config = try Folder(["tokenizer.json": Self.tokenizerJSON(), "tokenizer_config.json": "{\"eos_token\": }"])
        defer { config.cleanup() }
        let configError = try #require(Self.loadError(config))
        #expect(configError.source == config.path("tokenizer_config.json"))
        #expect(configError.reason.hasPrefix("not valid JSON at line 1, column 15"), "\(configError)")

        let top = try Folder(["tokenizer.json": "[1, 2]"])
        defer { top.cleanup() }
        #expect(Self.loadError(top)?.reason == "the top level is not a JSON object")
    }

    @Test func chatTemplateOfTheWrongTypeIsRefused() throws {
        let folder = try Folder(["tokenizer.json": Self.tokenizerJSON(), "tokenizer_config.json": #"{"chat_template": 7}"#])
        defer { folder.cleanup() }
        let error = try #require(Self.loadError(folder))
        #expect(error.source == folder.path("tokenizer_config.json"))
        #expect(error.reason.hasPrefix("chat_template is 7"))
    }

    @Test func chatTemplateOriginNamesTheFile() throws {
        let config = try Folder(["tokenizer.json": Self.tokenizerJSON(), "tokenizer_config.json": #"{"chat_template": "{{ x }}"}"#])
        defer { config.cleanup() }
        #expect(try Tokenizer(directory: config.url).chatTemplateOrigin == config.path("tokenizer_config.json") + " (chat_template)")
        let jinja = try Folder(["tokenizer.json": Self.tokenizerJSON(), "tokenizer_config.json": "{}", "chat_template.jinja": "{{ x }}"])
        defer { jinja.cleanup() }
        let tokenizer = try Tokenizer(directory: jinja.url)
        #expect(tokenizer.chatTemplate == "{{ x }}")
        #expect(tokenizer.chatTemplateOrigin == jinja.path("chat_template.jinja"))
    }

    @Test func ggufSpecialIDsOutsideTheVocabularyAreRefused() {
        let vocabulary = BPEVocabulary(model: .byteLevel, tokens: ["a", "b"], eosTokenID: 2_147_483_648, addsEOS: true)
        #expect(throws: TokenizerError("model.gguf", "tokenizer.ggml.eos_token_id is 2147483648, but the vocabulary has 2 tokens (ids 0..<2)")) {
            try Tokenizer(vocabulary: vocabulary, source: "model.gguf")
        }
    }
}
