import AlignData
import AlignModelIO
import AlignModels
import AlignTensor
import AlignTokenizers
@testable import AlignTraining
import Foundation
import Testing
import TestSupport

/// The Bradley–Terry reward model against TRL 1.16's RewardObjective (Tests/Fixtures/reward):
/// `LlamaForSequenceClassification` with the `models/llama` body and the fixture's score head.
@Suite struct RewardTests {
    static func model() throws -> RewardModel {
        let m = try RewardModel(directory: fixturesDirectory.appendingPathComponent("models/llama"))
        m.score.weight.assign(try GoldenFile("reward/score.safetensors").tensor("score.weight"))
        return m
    }

    @Test(arguments: ["max_length64", "max_length128"])
    func firstStepMatchesTRL(_ run: String) throws {
        let model = try Self.model()
        let batch = try GoldenFile("reward/batch.safetensors")
        let ids = try batch.ints("\(run).input_ids")
        let rows = try batch.tensor("\(run).rewards").count
        let length = ids.count / rows
        let r = RewardLoss.evaluate(model: model, ids: ids, pairs: rows / 2, length: length, margins: nil, centerCoefficient: 0.01)
        expectClose(r.rewards, try batch.tensor("\(run).rewards").toArray(), atol: 1e-5, rtol: 1e-5, "\(run) rewards")
        r.loss.backward()
        let trl = ((try Objectives.json("reward/metrics.json")["runs"] as! [String: Any])[run] as! [String: Any])["first_step_metrics"] as! [String: Any]
        let m = r.metrics.averages
        for key in ["loss", "accuracy", "margin", "min_reward", "mean_reward", "max_reward"] {
            Objectives.expectMetric(m[key], trl[key], "\(run) \(key)")
        }
        let mask = try batch.tensor("\(run).attention_mask").toArray().reduce(0, +)
        Objectives.expectMetric(Double(mask), trl["num_tokens"], "\(run) num_tokens")
        Objectives.expectMetric(Objectives.gradientNorm(model.trainableParameters()), trl["grad_norm"], "\(run) grad_norm", rtol: 1e-4)
    }

    @Test func marginAndCentringEnterTheLoss() throws {
        let model = try Self.model()
        let batch = try GoldenFile("reward/batch.safetensors")
        let ids = try batch.ints("max_length128.input_ids")
        let r = try batch.tensor("max_length128.rewards").toArray()
        let margins: [Float] = [0.5, 0, 1, 0.25, 0, 2, 0.1, 0]
        let ours = withNoGrad {
            RewardLoss.evaluate(model: model, ids: ids, pairs: 8, length: 85, margins: margins, centerCoefficient: 0.3).loss.item()
        }
        var expected = 0.0
        for i in 0..<8 {
            let z = Double(r[i] - r[8 + i] - margins[i])
            expected += -(-log1p(exp(-z))) / 8 + 0.3 * pow(Double(r[i] + r[8 + i]), 2) / 8
        }
        #expect(abs(Double(ours) - expected) < 1e-5 * abs(expected), "ours \(ours), by hand \(expected)")
    }

