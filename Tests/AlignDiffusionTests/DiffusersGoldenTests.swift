import AlignDiffusion
import AlignKernels
import AlignModelIO
import AlignNN
import AlignTensor
import AlignTraining
import Foundation
import Testing
import TestSupport

/// Align's UNet2DModel, schedulers and Diffusion-DPO loss against diffusers (fp32, CPU), on the
/// random tiny checkpoints of scripts/fixtures/make_diffusion_goldens.py.
@Suite struct DiffusersGoldenTests {
    static let folder = fixturesDirectory.appendingPathComponent("diffusion")

    @Test(arguments: ["cond", "uncond", "plain"])
    func predictMatchesDiffusers(_ name: String) throws {
        let unet = try UNet2DModel(folder: Self.folder.appendingPathComponent("unet_\(name)"))
        let g = try GoldenFile("diffusion/predict_\(name).safetensors")
        let t = try g.ints("timestep").map { Float($0) }
        let labels = unet.configuration.numClassEmbeds == nil ? nil : try g.ints("class_labels").map { Int($0) }
        let out = withNoGrad { unet(try! g.tensor("sample"), timesteps: t, classLabels: labels) }
        let expected = try g.tensor("expected")
        #expect(out.shape == expected.shape)
        expectClose(out, expected, atol: 1e-4, rtol: 1e-4, "ε of unet_\(name)")
    }

    @Test func saveWritesWhatDiffusersWrote() throws {
        let source = Self.folder.appendingPathComponent("unet_uncond")
        let unet = try UNet2DModel(folder: source)
        let out = testScratchDirectory.appendingPathComponent("align-unet-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        try unet.save(to: out)
        #expect(try Data(contentsOf: out.appendingPathComponent("config.json")) == Data(contentsOf: source.appendingPathComponent("config.json")))
        let again = try UNet2DModel(folder: out)
        for ((n, a), (_, b)) in zip(again.namedParameters(), unet.namedParameters()) {
            #expect(a.value.toArray() == b.value.toArray(), "\(n)")
        }
    }

    @Test(arguments: ["ddpm_linear_t999", "ddpm_linear_t0", "ddpm_linear_t1_noclip", "ddpm_cos_k50", "ddpm_cos_k50_last",
                      "ddim_linear_k50", "ddim_cos_k20_eta", "ddim_linear_k10_last"])
    func schedulerStepMatchesDiffusers(_ name: String) throws {
        let configURL = Self.folder.appendingPathComponent("scheduler_\(name)/scheduler_config.json")
        let config = try SchedulerConfiguration(contentsOf: configURL)
        #expect(Data(config.json()) == (try Data(contentsOf: configURL)), "scheduler_config.json written back byte for byte")
        let g = try GoldenFile("diffusion/scheduler_\(name).safetensors")
        var s = NoiseScheduler(config)
        if let k = g.metadata("num_inference_steps").flatMap(Int.init) { try s.setTimesteps(k) }
        let eta = Float(g.metadata("eta") ?? "0") ?? 0
        let (prev, x0) = try s.step(modelOutput: g.tensor("model_output").toArray(), timestep: Int(g.ints("timestep")[0]),
                                    sample: g.tensor("sample").toArray(), noise: g.tensor("noise").toArray(), eta: eta)
        expectClose(x0, try g.tensor("expected_pred_original_sample").toArray(), atol: 1e-5, rtol: 1e-5, "\(name) pred_original_sample")
        expectClose(prev, try g.tensor("expected_prev_sample").toArray(), atol: 1e-5, rtol: 1e-5, "\(name) prev_sample")
    }

    /// Loss, implicit accuracy, the mse terms and the weights after one SGD step (lr 0.1, β 50, λ 0.25)
    /// against train.py's formula run with diffusers' UNet on the same t and ε.
    @Test func diffusionDPOStepMatchesPublicFormula() throws {
        let g = try GoldenFile("diffusion/dpo.safetensors")
        let reference = try UNet2DModel(folder: Self.folder.appendingPathComponent("unet_cond"))
        reference.freeze()
        let policy = try UNet2DModel(folder: Self.folder.appendingPathComponent("unet_cond"))
        for (name, p) in policy.namedParameters() { p.assign(try g.tensor("start." + name)) }
        let scheduler = NoiseScheduler(try SchedulerConfiguration(contentsOf: Self.folder.appendingPathComponent("unet_cond/scheduler_config.json")))
        let beta = Float(g.metadata("beta")!)!, lr = Float(g.metadata("lr")!)!, lambda = Float(g.metadata("sft_weight")!)!
        let r = DiffusionDPOLoss.evaluate(policy: policy, reference: reference, scheduler: scheduler,
                                          chosen: try g.tensor("chosen"), rejected: try g.tensor("rejected"),
                                          labels: try g.ints("class_labels").map { Int($0) }, timesteps: try g.ints("timesteps").map { Int($0) },
                                          noise: try g.tensor("noise"), beta: beta, sftWeight: lambda)
        let m = r.metrics.averages
        for key in ["implicit_acc", "mse_w", "mse_l", "ref_mse_w", "ref_mse_l", "reward_margin"] {
            expectClose([Float(m[key]!)], [try g.tensor(key).item()], atol: 1e-4, rtol: 1e-4, key)
        }
        expectClose([r.loss.item()], [try g.tensor("loss").item()], atol: 1e-4, rtol: 1e-4, "loss")
        r.loss.backward()
        for (name, p) in policy.namedParameters() {
            let updated = withNoGrad { p.value - p.grad! * lr }
            expectClose(updated, try g.tensor("updated." + name), atol: 1e-4, rtol: 1e-4, "\(name) after one SGD step")
        }
    }
}

@Suite struct DiffusionPiecesTests {
    /// Gradients through a whole tiny UNet (resnets, attention, up/downsampling, time and class
    /// embeddings) with respect to its input, by finite differences.
    @Test func unetGradientCheck() throws {
        var c = UNet2DConfiguration()
        c.sampleSize = 4; c.inChannels = 1; c.outChannels = 1
        c.blockOutChannels = [4, 4]; c.layersPerBlock = 1; c.normNumGroups = 2; c.attentionHeadDim = 2
        c.downBlockTypes = ["AttnDownBlock2D", "DownBlock2D"]; c.upBlockTypes = ["UpBlock2D", "AttnUpBlock2D"]
        c.numClassEmbeds = 2
        let unet = try UNet2DModel(configuration: c, seed: 3)
        gradcheck([randomTensor([2, 1, 4, 4], seed: 5)], atol: 3e-3, rtol: 2e-2, "UNet2DModel") {
            unet($0[0], timesteps: [3, 800], classLabels: [0, 1])
        }
    }

