import AlignDistributed
import AlignJSON
import AlignKernels
import AlignModelIO
import AlignOptim
import AlignTensor
import Dispatch
import Foundation

/// The training loop every objective shares.
///
/// Order: the example stream is the concatenation of epochs, epoch e shuffled with a generator
/// seeded from (seed, e); optimiser step s consumes the next batchSize × accumulation examples.
/// Everything a step depends on is a function of s and the saved state, so `--resume` from a
/// checkpoint continues bit for bit.
///
/// Data parallelism (`mpirun -np N align …`): every rank runs this loop on the same schedule. The
/// examples of each optimiser step (the same global batch of batchSize × accumulation as one
/// process) are split into N contiguous shares (``share(of:rank:size:)``); each rank runs its share in
/// micro-batches of at most batchSize, each weighted by its share of the *global* step; gradients
/// are summed over ranks in buckets that start during the last backward pass (``GradientBuckets``);
/// clipping and the optimiser run after the reduction, on identical gradients, so every rank keeps
/// identical weights and optimiser state. Metric windows are summed over ranks every step, the
/// evaluation set is split by batches and its metrics summed. Only rank 0 prints progress and writes
/// `metrics.jsonl`, checkpoints and the final model; `--resume` reads the newest checkpoint on every
/// rank (a shared folder) and needs the same N only for the same micro-batches, not for correctness.
public final class Trainer {
    public let objective: TrainingObjective
    public let configuration: TrainingConfiguration
    public let outputDirectory: URL
    /// Receives progress lines (default: stderr).
    public var progress: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    /// Receives each logged metrics row as it is written (for live displays).
    public var onLog: (([String: Double]) -> Void)?
    /// Called after every optimiser step with the number of steps done (evaluation hooks).
    public var onStepEnd: ((Int) throws -> Void)?
    /// The ranks this run is spread over: the process's world (``Distributed/world``) by default,
    /// a single process unless `mpirun` started it.
    public var communicator: any Communicator = Distributed.world
    /// Start reducing gradient buckets during the backward pass (true) or only after it (false;
    /// `ALIGN_DDP_OVERLAP=0`), for measuring what the overlap buys.
    public var overlapGradientReduction = ProcessInfo.processInfo.environment["ALIGN_DDP_OVERLAP"] != "0"
    /// Seconds spent waiting for gradient all-reduces after the backward passes (0 in one process).
    public var gradientWaitSeconds: Double { buckets?.waitSeconds ?? 0 }
    private var buckets: GradientBuckets?

    private var optimizer: Optimizer!
    private var step = 0
    private var tokensSeen = 0
    private var window = StepMetrics()
    private var windowTokens = 0
    private var windowStart = Date()
    private var windowFirstStep = 0
    private var lastGradNorm: Float = 0

    public init(objective: TrainingObjective, configuration: TrainingConfiguration, outputDirectory: URL) {
        self.objective = objective
        self.configuration = configuration
        self.outputDirectory = outputDirectory
    }

    /// What a finished run reports.
    public struct Summary: Sendable {
        public var steps: Int
        public var seconds: Double
        public var lastMetrics: [String: Double]
        public var finalModel: URL
    }

    // MARK: Schedule of examples

    /// Optimiser steps per batch of examples (1 unless an online objective says otherwise).
    var updatesPerBatch: Int { objective.onlineSchedule?.updatesPerBatch ?? 1 }
    /// Data examples per batch.
    var examplesPerBatch: Int {
        objective.onlineSchedule?.promptsPerBatch ?? configuration.batchSize * configuration.gradientAccumulationSteps
    }

    /// Optimiser steps of the run: `max_steps`, else the epochs' batches times ``updatesPerBatch``.
    public func totalSteps() -> Int {
        if configuration.maxSteps > 0 { return configuration.maxSteps }
        let n = objective.trainExampleCount
        let perEpoch = max(1, Int((Double(n) / Double(examplesPerBatch)).rounded(.up)))
        return max(1, Int((Double(perEpoch) * configuration.numTrainEpochs).rounded(.up))) * updatesPerBatch
    }

