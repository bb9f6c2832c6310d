import AlignData
import AlignModels
import AlignTensor
@testable import AlignTraining
import Foundation
import Testing
import TestSupport

/// SFT's first step against TRL 1.16's SFTObjective and transformers' causal-LM loss (Tests/Fixtures/sft).
@Suite struct SFTTests {
    static func sequences() throws -> [TokenizedSequence] {
        let rows = try Objectives.json("sft/metrics.json")["tokenized"] as! [[String: Any]]
        return rows.map { TokenizedSequence(inputIDs: Objectives.ints($0["input_ids"]), labels: Objectives.ints($0["labels"])) }
    }

    static func trainer(_ training: TrainingConfiguration, packing: Bool = false, sequences: [TokenizedSequence]? = nil) throws -> SFTObjective {
        var config = SFTConfiguration()
        config.training = training
        config.maxLength = 64
        config.packing = packing
        return try SFTObjective(model: try DPOStepTests.model("llama"), configuration: config,
                              trainSequences: sequences ?? Self.sequences(), padID: 0, saveModel: { _ in })
    }

    @Test func firstStepMatchesTRLAndTransformers() throws {
        let golden = try Objectives.json("sft/metrics.json")
        let trl = golden["first_step_metrics"] as! [String: Any]
        let t = try Self.trainer(Objectives.goldenTraining(batchSize: 8))
        // Our collated batch is TRL's.
        let batch = try GoldenFile("sft/batch.safetensors")
        let rows = t.batch(Array(0..<8))
        #expect(rows.ids == (try batch.ints("input_ids")))
        let labels = try batch.ints("labels")
        #expect(rows.completionMask == labels.map { $0 == -100 ? 0 : 1 })
        let (loss, metrics) = try t.trainingLoss(examples: Array(0..<8), stepExamples: Array(0..<8), scale: 1)
        loss.backward()
        let m = metrics.averages
        Objectives.expectMetric(Double(loss.item()), trl["loss"], "loss (TRL)")
        Objectives.expectMetric(Double(loss.item()), golden["transformers_causal_lm_loss"], "loss (transformers)")
        Objectives.expectMetric(m["loss"], golden["causal_lm_loss_f64"], "logged loss (float64 by hand)")
        Objectives.expectMetric(m["mean_token_accuracy"], trl["mean_token_accuracy"], "mean_token_accuracy")
        Objectives.expectMetric(m["entropy"], trl["entropy"], "entropy")
        Objectives.expectMetric(Double(t.tokenCount(examples: Array(0..<8))), trl["num_tokens"], "num_tokens")
        Objectives.expectMetric(Objectives.gradientNorm(t.trainableParameters), trl["grad_norm"], "grad_norm", rtol: 1e-4)
    }

    @Test func gradientAccumulationEqualsOneLargeBatch() throws {
        var training = Objectives.goldenTraining(batchSize: 8)
        let one = try Self.trainer(training)
        try one.train(outputDirectory: Objectives.temporaryDirectory(), progress: { _ in })
        training.batchSize = 2; training.gradientAccumulationSteps = 4
        let four = try Self.trainer(training)
        try four.train(outputDirectory: Objectives.temporaryDirectory(), progress: { _ in })
        // TRL itself differs here by 8e-5 (it averages per micro-batch); the step-level token mean does not.
        expectClose(four.model.namedParameters().flatMap { $0.parameter.value.toArray() },
                    one.model.namedParameters().flatMap { $0.parameter.value.toArray() }, atol: 1e-7, rtol: 1e-5, "SFT 4×2 vs 1×8")
    }

    @Test func packedRowsScoreLikeSeparateExamples() throws {
        // Short sequences so several share a packed row of 64.
        let short = try Self.sequences().map { TokenizedSequence(inputIDs: Array($0.inputIDs.prefix(20)), labels: Array($0.labels.prefix(20))) }
        let packed = try Self.trainer(Objectives.goldenTraining(batchSize: 8), packing: true, sequences: short)
        #expect(packed.trainExampleCount < short.count)
        let plain = try Self.trainer(Objectives.goldenTraining(batchSize: 8), sequences: short)
        let a = withNoGrad { SFTLoss.evaluate(model: packed.model, rows: packed.batch(Array(0..<packed.trainExampleCount))) }
        let b = withNoGrad { SFTLoss.evaluate(model: plain.model, rows: plain.batch(Array(0..<8))) }
        // Packing drops each segment's first label, which is never scored unpacked either.
        expectClose([a.loss.item()], [b.loss.item()], atol: 1e-6, rtol: 1e-5, "packed vs unpacked loss")
        #expect(packed.tokenCount(examples: Array(0..<packed.trainExampleCount)) == short.reduce(0) { $0 + $1.inputIDs.count })
    }

    /// Resume reads the checkpoint's Hugging Face folder, including GPT-2's transposed Conv1D layout.
    @Test func resumeFromACheckpointContinuesExactly() throws {
        let gpt2 = fixturesDirectory.appendingPathComponent("models/gpt2")
        var config = SFTConfiguration()
        config.maxLength = 64
        config.training.learningRate = 1e-3; config.training.batchSize = 2; config.training.maxSteps = 4
        config.training.saveSteps = 2; config.training.loggingSteps = 1
        func run(_ directory: URL, resume: Bool) throws -> [Float] {
            let model = try GPT2LMHeadModel(directory: gpt2)
            let t = try SFTObjective(model: model, configuration: config, trainSequences: Array(try Self.sequences().prefix(4)), padID: 0) {
                try saveCausalLanguageModel(model, to: $0, sourceDirectory: gpt2)
            }
            try t.train(outputDirectory: directory, resume: resume, progress: { _ in })
            return model.namedParameters().flatMap { $0.parameter.value.toArray() }
        }
        let straight = Objectives.temporaryDirectory(), resumed = Objectives.temporaryDirectory()
        let a = try run(straight, resume: false)
        try FileManager.default.createDirectory(at: resumed, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: straight.appendingPathComponent("checkpoint-2"), to: resumed.appendingPathComponent("checkpoint-2"))
        #expect(try run(resumed, resume: true) == a)
    }

    @Test func lossGoesDownThroughTheTrainer() throws {
        var training = TrainingConfiguration()
        training.learningRate = 3e-3; training.batchSize = 4; training.maxSteps = 6; training.loggingSteps = 1
        training.lrScheduler = .constant
        let t = try Self.trainer(training, sequences: Array(try Self.sequences().prefix(4)))
        let directory = Objectives.temporaryDirectory()
        try t.train(outputDirectory: directory, progress: { _ in })
        let losses = try Objectives.losses(directory)
        #expect(losses.count == 6 && losses.last! < losses.first! - 0.1, "SFT losses \(losses)")
    }
}
