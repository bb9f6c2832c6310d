import AlignJSON
import AlignModels
import AlignTensor
import Foundation

/// One sampled completion to score.
public struct RewardInput: Sendable {
    /// The prompt as text (a conversation as the chat template rendered it).
    public var prompt: String
    /// The decoded response (after stop-token truncation, special tokens skipped).
    public var completion: String
    /// The prompt's token ids.
    public var queryIDs: [Int32]
    /// The response's token ids, after stop-token truncation.
    public var responseIDs: [Int32]
    /// The prompt row's other string fields (`answer`, ...).
    public var fields: [String: String]

    public init(prompt: String, completion: String, queryIDs: [Int32], responseIDs: [Int32], fields: [String: String] = [:]) {
        self.prompt = prompt; self.completion = completion; self.queryIDs = queryIDs; self.responseIDs = responseIDs
        self.fields = fields
    }
}

/// Something that scores completions: a reward model, VADER, an external program. Online
/// objectives call it once per generated batch with every row of the batch.
public protocol RewardSource: AnyObject {
    /// A short name for metrics (`rewards/<name>/mean`) and messages.
    var name: String { get }
    /// One score per input, in order.
    func scores(_ inputs: [RewardInput]) throws -> [Float]
}

/// A reward model written by `align reward` (or any `…ForSequenceClassification` folder): the
/// score of query + response ids at the last token, as TRL's `get_reward` reads it. The model must
/// share the policy's tokenizer (TRL's PPO assumes the same).
public final class RewardModelSource: RewardSource {
    public let model: RewardModel
    public let name: String
    public let batchSize: Int

    public init(model: RewardModel, name: String = "reward_model", batchSize: Int = 16) {
        self.model = model; self.name = name; self.batchSize = batchSize
    }

    public func scores(_ inputs: [RewardInput]) throws -> [Float] {
        withNoGrad { model.score(inputs.map { $0.queryIDs + $0.responseIDs }, batchSize: batchSize) }
    }
}

/// A reward computed from prompt and completion text (VADER's compound score of prompt +
/// completion, a format check, an exact-answer check).
public final class FunctionRewardSource: RewardSource {
    public let name: String
    let function: (RewardInput) throws -> Double

    public init(name: String, _ function: @escaping (RewardInput) throws -> Double) {
        self.name = name; self.function = function
    }

    public func scores(_ inputs: [RewardInput]) throws -> [Float] { try inputs.map { Float(try function($0)) } }
}

/// `cmd:PROGRAM ARGS…`: an external scorer started once per batch, given one JSON object
/// `{"prompt", "completion"}` per line on standard input, answering one number per line. A
/// program that exits non-zero, answers a line that is not a number, or answers the wrong number
/// of lines stops the run with its standard error.
public final class CommandRewardSource: RewardSource {
    public let arguments: [String]
    public var name: String { "cmd" }

    /// `command` is split on whitespace (no shell); the first word is the program, looked up on
    /// `PATH` when it has no slash.
    public init(command: String) throws {
        arguments = command.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard !arguments.isEmpty else { throw TrainingError.invalidSetting(key: "reward", message: "cmd: needs a program") }
    }

    static func executable(_ program: String) -> URL? {
        if program.contains("/") { return URL(fileURLWithPath: program) }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent(program)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    public func scores(_ inputs: [RewardInput]) throws -> [Float] {
        let command = arguments.joined(separator: " ")
        func failure(_ message: String) -> TrainingError { .invalidSetting(key: "reward", message: "cmd:\(command): \(message)") }
        guard let url = Self.executable(arguments[0]) else { throw failure("program \(arguments[0]) not found on PATH") }
        var input = [UInt8]()
        for row in inputs {
            JSONWriter.write(.object([("prompt", .string(row.prompt)), ("completion", .string(row.completion))]), into: &input)
            input.append(UInt8(ascii: "\n"))
        }
        let process = Process()
        process.executableURL = url
        process.arguments = Array(arguments.dropFirst())
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin; process.standardOutput = stdout; process.standardError = stderr
        do { try process.run() } catch { throw failure("could not start: \(error.localizedDescription)") }
        // Write on another thread so a scorer that answers before reading everything cannot deadlock us.
        let payload = Data(input)
        let writer = Thread {
            stdin.fileHandleForWriting.write(payload)
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let errorCollector = DataCollector(stderr.fileHandleForReading)
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errText = String(decoding: errorCollector.finish(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let detail = errText.isEmpty ? "" : "; its stderr:\n" + errText
        guard process.terminationStatus == 0 else { throw failure("exited with status \(process.terminationStatus)\(detail)") }
        let lines = String(decoding: out, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        let answered = lines.last == "" ? Array(lines.dropLast()) : lines
        guard answered.count == inputs.count else {
            throw failure("answered \(answered.count) lines for \(inputs.count) completions\(detail)")
        }
        return try answered.enumerated().map { i, line in
            guard let x = Float(line), x.isFinite else { throw failure("line \(i + 1) is not a finite number: \"\(line.prefix(80))\"\(detail)") }
            return x
        }
    }
}

/// Reads a file handle to its end on a background thread.
final class DataCollector: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)
    init(_ handle: FileHandle) {
        Thread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }.start()
    }
    func finish() -> Data { done.wait(); return data }
}

/// Several reward sources summed with weights, as TRL's `reward_funcs` with `reward_weights`.
public struct WeightedRewards {
    public var sources: [RewardSource]
    public var weights: [Float]

    public init(sources: [RewardSource], weights: [Float]? = nil) throws {
        let w = weights ?? [Float](repeating: 1, count: sources.count)
        guard !sources.isEmpty else { throw TrainingError.invalidSetting(key: "reward", message: "give at least one reward source") }
        guard w.count == sources.count else {
            throw TrainingError.invalidSetting(key: "reward_weights", message: "\(w.count) weights for \(sources.count) reward sources")
        }
        self.sources = sources; self.weights = w
    }

    /// Each source's scores (sources × rows) and the weighted sums per row.
    public func score(_ inputs: [RewardInput]) throws -> (perSource: [[Float]], total: [Float]) {
        var perSource: [[Float]] = []
        var total = [Float](repeating: 0, count: inputs.count)
        for (source, weight) in zip(sources, weights) {
            let s = try source.scores(inputs)
            guard s.count == inputs.count else {
                throw TrainingError.invalidSetting(key: "reward", message: "\(source.name) gave \(s.count) scores for \(inputs.count) completions")
            }
            perSource.append(s)
            for i in 0..<s.count { total[i] += weight * s[i] }
        }
        return (perSource, total)
    }
}
