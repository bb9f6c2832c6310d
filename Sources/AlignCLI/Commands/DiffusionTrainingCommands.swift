import AlignDiffusion
import AlignKernels
import AlignSettings
import AlignTensor
import AlignTraining
import ArgumentParser
import Foundation

/// The training-side `align diffusion` subcommands.
let diffusionTrainingSubcommands: [ParsableCommand.Type] = [DiffusionTrain.self, DiffusionClassifier.self, DiffusionSample.self, DiffusionPairs.self, DiffusionEvaluate.self]

/// Flags shared by `align diffusion train` and `classifier`: data folder, output, YAML config,
/// resume, threads, and the loop's settings (`--learning-rate`, `--max-steps`, …) from the
/// configuration's declaration.
struct DiffusionRunOptions: ParsableArguments {
    @Option(help: "Fashion-MNIST folder (IDX files, .gz or not).") var dataDir: String = FashionMNIST.defaultDirectory
    @Option(help: "Output folder: metrics.jsonl, checkpoint-N/, the final model.") var output: String
    @Option(help: "Use only the first N training images (0: all 60000).") var limit: Int = 0
    @Option(help: "Test images scored at the end (and every --eval-steps); 0 for none.") var evalImages: Int = 10000
    @Option(help: "YAML config with snake_case keys; command-line flags override it.") var config: String?
    @Flag(help: "Continue from the newest checkpoint-N in --output.") var resume = false
    @Option(help: "Threads for kernels and BLAS (default: all cores).") var threads: Int?
    @Argument(parsing: .allUnrecognized, help: .hidden) var settingFlags: [String] = []

    func resolve<T: SettingsDeclaration>(_ type: T.Type) throws -> T {
        try configureThreads(threads)
        var sources = SettingSources()
        let flags = try T.parseFlags(settingFlags)
        if let config { try sources.add(file: SettingsFile(path: config), knownKeys: T.knownKeys) }
        for warning in sources.warnings { note("warning: " + warning) }
        for (key, flag, value) in flags { sources.set(key, value, source: flag) }
        return try sources.decode(type)
    }

    var outputURL: URL { URL(fileURLWithPath: (output as NSString).expandingTildeInPath) }

    func data() throws -> (train: ImageSet, test: ImageSet?) {
        let train = try FashionMNIST.load(split: "train", directory: dataDir, limit: limit > 0 ? limit : nil)
        let test = evalImages > 0 ? try FashionMNIST.load(split: "t10k", directory: dataDir, limit: evalImages) : nil
        note("data: \(train.count) training images, \(test?.count ?? 0) test images, \(train.height)×\(train.width)")
        return (train, test)
    }
}

/// Prints the closing line of a training run.
func printTrainingDone(_ summary: Trainer.Summary, output: URL, _ keys: [String]) {
    let shown = keys.compactMap { k in summary.lastMetrics[k].map { "\(k) " + String(format: "%.4f", $0) } }.joined(separator: ", ")
    print(String(format: "done: %d steps in %.1f s; ", summary.steps, summary.seconds) + shown + " → " + output.path)
}

/// `align diffusion train`: ε-prediction pretraining of a class-conditional UNet2DModel on Fashion-MNIST.
struct DiffusionTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Pretrain a class-conditional UNet2DModel (diffusers layout) on Fashion-MNIST with the shared trainer.",
        discussion: "Starts from --model (a diffusers folder) or a new model with --channels. Writes OUTPUT/metrics.jsonl, checkpoint-N/ every --save-steps and the model as a diffusers folder (config.json, diffusion_pytorch_model.safetensors, scheduler_config.json).\n\n" + DenoiserConfiguration.helpText)

    @OptionGroup var opts: DiffusionRunOptions
    @Option(help: "diffusers UNet2DModel folder to continue training (default: a new model).") var model: String?
    @Option(help: "block_out_channels of a new model, comma list.") var channels: String = "32,64,64"
    @Option(help: "beta_schedule of a new model's DDPMScheduler: linear or squaredcos_cap_v2.") var betaSchedule: String = "linear"

    func run() throws {
        try runTraining { try runDiffusion {
            let config = try opts.resolve(DenoiserConfiguration.self)
            let unet: UNet2DModel
            var scheduler = SchedulerConfiguration()
            if let model {
                let folder = URL(fileURLWithPath: model)
                unet = try UNet2DModel(folder: folder)
                let s = folder.appendingPathComponent("scheduler_config.json")
                if FileManager.default.fileExists(atPath: s.path) { scheduler = try SchedulerConfiguration(contentsOf: s) }
            } else {
                let ch = channels.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                unet = try UNet2DModel(configuration: .fashionMNIST(channels: ch), seed: config.training.seed)
                scheduler.betaSchedule = betaSchedule
            }
            let (train, test) = try opts.data()
            let noise = NoiseScheduler(scheduler)
            let objective = try DenoiserObjective(model: unet, scheduler: noise, configuration: config, images: train, evalImages: test) { dir in
                try unet.save(to: dir)
                try Data(scheduler.json()).write(to: dir.appendingPathComponent("scheduler_config.json"))
            }
            let c = config.training
            note("training \(c.totalSteps(examples: train.count)) steps: \(unet.parameterCount) parameters, lr \(c.learningRate), \(c.batchSize)×\(c.gradientAccumulationSteps) images per step, \(Threads.count) threads")
            let summary = try objective.train(outputDirectory: opts.outputURL, resume: opts.resume)
            printTrainingDone(summary, output: opts.outputURL, ["loss", "eval_loss"])
        } }
    }
}