    @Test func pngIsWellFormed() throws {
        let png = PNGWriter.encode(width: 3, height: 2, channels: 1, pixels: [0, 128, 255, 1, 2, 3])
        #expect(Array(png[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(String(decoding: png[12..<16], as: UTF8.self) == "IHDR")
        #expect(Array(png[16..<24]) == [0, 0, 0, 3, 0, 0, 0, 2])
        #expect(String(decoding: png[(png.count - 8)..<(png.count - 4)], as: UTF8.self) == "IEND")
        // IEND's CRC is the fixed value every PNG ends with.
        #expect(Array(png.suffix(4)) == [0xAE, 0x42, 0x60, 0x82])
    }

    @Test func frechetDistanceOfShiftedGaussians() {
        var g = RandomGenerator(seed: 1)
        let a = (0..<400).map { _ in (0..<3).map { _ in Double(g.nextNormal()) } }
        #expect(abs(FrechetDistance.compute(a, a)) < 1e-6)
        let b = a.map { $0.map { $0 + 2 } }
        #expect(abs(FrechetDistance.compute(a, b) - 12) < 1e-6)   // ‖(2,2,2)‖², same covariance
    }

    @Test func addNoiseMatchesFormula() throws {
        let s = NoiseScheduler(SchedulerConfiguration())
        let x = randomTensor([2, 1, 2, 2], seed: 1), e = randomTensor([2, 1, 2, 2], seed: 2)
        let noisy = DiffusionDPOLoss.addNoise(x, noise: e, timesteps: [0, 999], scheduler: s).toArray()
        let ref = s.addNoise(original: x.toArray(), noise: e.toArray(), timesteps: [0, 999])
        expectClose(noisy, ref, atol: 1e-6, rtol: 1e-6)
        // ᾱ of the linear schedule at t = 999 (diffusers, fp32): 4.0358e-05.
        #expect(abs(s.alphasCumprod[999] - 4.0358e-5) < 1e-8)
    }
}
