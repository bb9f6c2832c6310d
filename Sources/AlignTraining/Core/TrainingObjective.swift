import AlignDistributed
import AlignJSON
import AlignTensor
import Foundation

/// What an objective (DPO, KTO, SFT, reward modelling, ...) plugs into the shared ``Trainer``
/// loop: it owns its data and model, turns example indices into a scaled loss plus metrics, and
/// saves or restores its trainable model. The loop owns everything else: order, accumulation,
/// clipping, the optimiser, the schedule, logging, evaluation, checkpoints and resume.
///
/// ## The contract under data parallelism (`mpirun -np N`)
/// Every rank holds the whole data set and the same objective; the loop hands each rank only its
/// share of a step (``StepShare``). For the run to equal one process on the same global batch:
/// - ``trainingLoss(examples:stepExamples:scale:)`` receives this rank's micro-batch as `examples`
///   but the *global* step as `stepExamples`, and `scale` is the micro-batch's share of the global
///   step. A normaliser that is a function of the step's indices alone (SFT's token count, DPO's
///   chosen tokens for its NLL term) is therefore already global: compute it from `stepExamples`.
/// - A normaliser or statistic that needs a forward pass over the step (KTO's z₀, GRPO's group
///   baselines, PPO's advantage whitening) must be computed in ``prepareStep(_:)-(StepShare)`` over
///   `share.localExamples` and combined with ``StepShare/sum(_:)`` (or ``StepShare/gather(_:)``,
///   exact), never from the local share alone.
/// - Anything random (sampling) must be seeded per example — from (seed, step, the example's
///   position in `stepExamples`) — not per process, so the same example draws the same sample
///   whatever N is and whichever rank runs it.
/// - ``saveModel(to:)`` and everything else that writes files is called on rank 0 only; every
///   rank calls ``loadModel(from:)`` and ``restoreCheckpointState(_:)`` on resume.
/// - Every rank must call the same collectives in the same order: do not branch on data that
///   differs between ranks before a ``StepShare/sum(_:)``.
public protocol TrainingObjective: AnyObject {
    /// The loop's settings (batch size, schedule, optimiser, logging, checkpoints).
    var trainingConfiguration: TrainingConfiguration { get }
    /// Number of training examples (indices 0..<count are what the loop schedules).
    var trainExampleCount: Int { get }
    /// Number of evaluation examples (0 when there is no eval data).
    var evalExampleCount: Int { get }
    /// The parameters the optimiser updates, by Hugging Face name.
    var trainableParameters: [(name: String, parameter: Parameter)] { get }
    /// One-time work before the first step (precomputing reference log-probs, say).
    func prepare(log: (String) -> Void) throws
    /// How an online objective's optimiser steps map onto the batches it generates; nil (the
    /// default) for one optimiser step per batch of `batchSize × gradientAccumulationSteps`
    /// examples. See ``OnlineSchedule``.
    var onlineSchedule: OnlineSchedule? { get }
    /// The indices ``trainingLoss(examples:stepExamples:scale:)`` receives for optimiser step
    /// `step`, given the data examples `batch` of its generated batch: the examples themselves
    /// by default; an online objective returns rows of its rollout (PPO: the step's mini-batch in
    /// its shuffled order; GRPO: every completion). The loop cuts them into micro-batches of
    /// `batchSize`.
    func updateExamples(_ step: Int, batch: [Int]) -> [Int]
    /// Called before optimiser step `step` (0-based) with the examples it will train on. An online
    /// objective (PPO, RLOO, GRPO, online DPO) generates completions for those prompts, scores them
    /// and computes advantages here; ``trainingLoss(examples:stepExamples:scale:)`` then reads them.
    /// Anything random must come from state that ``checkpointState()`` saves, so that `--resume`
    /// produces the same batches bit for bit.
    func prepareStep(_ step: Int, examples: [Int]) throws
    /// Called before every optimiser step with this rank's share of it (in one process the share
    /// is the whole step). The default calls ``prepareStep(_:examples:)`` with the whole step, which
    /// is correct (every rank repeats the work) for deterministic per-step preparation; objectives
    /// with step-wide statistics override this one (see the contract above).
    func prepareStep(_ share: StepShare) throws
    /// State beyond the weights and the optimiser that a resumed run needs (a sampler's generator,
    /// an adaptive KL controller), saved in each checkpoint's `trainer_state.json`; nil for none.
    func checkpointState() -> JSONValue?
    /// Restores what ``checkpointState()`` returned.
    func restoreCheckpointState(_ state: JSONValue) throws
    /// Loss for the micro-batch `examples`, already multiplied by `scale`, and its metrics.
    /// `stepExamples` lists every example of the optimiser step, for terms normalised over the
    /// whole step.
    func trainingLoss(examples: [Int], stepExamples: [Int], scale: Float) throws -> (loss: Tensor, metrics: StepMetrics)
    /// Metrics of evaluation examples (no gradient), names without the `eval_` prefix.
    func evaluationMetrics(examples: [Int]) throws -> StepMetrics
    /// Tokens (attention-mask ones) the training examples feed the model.
    func tokenCount(examples: [Int]) -> Int
    /// Writes the trained model in Hugging Face layout into `directory` (which exists).
    func saveModel(to directory: URL) throws
    /// Restores trainable weights saved by ``saveModel(to:)``.
    func loadModel(from directory: URL) throws
    /// Adds metrics derived from the window's averages (KTO's `rewards/margins` is the difference of
    /// its windowed chosen and rejected means, as TRL computes it). Names are without `eval_`.
    func completeMetrics(_ averages: inout [String: Double])
    /// Where training example `index` came from, for messages: `pairs.jsonl:12`, or the index.
    func describeExample(_ index: Int) -> String
}

