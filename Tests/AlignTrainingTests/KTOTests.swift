import AlignData
import AlignModels
import AlignTensor
@testable import AlignTraining
import Foundation
import Testing
import TestSupport

/// KTO's first step against TRL 1.16 (Tests/Fixtures/kto): policy `models/llama`, reference a frozen
/// copy or `models/gpt2`, batch sizes 8 and 3, loss types `kto` and `apo_zero_unpaired`.
@Suite struct KTOTests {
    /// The first `count` prepared rows of `tokenized.json` (TRL's ids, before collation).
    static func examples(batchSize: Int, count: Int) throws -> [TokenizedUnpaired] {
        let rows = try Objectives.json("kto/tokenized.json")["bs\(batchSize)"] as! [[String: Any]]
        return rows.prefix(count).map {
            TokenizedUnpaired(promptIDs: Objectives.ints($0["prompt_ids"]), completionIDs: Objectives.ints($0["completion_ids"]),
                              label: $0["label"] as! Bool)
        }
    }

    static func trainer(group: String, batchSize: Int, loss: KTOLossType, examples: [TokenizedUnpaired],
                        training: TrainingConfiguration? = nil) throws -> KTOObjective {
        let policy = try DPOStepTests.model("llama")
        let reference: any CausalLanguageModel = group == "frozen_copy"
            ? try DPOStepTests.model("llama")
            : try GPT2LMHeadModel(directory: fixturesDirectory.appendingPathComponent("models/gpt2"))
        reference.freeze()
        var config = KTOConfiguration()
        config.training = training ?? Objectives.goldenTraining(batchSize: batchSize)
        config.lossType = loss
        config.maxLength = 64
        return try KTOObjective(policy: policy, reference: reference, configuration: config, trainExamples: examples,
                              padID: 0, saveModel: { _ in })
    }

    @Test(arguments: ["frozen_copy", "distinct_ref"], [8, 3])
    func firstStepMatchesTRL(_ group: String, _ batchSize: Int) throws {
        let examples = try Self.examples(batchSize: batchSize, count: batchSize)
        let batch = try GoldenFile("kto/batch.safetensors")
        for loss in KTOLossType.allCases {
            let t = try Self.trainer(group: group, batchSize: batchSize, loss: loss, examples: examples)
            let indices = Array(0..<batchSize)
            // The KL rows we build are TRL's: own prompt + the previous row's completion, cyclically.
            let collated = t.collator.collate(KTOObjective.withKLCompletions(indices, from: examples))
            #expect(collated.inputIDs == (try batch.ints("\(group).bs\(batchSize).input_ids")))
            #expect(collated.klInputIDs == (try batch.ints("\(group).bs\(batchSize).KL_input_ids")))
            let (lossTensor, metrics) = try t.trainingLoss(examples: indices, stepExamples: indices, scale: 1)
            lossTensor.backward()
            let trl = ((try Objectives.json("kto/metrics.json")["runs"] as! [String: Any])["\(group).bs\(batchSize).\(loss.rawValue)"] as! [String: Any])["first_step_metrics"] as! [String: Any]
            var m = metrics.averages
            t.completeMetrics(&m)
            let name = "\(group) bs\(batchSize) \(loss.rawValue)"
            for key in ["loss", "kl", "rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen", "logps/rejected",
                        "logits/chosen", "logits/rejected", "entropy"] {
                Objectives.expectMetric(m[key], trl[key], "\(name) \(key)", rtol: 1e-5, atol: 2e-6)
            }
            Objectives.expectMetric(Double(t.tokenCount(examples: indices)), trl["num_tokens"], "\(name) num_tokens")
            Objectives.expectMetric(Objectives.gradientNorm(t.trainableParameters), trl["grad_norm"], "\(name) grad_norm", rtol: 1e-4)
        }
    }