    /// Indices of the examples batch `s` (0-based; the optimiser step's, unless an online
    /// objective trains several steps on one batch) draws from the data.
    public func examples(forStep s: Int) -> [Int] {
        let n = objective.trainExampleCount
        let perStep = examplesPerBatch
        var out: [Int] = []
        out.reserveCapacity(perStep)
        var position = s * perStep
        var cachedEpoch = -1
        var order: [Int] = []
        while out.count < perStep {
            let epoch = position / n
            if epoch != cachedEpoch { order = epochOrder(epoch); cachedEpoch = epoch }
            out.append(order[position % n])
            position += 1
        }
        return out
    }

    /// Positions (into a step's example list of `count`) that `rank` of `size` trains on: contiguous
    /// and balanced, rank r taking ⌊r·count/size⌋ ..< ⌊(r+1)·count/size⌋. When count/size is a multiple
    /// of the batch size (gradient accumulation a multiple of N), each rank's micro-batches are
    /// exactly one process's, so every forward pass is identical.
    public static func share(of count: Int, rank: Int, size: Int) -> Range<Int> {
        (rank * count / size)..<((rank + 1) * count / size)
    }

    private func epochOrder(_ epoch: Int) -> [Int] {
        var order = Array(0..<objective.trainExampleCount)
        if configuration.shuffle {
            var g = RandomGenerator(seed: configuration.seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(epoch + 1))
            g.shuffle(&order)
        }
        return order
    }

    // MARK: Run

    /// Trains to the configured number of steps, resuming from the newest complete checkpoint
    /// when `resume` is true. Ctrl-C saves a checkpoint and throws ``TrainingError/interrupted(checkpoint:)``.
    @discardableResult
    public func train(resume: Bool = false) throws -> Summary {
        try configuration.validate()
        guard objective.trainExampleCount > 0 else { throw TrainingError.invalidConfiguration("no training examples") }
        let isRoot = communicator.isRoot
        if !isRoot { progress = { _ in } }
        if isRoot {
            try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
            removeLeftoverStagingFolders()
        }
        let total = totalSteps()
        let k = updatesPerBatch
        // Online objectives step the schedule once per generated batch, as TRL's do.
        let schedule = configuration.schedule(totalSteps: max(1, (total + k - 1) / k))
        optimizer = makeOptimizer()
        let buckets = GradientBuckets(parameters: objective.trainableParameters.map(\.parameter), communicator: communicator,
                                      overlap: overlapGradientReduction)
        self.buckets = buckets
        if resume {
            try restoreLatestCheckpoint()
            windowFirstStep = step
            progress("resumed from step \(step) of \(total)")
        } else if isRoot {
            try? FileManager.default.removeItem(at: metricsURL)
        }
        if communicator.isDistributed {
            let n = Double(communicator.size)
            let sums = communicator.allReduceSum([Double(step), Double(step) * Double(step)])
            guard sums[0] == Double(step) * n, sums[1] == Double(step) * Double(step) * n else {
                throw TrainingError.invalidConfiguration("the ranks resumed from different steps (rank \(communicator.rank) at step \(step)): every rank must see the same --output folder")
            }
            // Identical initial weights: rank 0's.
            buckets.broadcastValues(from: 0)
            let perStep = configuration.batchSize * configuration.gradientAccumulationSteps
            progress("data parallel: \(communicator.size) ranks, \(perStep) examples per step split \(perStep / communicator.size)–\((perStep + communicator.size - 1) / communicator.size) per rank, \(buckets.bucketCount) gradient buckets of \(buckets.elementsPerStep * 4 / 1_048_576) MB in all, overlap \(overlapGradientReduction ? "on" : "off")")
            if perStep % communicator.size != 0 || (perStep / communicator.size) % configuration.batchSize != 0 {
                progress("note: \(perStep) examples per step over \(communicator.size) ranks do not split into whole micro-batches of \(configuration.batchSize): the result equals one process's up to float rounding, not bit for bit (make gradient_accumulation_steps a multiple of the rank count)")
            }
        }
        try objective.prepare(log: progress)
        let interrupt = InterruptFlag.install()
        defer { interrupt.uninstall() }
        let started = Date()
        windowStart = Date()
        var last: [String: Double] = [:]
        if step == 0, objective.evalExampleCount > 0, configuration.evalSteps > 0 {
            last.merge(try evaluate(), uniquingKeysWith: { $1 })
        }
        while step < total {
            let lr = configuration.learningRate * schedule.multiplier(step: step / k)
            optimizer.learningRate = lr
            let batchExamples = examples(forStep: step / k)
            // An online objective generates and scores this step's batch here (every rank the
            // whole batch: its sampling is seeded per step, so ranks agree).
            try objective.prepareStep(StepShare(step: step, stepExamples: batchExamples,
                                                localRange: Trainer.share(of: batchExamples.count, rank: communicator.rank, size: communicator.size),
                                                communicator: communicator))
            let updates = objective.updateExamples(step, batch: batchExamples)
            try runStep(StepShare(step: step, stepExamples: updates,
                                  localRange: Trainer.share(of: updates.count, rank: communicator.rank, size: communicator.size),
                                  communicator: communicator))
            step += 1
            // The first row once the first batch is done (step 1 unless an online objective trains
            // several steps on a batch), then every logging_steps.
            if step == k || step % configuration.loggingSteps == 0 || step == total {
                last = try writeLog(learningRate: lr, totalSteps: total)
            }
            if configuration.evalSteps > 0, step % configuration.evalSteps == 0, objective.evalExampleCount > 0 {
                last.merge(try evaluate(), uniquingKeysWith: { $1 })
            }
            if configuration.saveSteps > 0, step % configuration.saveSteps == 0, step < total {
                try saveCheckpoint()
            }
            try onStepEnd?(step)
            // Every rank stops at the same step: Ctrl-C reaches the ranks at different moments.
            let interrupted = communicator.isDistributed ? communicator.allReduceSum(interrupt.isSet ? 1 : 0) > 0 : interrupt.isSet
            if interrupted {
                let url = try saveCheckpoint()
                throw TrainingError.interrupted(checkpoint: url)
            }
            progressLine(total: total, started: started)
        }
        if objective.evalExampleCount > 0, configuration.evalSteps == 0 || step % configuration.evalSteps != 0 {
            last.merge(try evaluate(), uniquingKeysWith: { $1 })
        }
        try saveFinalModel()
        if communicator.isDistributed {
            progress(String(format: "data parallel: %d ranks; rank 0 waited %.2f s in all for gradient all-reduces after the backward passes", communicator.size, gradientWaitSeconds))
        }
        return Summary(steps: step, seconds: Date().timeIntervalSince(started), lastMetrics: last, finalModel: outputDirectory)
    }

