// AlignData: preference, unpaired and SFT datasets (REFERENCE.md §4), tokenised, truncated and batched as
// TRL 1.16's trainers do, so Align's losses see exactly TRL's inputs.
//
// The pipeline, for DPO:
//
//     let tokenizer = try Tokenizer(directory: modelFolder)
//     let encoder = try ExampleEncoder(tokenizer: tokenizer)              // chat template from the tokenizer
//     let data = try PreferenceDataset(contentsOf: url)                   // JSONL or JSON array, any §4 layout
//     let options = PreparationOptions(maxLength: 1024)                   // TRL defaults
//     let (pairs, summary) = try data.tokenizedForDPO(encoder: encoder, options: options)
//     summary.warnings.forEach { print("warning:", $0) }                  // boundary merges, doubled BOS
//     let collator = PreferenceCollator(padID: Int32(tokenizer.padTokenID ?? tokenizer.eosTokenID!),
//                                       maxLength: options.maxLength, truncationMode: options.truncationMode)
//     for start in stride(from: 0, to: pairs.count, by: batchSize) {
//         let batch = collator.collate(pairs[start..<min(start + batchSize, pairs.count)])
//         // batch.inputIDs (2B × T, [chosen; rejected]), batch.attentionMask, batch.completionMask
//     }
//
// KTO: `UnpairedDataset` → `tokenizedForKTO(encoder:options:klChunkSize: batchSize)` → `UnpairedCollator`.
// Reward: `PreferenceDataset` → `tokenizedForReward(encoder:maxLength:)` → `RewardCollator`.
// SFT: `LanguageModelingDataset` → `tokenizedForSFT(encoder:options:)` → `SFTCollator`
// (or `packSequences(_:length:)` → `SFTCollator.collate(packed:length:)`).
//
// This module holds no tensors: batches are flat row-major arrays the trainers wrap.
