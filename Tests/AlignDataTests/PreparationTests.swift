@testable import AlignData
import AlignTemplates
import Foundation
import Testing

/// Truncation (both modes), boundary modes, KL pairs and packing.
@Suite struct PreparationTests {
    let pairs = try! PreferenceDataset(contentsOf: Fixture.url("dpo/pairs.jsonl"))

    @Test func trlTruncationDropsLongPromptsAndCountsCuts() throws {
        let options = PreparationOptions(maxLength: 20)
        let (prepared, summary) = try pairs.tokenizedForDPO(encoder: Fixture.encoder, options: options)
        let (all, _) = try pairs.tokenizedForDPO(encoder: Fixture.encoder, options: PreparationOptions(maxLength: nil))
        let dropped = all.filter { $0.promptIDs.count >= 20 }.count
        let cut = all.filter { $0.promptIDs.count < 20 && $0.promptIDs.count + max($0.chosenIDs.count, $0.rejectedIDs.count) > 20 }.count
        #expect(dropped > 0 && cut > 0)
        #expect(summary.droppedExamples == dropped && summary.droppedRows.count == dropped)
        #expect(summary.truncatedExamples == cut && summary.keptExamples == 8 - dropped)
        let batch = PreferenceCollator(padID: 0, maxLength: 20).collate(prepared)
        #expect(batch.length == 20)
        #expect(batch.completionLengths.allSatisfy { $0 > 0 })
        // keep_end drops nothing and keeps the end of each row: the last real token is EOS.
        let (kept, endSummary) = try pairs.tokenizedForDPO(
            encoder: Fixture.encoder, options: PreparationOptions(maxLength: 20, truncationMode: .keepEnd))
        #expect(endSummary.droppedExamples == 0 && kept.count == 8)
        let endBatch = PreferenceCollator(padID: 0, maxLength: 20, truncationMode: .keepEnd).collate(kept)
        for r in 0..<endBatch.rowCount {
            #expect(endBatch.inputIDs[r * endBatch.length + Int(endBatch.sequenceLengths[r]) - 1] == 2)
        }
    }