    private func makeOptimizer() -> Optimizer {
        let params = objective.trainableParameters
        let c = configuration
        switch c.optimizer {
        case .adamw:
            return AdamW(parameters: params, learningRate: c.learningRate, beta1: c.adamBeta1, beta2: c.adamBeta2,
                         eps: c.adamEpsilon, weightDecay: c.weightDecay)
        case .sgd:
            return SGD(parameters: params, learningRate: c.learningRate, momentum: c.momentum, weightDecay: c.weightDecay)
        case .rmsprop:
            return RMSprop(parameters: params, learningRate: c.learningRate, eps: c.adamEpsilon, weightDecay: c.weightDecay)
        }
    }

    /// Forward and backward over this rank's micro-batches of the step, the gradients summed over
    /// ranks, then clip and update.
    private func runStep(_ share: StepShare) throws {
        let examples = share.stepExamples
        let local = share.localExamples
        let params = objective.trainableParameters.map(\.parameter)
        params.forEach { $0.zeroGrad() }
        let micro = stride(from: 0, to: local.count, by: configuration.batchSize).map {
            Array(local[$0..<min($0 + configuration.batchSize, local.count)])
        }
        var stepMetrics = StepMetrics()
        for (m, chunk) in micro.enumerated() {
            // Each micro-batch's mean is weighted by its share of the whole (global) step, so the
            // sum over micro-batches and ranks equals the mean over the step whatever the split.
            let scale = Float(chunk.count) / Float(examples.count)
            // The last backward pass of the step starts reducing gradient buckets as they finish.
            if m == micro.count - 1 { buckets?.arm() }
            let loss: Tensor, metrics: StepMetrics
            do {
                (loss, metrics) = try objective.trainingLoss(examples: chunk, stepExamples: examples, scale: scale)
            } catch TrainingError.nonFinite(_, let what, _) {
                throw TrainingError.nonFinite(step: step + 1, what: what, examples: nonFiniteExamples(chunk))
            }
            guard loss.item().isFinite else {
                throw TrainingError.nonFinite(step: step + 1, what: "the loss", examples: nonFiniteExamples(chunk))
            }
            loss.backward()
            // One process merges as it always has; ranks add their step's sums over all ranks.
            if communicator.isDistributed { stepMetrics.merge(metrics) } else { window.merge(metrics) }
        }
        buckets?.finish()
        if communicator.isDistributed { window.merge(StepMetrics.summed(stepMetrics, over: communicator)) }
        let norm = clipGradientNorm(params, maxNorm: configuration.maxGradNorm)
        guard norm.isFinite else {
            throw TrainingError.nonFinite(step: step + 1, what: "the gradient norm", examples: examples.map(objective.describeExample))
        }
        lastGradNorm = norm
        optimizer.step()
        let tokens = objective.tokenCount(examples: examples)
        tokensSeen += tokens
        windowTokens += tokens
    }

