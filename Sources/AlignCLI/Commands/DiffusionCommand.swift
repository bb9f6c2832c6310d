import AlignDiffusion
import AlignKernels
import AlignTensor
import ArgumentParser
import Foundation

/// `align diffusion`: the image denoiser (diffusers' UNet2DModel), its schedulers, and the
/// Fashion-MNIST jobs around Diffusion-DPO. Each subcommand is thin over AlignDiffusion.
struct DiffusionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diffusion",
        abstract: "Diffusion models: predict ε, scheduler steps, train a denoiser and classifier, sample, make pairs.",
        subcommands: [DiffusionPredict.self, DiffusionSchedulerStep.self] + diffusionTrainingSubcommands)
}

/// Runs a body, turning the module's errors into one-line messages.
func runDiffusion(_ body: () throws -> Void) throws {
    do { try body() } catch let error as DiffusionError { throw ValidationErrorMessage(error.description) }
}

/// `align diffusion predict`: the UNet's output for given noisy images, timesteps and labels.
struct DiffusionPredict: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Run a UNet2DModel folder on noisy images: IN has sample (N,C,H,W) F32, timestep (N,) I64 and, for class-conditional models, class_labels (N,) I64; OUT gets sample, the model output.")

    @Option(help: "diffusers UNet2DModel folder (config.json, diffusion_pytorch_model.safetensors).") var model: String
    @Option(help: "Input safetensors file.") var input: String
    @Option(help: "Output safetensors file.") var output: String
    @Option(help: "Threads for kernels and BLAS (default: all cores).") var threads: Int?

    func run() throws {
        try configureThreads(threads)
        try runDiffusion {
            let unet = try UNet2DModel(folder: URL(fileURLWithPath: model))
            let file = try TensorFile(url: URL(fileURLWithPath: input))
            let sample = try file.tensor("sample", rank: 4)
            let t = try file.integers("timestep")
            let n = sample.shape[0]
            let timesteps = t.count == 1 && n > 1 ? Array(repeating: t[0], count: n) : t
            guard timesteps.count == n else { throw DiffusionError("\(input): timestep has \(t.count) entries for \(n) images") }
            guard sample.shape[1] == unet.configuration.inChannels else {
                throw DiffusionError("\(input): sample has \(sample.shape[1]) channels, the model takes \(unet.configuration.inChannels)")
            }
            var labels: [Int]?
            if let classes = unet.configuration.numClassEmbeds {
                guard file.contains("class_labels") else { throw DiffusionError("\(input): the model is class-conditional: give class_labels (N,) I64") }
                let l = try file.integers("class_labels", rank: 1)
                guard l.count == n else { throw DiffusionError("\(input): class_labels has \(l.count) entries for \(n) images") }
                if let bad = l.first(where: { $0 < 0 || $0 >= classes }) { throw DiffusionError("\(input): class label \(bad) is outside 0..<\(classes)") }
                labels = l
            } else if file.contains("class_labels") {
                throw DiffusionError("\(input): class_labels given, but the model has no class embedding")
            }
            let out = withNoGrad { unet(sample, timesteps: timesteps.map(Float.init), classLabels: labels) }
            try TensorFile.write(floats: [("sample", out)], to: URL(fileURLWithPath: output))
        }
    }
}

/// `align diffusion scheduler-step`: one DDPM or DDIM reverse step.
struct DiffusionSchedulerStep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler-step",
        abstract: "One reverse step of the scheduler in scheduler_config.json (its _class_name: DDPMScheduler or DDIMScheduler): IN has model_output, sample, timestep () I64 and noise; OUT gets prev_sample and pred_original_sample.")

    @Option(help: "scheduler_config.json as diffusers writes it.") var scheduler: String
    @Option(help: "Sampling steps (set_timesteps); DDIM needs it, DDPM steps by one training step without it.") var numInferenceSteps: Int?
    @Option(help: "DDIM's η (0: deterministic).") var eta: Float = 0
    @Option(help: "Input safetensors file.") var input: String
    @Option(help: "Output safetensors file.") var output: String

    func run() throws {
        try runDiffusion {
            let config = try SchedulerConfiguration(contentsOf: URL(fileURLWithPath: scheduler))
            var s = NoiseScheduler(config)
            if let k = numInferenceSteps { try s.setTimesteps(k) } else if config.kind == .ddim {
                throw DiffusionError("a DDIMScheduler step needs --num-inference-steps")
            }
            let file = try TensorFile(url: URL(fileURLWithPath: input))
            let eps = try file.tensor("model_output"), x = try file.tensor("sample")
            guard eps.shape == x.shape else { throw DiffusionError("\(input): model_output \(eps.shape) and sample \(x.shape) differ") }
            let t = try file.integers("timestep")
            guard t.count == 1 else { throw DiffusionError("\(input): timestep must hold one value") }
            let noise = file.contains("noise") ? try file.tensor("noise").toArray() : nil
            let (prev, x0) = try s.step(modelOutput: eps.toArray(), timestep: t[0], sample: x.toArray(), noise: noise, eta: eta)
            try TensorFile.write(floats: [("prev_sample", Tensor(shape: x.shape, values: prev)),
                                          ("pred_original_sample", Tensor(shape: x.shape, values: x0))],
                                 to: URL(fileURLWithPath: output))
        }
    }
}
