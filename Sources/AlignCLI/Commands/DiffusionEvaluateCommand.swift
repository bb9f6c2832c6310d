import AlignDiffusion
import AlignJSON
import AlignRatings
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
        discussion: "Both models sample from the same seeded noise and labels (DDIM). The reward is the classifier's log p(intended class). The drift check is the Fréchet distance between the classifier's 128 penultimate features of the samples and of real Fashion-MNIST test images (lower: closer to the data). With --metrics (the run's metrics.jsonl) the report also draws the training curves. 95 % intervals are percentile bootstraps over the samples (paired: one draw picks an image's reward before and after). Writes OUTPUT/evaluation.json; --sweep DIR (repeatable) adds the evaluation.json of other runs' evaluate folders (other β, λ, ...) to a table of settings and results in report.html.")

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
    @Option(help: "Another run's evaluate output folder (its evaluation.json) to list in the settings table (repeatable).") var sweep: [String] = []

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
            // Paired bootstrap over the samples: each draw takes an image's reward before and after.
            let winOf = zip(ra, rb).map { $0 > $1 ? 1.0 : ($0 == $1 ? 0.5 : 0) }, gain = zip(ra, rb).map { Double($0) - Double($1) }
            let winCI = Bootstrap.meanInterval(winOf, seed: seed), gainCI = Bootstrap.meanInterval(gain, seed: seed)
            let line = String(format: "mean reward %.4f -> %.4f (change 95%% CI %+.4f to %+.4f), win rate %.1f%% (95%% CI %.1f–%.1f%%), p(class) > 0.5: %d -> %d of %d, Fréchet distance %.2f -> %.2f (%d samples each, %.0f s)",
                              meanB, meanA, gainCI.lower, gainCI.upper, 100 * wins, 100 * winCI.lower, 100 * winCI.upper, accB, accA, labels.count, fidB, fidA,
                              labels.count, Date().timeIntervalSince(started))
            let result = DiffusionEvaluation(model: model, reference: reference, samples: labels.count, steps: steps, seed: seed,
                                             meanRewardBefore: meanB, meanRewardAfter: meanA, rewardChangeCI: gainCI, winRate: wins, winRateCI: winCI,
                                             confidentBefore: accB, confidentAfter: accA, frechetBefore: fidB, frechetAfter: fidA,
                                             trainingArguments: DiffusionEvaluation.trainingArguments(of: model))
            try result.write(to: out.appendingPathComponent("evaluation.json"))
            let sweepRows = try [result] + sweep.map { try DiffusionEvaluation(folder: URL(fileURLWithPath: $0)) }
            var report = TrainingReport(metadata: .init(title: "Diffusion-DPO on Fashion-MNIST", model: model, dataset: "\(labels.count) samples (\(perClass) per class), DDIM \(steps) steps, seed \(seed)",
                                                        objective: "Diffusion-DPO", settings: [("reference", reference), ("classifier", classifier)]),
                                        before: .init(meanReward: meanB, promptCount: labels.count),
                                        after: .init(meanReward: meanA, winRate: wins, promptCount: labels.count),
                                        rewardDescription: "the classifier's log-probability of the class each image was generated for",
                                        notes: [String(format: "Drift check: Fréchet distance in the classifier's feature space to %d real test images: %.2f before, %.2f after (lower is closer to the data).", real.count, fidB, fidA),
                                                String(format: "95 %% intervals (bootstrap over the %d samples): reward change %+.4f to %+.4f, win rate %.1f–%.1f %%.", labels.count, gainCI.lower, gainCI.upper, 100 * winCI.lower, 100 * winCI.upper),
                                                result.verdict])
            report.curves = TrainingReport.diffusionDPOCurves
            if let metrics { report.logRows = (try? TrainingReport.readMetrics(from: URL(fileURLWithPath: metrics))) ?? [] }
            var html = report.html()
            let grids = "<section id=\"grids\"><h2>Samples (same noise and labels; one row per class)</h2><div style=\"display:flex;gap:24px\">"
                + "<figure><img src=\"data:image/png;base64,\(Data(gridB).base64EncodedString())\" style=\"image-rendering:pixelated;width:360px\"><figcaption>reference (before)</figcaption></figure>"
                + "<figure><img src=\"data:image/png;base64,\(Data(gridA).base64EncodedString())\" style=\"image-rendering:pixelated;width:360px\"><figcaption>trained (after)</figcaption></figure></div></section>\n"
            if let r = html.range(of: "</main>") { html.insert(contentsOf: grids + DiffusionEvaluation.sweepTableHTML(sweepRows), at: r.lowerBound) }
            try Data(html.utf8).write(to: out.appendingPathComponent("report.html"))
            try Data((line + "\n").utf8).write(to: out.appendingPathComponent("summary.txt"))
            print(line)
        }
    }
}