    @Test func promptFirstTruncationOfTheOriginalRepository() throws {
        for mode in [TruncationMode.keepStart, .keepEnd] {
            let options = PreparationOptions(maxLength: 24, maxPromptLength: 10, truncationMode: mode)
            let (prepared, summary) = try pairs.tokenizedForDPO(encoder: Fixture.encoder, options: options)
            let (all, _) = try pairs.tokenizedForDPO(encoder: Fixture.encoder, options: PreparationOptions(maxLength: nil))
            #expect(summary.droppedExamples == 0 && prepared.count == 8)
            let over = all.filter { $0.promptIDs.count + max($0.chosenIDs.count, $0.rejectedIDs.count) > 24 }.count
            #expect(summary.truncatedExamples == over && over > 0)
            for (p, full) in zip(prepared, all) {
                #expect(p.promptIDs.count + max(p.chosenIDs.count, p.rejectedIDs.count) <= 24)
                if full.promptIDs.count + max(full.chosenIDs.count, full.rejectedIDs.count) > 24 {
                    #expect(p.promptIDs.count == min(10, full.promptIDs.count))
                    // The prompt is cut at the chosen end; completions keep their start.
                    if full.promptIDs.count > 10 {
                        #expect(p.promptIDs == Array(mode == .keepStart ? full.promptIDs.prefix(10) : full.promptIDs.suffix(10)))
                    }
                    #expect(Array(full.chosenIDs.prefix(p.chosenIDs.count)) == p.chosenIDs)
                } else {
                    #expect(p == full)
                }
            }
        }
        #expect(throws: DatasetError.self) {
            try pairs.tokenizedForDPO(encoder: Fixture.encoder, options: PreparationOptions(maxLength: 10, maxPromptLength: 10))
        }
    }

    @Test func separateModeKeepsThePromptWhole() throws {
        let options = PreparationOptions(maxLength: nil, boundary: .separate)
        let (prepared, summary) = try pairs.tokenizedForDPO(encoder: Fixture.encoder, options: options)
        let golden = (try Fixture.json("dpo/tokenized.json") as! [String: Any])["rows"] as! [[String: Any]]
        // Row 6: the prompt alone has 22 ids (TRL keeps 21), and " the" is no longer merged.
        #expect(prepared[6].promptIDs == Fixture.ints(golden[6]["prompt_alone_ids"]))
        #expect(prepared[6].chosenIDs == Fixture.tokenizer.encode("the green hill.<|im_end|>", addSpecialTokens: false).map(Int32.init))
        #expect(prepared[6].chosenIDs.last == 2)
        #expect(summary.boundaryMismatches == 0 && summary.warnings.isEmpty)
        // Rows without a boundary merge tokenise identically in both modes.
        #expect(prepared[0].promptIDs == Fixture.ints(golden[0]["prompt_input_ids"]))
        #expect(prepared[0].chosenIDs == Fixture.ints(golden[0]["chosen_input_ids"]))
    }

    @Test func conversationalSeparateModeAndAssistantPrefill() throws {
        let user = ChatMessage(role: "user", content: "Hi")
        let example = PreferenceExample(prompt: .messages([user]), chosen: .messages([ChatMessage(role: "assistant", content: "Yes")]),
                                        rejected: .messages([ChatMessage(role: "assistant", content: "No")]))
        let dataset = PreferenceDataset(examples: [example])
        let (a, _) = try dataset.tokenizedForDPO(encoder: Fixture.encoder)
        let (b, _) = try dataset.tokenizedForDPO(encoder: Fixture.encoder, options: PreparationOptions(boundary: .separate))
        #expect(a == b)
        #expect(Fixture.tokenizer.decode(a[0].chosenIDs.map(Int.init)) == "Yes<|im_end|>\n")
        // An assistant prefill: by default TRL's generation prompt; optionally continued.
        let prefill = PreferenceExample(prompt: .messages([user, ChatMessage(role: "assistant", content: "Well,")]),
                                        chosen: .messages([ChatMessage(role: "assistant", content: " yes")]),
                                        rejected: .messages([ChatMessage(role: "assistant", content: " no")]))
        let (c, _) = try PreferenceDataset(examples: [prefill]).tokenizedForDPO(
            encoder: Fixture.encoder, options: PreparationOptions(continuesFinalAssistantTurn: true))
        #expect(Fixture.tokenizer.decode(c[0].promptIDs.map(Int.init)).hasSuffix("<|im_start|>assistant\nWell,"))
    }

    @Test func doubledBOSIsWarnedOnce() throws {
        // The fixture tokenizer has no BOS, so the check is exercised directly with id 5 as the BOS.
        var log = WarningLog()
        log.checkBOS([5, 7, 8], bos: 5, location: nil)
        #expect(log.summary.doubledBOS == 0 && log.summary.warnings.isEmpty)
        log.checkBOS([5, 5, 8], bos: 5, location: RowLocation(file: "d.jsonl", line: 4))
        log.checkBOS([5, 5], bos: 5, location: RowLocation(file: "d.jsonl", line: 9))
        #expect(log.summary.doubledBOS == 2 && log.summary.warnings.count == 1)
        #expect(log.summary.warnings[0].contains("BOS token twice (first at d.jsonl:4)"))
        log.checkBOS([5, 5], bos: nil, location: nil)
        #expect(log.summary.doubledBOS == 2)
    }

    @Test func ktoDropsLongPromptsAndRotatesKLWithinChunks() throws {
        let dataset = try UnpairedDataset(contentsOf: Fixture.url("kto/unpaired.jsonl"))
        let (all, _) = try dataset.tokenizedForKTO(encoder: Fixture.encoder, options: PreparationOptions(maxLength: nil))
        let limit = all.map(\.promptIDs.count).sorted()[4] + 1
        let (rows, summary) = try dataset.tokenizedForKTO(encoder: Fixture.encoder, options: PreparationOptions(maxLength: limit),
                                                          klChunkSize: 2)
        let kept = all.filter { $0.promptIDs.count < limit }
        #expect(summary.droppedExamples == 8 - kept.count && rows.count == kept.count)
        #expect(kept.count >= 5 && kept.count < 8)
        for start in stride(from: 0, to: rows.count, by: 2) {
            let end = min(start + 2, rows.count)
            for i in start..<end {
                let source = i == start ? end - 1 : i - 1
                #expect(rows[i].klCompletionIDs == rows[source].completionIDs)
            }
        }
        let batch = UnpairedCollator(padID: 0, maxLength: limit).collate(rows)
        #expect(batch.length == limit && batch.klLength <= limit && batch.labels == rows.map(\.label))
        // A one-row chunk pairs the row with its own completion (TRL refuses batch size 1).
        let (single, _) = try dataset.tokenizedForKTO(encoder: Fixture.encoder, klChunkSize: 1)
        #expect(single.allSatisfy { $0.klCompletionIDs == $0.completionIDs })
    }

    @Test func packingBuildsBlockDiagonalRows() throws {
        let seqs = [[1, 2, 3, 4, 5], [6, 7], [8, 9, 10], [11], []].map {
            TokenizedSequence(inputIDs: $0.map(Int32.init), labels: $0.map(Int32.init))
        }
        // TRL's own example: bfd at 4 gives [1,2,3,4], [8,9,10,11], [6,7].
        let packed = packSequences(seqs, length: 4)
        #expect(packed.map(\.inputIDs) == [[1, 2, 3, 4], [8, 9, 10, 11], [6, 7]])
        #expect(packed.map(\.segmentLengths) == [[4], [3, 1], [2]])
        let batch = SFTCollator(padID: 0).collate(packed: packed, length: 4)
        #expect(batch.positionIDs == [0, 1, 2, 3, 0, 1, 2, 0, 0, 1, 0, 0])
        #expect(batch.segmentIDs == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, -1, -1])
        #expect(batch.labels == [-100, 2, 3, 4, -100, 9, 10, -100, -100, 7, -100, -100])
        #expect(batch.attentionMask == [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
        #expect(batch.lossMask == batch.labels.map { $0 == -100 ? 0 : 1 })
        // Completion-only labels survive packing.
        let sft = try LanguageModelingDataset(contentsOf: Fixture.url("sft/prompt_completion.jsonl"))
        let (sequences, _) = try sft.tokenizedForSFT(encoder: Fixture.encoder, options: PreparationOptions(maxLength: 64), packed: true)
        let rows = packSequences(sequences, length: 64)
        #expect(rows.allSatisfy { $0.inputIDs.count <= 64 && $0.segmentLengths.reduce(0, +) == $0.inputIDs.count })
        #expect(rows.flatMap(\.segmentLengths).count == 8)
    }
}

@Suite struct FingerprintTests {
    @Test func changesWithTheData() throws {
        let pairs = try PreferenceDataset(contentsOf: Fixture.url("dpo/pairs.jsonl"))
        let (a, _) = try pairs.tokenizedForDPO(encoder: Fixture.encoder)
        let (b, _) = try pairs.tokenizedForDPO(encoder: Fixture.encoder, options: PreparationOptions(boundary: .separate))
        #expect(fingerprint(of: a) == fingerprint(of: a.map { $0 }))
        #expect(fingerprint(of: a) != fingerprint(of: b))  // row 6 tokenises differently
        var moved = a
        moved[0].chosenIDs.insert(moved[0].promptIDs.removeLast(), at: 0)  // same ids, other boundary
        #expect(fingerprint(of: a) != fingerprint(of: moved))
        #expect(fingerprint(of: a.prefix(7)) != fingerprint(of: a))
    }
}
