import AlignDiffusion
import AlignReport
import AlignTensor
import ArgumentParser
import Foundation

/// `align diffusion evaluate`: the Diffusion-DPO result as a user would check it — samples of the
/// trained model and of the reference from the same noise and labels, scored by the reward.
struct DiffusionEvaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Compare a trained UNet with its reference: mean reward, win rate, Fréchet distance to real test images, image grids; writes report.html.",
        discussion: "Both models sample from the same seeded noise and labels (DDIM). The reward is the classifier's log p(intended class). The drift check is the Fréchet distance between the classifier's 128 penultimate features of the samples and of real Fashion-MNIST test images (lower: closer to the data). With --metrics (the run's metrics.jsonl) the report also draws the training curves.")

    @Option(help: "Trained diffusers folder (after).") var model: String
    @Option(help: "Reference diffusers folder (before).") var reference: String
    @Option(help: "Folder written by align diffusion classifier.") var classifier: String
    @Option(help: "Output folder for report.html and the grids.") var output: String
    @Option(help: "The training run's metrics.jsonl, for the curves.") var metrics: String?
    @Option(help: "Samples per class.") var perClass: Int = 50
    @Option(help: "DDIM steps.") var steps: Int = 25
    @Option(help: "Seed of the noise (use one the pairs were not made with).") var seed: UInt64 = 12345
    @Option(help: "Fashion-MNIST folder (test split for the Fréchet distance).") var dataDir: String = FashionMNIST.defaultDirectory
    @Option(help: "Threads for kernels and BLAS (default: all cores).") var threads: Int?

    func run() throws {
        try configureThreads(threads)
        try runDiffusion {
            let out = URL(fileURLWithPath: output)
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            var (after, sched) = try loadDenoiser(model)
            let (before, _) = try loadDenoiser(reference)
            sched.kind = .ddim
            let clf = try ImageClassifier(folder: URL(fileURLWithPath: classifier))
            let classes = after.configuration.numClassEmbeds ?? 1
            let labels = try diffusionLabels("all", classes: classes, per: perClass)
            let started = Date()
            let a = try DiffusionSampler.sample(model: after, scheduler: sched, labels: labels, seed: seed, steps: steps)
            let b = try DiffusionSampler.sample(model: before, scheduler: sched, labels: labels, seed: seed, steps: steps)
            let real = try FashionMNIST.load(split: "t10k", directory: dataDir, limit: max(labels.count, 2000))
            func scores(_ s: ImageSet) -> [Float] {
                stride(from: 0, to: s.count, by: 250).flatMap { start -> [Float] in
                    let (x, l) = s.batch(Array(start..<min(start + 250, s.count)))
                    return clf.logProbabilities(x, labels: l)
                }
            }
            func features(_ s: ImageSet) -> [[Double]] {
                stride(from: 0, to: s.count, by: 250).flatMap { start -> [[Double]] in
                    let (x, _) = s.batch(Array(start..<min(start + 250, s.count)))
                    let f = withNoGrad { clf.features(x) }
                    let d = f.shape[1], v = f.toArray()
                    return (0..<f.shape[0]).map { i in (0..<d).map { Double(v[i * d + $0]) } }
                }
            }
            let ra = scores(a), rb = scores(b)
            let meanA = ra.reduce(0) { $0 + Double($1) } / Double(ra.count), meanB = rb.reduce(0) { $0 + Double($1) } / Double(rb.count)
            let wins = zip(ra, rb).reduce(0.0) { $0 + ($1.0 > $1.1 ? 1 : ($1.0 == $1.1 ? 0.5 : 0)) } / Double(ra.count)
            let accA = ra.filter { $0 > Float(Foundation.log(0.5)) }.count
            let accB = rb.filter { $0 > Float(Foundation.log(0.5)) }.count
            let realF = features(real)
            let fidA = FrechetDistance.compute(features(a), realF), fidB = FrechetDistance.compute(features(b), realF)
            let shown = Array(0..<classes).flatMap { c in (0..<min(8, perClass)).map { c * perClass + $0 } }
            let gridA = PNGWriter.grid(a, columns: min(8, perClass), indices: shown), gridB = PNGWriter.grid(b, columns: min(8, perClass), indices: shown)
            try Data(gridA).write(to: out.appendingPathComponent("after.png"))
            try Data(gridB).write(to: out.appendingPathComponent("before.png"))
            let line = String(format: "mean reward %.4f -> %.4f, win rate %.1f%%, p(class) > 0.5: %d -> %d of %d, Fréchet distance %.2f -> %.2f (%d samples each, %.0f s)",
                              meanB, meanA, 100 * wins, accB, accA, labels.count, fidB, fidA, labels.count, Date().timeIntervalSince(started))
            var report = TrainingReport(metadata: .init(title: "Diffusion-DPO on Fashion-MNIST", model: model, dataset: "\(labels.count) samples (\(perClass) per class), DDIM \(steps) steps, seed \(seed)",
                                                        objective: "Diffusion-DPO", settings: [("reference", reference), ("classifier", classifier)]),
                                        before: .init(meanReward: meanB, promptCount: labels.count),
                                        after: .init(meanReward: meanA, winRate: wins, promptCount: labels.count),
                                        rewardDescription: "the classifier's log-probability of the class each image was generated for",
                                        notes: [String(format: "Drift check: Fréchet distance in the classifier's feature space to %d real test images: %.2f before, %.2f after (lower is closer to the data).", real.count, fidB, fidA),
                                                wins > 0.5 && meanA > meanB ? "The trained model wins." : "This setting does not win against the reference."])
            if let metrics { report.logRows = (try? TrainingReport.readMetrics(from: URL(fileURLWithPath: metrics))) ?? [] }
            var html = report.html()
            let grids = "<section id=\"grids\"><h2>Samples (same noise and labels; one row per class)</h2><div style=\"display:flex;gap:24px\">"
                + "<figure><img src=\"data:image/png;base64,\(Data(gridB).base64EncodedString())\" style=\"image-rendering:pixelated;width:360px\"><figcaption>reference (before)</figcaption></figure>"
                + "<figure><img src=\"data:image/png;base64,\(Data(gridA).base64EncodedString())\" style=\"image-rendering:pixelated;width:360px\"><figcaption>trained (after)</figcaption></figure></div></section>\n"
            if let r = html.range(of: "</main>") { html.insert(contentsOf: grids, at: r.lowerBound) }
            try Data(html.utf8).write(to: out.appendingPathComponent("report.html"))
            try Data((line + "\n").utf8).write(to: out.appendingPathComponent("summary.txt"))
            print(line)
        }
    }
}
