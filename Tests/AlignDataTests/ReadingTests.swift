import AlignData
import AlignTemplates
import Foundation
import Testing

/// Reading files: JSON Lines and arrays, errors that name file:line, skipping, format detection.
@Suite struct ReadingTests {
    func error(_ text: String, name: String = "bad.jsonl") throws -> String {
        let file = try Fixture.temporaryFile(text, name: name)
        do {
            _ = try PreferenceDataset(contentsOf: file)
        } catch let e as DatasetError {
            return e.description
        }
        Issue.record("no error for \(text.debugDescription)")
        return ""
    }

    let good = #"{"prompt": "Hi", "chosen": " a", "rejected": " b"}"#

    @Test func malformedRowsNameFileAndLine() throws {
        #expect(try error("\(good)\n\n{\"prompt\": \"x\", \"chosen\": \"y\"") .hasPrefix("bad.jsonl:3: invalid JSON"))
        #expect(try error("\(good)\n{\"prompt\": \"x\", \"chosen\": \" y\"}")
            == "bad.jsonl:2: missing field \"rejected\" (the dataset's format, detected at bad.jsonl:1, is preference {prompt, chosen, rejected})")
        #expect(try error("\(good)\n{\"prompt\": \"x\", \"chosen\": 3, \"rejected\": \"z\"}")
            == "bad.jsonl:2: field \"chosen\" is a number, expected a string")
        #expect(try error("\(good)\n{\"prompt\": \"x\", \"chosen\": \"\", \"rejected\": \"z\"}")
            == "bad.jsonl:2: field \"chosen\" is empty")
        #expect(try error("\(good)\n[1, 2]") == "bad.jsonl:2: row is a JSON array, expected an object")
        #expect(try error("\(good)\n{\"chosen\": \"a\", \"rejected\": \"b\"}").hasPrefix(
            "bad.jsonl:2: missing field \"prompt\" (the dataset's format"))
        #expect(try error("\(good)\n{\"prompt\": \"a\", \"completion\": \"b\"}").hasPrefix(
            "bad.jsonl:2: missing field \"chosen\""))
        #expect(try error(#"{"text": "x"}"#).hasPrefix("bad.jsonl:1: row is a language modeling {text} row; expected"))
        #expect(try error(#"{"margin": 1}"#).hasPrefix("bad.jsonl:1: row has fields [\"margin\"], which match no known format"))
        let conversationalThenText = #"{"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}"#
            + "\n" + good
        #expect(try error(conversationalThenText).hasPrefix("bad.jsonl:2: field \"chosen\" is a string, but the dataset is conversational"))
        #expect(try error(#"{"prompt": [{"role": "user"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}"#)
            == "bad.jsonl:1: message 0 of \"prompt\" has no \"content\"")
        #expect(try error("\(good)\n{\"prompt\": \"x\", \"chosen\": \" y\", \"rejected\": \"z\", \"margin\": \"big\"}")
            == "bad.jsonl:2: field \"margin\" is a string, expected a number")
        #expect(try error("\n\n") == "bad.jsonl: no valid rows")
        #expect(try error(#"{"prompt": "x", "chosen": " y", "rejected": "z", "margin": 1}"# + "\n" + good)
            == "bad.jsonl:2: missing field \"margin\" (the first row, at bad.jsonl:1, has one)")
    }

    @Test func invalidUTF8IsAnError() throws {
        var bytes = Array(good.utf8)
        bytes.insert(0xFF, at: bytes.firstIndex(of: UInt8(ascii: "H"))!)
        let file = try Fixture.temporaryFile("")
        try Data(bytes).write(to: file)
        #expect(throws: DatasetError.self) { try PreferenceDataset(contentsOf: file) }
        do { _ = try PreferenceDataset(contentsOf: file) } catch let e as DatasetError {
            #expect(e.description.hasPrefix("data.jsonl:1: invalid JSON at column 13: invalid UTF-8"))
        }
    }

    @Test func skipBadRowsCountsThem() throws {
        let text = [good, "{oops", good, #"{"prompt": "x", "chosen": " y"}"#, "", good].joined(separator: "\n")
        let file = try Fixture.temporaryFile(text)
        let dataset = try PreferenceDataset(contentsOf: file, options: ReadOptions(skipBadRows: true))
        #expect(dataset.examples.count == 3)
        #expect(dataset.report.totalRows == 5 && dataset.report.skippedRows == 2)
        #expect(dataset.report.skippedReasons.map { $0.location?.line } == [2, 4])
        #expect(dataset.examples.map { $0.location?.line } == [1, 3, 6])
        // The format comes from the first *valid* row.
        let late = try Fixture.temporaryFile("{\"prompt\": 1}\n" + good)
        let skipped = try PreferenceDataset(contentsOf: late, options: ReadOptions(skipBadRows: true))
        #expect(skipped.examples.count == 1 && skipped.report.skippedRows == 1)
    }

    @Test func jsonArrayInput() throws {
        let text = """
          [
            {"prompt": "Hi", "chosen": " a", "rejected": " b", "margin": 0.5},
            {"prompt": "Yo\\u00e9\\ud83d\\ude00", "chosen": " c",
             "rejected": " d", "margin": 2, "score": true}
          ]
          """
        let dataset = try PreferenceDataset(contentsOf: try Fixture.temporaryFile(text, name: "pairs.json"))
        #expect(dataset.examples.count == 2)
        #expect(dataset.examples[1].prompt == .text("Yoé😀"))
        #expect(dataset.examples.map(\.margin) == [0.5, 2])
        #expect(dataset.examples[1].extras["score"] == 1)
        #expect(dataset.examples[1].location == RowLocation(file: "pairs.json", line: 3, element: 1))
        let bad = "[\n  {\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\"},\n  {\"prompt\": 1, \"chosen\": \"b\", \"rejected\": \"c\"}\n]"
        #expect(try error(bad, name: "a.json") == "a.json:3 (element 1): field \"prompt\" is a number, expected a string")
        let broken = "[\n  {\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\"},\n  {\"prompt\": \"a\",, }\n]"
        #expect(try error(broken, name: "b.json").hasPrefix("b.json:3 (element 1): invalid JSON"))
    }

    @Test func implicitPromptFollowsExtractPrompt() throws {
        func split(_ c: String, _ r: String) -> [String?] {
            let s = extractPrompt(chosen: .text(c), rejected: .text(r))
            return [s.prompt.text, s.chosen.text, s.rejected.text]
        }
        // The space before the first difference moves to the completions.
        #expect(split("Q: hi A: yes", "Q: hi A: no") == ["Q: hi A:", " yes", " no"])
        // No difference within the shorter: the prompt stops one short (TRL's loop variable).
        #expect(split("abc", "abcd") == ["ab", "c", "cd"])
        #expect(split("abc", "abc") == ["ab", "c", "c"])
        // First characters differ and chosen ends with a space: Python's index −1 wraps around.
        #expect(split("x y ", "a b") == ["x y", " ", "b"])
        // Python indexes code points, not grapheme clusters.
        #expect(split("ae\u{301}x", "ae\u{302}x") == ["ae", "\u{301}x", "\u{302}x"])
        let user = ChatMessage(role: "user", content: "q")
        let a = ChatMessage(role: "assistant", content: "a"), b = ChatMessage(role: "assistant", content: "b")
        let m = extractPrompt(chosen: .messages([user, a]), rejected: .messages([user, b]))
        #expect(m.prompt == .messages([user]) && m.chosen == .messages([a]) && m.rejected == .messages([b]))

        let file = try Fixture.temporaryFile(#"{"chosen": "Human: hi Assistant: yes", "rejected": "Human: hi Assistant: no"}"#)
        let dataset = try PreferenceDataset(contentsOf: file)
        #expect(dataset.format == .implicitPreference)
        #expect(dataset.examples[0].prompt == .text("Human: hi Assistant:"))
        #expect(dataset.examples[0].chosen == .text(" yes"))
    }

    @Test func unpairingFollowsTRLOrder() throws {
        func pair(_ i: Int) -> PreferenceExample {
            PreferenceExample(prompt: .text("p\(i)"), chosen: .text("c\(i)"), rejected: .text("r\(i)"), extras: ["k": Double(i)])
        }
        let pairs = PreferenceDataset(examples: (0..<5).map(pair))
        let one = UnpairedDataset(unpairing: pairs)
        #expect(one.examples.map { $0.completion.text! } == ["c0", "c1", "c2", "c3", "c4", "r0", "r1", "r2", "r3", "r4"])
        #expect(one.examples.map(\.label) == [true, true, true, true, true, false, false, false, false, false])
        #expect(one.examples[7].prompt == .text("p2") && one.examples[7].extras["k"] == 2)
        // datasets.map(batched=True) hands over chunks: each chunk is chosen rows then rejected rows.
        let chunked = UnpairedDataset(unpairing: pairs, chunkSize: 2)
        #expect(chunked.examples.map { $0.completion.text! } == ["c0", "c1", "r0", "r1", "c2", "c3", "r2", "r3", "c4", "r4"])
        // A preference file read as KTO data is unpaired on the way in.
        let fromFile = try UnpairedDataset(contentsOf: Fixture.url("dpo/pairs.jsonl"))
        #expect(fromFile.examples.count == 16 && fromFile.format == .preference)
    }

    @Test func languageModelingFormats() throws {
        let text = try LanguageModelingDataset(contentsOf: try Fixture.temporaryFile(#"{"text": "hello"}"#))
        #expect(text.format == .text && text.examples[0].prompt == nil)
        let chat = try LanguageModelingDataset(contentsOf: try Fixture.temporaryFile(
            #"{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}"#))
        #expect(chat.format == .messages && chat.isConversational)
        let (sequences, _) = try chat.tokenizedForSFT(encoder: Fixture.encoder)
        let expected = Fixture.tokenizer.encode("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nYo<|im_end|>\n",
                                                addSpecialTokens: false).map(Int32.init)
        #expect(sequences[0].inputIDs == expected && sequences[0].labels == expected)
        let (plain, _) = try text.tokenizedForSFT(encoder: Fixture.encoder)
        #expect(plain[0].inputIDs.last == 2)  // EOS text appended, trained on every token
        #expect(!plain[0].labels.contains(-100))
    }

    @Test func parsesHundredThousandRows() throws {
        var text = ""
        text.reserveCapacity(100_000 * 120)
        for i in 0..<100_000 {
            text += #"{"prompt": "Question \#(i): what is \"x\"?\nAnswer:", "chosen": " It is \#(i).", "rejected": " No idea \u00e9.", "margin": \#(i % 7)}"#
            text += "\n"
        }
        let file = try Fixture.temporaryFile(text)
        let clock = ContinuousClock()
        var dataset: PreferenceDataset?
        let elapsed = try clock.measure { dataset = try PreferenceDataset(contentsOf: file) }
        #expect(dataset?.examples.count == 100_000)
        #expect(dataset?.examples[99_999].chosen == .text(" It is 99999."))
        #expect(dataset?.examples[5].rejected == .text(" No idea é."))
        print("AlignData: parsed 100000 JSONL rows (\(text.utf8.count / 1_000_000) MB) in \(elapsed)")
    }
}