/// One `align diffusion evaluate` result, as written to `evaluation.json` and read back for the
/// settings table (`--sweep`).
struct DiffusionEvaluation {
    var model: String
    var reference: String
    var samples: Int
    var steps: Int
    var seed: UInt64
    var meanRewardBefore: Double
    var meanRewardAfter: Double
    var rewardChangeCI: (lower: Double, upper: Double)
    var winRate: Double
    var winRateCI: (lower: Double, upper: Double)
    var confidentBefore: Int
    var confidentAfter: Int
    var frechetBefore: Double
    var frechetAfter: Double
    /// The trained folder's `training_args.json` (β, λ, learning rate, ...), when it has one.
    var trainingArguments: JSONValue?

    /// A win needs both: more than half the paired samples better, and the whole interval of the
    /// reward change above zero; anything else is said plainly.
    var verdict: String {
        if winRateCI.lower > 0.5 && rewardChangeCI.lower > 0 { return "The trained model wins: both 95 % intervals exclude no change." }
        if winRate > 0.5 && meanRewardAfter > meanRewardBefore { return "The trained model is ahead, but an interval includes no change: not a measured win at this sample size." }
        return "This setting does not win against the reference."
    }

    static func trainingArguments(of model: String) -> JSONValue? {
        let url = URL(fileURLWithPath: model).appendingPathComponent("training_args.json")
        guard let data = try? Data(contentsOf: url) else { return nil }
        return try? JSONReader.parse(data)
    }

    init(model: String, reference: String, samples: Int, steps: Int, seed: UInt64, meanRewardBefore: Double, meanRewardAfter: Double,
         rewardChangeCI: (lower: Double, upper: Double), winRate: Double, winRateCI: (lower: Double, upper: Double),
         confidentBefore: Int, confidentAfter: Int, frechetBefore: Double, frechetAfter: Double, trainingArguments: JSONValue?) {
        self.model = model; self.reference = reference; self.samples = samples; self.steps = steps; self.seed = seed
        self.meanRewardBefore = meanRewardBefore; self.meanRewardAfter = meanRewardAfter; self.rewardChangeCI = rewardChangeCI
        self.winRate = winRate; self.winRateCI = winRateCI; self.confidentBefore = confidentBefore; self.confidentAfter = confidentAfter
        self.frechetBefore = frechetBefore; self.frechetAfter = frechetAfter; self.trainingArguments = trainingArguments
    }

    /// Reads `folder/evaluation.json` written by another evaluate run.
    init(folder: URL) throws {
        let url = folder.appendingPathComponent("evaluation.json")
        guard let data = try? Data(contentsOf: url) else { throw ValidationErrorMessage("--sweep \(folder.path): no evaluation.json (run align diffusion evaluate there first)") }
        let v = try JSONReader.parse(data)
        func number(_ key: String) throws -> Double {
            guard case .number(let n)? = v[key], let d = n.double else { throw ValidationErrorMessage("\(url.path): missing number \(key)") }
            return d
        }
        func pair(_ key: String) throws -> (lower: Double, upper: Double) {
            guard case .array(let a)? = v[key], a.count == 2, case .number(let lo) = a[0], case .number(let hi) = a[1],
                  let l = lo.double, let h = hi.double else {
                throw ValidationErrorMessage("\(url.path): missing [lower, upper] \(key)")
            }
            return (l, h)
        }
        func string(_ key: String) -> String { if case .string(let s)? = v[key] { return s } else { return "" } }
        self.init(model: string("model"), reference: string("reference"), samples: Int(try number("samples")), steps: Int(try number("ddim_steps")),
                  seed: UInt64(try number("seed")), meanRewardBefore: try number("mean_reward_before"), meanRewardAfter: try number("mean_reward_after"),
                  rewardChangeCI: try pair("reward_change_ci95"), winRate: try number("win_rate"), winRateCI: try pair("win_rate_ci95"),
                  confidentBefore: Int(try number("confident_before")), confidentAfter: Int(try number("confident_after")),
                  frechetBefore: try number("frechet_before"), frechetAfter: try number("frechet_after"), trainingArguments: v["training_args"])
    }