/// `align diffusion classifier`: the reward's CNN on Fashion-MNIST, with its test accuracy.
struct DiffusionClassifier: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classifier",
        abstract: "Train the small CNN whose log-probability of the intended class is the reward; reports test accuracy.",
        discussion: "Writes OUTPUT/classifier.safetensors (its metadata records the test accuracy) and OUTPUT/metrics.jsonl.\n\n" + ClassifierConfiguration.helpText)

    @OptionGroup var opts: DiffusionRunOptions

    func run() throws {
        try runTraining { try runDiffusion {
            let config = try opts.resolve(ClassifierConfiguration.self)
            let (train, test) = try opts.data()
            let model = ImageClassifier(channels: train.channels, size: train.height, seed: config.training.seed)
            var accuracy: Double?
            let objective = try ClassifierObjective(model: model, configuration: config, images: train, evalImages: test) { dir in
                try model.save(to: dir, metadata: accuracy.map { ["test_accuracy": String(format: "%.4f", $0)] } ?? [:])
            }
            let summary = try objective.train(outputDirectory: opts.outputURL, resume: opts.resume, onLog: { row in
                if let a = row["eval_accuracy"] { accuracy = a }
            })
            if let a = summary.lastMetrics["eval_accuracy"] {
                try model.save(to: opts.outputURL, metadata: ["test_accuracy": String(format: "%.4f", a)])
                note(String(format: "test accuracy %.2f %% on %d images", 100 * a, test?.count ?? 0))
            }
            printTrainingDone(summary, output: opts.outputURL, ["loss", "accuracy", "eval_accuracy"])
        } }
    }
}

/// Reads a model folder's UNet and scheduler.
func loadDenoiser(_ path: String) throws -> (UNet2DModel, SchedulerConfiguration) {
    let folder = URL(fileURLWithPath: path)
    let unet = try UNet2DModel(folder: folder)
    let s = folder.appendingPathComponent("scheduler_config.json")
    guard FileManager.default.fileExists(atPath: s.path) else { throw DiffusionError("\(folder.path): no scheduler_config.json") }
    return (unet, try SchedulerConfiguration(contentsOf: s))
}

/// Parses `0,1,2` or `all` (every class) into labels, `per` of each.
func diffusionLabels(_ text: String, classes: Int, per: Int) throws -> [Int] {
    let base = text == "all" ? Array(0..<classes) : text.split(separator: ",").compactMap { Int($0) }
    guard !base.isEmpty, base.allSatisfy({ $0 >= 0 && $0 < classes }) else { throw DiffusionError("--labels \(text): give class numbers in 0..<\(classes) or all") }
    return base.flatMap { Array(repeating: $0, count: per) }
}

/// `align diffusion sample`: images from a model folder as a PNG grid (and a safetensors file).
struct DiffusionSample: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Sample images from a diffusers folder with its scheduler (or DDIM) and write a PNG grid.",
        discussion: "Each row of the grid is one class. The same --seed and labels start every model from the same noise, so grids of two models compare image by image.")

    @Option(help: "diffusers UNet2DModel folder with scheduler_config.json.") var model: String
    @Option(help: "PNG grid to write.") var output: String
    @Option(help: "Classes: comma list or all.") var labels: String = "all"
    @Option(help: "Images per class.") var perClass: Int = 8
    @Option(help: "Sampling steps (set_timesteps).") var steps: Int = 50
    @Option(help: "ddpm (the folder's scheduler) or ddim.") var sampler: String = "ddim"
    @Option(help: "DDIM's η.") var eta: Float = 0
    @Option(help: "Seed of the initial noise.") var seed: UInt64 = 0
    @Option(help: "Also write the images (N,C,H,W) and class_labels to this safetensors file.") var tensors: String?
    @Option(help: "Threads for kernels and BLAS (default: all cores).") var threads: Int?

    func run() throws {
        try configureThreads(threads)
        try runDiffusion {
            var (unet, scheduler) = try loadDenoiser(model)
            if sampler == "ddim" { scheduler.kind = .ddim } else if sampler != "ddpm" { throw DiffusionError("--sampler \(sampler): ddpm or ddim") }
            let l = try diffusionLabels(labels, classes: unet.configuration.numClassEmbeds ?? 1, per: perClass)
            let start = Date()
            let images = try DiffusionSampler.sample(model: unet, scheduler: scheduler, labels: l, seed: seed, steps: steps, eta: eta)
            let seconds = Date().timeIntervalSince(start)
            try Data(PNGWriter.grid(images, columns: perClass)).write(to: URL(fileURLWithPath: output))
            if let tensors {
                try TensorFile.write(floats: [("images", Tensor(shape: [images.count] + images.shape, values: images.pixels))],
                                     integers: [("class_labels", [images.count], images.labels)], to: URL(fileURLWithPath: tensors))
            }
            print(String(format: "%d images in %.1f s (%.2f images/s, %d steps) → %@", images.count, seconds, Double(images.count) / seconds, steps, output))
        }
    }
}

