import AlignDiffusion
import AlignKernels
import AlignTensor
import AlignTraining
import Foundation
import Testing
import TestSupport

/// Diffusion-DPO on the shared trainer: the first logged row is the batch before the update (policy =
/// reference: loss log 2, margin 0), accumulation draws one (t, ε) per micro-batch, and the saved
/// folder is a diffusers folder again.
@Suite struct DiffusionObjectiveTests {
    static func tinyUNet() throws -> UNet2DModel {
        var c = UNet2DConfiguration()
        c.sampleSize = 4; c.inChannels = 1; c.outChannels = 1
        c.blockOutChannels = [4, 4]; c.layersPerBlock = 1; c.normNumGroups = 2; c.attentionHeadDim = 2
        c.downBlockTypes = ["DownBlock2D", "AttnDownBlock2D"]; c.upBlockTypes = ["AttnUpBlock2D", "UpBlock2D"]
        c.numClassEmbeds = 3
        return try UNet2DModel(configuration: c, seed: 7)
    }

    @Test func trainsOnTheSharedLoop() throws {
        let policy = try Self.tinyUNet()
        let reference = try policy.frozenCopy()
        let n = 6
        func images(_ seed: UInt64) -> ImageSet {
            ImageSet(pixels: randomTensor([n, 1, 4, 4], seed: seed).toArray(), labels: (0..<n).map { $0 % 3 }, channels: 1, height: 4, width: 4)
        }
        var config = DiffusionDPOConfiguration()
        config.betaDPO = 50
        config.training.learningRate = 1e-3
        config.training.batchSize = 2
        config.training.gradientAccumulationSteps = 2
        config.training.maxSteps = 2
        config.training.loggingSteps = 1
        let out = testScratchDirectory.appendingPathComponent("align-ddpo-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let objective = try DiffusionDPOObjective(policy: policy, reference: reference, scheduler: NoiseScheduler(SchedulerConfiguration()),
                                                  configuration: config, pairs: ImagePairs(chosen: images(1), rejected: images(2))) { try policy.save(to: $0) }
        objective.recordNoise = true
        let summary = try objective.train(outputDirectory: out, progress: { _ in })
        #expect(summary.steps == 2)
        #expect(objective.recordedNoise.count == 4)
        #expect(objective.recordedNoise.allSatisfy { $0.timesteps.count == 2 && $0.noise.shape == [2, 1, 4, 4] })
        let rows = try String(contentsOf: out.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        let first = try JSONSerialization.jsonObject(with: Data(rows[0].utf8)) as! [String: Any]
        #expect(abs((first["loss"] as! Double) - log(2)) < 1e-6)
        #expect((first["reward_margin"] as! Double) == 0)
        for key in ["implicit_acc", "mse_w", "mse_l", "ref_mse_w", "ref_mse_l"] { #expect(first[key] != nil, "\(key)") }
        let saved = try UNet2DModel(folder: out)
        #expect(saved.namedParameters().count == policy.namedParameters().count)
        // The policy moved away from the frozen reference.
        let moved = zip(policy.namedParameters(), reference.namedParameters()).contains { $0.1.value.toArray() != $1.1.value.toArray() }
        #expect(moved)
    }
}