    func write(to url: URL) throws {
        func ci(_ c: (lower: Double, upper: Double)) -> JSONValue { .array([.double(c.lower), .double(c.upper)]) }
        let value: JSONValue = .object([
            ("model", .string(model)), ("reference", .string(reference)), ("samples", .integer(samples)), ("ddim_steps", .integer(steps)),
            ("seed", .integer(Int(seed))), ("mean_reward_before", .double(meanRewardBefore)), ("mean_reward_after", .double(meanRewardAfter)),
            ("reward_change_ci95", ci(rewardChangeCI)), ("win_rate", .double(winRate)), ("win_rate_ci95", ci(winRateCI)),
            ("confident_before", .integer(confidentBefore)), ("confident_after", .integer(confidentAfter)),
            ("frechet_before", .double(frechetBefore)), ("frechet_after", .double(frechetAfter)),
            ("training_args", trainingArguments ?? .null),
        ])
        try Data(JSONWriter.bytes(value, indent: 2) + [0x0A]).write(to: url, options: .atomic)
    }

    /// The settings table of report.html: one row per evaluated run (this one first), with the
    /// Diffusion-DPO settings that differ between runs and the results with their intervals.
    static func sweepTableHTML(_ rows: [DiffusionEvaluation]) -> String {
        let esc = Markup.escape
        func arg(_ r: DiffusionEvaluation, _ key: String) -> String {
            guard let v = r.trainingArguments?[key] else { return "–" }
            switch v {
            case .number(let n): return n.text
            case .string(let s): return s
            case .bool(let b): return String(b)
            default: return "–"
            }
        }
        var s = "<section id=\"settings-table\"><h2>What β and λ do</h2>\n"
        s += "<p>Each row: a Diffusion-DPO run from the same reference and pairs, evaluated on the same noise and labels. "
        s += "Intervals are 95 % paired bootstraps over the samples. λ is <code>sft_weight</code>; Fréchet distance is the drift check (lower: closer to real images).</p>\n"
        s += "<table><thead><tr><th>model</th><th>β (beta_dpo)</th><th>λ (sft_weight)</th><th>learning rate</th><th>epochs</th><th>samples</th>"
        s += "<th>reward before → after</th><th>change [95 % CI]</th><th>win rate [95 % CI]</th><th>Fréchet before → after</th><th>verdict</th></tr></thead><tbody>\n"
        for r in rows {
            s += "<tr><td>\(esc(URL(fileURLWithPath: r.model).lastPathComponent))</td><td>\(esc(arg(r, "beta_dpo")))</td><td>\(esc(arg(r, "sft_weight")))</td>"
            s += "<td>\(esc(arg(r, "learning_rate")))</td><td>\(esc(arg(r, "num_train_epochs")))</td><td>\(r.samples)</td>"
            s += String(format: "<td>%.4f → %.4f</td><td>%+.4f [%+.4f, %+.4f]</td><td>%.1f %% [%.1f, %.1f]</td><td>%.1f → %.1f</td>",
                        r.meanRewardBefore, r.meanRewardAfter, r.meanRewardAfter - r.meanRewardBefore, r.rewardChangeCI.lower, r.rewardChangeCI.upper,
                        100 * r.winRate, 100 * r.winRateCI.lower, 100 * r.winRateCI.upper, r.frechetBefore, r.frechetAfter)
            s += "<td>\(esc(r.verdict))</td></tr>\n"
        }
        return s + "</tbody></table></section>\n"
    }
}
