import AlignDiffusion
import AlignKernels
import AlignTensor
import AlignTraining
import ArgumentParser
import Foundation

/// `align diffusion-dpo`: Diffusion-DPO on image preference pairs. A thin layer over
/// ``DiffusionDPOObjective``; its settings are ``DiffusionDPOConfiguration/settings``.
struct DiffusionDPOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diffusion-dpo",
        abstract: "Diffusion-DPO (Wallace et al. 2023) of a diffusers UNet2DModel on image preference pairs.",
        discussion: """
            --model is a diffusers folder (config.json, diffusion_pytorch_model.safetensors, scheduler_config.json); \
            --data one safetensors file with chosen, rejected (N,C,H,W) F32 in [-1, 1] and class_labels (N,) I64 \
            (align diffusion pairs writes one); --batch-size counts pairs. The reference is a frozen copy of the \
            starting model. Writes OUTPUT/metrics.jsonl (loss, implicit_acc, mse_w, mse_l, ref_mse_w, ref_mse_l, \
            reward_margin), checkpoint-N/ every --save-steps, and the trained UNet as a diffusers folder.

            """ + DiffusionDPOConfiguration.helpText)

    @OptionGroup var common: TrainingOptions
    @Option(help: "Write each micro-batch's timesteps and noise (step_K.timesteps, step_K.noise) to this safetensors file.")
    var dumpNoise: String?

    func run() throws { try runTraining { try runDiffusion { try train() } } }

    func train() throws {
        try configureThreads(common.threads)
        let (config, run) = try common.resolve(DiffusionDPOConfiguration.self)
        let folder = URL(fileURLWithPath: try run.modelPath)
        let (policy, schedulerConfig) = try loadDenoiser(folder.path)
        let reference = try policy.frozenCopy()
        let pairs = try ImagePairs(contentsOf: try run.dataURL)
        let evalPairs = try run.evalDataURL.map { try ImagePairs(contentsOf: $0) }
        note("train: \(pairs.count) pairs of \(pairs.chosen.shape) images")
        let objective = try DiffusionDPOObjective(policy: policy, reference: reference, scheduler: NoiseScheduler(schedulerConfig),
                                                  configuration: config, pairs: pairs, evalPairs: evalPairs) { dir in
            try policy.save(to: dir)
            try Data(schedulerConfig.json()).write(to: dir.appendingPathComponent("scheduler_config.json"))
        }
        objective.recordNoise = dumpNoise != nil
        let summary = try TrainingCommand.train(objective, run: run, method: "diffusion-dpo", describe: "pairs")
        if let dumpNoise {
            var floats: [(String, Tensor)] = [], ints: [(String, [Int], [Int])] = []
            for (k, d) in objective.recordedNoise.enumerated() {
                floats.append(("step_\(k).noise", d.noise))
                ints.append(("step_\(k).timesteps", [d.timesteps.count], d.timesteps))
            }
            try TensorFile.write(floats: floats, integers: ints, to: URL(fileURLWithPath: dumpNoise))
            note("noise of \(objective.recordedNoise.count) micro-batches → \(dumpNoise)")
        }
        TrainingCommand.printDone(summary, run: run, [("loss", "loss", 4), ("implicit_acc", "implicit_acc", 3), ("reward_margin", "reward_margin", 3)])
    }
}