    @Test func batchSizeOneUsesAMismatchedPair() throws {
        let examples = try Self.examples(batchSize: 8, count: 3)
        // A single-example step takes the previous example's completion (cyclically over the data set).
        #expect(KTOObjective.withKLCompletions([0], from: examples)[0].klCompletionIDs == examples[2].completionIDs)
        #expect(KTOObjective.withKLCompletions([2], from: examples)[0].klCompletionIDs == examples[1].completionIDs)
        // Odd steps rotate within the step.
        let odd = KTOObjective.withKLCompletions([2, 0, 1], from: examples)
        #expect(odd.map(\.klCompletionIDs!) == [examples[1].completionIDs, examples[2].completionIDs, examples[0].completionIDs])

        var training = Objectives.goldenTraining(batchSize: 1)
        training.maxSteps = 3
        let t = try Self.trainer(group: "distinct_ref", batchSize: 1, loss: .kto, examples: examples, training: training)
        let kl = t.klEstimate([1], examples: examples)
        // The same single KL pair by hand: prompt 1 + completion 0.
        let pair = TokenizedUnpaired(promptIDs: examples[1].promptIDs, completionIDs: examples[0].completionIDs, label: true)
        let rows = KTOObjective.rows(t.collator.collate([pair])).main
        let byHand = KTOLoss.klEstimate(policyLogps: KTOLoss.logProbs(model: t.policy, rows: rows),
                                             referenceLogps: KTOLoss.logProbs(model: t.reference, rows: rows))
        #expect(kl == byHand && kl.isFinite)
        let directory = Objectives.temporaryDirectory()
        let summary = try t.train(outputDirectory: directory, progress: { _ in })
        #expect(summary.steps == 3)
        #expect(try Objectives.losses(directory).allSatisfy(\.isFinite))
    }

    @Test func gradientAccumulationEqualsOneLargeBatch() throws {
        let examples = try Self.examples(batchSize: 8, count: 8)
        var big = Objectives.goldenTraining(batchSize: 8)
        let one = try Self.trainer(group: "distinct_ref", batchSize: 8, loss: .kto, examples: examples, training: big)
        try one.train(outputDirectory: Objectives.temporaryDirectory(), progress: { _ in })
        big.batchSize = 2; big.gradientAccumulationSteps = 4
        let four = try Self.trainer(group: "distinct_ref", batchSize: 2, loss: .kto, examples: examples, training: big)
        try four.train(outputDirectory: Objectives.temporaryDirectory(), progress: { _ in })
        let a = one.policy.namedParameters().flatMap { $0.parameter.value.toArray() }
        let b = four.policy.namedParameters().flatMap { $0.parameter.value.toArray() }
        expectClose(b, a, atol: 1e-7, rtol: 1e-5, "KTO 4×2 vs 1×8")
    }

    @Test func weightRatioWarning() {
        var c = KTOConfiguration()
        #expect(c.weightRatioWarning(desirable: 5, undesirable: 5) == nil)
        #expect(c.weightRatioWarning(desirable: 6, undesirable: 5) == nil)   // 1.2
        #expect(c.weightRatioWarning(desirable: 5, undesirable: 3) != nil)   // 1.67
        c.undesirableWeight = 5.0 / 3.0
        #expect(c.weightRatioWarning(desirable: 5, undesirable: 3) == nil)   // 1
        #expect(c.weightRatioWarning(desirable: 3, undesirable: 5) != nil)
    }

    @Test func lossGoesDownThroughTheTrainer() throws {
        let examples = try Self.examples(batchSize: 8, count: 4)
        var training = TrainingConfiguration()
        training.learningRate = 3e-3; training.batchSize = 4; training.maxSteps = 6; training.loggingSteps = 1
        training.shuffle = false; training.lrScheduler = .constant
        let t = try Self.trainer(group: "distinct_ref", batchSize: 4, loss: .kto, examples: examples, training: training)
        let directory = Objectives.temporaryDirectory()
        try t.train(outputDirectory: directory, progress: { _ in })
        let losses = try Objectives.losses(directory)
        #expect(losses.count == 6 && losses.last! < losses.first! - 0.01, "KTO losses \(losses)")
    }
}