    /// The examples of a micro-batch whose loss is not finite on their own, named by row.
    ///
    /// A NaN in one row can reach the others of its batch (a masked product of 0 × NaN is NaN), so
    /// the batch's first bad entry does not say which row caused it: each example is run alone,
    /// without gradients. If none is bad alone, the batch as a whole is named.
    private func nonFiniteExamples(_ chunk: [Int]) -> [String] {
        guard chunk.count > 1 else { return chunk.map(objective.describeExample) }
        let bad = chunk.filter { example in
            let finite: Bool? = withNoGrad {
                guard let (loss, _) = try? objective.trainingLoss(examples: [example], stepExamples: [example], scale: 1) else { return nil }
                return loss.item().isFinite
            }
            return finite != true
        }
        return (bad.isEmpty ? chunk : bad).map(objective.describeExample)
    }

    // MARK: Logging

    private var metricsURL: URL { outputDirectory.appendingPathComponent("metrics.jsonl") }

    private func writeLog(learningRate: Float, totalSteps: Int) throws -> [String: Double] {
        defer {
            windowFirstStep = step
            window = StepMetrics()
            windowTokens = 0
            windowStart = Date()
        }
        var row = window.averages
        let elapsed = max(Date().timeIntervalSince(windowStart), 1e-9)
        row["learning_rate"] = Double(learningRate)
        row["grad_norm"] = Double(lastGradNorm)
        row["num_tokens"] = Double(tokensSeen)
        row["step"] = Double(step)
        row["epoch"] = Double(step * examplesPerBatch) / Double(updatesPerBatch) / Double(objective.trainExampleCount)
        row["tokens_per_second"] = Double(windowTokens) / elapsed
        row["seconds_per_step"] = elapsed / Double(max(1, step - windowFirstStep))
        row["peak_memory_mb"] = Double(TensorStorage.peakAllocatedBytes) / 1_048_576
        // After the loop's own fields, so an objective can derive from them (PPO's `lr`).
        objective.completeMetrics(&row)
        lastTrainingRow = row
        guard communicator.isRoot else { return row }
        try appendJSONLine(row)
        onLog?(row)
        return row
    }

    /// Appends one metrics row as a JSON object, keys sorted. A non-finite value (which JSON cannot
    /// hold) is written as `null` and its key listed under `"non_finite"`, so every line stays valid
    /// JSON and the value's absence is explained.
    private func appendJSONLine(_ row: [String: Double]) throws {
        let keys = row.keys.sorted()
        var members: [(key: String, value: JSONValue)] = keys.map { key in
            let x = row[key]!
            guard x.isFinite else { return (key, .null) }
            return (key, .number(JSONNumber(text: formatNumber(x))))
        }
        let nonFinite = keys.filter { !row[$0]!.isFinite }
        if !nonFinite.isEmpty { members.append(("non_finite", .array(nonFinite.map { .string($0) }))) }
        // `{"key": value, ...}`: the spaced layout of Python's json.dumps, which TRL's logs use.
        var line: [UInt8] = [UInt8(ascii: "{")]
        for (i, member) in members.enumerated() {
            if i > 0 { line += Array(", ".utf8) }
            JSONWriter.write(.string(member.key), into: &line)
            line += Array(": ".utf8)
            JSONWriter.write(member.value, into: &line)
        }
        line += Array("}\n".utf8)
        if !FileManager.default.fileExists(atPath: metricsURL.path) {
            FileManager.default.createFile(atPath: metricsURL.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: metricsURL)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(line))
    }

