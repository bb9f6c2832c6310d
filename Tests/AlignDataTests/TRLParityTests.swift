import AlignData
import AlignTemplates
import Foundation
import Testing
import TestSupport

/// Ids, masks and batches identical to what TRL 1.16 produced for the committed fixtures.
@Suite struct TRLParityTests {
    let options = PreparationOptions(maxLength: 64)

    @Test func dpoIdsMatchTRL() throws {
        let dataset = try PreferenceDataset(contentsOf: Fixture.url("dpo/pairs.jsonl"))
        #expect(dataset.format == .preference && !dataset.isConversational)
        let (pairs, summary) = try dataset.tokenizedForDPO(encoder: Fixture.encoder, options: options)
        let golden = try Fixture.json("dpo/tokenized.json") as! [String: Any]
        let rows = golden["rows"] as! [[String: Any]]
        #expect(pairs.count == rows.count)
        for (pair, row) in zip(pairs, rows) {
            #expect(pair.promptIDs == Fixture.ints(row["prompt_input_ids"]), "row \(row["row"]!)")
            #expect(pair.chosenIDs == Fixture.ints(row["chosen_input_ids"]), "row \(row["row"]!)")
            #expect(pair.rejectedIDs == Fixture.ints(row["rejected_input_ids"]), "row \(row["row"]!)")
        }
        // Row 6's prompt ends with a space that merges into the completion: one mismatch, warned once, quoting it.
        #expect(summary.boundaryMismatches == 1)
        #expect(summary.warnings.count == 1)
        #expect(summary.warnings.first?.contains("pairs.jsonl:7") == true)
        #expect(summary.warnings.first?.contains("\" \"") == true)
        // Row 7 is longer than 64: kept, counted as truncated (the collator cuts it).
        #expect(summary.truncatedExamples == 1 && summary.droppedExamples == 0 && summary.keptExamples == 8)
    }

    @Test func dpoBatchMatchesTRLCollator() throws {
        let dataset = try PreferenceDataset(contentsOf: Fixture.url("dpo/pairs.jsonl"))
        let (pairs, _) = try dataset.tokenizedForDPO(encoder: Fixture.encoder, options: options)
        let batch = PreferenceCollator(padID: 0, maxLength: 64).collate(pairs)
        let golden = try GoldenFile("dpo/logps.safetensors")
        #expect(batch.pairCount == 8 && batch.length == 64)
        #expect(batch.inputIDs == (try golden.ints("input_ids")))
        #expect(batch.attentionMask.map { Int32($0) } == (try golden.ints("attention_mask")))
        #expect(batch.completionMask.map { Int32($0) } == (try golden.ints("completion_mask")))
        #expect(labels(batch.inputIDs, batch.completionMask) == (try golden.ints("labels")))
        // Per-row lengths agree with the masks.
        for r in 0..<batch.rowCount {
            let row = (r * batch.length)..<((r + 1) * batch.length)
            #expect(Int32(batch.completionMask[row].reduce(0, +)) == batch.completionLengths[r])
            #expect(Int32(batch.attentionMask[row].reduce(0, +)) == batch.sequenceLengths[r])
        }
        #expect(batch.margins == nil)
    }

    @Test func conversationalIdsMatchTRL() throws {
        let golden = try Fixture.json("dpo/conversational.json") as! [String: Any]
        let data = try JSONSerialization.data(withJSONObject: golden["rows_in"]!)
        let file = try Fixture.temporaryFile(String(decoding: data, as: UTF8.self), name: "conv.json")
        let dataset = try PreferenceDataset(contentsOf: file)
        #expect(dataset.isConversational && dataset.examples.count == 2)
        let (pairs, summary) = try dataset.tokenizedForDPO(encoder: Fixture.encoder, options: options)
        for (i, row) in (golden["rows"] as! [[String: Any]]).enumerated() {
            let example = dataset.examples[i]
            let prompt = try Fixture.encoder.render(example.prompt.messages!, addGenerationPrompt: true)
            #expect(prompt == row["prompt_text"] as? String)
            let full = try Fixture.encoder.render(example.prompt.messages! + example.chosen.messages!,
                                                  addGenerationPrompt: false)
            #expect(full == row["prompt_chosen_text"] as? String)
            #expect(pairs[i].promptIDs == Fixture.ints(row["prompt_input_ids"]))
            #expect(pairs[i].chosenIDs == Fixture.ints(row["chosen_input_ids"]))
            #expect(pairs[i].rejectedIDs == Fixture.ints(row["rejected_input_ids"]))
        }
        #expect(summary.boundaryMismatches == 0 && summary.warnings.isEmpty)
    }