/// `align diffusion pairs`: preference pairs scored by the classifier reward.
struct DiffusionPairs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pairs",
        abstract: "Sample two images per class label and seed, score them with the reward, keep the better as chosen.",
        discussion: "The reward of an image is the classifier's log-probability of the class it was generated for, or an external scorer's number (--scorer cmd:PROGRAM: PNG paths, one per line, on its standard input; one number per line back). Ties are dropped and counted. Writes chosen, rejected (N,C,H,W) F32 and class_labels (N,) I64.")

    @Option(help: "diffusers UNet2DModel folder with scheduler_config.json.") var model: String
    @Option(help: "Folder written by align diffusion classifier (the reward).") var classifier: String?
    @Option(help: "External reward: cmd:PROGRAM reading PNG paths on stdin and printing one score per line.") var scorer: String?
    @Option(help: "Pairs file to write.") var output: String
    @Option(help: "Pairs per class.") var perClass: Int = 100
    @Option(help: "Sampling steps (DDIM).") var steps: Int = 25
    @Option(help: "DDIM's η for the two candidates.") var eta: Float = 1
    @Option(help: "Seed of the noise.") var seed: UInt64 = 1
    @Option(help: "Threads for kernels and BLAS (default: all cores).") var threads: Int?

    func run() throws {
        try configureThreads(threads)
        try runDiffusion {
            var (unet, scheduler) = try loadDenoiser(model)
            scheduler.kind = .ddim
            let classes = unet.configuration.numClassEmbeds ?? 1
            let labels = try diffusionLabels("all", classes: classes, per: perClass)
            let score = try makeReward(classifier: classifier, scorer: scorer)
            let a = try DiffusionSampler.sample(model: unet, scheduler: scheduler, labels: labels, seed: seed, steps: steps, eta: eta)
            let b = try DiffusionSampler.sample(model: unet, scheduler: scheduler, labels: labels, seed: seed &+ 0x5EED, steps: steps, eta: eta)
            let ra = try score(a), rb = try score(b)
            var chosen: [Float] = [], rejected: [Float] = [], kept: [Int] = []
            var ties = 0
            for i in 0..<labels.count {
                if ra[i] == rb[i] { ties += 1; continue }
                let (w, l) = ra[i] > rb[i] ? (a, b) : (b, a)
                chosen += w.pixels[i * a.imageSize..<(i + 1) * a.imageSize]
                rejected += l.pixels[i * a.imageSize..<(i + 1) * a.imageSize]
                kept.append(labels[i])
            }
            let pairs = ImagePairs(chosen: ImageSet(pixels: chosen, labels: kept, channels: a.channels, height: a.height, width: a.width),
                                   rejected: ImageSet(pixels: rejected, labels: kept, channels: a.channels, height: a.height, width: a.width))
            try pairs.write(to: URL(fileURLWithPath: output))
            let gap = zip(ra, rb).map { abs(Double($0) - Double($1)) }.reduce(0, +) / Double(max(labels.count, 1))
            print(String(format: "%d pairs (%d ties dropped), mean reward gap %.3f → %@", kept.count, ties, gap, output))
        }
    }
}

/// The reward of images: the classifier's log p(intended class | image), or an external program's scores.
func makeReward(classifier: String?, scorer: String?) throws -> (ImageSet) throws -> [Float] {
    if let scorer {
        guard scorer.hasPrefix("cmd:") else { throw DiffusionError("--scorer \(scorer): give cmd:PROGRAM") }
        let program = String(scorer.dropFirst(4))
        return { images in
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("align-score-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            var paths: [String] = []
            for i in 0..<images.count {
                let url = dir.appendingPathComponent("\(i)_class\(images.labels[i]).png")
                try Data(PNGWriter.grid(images, columns: 1, indices: [i])).write(to: url)
                paths.append(url.path)
            }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", program]
            let input = Pipe(), output = Pipe()
            process.standardInput = input; process.standardOutput = output
            try process.run()
            input.fileHandleForWriting.write(Data((paths.joined(separator: "\n") + "\n").utf8))
            try input.fileHandleForWriting.close()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let scores = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard process.terminationStatus == 0, scores.count == images.count else {
                throw DiffusionError("--scorer: \(program) exited \(process.terminationStatus) with \(scores.count) scores for \(images.count) images")
            }
            return scores
        }
    }
    guard let classifier else { throw DiffusionError("give --classifier DIR (align diffusion classifier) or --scorer cmd:PROGRAM") }
    let model = try ImageClassifier(folder: URL(fileURLWithPath: classifier))
    return { images in
        var out: [Float] = []
        for start in stride(from: 0, to: images.count, by: 256) {
            let ids = Array(start..<min(start + 256, images.count))
            let (x, l) = images.batch(ids)
            out += model.logProbabilities(x, labels: l)
        }
        return out
    }
}
