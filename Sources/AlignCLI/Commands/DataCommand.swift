import AlignData
import AlignTokenizers
import ArgumentParser
import Foundation

extension TruncationMode: ExpressibleByArgument {}
extension BoundaryMode: ExpressibleByArgument {}

/// `align data`: reads a dataset the way a trainer would and reports what preparation does to it (format,
/// bad rows, token lengths, truncated and dropped examples, boundary warnings), before any training starts.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Check a dataset: format, bad rows, token lengths, and what truncation would cut or drop.",
        discussion: """
            Reads JSON Lines or a JSON array in the formats of TRL: {"prompt","chosen","rejected"}, implicit \
            {"chosen","rejected"}, {"prompt","completion","label"}, {"prompt","completion"}, {"messages"} or \
            {"text"}, with strings or message lists. Tokenises as TRL 1.16's trainer for --objective does.
            """)

    /// The trainer whose preparation is reproduced.
    enum Objective: String, ExpressibleByArgument, CaseIterable {
        case dpo, kto, reward, sft
    }

    @Argument(help: "Dataset file (JSON Lines or a JSON array).")
    var input: String

    @Option(help: "Folder holding tokenizer.json (and tokenizer_config.json).")
    var tokenizer: String

    @Option(help: "Which trainer's preparation to apply: dpo, kto, reward or sft.")
    var objective: Objective = .dpo

    @Option(help: "Longest sequence in tokens (0 for no limit).")
    var maxLength: Int = 1024

    @Option(help: "Prompt-first truncation of the original DPO repository: cut prompts to this many tokens first.")
    var maxPromptLength: Int?

    @Option(help: "keep_start or keep_end.")
    var truncationMode: TruncationMode = .keepStart

    @Option(help: "commonPrefix (TRL) or separate (original DPO repository).")
    var boundary: BoundaryMode = .commonPrefix

    @Flag(help: "Skip malformed rows (counted) instead of failing on the first.")
    var skipBadRows = false

    @Option(help: "Split to read when the dataset is a folder or a cached Hub dataset id.")
    var split = "train"

    func run() throws {
        do {
            let url = try resolveDataFile(input, split: split, flag: "dataset")
            let read = ReadOptions(skipBadRows: skipBadRows)
            let encoder = try ExampleEncoder(tokenizer: try Tokenizer(directory: URL(fileURLWithPath: resolveModelPath(tokenizer, flag: "--tokenizer"))))
            let options = PreparationOptions(maxLength: maxLength > 0 ? maxLength : nil, maxPromptLength: maxPromptLength,
                                             truncationMode: truncationMode, boundary: boundary)
            let report: ReadReport, summary: PreparationSummary, lengths: [Int], format: String
            switch objective {
            case .dpo, .reward:
                let data = try PreferenceDataset(contentsOf: url, options: read)
                let prepared = objective == .dpo
                    ? try data.tokenizedForDPO(encoder: encoder, options: options)
                    : try data.tokenizedForReward(encoder: encoder, maxLength: options.maxLength)
                (report, summary, format) = (data.report, prepared.summary, describe(data.format, data.isConversational))
                lengths = prepared.pairs.flatMap {
                    [$0.promptIDs.count + $0.chosenIDs.count, $0.promptIDs.count + $0.rejectedIDs.count]
                }
            case .kto:
                let data = try UnpairedDataset(contentsOf: url, options: read)
                let prepared = try data.tokenizedForKTO(encoder: encoder, options: options)
                (report, summary, format) = (data.report, prepared.summary, describe(data.format, data.isConversational))
                lengths = prepared.examples.map { $0.promptIDs.count + $0.completionIDs.count }
            case .sft:
                let data = try LanguageModelingDataset(contentsOf: url, options: read)
                let prepared = try data.tokenizedForSFT(encoder: encoder, options: options)
                (report, summary, format) = (data.report, prepared.summary, describe(data.format, data.isConversational))
                lengths = prepared.sequences.map(\.inputIDs.count)
            }
            print("format: \(format)")
            print("rows: \(report.totalRows) read, \(report.skippedRows) skipped")
            for reason in report.skippedReasons { print("  skipped \(reason)") }
            print("examples: \(summary.inputExamples) in, \(summary.keptExamples) kept, \(summary.droppedExamples) dropped, "
                  + "\(summary.truncatedExamples) truncated")
            if let longest = lengths.max() {
                let sorted = lengths.sorted()
                print("tokens per prepared sequence: min \(sorted[0]), median \(sorted[sorted.count / 2]), max \(longest)")
            }
            if summary.boundaryMismatches > 0 { print("boundary mismatches: \(summary.boundaryMismatches)") }
            for warning in summary.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        } catch let error as DatasetError {
            throw DataFailure(message: error.description)
        } catch let error as TokenizerError {
            throw DataFailure(message: error.description)
        }
    }

    func describe(_ format: DatasetFormat, _ conversational: Bool) -> String {
        "\(format)\(conversational ? ", conversational" : "")"
    }
}

/// An error whose text is printed as is, after `Error: `.
private struct DataFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