    /// A finite value as metrics.jsonl has always written it: integers without a fraction, others
    /// in Swift's shortest round-trip form.
    private func formatNumber(_ x: Double) -> String {
        if x == x.rounded() && abs(x) < 1e15 { return String(Int64(x)) }
        return "\(x)"
    }

    private func evaluate() throws -> [String: Double] {
        var metrics = StepMetrics()
        let n = objective.evalExampleCount
        // Under data parallelism batch b goes to rank b mod N; the sums are then added over ranks.
        for (b, start) in stride(from: 0, to: n, by: configuration.batchSize).enumerated() where b % communicator.size == communicator.rank {
            metrics.merge(try objective.evaluationMetrics(examples: Array(start..<min(start + configuration.batchSize, n))))
        }
        if communicator.isDistributed { metrics = StepMetrics.summed(metrics, over: communicator) }
        var row: [String: Double] = [:]
        var averages = metrics.averages
        objective.completeMetrics(&averages)
        for (k, v) in averages { row["eval_" + k] = v }
        row["step"] = Double(step)
        row["epoch"] = Double(step * examplesPerBatch) / Double(updatesPerBatch) / Double(objective.trainExampleCount)
        guard communicator.isRoot else { return row }
        try appendJSONLine(row)
        onLog?(row)
        progress("eval at step \(step): " + row.keys.sorted().filter { $0.hasPrefix("eval_") }.prefix(4)
            .map { "\($0) \(String(format: "%.4f", row[$0]!))" }.joined(separator: ", "))
        return row
    }

    private var lastProgress = Date.distantPast

    private func progressLine(total: Int, started: Date) {
        let now = Date()
        guard now.timeIntervalSince(lastProgress) > 1 || step == total else { return }
        lastProgress = now
        let done = Double(step) / Double(total)
        let width = 24
        let bar = String(repeating: "█", count: Int(done * Double(width))) + String(repeating: "·", count: width - Int(done * Double(width)))
        let elapsed = now.timeIntervalSince(started)
        let eta = step > 0 ? elapsed / Double(step) * Double(total - step) : 0
        let rate = elapsed > 0 ? Double(tokensSeen) / elapsed : 0
        var line = "[\(bar)] \(step)/\(total) ETA \(formatDuration(eta)) | \(Int(rate)) tok/s"
        if let l = lastTrainingRow["loss"] { line += String(format: " | loss %.4f", l) }
        if let a = lastTrainingRow["rewards/accuracies"] ?? lastTrainingRow["accuracy"] ?? lastTrainingRow["mean_token_accuracy"] {
            line += String(format: " | acc %.2f", a)
        }
        progress(line)
    }

    /// The last training (not eval) row logged, for the progress line.
    private var lastTrainingRow: [String: Double] = [:]

    private func formatDuration(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }

    // MARK: Checkpoints

    /// The state that, with the model and optimiser tensors, resumes a run exactly: written as
    /// `trainer_state.json` with the project's JSON writer. Non-finite numbers (a metric window may
    /// hold one) are kept as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
    struct State {
        var globalStep: Int
        var tokensSeen: Int
        var window: StepMetrics
        var windowTokens: Int
        var lastGradNorm: Float
        var optimizerScalars: [String: Double]
        /// The loop's settings, keyed as in YAML (for the record; resume uses the run's own).
        var configuration: JSONValue
        /// What ``TrainingObjective/checkpointState()`` returned.
        var objectiveState: JSONValue?