    @Test(arguments: [8, 3])
    func ktoIdsAndBatchMatchTRL(batchSize: Int) throws {
        let dataset = try UnpairedDataset(contentsOf: Fixture.url("kto/unpaired.jsonl"))
        #expect(dataset.examples.map(\.label) == [true, false, true, true, false, true, false, true])
        let (rows, summary) = try dataset.tokenizedForKTO(encoder: Fixture.encoder, options: options,
                                                          klChunkSize: batchSize)
        #expect(summary.keptExamples == 8)
        let golden = (try Fixture.json("kto/tokenized.json") as! [String: Any])["bs\(batchSize)"] as! [[String: Any]]
        for (row, expected) in zip(rows, golden) {
            #expect(row.promptIDs == Fixture.ints(expected["prompt_ids"]))
            #expect(row.completionIDs == Fixture.ints(expected["completion_ids"]))
            #expect(row.klCompletionIDs == Fixture.ints(expected["KL_completion_ids"]))
            #expect(row.label == expected["label"] as? Bool)
        }
        let batch = UnpairedCollator(padID: 0, maxLength: 64).collate(rows.prefix(batchSize))
        let file = try GoldenFile("kto/batch.safetensors")
        let key = "frozen_copy.bs\(batchSize)"
        #expect(batch.inputIDs == (try file.ints("\(key).input_ids")))
        #expect(batch.attentionMask.map { Int32($0) } == (try file.ints("\(key).attention_mask")))
        #expect(labels(batch.inputIDs, batch.completionMask) == (try file.ints("\(key).labels")))
        #expect(batch.klInputIDs == (try file.ints("\(key).KL_input_ids")))
        #expect(labels(batch.klInputIDs!, batch.klCompletionMask!) == (try file.ints("\(key).KL_labels")))
    }

    @Test(arguments: [64, 128])
    func rewardBatchMatchesTRL(maxLength: Int) throws {
        let dataset = try PreferenceDataset(contentsOf: Fixture.url("dpo/pairs.jsonl"))
        let (pairs, summary) = try dataset.tokenizedForReward(encoder: Fixture.encoder, maxLength: maxLength)
        #expect(pairs.count == (maxLength == 64 ? 7 : 8))
        #expect(summary.droppedExamples == (maxLength == 64 ? 1 : 0))
        if maxLength == 64 { #expect(summary.droppedRows.map(\.line) == [8]) }
        let batch = RewardCollator(padID: 0).collate(pairs)
        let file = try GoldenFile("reward/batch.safetensors")
        #expect(batch.inputIDs == (try file.ints("max_length\(maxLength).input_ids")))
        #expect(batch.attentionMask.map { Int32($0) } == (try file.ints("max_length\(maxLength).attention_mask")))
        // The reward is read at the last real token, which is EOS here.
        for r in 0..<batch.rowCount {
            #expect(batch.inputIDs[r * batch.length + Int(batch.sequenceLengths[r]) - 1] == 2)
        }
    }

    @Test func sftBatchMatchesTRL() throws {
        let dataset = try LanguageModelingDataset(contentsOf: Fixture.url("sft/prompt_completion.jsonl"))
        #expect(dataset.format == .promptCompletion)
        let (sequences, summary) = try dataset.tokenizedForSFT(encoder: Fixture.encoder, options: options)
        let golden = (try Fixture.json("sft/metrics.json") as! [String: Any])["tokenized"] as! [[String: Any]]
        for (s, row) in zip(sequences, golden) {
            #expect(s.inputIDs == Fixture.ints(row["input_ids"]))
            #expect(s.labels == Fixture.ints(row["labels"]))
        }
        #expect(summary.truncatedExamples == 1 && summary.droppedExamples == 0)
        let batch = SFTCollator(padID: 0).collate(sequences)
        let file = try GoldenFile("sft/batch.safetensors")
        #expect(batch.inputIDs == (try file.ints("input_ids")))
        #expect(batch.attentionMask.map { Int32($0) } == (try file.ints("attention_mask")))
        #expect(batch.labels == (try file.ints("labels")))
        #expect(batch.lossMask == batch.labels.map { $0 == -100 ? 0 : 1 })
    }
}