/// The schedule of an online objective (PPO, RLOO, GRPO): each generated batch consumes
/// `promptsPerBatch` data examples and is trained on for `updatesPerBatch` optimiser steps (PPO's
/// `num_ppo_epochs × num_mini_batches`). The loop then hands the same batch to `prepareStep` for
/// those steps, steps the learning-rate schedule once per batch (as TRL's online trainers do),
/// and counts epochs in batches.
public struct OnlineSchedule: Sendable, Hashable {
    public var promptsPerBatch: Int
    public var updatesPerBatch: Int
    public init(promptsPerBatch: Int, updatesPerBatch: Int) {
        precondition(promptsPerBatch > 0 && updatesPerBatch > 0, "an online schedule needs positive sizes")
        self.promptsPerBatch = promptsPerBatch; self.updatesPerBatch = updatesPerBatch
    }
}

extension TrainingObjective {
    /// Offline objectives train on each batch once.
    public var onlineSchedule: OnlineSchedule? { nil }
    public func updateExamples(_ step: Int, batch: [Int]) -> [Int] { batch }
    /// Offline objectives read their batches from the data set.
    public func prepareStep(_ step: Int, examples: [Int]) throws {}
    public func prepareStep(_ share: StepShare) throws { try prepareStep(share.step, examples: share.stepExamples) }
    /// Offline objectives have no state beyond weights and optimiser.
    public func checkpointState() -> JSONValue? { nil }
    public func restoreCheckpointState(_ state: JSONValue) throws {}

    /// Runs the shared ``Trainer`` loop on this objective into `outputDirectory` (metrics.jsonl,
    /// checkpoints, the final model), resuming from the newest checkpoint when `resume` is true.
    @discardableResult
    public func train(outputDirectory: URL, resume: Bool = false, progress: ((String) -> Void)? = nil,
                      onLog: (([String: Double]) -> Void)? = nil, onStepEnd: ((Int) throws -> Void)? = nil) throws -> Trainer.Summary {
        let trainer = Trainer(objective: self, configuration: trainingConfiguration, outputDirectory: outputDirectory)
        if let progress { trainer.progress = progress }
        trainer.onLog = onLog
        trainer.onStepEnd = onStepEnd
        return try trainer.train(resume: resume)
    }

    /// Most objectives log only averages.
    public func completeMetrics(_ averages: inout [String: Double]) {}
    /// The index itself (objectives with data files name the row).
    public func describeExample(_ index: Int) -> String { String(index) }
}

/// One rank's view of an optimiser step under data parallelism (one process: the whole step).
public struct StepShare {
    /// The optimiser step, 0-based.
    public let step: Int
    /// Every example of the step, in order, the same on every rank.
    public let stepExamples: [Int]
    /// The positions in ``stepExamples`` this rank trains on.
    public let localRange: Range<Int>
    /// The ranks of the run.
    public let communicator: any Communicator

    public init(step: Int, stepExamples: [Int], localRange: Range<Int>, communicator: any Communicator) {
        self.step = step; self.stepExamples = stepExamples; self.localRange = localRange; self.communicator = communicator
    }

    /// The examples this rank trains on.
    public var localExamples: [Int] { Array(stepExamples[localRange]) }

    /// `values` summed element-wise over ranks (floating-point order may differ from one process).
    public func sum(_ values: [Double]) -> [Double] { communicator.allReduceSum(values) }

    /// One value per example of the step, in step order, from each rank's values for its own
    /// ``localRange`` (`local.count == localRange.count`). Exact: the other positions are zeros
    /// in the sum, so the result is bit for bit what one process computing every value would hold.
    public func gather(_ local: [Double]) -> [Double] {
        precondition(local.count == localRange.count, "one value per local example")
        guard communicator.isDistributed else { return local }
        var full = [Double](repeating: 0, count: stepExamples.count)
        for (k, v) in local.enumerated() { full[localRange.lowerBound + k] = v }
        return communicator.allReduceSum(full)
    }
}

extension StepMetrics {
    /// Every rank's sums added together, in rank order (the same result on every rank).
    static func summed(_ mine: StepMetrics, over communicator: any Communicator) -> StepMetrics {
        var bytes: [UInt8] = []
        for key in mine.sums.keys.sorted() {
            let utf8 = Array(key.utf8)
            withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { bytes += $0 }
            bytes += utf8
            for x in mine.sums[key]! { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes += $0 } }
        }
        var total = StepMetrics()
        for part in communicator.allGather(bytes) {
            var i = 0
            func read<T: FixedWidthInteger>(_: T.Type) -> T {
                var x: T = 0
                for k in 0..<MemoryLayout<T>.size { x |= T(part[i + k]) << (8 * k) }
                i += MemoryLayout<T>.size
                return x
            }
            while i < part.count {
                let n = Int(read(UInt32.self))
                let key = String(decoding: part[i..<i + n], as: UTF8.self)
                i += n
                let sum = Double(bitPattern: read(UInt64.self)), weight = Double(bitPattern: read(UInt64.self))
                total.add(key, sum: sum, weight: weight)
            }
        }
        return total
    }
}