    @Test func savedFolderLoadsBackWithIdenticalScores() throws {
        let model = try Self.model()
        let directory = Objectives.temporaryDirectory()
        try model.save(to: directory, sourceDirectory: fixturesDirectory.appendingPathComponent("models/llama"))
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("config.json"))) as! [String: Any]
        #expect(config["architectures"] as? [String] == ["LlamaForSequenceClassification"])
        #expect(config["num_labels"] as? Int == 1)
        #expect(config["id2label"] as? [String: String] == ["0": "LABEL_0"])
        #expect(config["label2id"] as? [String: Int] == ["LABEL_0": 0])
        #expect(config["pad_token_id"] as? Int == 0)
        let file = try SafetensorsFile(url: directory.appendingPathComponent("model.safetensors"))
        #expect(file.tensorNames.contains("score.weight") && !file.tensorNames.contains("lm_head.weight"))
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("tokenizer.json").path))

        let loaded = try RewardModel(directory: directory)
        let sequences: [[Int32]] = [[264, 293, 86, 266, 71, 2], [35, 290, 73, 223, 259, 78, 0, 2], [42]]
        #expect(loaded.score(sequences) == model.score(sequences))
        // score(...) reads each sequence's own last token: equal to the batch's padded reward.
        let batch = try GoldenFile("reward/batch.safetensors")
        let ids = try batch.ints("max_length128.input_ids"), mask = try batch.tensor("max_length128.attention_mask").toArray()
        let texts = (0..<16).map { r in (0..<85).filter { mask[r * 85 + $0] != 0 }.map { ids[r * 85 + $0] } }
        expectClose(loaded.score(texts, batchSize: 5), try batch.tensor("max_length128.rewards").toArray(), atol: 1e-5, rtol: 1e-5, "score()")
    }

    @Test func scoringTextTokenisesAsTraining() throws {
        let model = try Self.model()
        let encoder = try ExampleEncoder(tokenizer: try Tokenizer(directory: fixturesDirectory.appendingPathComponent("models/llama")))
        let lines = try String(contentsOf: fixturesDirectory.appendingPathComponent("dpo/pairs.jsonl"), encoding: .utf8).split(separator: "\n")
        let golden = try GoldenFile("reward/batch.safetensors").tensor("max_length128.rewards").toArray()
        for (i, line) in lines.prefix(3).enumerated() {
            let row = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: String]
            let scores = try model.score(prompt: .text(row["prompt"]!), completions: [.text(row["chosen"]!), .text(row["rejected"]!)],
                                         encoder: encoder)
            expectClose(scores, [golden[i], golden[8 + i]], atol: 1e-5, rtol: 1e-5, "pair \(i) scored from text")
        }
    }

    @Test func freshHeadFromACausalLMFolder() throws {
        let a = try RewardModel(directory: fixturesDirectory.appendingPathComponent("models/llama"), seed: 1)
        let b = try RewardModel(directory: fixturesDirectory.appendingPathComponent("models/llama"), seed: 1)
        let w = a.score.weight.value.toArray()
        #expect(w == b.score.weight.value.toArray() && w.count == 32)
        // transformers' init for a new Linear: N(0, initializer_range²); the fixture's range is 0.1.
        let std = (w.map { Double($0 * $0) }.reduce(0, +) / 32).squareRoot()
        #expect(std > 0.05 && std < 0.2, "score std \(std)")
    }

    @Test func lossGoesDownThroughTheTrainer() throws {
        let batch = try GoldenFile("reward/batch.safetensors")
        let ids = try batch.ints("max_length128.input_ids"), mask = try batch.tensor("max_length128.attention_mask").toArray()
        let texts = (0..<16).map { r in (0..<85).filter { mask[r * 85 + $0] != 0 }.map { ids[r * 85 + $0] } }
        let pairs = (0..<4).map { TokenizedPair(promptIDs: [], chosenIDs: texts[$0], rejectedIDs: texts[8 + $0]) }
        var config = RewardConfiguration()
        config.training.learningRate = 1e-3; config.training.batchSize = 4; config.training.maxSteps = 6
        config.training.loggingSteps = 1; config.training.lrScheduler = .constant
        let model = try Self.model()
        let trainer = try RewardObjective(model: model, configuration: config, trainPairs: pairs)
        let directory = Objectives.temporaryDirectory()
        try trainer.train(outputDirectory: directory, progress: { _ in })
        let losses = try Objectives.losses(directory)
        #expect(losses.count == 6 && losses.last! < losses.first! - 0.05, "reward losses \(losses)")
        // The final folder is a reward model again.
        let reloaded = try RewardModel(directory: directory)
        #expect(reloaded.score([texts[0]]) == model.score([texts[0]]))
    }
}
