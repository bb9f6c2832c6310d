import AlignJSON
import AlignTensor
import Foundation

/// What an objective (DPO, KTO, SFT, reward modelling, ...) plugs into the shared ``Trainer``
/// loop: it owns its data and model, turns example indices into a scaled loss plus metrics, and
/// saves or restores its trainable model. The loop owns everything else: order, accumulation,
/// clipping, the optimiser, the schedule, logging, evaluation, checkpoints and resume.
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
