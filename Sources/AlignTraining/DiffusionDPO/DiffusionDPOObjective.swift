import AlignDiffusion
import AlignJSON
import AlignKernels
import AlignTensor
import Foundation

/// Diffusion-DPO as a ``TrainingObjective`` on the shared loop: each micro-batch draws one t and one ε
/// per pair (shared by winner and loser), noises both images with the model folder's scheduler, and
/// scores the policy against a frozen reference copy with ``DiffusionDPOLoss``.
///
/// The draws are a pure function of (seed, step, micro-batch), so `--resume` repeats them exactly.
public final class DiffusionDPOObjective: TrainingObjective {
    public let policy: UNet2DModel
    public let reference: UNet2DModel
    public let scheduler: NoiseScheduler
    public let configuration: DiffusionDPOConfiguration
    public let pairs: ImagePairs
    public let evalPairs: ImagePairs?
    let saveModelHandler: (URL) throws -> Void
    /// Every micro-batch's draws, in order, when recording (`--dump-noise`).
    public var recordNoise = false
    public private(set) var recordedNoise: [(timesteps: [Int], noise: Tensor)] = []
    var stepIndex = 0, microIndex = 0, currentStep: [Int] = []

    public init(policy: UNet2DModel, reference: UNet2DModel, scheduler: NoiseScheduler, configuration: DiffusionDPOConfiguration,
                pairs: ImagePairs, evalPairs: ImagePairs? = nil, saveModel: @escaping (URL) throws -> Void) throws {
        try configuration.validate()
        guard pairs.chosen.shape == [policy.configuration.inChannels, pairs.chosen.height, pairs.chosen.width] else {
            throw TrainingError.invalidConfiguration("pairs have \(pairs.chosen.channels) channels; the model takes \(policy.configuration.inChannels)")
        }
        if let classes = policy.configuration.numClassEmbeds, let bad = pairs.labels.first(where: { $0 < 0 || $0 >= classes }) {
            throw TrainingError.invalidConfiguration("class label \(bad) is outside the model's 0..<\(classes)")
        }
        self.policy = policy; self.reference = reference; self.scheduler = scheduler
        self.configuration = configuration; self.pairs = pairs; self.evalPairs = evalPairs
        self.saveModelHandler = saveModel
    }

    public var trainingConfiguration: TrainingConfiguration { configuration.training }
    public var trainExampleCount: Int { pairs.count }
    public var evalExampleCount: Int { evalPairs?.count ?? 0 }
    public var trainableParameters: [(name: String, parameter: Parameter)] { policy.trainableParameters() }
    public func prepare(log: (String) -> Void) throws {}

    public func prepareStep(_ step: Int, examples: [Int]) throws {
        stepIndex = step; microIndex = 0; currentStep = examples
    }

    /// The t and ε of micro-batch `micro` of step `step`: one t in 0..<T and one standard normal image per pair.
    public func draws(step: Int, micro: Int, count: Int, salt: UInt64 = 0) -> (timesteps: [Int], noise: Tensor) {
        var g = RandomGenerator(seed: configuration.training.seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(bitPattern: Int64(step)) &* 1_000_003 &+ UInt64(micro) &+ salt)
        let t = (0..<count).map { _ in g.nextInt(below: scheduler.configuration.numTrainTimesteps) }
        let noise = Tensor.randomNormal([count] + pairs.chosen.shape, generator: &g)
        return (t, noise)
    }

    public func trainingLoss(examples: [Int], stepExamples: [Int], scale: Float) throws -> (loss: Tensor, metrics: StepMetrics) {
        let (t, noise): ([Int], Tensor)
        if stepExamples == currentStep {
            (t, noise) = draws(step: stepIndex, micro: microIndex, count: examples.count)
            microIndex += 1
            if recordNoise { recordedNoise.append((t, noise)) }
        } else {
            (t, noise) = draws(step: stepIndex, micro: 1_000_000 + (examples.first ?? 0), count: examples.count)
        }
        let w = pairs.chosen.batch(examples), l = pairs.rejected.batch(examples)
        let r = DiffusionDPOLoss.evaluate(policy: policy, reference: reference, scheduler: scheduler, chosen: w.images, rejected: l.images,
                                          labels: w.labels, timesteps: t, noise: noise, beta: configuration.betaDPO,
                                          sftWeight: configuration.sftWeight, scale: scale)
        return (r.loss, r.metrics)
    }

    public func evaluationMetrics(examples: [Int]) throws -> StepMetrics {
        guard let evalPairs else { return StepMetrics() }
        // Fixed draws per evaluation example, so evaluations at different steps compare.
        return withNoGrad {
            var m = StepMetrics()
            for chunk in stride(from: 0, to: examples.count, by: configuration.training.batchSize) {
                let ids = Array(examples[chunk..<min(chunk + configuration.training.batchSize, examples.count)])
                let (t, noise) = draws(step: -1, micro: chunk, count: ids.count, salt: 77)
                let w = evalPairs.chosen.batch(ids), l = evalPairs.rejected.batch(ids)
                m.merge(DiffusionDPOLoss.evaluate(policy: policy, reference: reference, scheduler: scheduler, chosen: w.images, rejected: l.images,
                                                  labels: w.labels, timesteps: t, noise: noise, beta: configuration.betaDPO,
                                                  sftWeight: configuration.sftWeight).metrics)
            }
            return m
        }
    }

    public func tokenCount(examples: [Int]) -> Int { 2 * examples.count }
    public func describeExample(_ index: Int) -> String { "pair \(index)" }
    public func saveModel(to directory: URL) throws { try saveModelHandler(directory) }
    public func loadModel(from directory: URL) throws { try policy.loadWeights(from: directory) }
}