        var json: JSONValue {
            var members: [(key: String, value: JSONValue)] = [
                ("globalStep", .integer(globalStep)), ("tokensSeen", .integer(tokensSeen)),
                ("window", .object([("sums", .object(window.sums.keys.sorted().map { key in
                    (key, .array(window.sums[key]!.map(State.number)))
                }))])),
                ("windowTokens", .integer(windowTokens)), ("lastGradNorm", State.number(Double(lastGradNorm))),
                ("optimizerScalars", .object(optimizerScalars.keys.sorted().map { ($0, State.number(optimizerScalars[$0]!)) })),
                ("configuration", configuration),
            ]
            if let objectiveState { members.append(("objectiveState", objectiveState)) }
            return .object(members)
        }

        init(globalStep: Int, tokensSeen: Int, window: StepMetrics, windowTokens: Int, lastGradNorm: Float,
             optimizerScalars: [String: Double], configuration: JSONValue, objectiveState: JSONValue?) {
            self.globalStep = globalStep; self.tokensSeen = tokensSeen; self.window = window; self.windowTokens = windowTokens
            self.lastGradNorm = lastGradNorm; self.optimizerScalars = optimizerScalars; self.configuration = configuration
            self.objectiveState = objectiveState
        }

        /// Reads a state; nil when a field is missing or of the wrong type.
        init?(json: JSONValue) {
            func integer(_ key: String) -> Int? { if case .number(let n)? = json[key] { return n.integer } else { return nil } }
            guard let step = integer("globalStep"), let tokens = integer("tokensSeen"), let windowTokens = integer("windowTokens"),
                  let norm = json["lastGradNorm"].flatMap(State.double),
                  case .object(let sums)? = json["window"]?["sums"], case .object(let scalars)? = json["optimizerScalars"] else { return nil }
            var window = StepMetrics()
            for (key, value) in sums {
                guard case .array(let pair) = value, pair.count == 2, let s = State.double(pair[0]), let w = State.double(pair[1]) else { return nil }
                window.add(key, sum: s, weight: w)
            }
            var optimizerScalars: [String: Double] = [:]
            for (key, value) in scalars {
                guard let x = State.double(value) else { return nil }
                optimizerScalars[key] = x
            }
            self.init(globalStep: step, tokensSeen: tokens, window: window, windowTokens: windowTokens, lastGradNorm: Float(norm),
                      optimizerScalars: optimizerScalars, configuration: json["configuration"] ?? .null, objectiveState: json["objectiveState"])
        }

        static func number(_ x: Double) -> JSONValue {
            if x.isNaN { return .string("NaN") }
            if x.isInfinite { return .string(x > 0 ? "Infinity" : "-Infinity") }
            return .number(JSONNumber(text: "\(x)"))
        }

        static func double(_ value: JSONValue) -> Double? {
            switch value {
            case .number(let n): return n.double
            case .string("NaN"): return .nan
            case .string("Infinity"): return .infinity
            case .string("-Infinity"): return -.infinity
            default: return nil
            }
        }
    }

    /// Writes `checkpoint-<step>` atomically: everything goes to a temporary folder that is
    /// renamed into place only when complete, so a crash never leaves a half checkpoint.
    @discardableResult
    public func saveCheckpoint() throws -> URL {
        let fm = FileManager.default
        let final = outputDirectory.appendingPathComponent("checkpoint-\(step)")
        // Every rank holds the same weights and optimiser state: rank 0 writes them.
        guard communicator.isRoot else { return final }
        let temporary = outputDirectory.appendingPathComponent(".checkpoint-\(step).partial-\(ProcessInfo.processInfo.processIdentifier)")
        try? fm.removeItem(at: temporary)
        try fm.createDirectory(at: temporary, withIntermediateDirectories: true)
        try objective.saveModel(to: temporary)
        let state = optimizer.state()
        let tensors = state.tensors.keys.sorted().map { name in
            SafetensorsWriter.Tensor(name: name, shape: state.tensors[name]!.shape, storage: state.tensors[name]!.copy().storage)
        }
        try SafetensorsWriter.write(tensors, metadata: ["format": "align-optimizer", "optimizer": configuration.optimizer.rawValue],
                                    to: temporary.appendingPathComponent("optimizer.safetensors"))
        let trainerState = State(globalStep: step, tokensSeen: tokensSeen, window: window, windowTokens: windowTokens,
                                 lastGradNorm: lastGradNorm, optimizerScalars: state.scalars, configuration: configuration.settingValues,
                                 objectiveState: objective.checkpointState())
        try Data(JSONWriter.bytes(trainerState.json, indent: 2)).write(to: temporary.appendingPathComponent("trainer_state.json"))
        try Trainer.writeChecksums(of: temporary)
        try? fm.removeItem(at: final)
        try fm.moveItem(at: temporary, to: final)
        progress("saved \(final.path)")
        return final
    }

