import AlignDiffusion
import AlignKernels
import AlignTensor
import Foundation

/// ε-prediction pretraining of a (class-conditional) UNet2DModel as a ``TrainingObjective``: for each
/// image a uniform t and a standard normal ε, x_t from the scheduler's `add_noise`, and the mean
/// squared error between the model's ε̂(x_t, t, class) and ε (diffusers' unconditional training example).
/// The draws are a pure function of (seed, step, micro-batch), so `--resume` repeats them.
public final class DenoiserObjective: TrainingObjective {
    public let model: UNet2DModel
    public let scheduler: NoiseScheduler
    public let configuration: DenoiserConfiguration
    public let images: ImageSet
    public let evalImages: ImageSet?
    let saveModelHandler: (URL) throws -> Void
    var stepIndex = 0, microIndex = 0

    public init(model: UNet2DModel, scheduler: NoiseScheduler, configuration: DenoiserConfiguration, images: ImageSet,
                evalImages: ImageSet? = nil, saveModel: @escaping (URL) throws -> Void) throws {
        try configuration.validate()
        guard images.shape == [model.configuration.inChannels, images.height, images.width] else {
            throw TrainingError.invalidConfiguration("images have \(images.channels) channels; the model takes \(model.configuration.inChannels)")
        }
        self.model = model; self.scheduler = scheduler; self.configuration = configuration
        self.images = images; self.evalImages = evalImages; self.saveModelHandler = saveModel
    }

    public var trainingConfiguration: TrainingConfiguration { configuration.training }
    public var trainExampleCount: Int { images.count }
    public var evalExampleCount: Int { evalImages?.count ?? 0 }
    public var trainableParameters: [(name: String, parameter: Parameter)] { model.trainableParameters() }
    public func prepare(log: (String) -> Void) throws {}
    public func prepareStep(_ step: Int, examples: [Int]) throws { stepIndex = step; microIndex = 0 }

    func loss(_ set: ImageSet, _ ids: [Int], step: Int, micro: Int) -> (Tensor, StepMetrics) {
        var g = RandomGenerator(seed: configuration.training.seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(bitPattern: Int64(step)) &* 7_919 &+ UInt64(micro))
        let t = ids.map { _ in g.nextInt(below: scheduler.configuration.numTrainTimesteps) }
        let (x, labels) = set.batch(ids)
        let noise = Tensor.randomNormal(x.shape, generator: &g)
        let noisy = DiffusionDPOLoss.addNoise(x, noise: noise, timesteps: t, scheduler: scheduler)
        let pred = model(noisy, timesteps: t.map(Float.init), classLabels: model.configuration.numClassEmbeds == nil ? nil : labels)
        let loss = (pred - noise).square().mean()
        var m = StepMetrics()
        m.add("loss", sum: Double(loss.item()) * Double(ids.count), weight: Double(ids.count))
        return (loss, m)
    }

    public func trainingLoss(examples: [Int], stepExamples: [Int], scale: Float) throws -> (loss: Tensor, metrics: StepMetrics) {
        let (l, m) = loss(images, examples, step: stepIndex, micro: microIndex)
        microIndex += 1
        return (scale == 1 ? l : l * scale, m)
    }

    public func evaluationMetrics(examples: [Int]) throws -> StepMetrics {
        guard let evalImages else { return StepMetrics() }
        return withNoGrad {
            var m = StepMetrics()
            for start in stride(from: 0, to: examples.count, by: configuration.training.batchSize) {
                let ids = Array(examples[start..<min(start + configuration.training.batchSize, examples.count)])
                m.merge(loss(evalImages, ids, step: -1, micro: start).1)
            }
            return m
        }
    }

    public func tokenCount(examples: [Int]) -> Int { examples.count }
    public func describeExample(_ index: Int) -> String { "image \(index)" }
    public func saveModel(to directory: URL) throws { try saveModelHandler(directory) }
    public func loadModel(from directory: URL) throws { try model.loadWeights(from: directory) }
}

/// Cross-entropy training of the reward's ``ImageClassifier``; metrics `loss` and `accuracy`.
public final class ClassifierObjective: TrainingObjective {
    public let model: ImageClassifier
    public let configuration: ClassifierConfiguration
    public let images: ImageSet
    public let evalImages: ImageSet?
    let saveModelHandler: (URL) throws -> Void

    public init(model: ImageClassifier, configuration: ClassifierConfiguration, images: ImageSet, evalImages: ImageSet? = nil,
                saveModel: @escaping (URL) throws -> Void) throws {
        try configuration.validate()
        self.model = model; self.configuration = configuration; self.images = images; self.evalImages = evalImages
        self.saveModelHandler = saveModel
    }

    public var trainingConfiguration: TrainingConfiguration { configuration.training }
    public var trainExampleCount: Int { images.count }
    public var evalExampleCount: Int { evalImages?.count ?? 0 }
    public var trainableParameters: [(name: String, parameter: Parameter)] { model.trainableParameters() }
    public func prepare(log: (String) -> Void) throws {}

    func loss(_ set: ImageSet, _ ids: [Int]) -> (Tensor, StepMetrics) {
        let (x, labels) = set.batch(ids)
        let logits = model(x)
        let loss = logits.crossEntropy(targets: labels.map { Int32($0) })
        let v = logits.toArray(), k = model.classes
        var correct = 0
        for (i, label) in labels.enumerated() {
            let row = v[i * k..<(i + 1) * k]
            if row.firstIndex(of: row.max()!)! - i * k == label { correct += 1 }
        }
        var m = StepMetrics()
        m.add("loss", sum: Double(loss.item()) * Double(ids.count), weight: Double(ids.count))
        m.add("accuracy", sum: Double(correct), weight: Double(ids.count))
        return (loss, m)
    }

    public func trainingLoss(examples: [Int], stepExamples: [Int], scale: Float) throws -> (loss: Tensor, metrics: StepMetrics) {
        let (l, m) = loss(images, examples)
        return (scale == 1 ? l : l * scale, m)
    }

    public func evaluationMetrics(examples: [Int]) throws -> StepMetrics {
        guard let evalImages else { return StepMetrics() }
        return withNoGrad {
            var m = StepMetrics()
            for start in stride(from: 0, to: examples.count, by: 500) {
                m.merge(loss(evalImages, Array(examples[start..<min(start + 500, examples.count)])).1)
            }
            return m
        }
    }

    public func tokenCount(examples: [Int]) -> Int { examples.count }
    public func describeExample(_ index: Int) -> String { "image \(index)" }
    public func saveModel(to directory: URL) throws { try saveModelHandler(directory) }
    public func loadModel(from directory: URL) throws { try model.loadWeights(from: directory) }
}