    /// Newest `checkpoint-N` folder that has a trainer state.
    public static func latestCheckpoint(in directory: URL) -> URL? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let steps = names.compactMap { name -> Int? in
            guard name.hasPrefix("checkpoint-"), let n = Int(name.dropFirst("checkpoint-".count)) else { return nil }
            let state = directory.appendingPathComponent(name).appendingPathComponent("trainer_state.json")
            return FileManager.default.fileExists(atPath: state.path) ? n : nil
        }
        return steps.max().map { directory.appendingPathComponent("checkpoint-\($0)") }
    }

    /// The file that lists a checkpoint's files with their CRC-32C.
    static let checksumFile = "checksums.json"

    /// Writes `checksums.json`: every file of the checkpoint folder with its CRC-32C, so resume can
    /// tell a damaged file (a flipped bit, a truncated copy) from a good one. Files in subfolders
    /// (PPO's `value_model/`) are listed by their relative path (`value_model/model.safetensors`).
    static func writeChecksums(of folder: URL) throws {
        var files: [(key: String, value: JSONValue)] = []
        func visit(_ directory: URL, prefix: String) throws {
            for name in try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() {
                if prefix.isEmpty && name == checksumFile { continue }
                var isDirectory: ObjCBool = false
                let url = directory.appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { continue }
                if isDirectory.boolValue {
                    try visit(url, prefix: prefix + name + "/")
                } else {
                    files.append((prefix + name, .string(try FileChecksum.crc32c(contentsOf: url))))
                }
            }
        }
        try visit(folder, prefix: "")
        let manifest = JSONValue.object([("algorithm", .string("crc32c")), ("files", .object(files))])
        try Data(JSONWriter.bytes(manifest, indent: 2)).write(to: folder.appendingPathComponent(checksumFile))
    }

    /// Checks every file `checksums.json` lists; a checkpoint written before checksums existed
    /// (no manifest) is accepted with a note.
    func verifyChecksums(of folder: URL) throws {
        let manifestURL = folder.appendingPathComponent(Trainer.checksumFile)
        guard let data = FileManager.default.contents(atPath: manifestURL.path) else {
            progress("note: \(folder.lastPathComponent) has no \(Trainer.checksumFile) (written before checksums); its files are not verified")
            return
        }
        guard let manifest = try? JSONReader.parse(data), case .object(let files)? = manifest["files"] else {
            throw TrainingError.checkpoint(manifestURL, "unreadable checksum manifest: the checkpoint is damaged")
        }
        for (name, expected) in files {
            // Relative paths inside the checkpoint only (`value_model/config.json`), never out of it.
            let parts = name.split(separator: "/", omittingEmptySubsequences: false)
            guard case .string(let want) = expected, !name.hasPrefix("/"), !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
                throw TrainingError.checkpoint(manifestURL, "malformed entry \"\(name)\"")
            }
            let url = folder.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw TrainingError.checkpoint(url, "missing: the checkpoint is incomplete")
            }
            let found = try FileChecksum.crc32c(contentsOf: url)
            guard found == want else {
                throw TrainingError.checkpoint(url, "checksum mismatch (crc32c \(found), the checkpoint recorded \(want)): the file is damaged; resume from an earlier checkpoint or start again")
            }
        }
    }

    /// Removes staging folders a killed or failed save left in the output folder
    /// (`.checkpoint-N.partial-PID`, `.final.partial-PID` and the model writer's `.saving-` siblings
    /// of them), unless the process that named them is still running.
    func removeLeftoverStagingFolders() {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: outputDirectory.path) else { return }
        for name in names where name.hasPrefix(".") {
            guard let range = name.range(of: ".partial-") else { continue }
            let digits = name[range.upperBound...].prefix { $0.isNumber }
            guard let pid = Int32(digits) else { continue }
            if pid != getpid() && kill(pid, 0) == 0 { continue }  // a live run's folder: not ours to remove
            if (try? fm.removeItem(at: outputDirectory.appendingPathComponent(name))) != nil {
                progress("removed \(name), left by an interrupted save")
            }
        }
    }

    private func restoreLatestCheckpoint() throws {
        guard let url = Trainer.latestCheckpoint(in: outputDirectory) else { throw TrainingError.noCheckpoint(outputDirectory) }
        try verifyChecksums(of: url)
        let stateURL = url.appendingPathComponent("trainer_state.json")
        guard let data = FileManager.default.contents(atPath: stateURL.path), let json = try? JSONReader.parse(data),
              let state = State(json: json) else {
            throw TrainingError.checkpoint(stateURL, "unreadable: not the trainer state this version of align writes")
        }
        try objective.loadModel(from: url)
        let file = try SafetensorsFile(url: url.appendingPathComponent("optimizer.safetensors"))
        var tensors: [String: Tensor] = [:]
        for name in file.tensorNames {
            let (shape, storage) = try file.loadFloat32(name)
            tensors[name] = Tensor(storage: storage, shape: shape)
        }
        try optimizer.loadState(OptimizerState(tensors: tensors, scalars: state.optimizerScalars))
        step = state.globalStep
        tokensSeen = state.tokensSeen
        window = state.window
        windowTokens = state.windowTokens
        lastGradNorm = state.lastGradNorm
        if let objectiveState = state.objectiveState { try objective.restoreCheckpointState(objectiveState) }
        if communicator.isRoot { try truncateMetrics(afterStep: step) }
    }

    /// Drops metrics rows logged after `step` (a run that went past its last checkpoint).
    private func truncateMetrics(afterStep step: Int) throws {
        guard let text = try? String(contentsOf: metricsURL, encoding: .utf8) else { return }
        // A half-written last line (a crash mid-write) fails to parse and is dropped with the rows past `step`.
        let kept = text.split(separator: "\n").filter { line in
            guard let row = try? JSONReader.parse(Array(line.utf8)), case .number(let n)? = row["step"],
                  let s = n.integer ?? n.double.map({ Int($0) }) else { return false }
            return s <= step
        }
        try (kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")).write(to: metricsURL, atomically: true, encoding: .utf8)
    }

    private func saveFinalModel() throws {
        guard communicator.isRoot else { return }
        let fm = FileManager.default
        let temporary = outputDirectory.appendingPathComponent(".final.partial-\(ProcessInfo.processInfo.processIdentifier)")
        try? fm.removeItem(at: temporary)
        try fm.createDirectory(at: temporary, withIntermediateDirectories: true)
        try objective.saveModel(to: temporary)
        for name in try fm.contentsOfDirectory(atPath: temporary.path) {
            let target = outputDirectory.appendingPathComponent(name)
            try? fm.removeItem(at: target)
            try fm.moveItem(at: temporary.appendingPathComponent(name), to: target)
        }
        try fm.removeItem(at: temporary)
    }
}

/// Ctrl-C during training: the first press asks the loop to checkpoint and stop at the next step
/// boundary; a second press exits at once.
final class InterruptFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    private var source: DispatchSourceSignal?

    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return flag }

    static func install() -> InterruptFlag {
        let f = InterruptFlag()
        signal(SIGINT, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        s.setEventHandler { [weak f] in
            guard let f else { return }
            f.lock.lock()
            let second = f.flag
            f.flag = true
            f.lock.unlock()
            if second { exit(130) }
            FileHandle.standardError.write(Data("\ninterrupt: saving a checkpoint after this step (Ctrl-C again to quit now)\n".utf8))
        }
        s.resume()
        f.source = s
        return f
    }

    func uninstall() {
        source?.cancel()
        signal(SIGINT, SIG_DFL)
    }
}
