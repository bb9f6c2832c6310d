import Foundation

/// A self-contained HTML report of one preference-training run: headline numbers, training
/// curves, the reward–KL trade-off, before/after comparisons, sample completions and settings.
///
/// The input is plain data, so any trainer can fill it; the output is one HTML string with inline
/// CSS and SVG (no scripts, no network, no web fonts) that opens in any browser and prints.
/// `html()` is deterministic: the same report gives the same bytes (it never reads the clock;
/// put a date in `Metadata.generatedAt` if you want one shown).
///
///     var report = TrainingReport(metadata: .init(title: "DPO: positive IMDb continuations",
///                                                 model: "SmolLM2-135M", dataset: "IMDb prefixes"))
///     report.logRows = try MetricsLog(contentsOf: runFolder.appending(path: "metrics.jsonl")).rows
///     report.before = .init(meanReward: 0.13, winRate: 0.5, klNats: 0, promptCount: 256)
///     report.after = .init(meanReward: 0.61, winRate: 0.78, klNats: 3.2, promptCount: 256)
///     try report.write(to: runFolder.appending(path: "report.html"))
public struct TrainingReport {
    /// What was trained, on what, and how.
    public struct Metadata {
        /// The page title and main heading.
        public var title: String
        /// The model trained (for example `"SmolLM2-135M"`).
        public var model: String
        /// The training data (for example `"IMDb review prefixes, 2 × 512 sampled pairs"`).
        public var dataset: String
        /// The objective (for example `"DPO (sigmoid), β = 0.1"`); empty to omit.
        public var objective: String
        /// Every setting worth recording, in display order (name, value).
        public var settings: [(String, String)]
        /// Total wall-clock time of the run in seconds, if known.
        public var wallTimeSeconds: Double?
        /// A timestamp to print (the report never reads the clock itself, to stay deterministic).
        public var generatedAt: String?

        /// Creates run metadata.
        public init(title: String, model: String, dataset: String, objective: String = "",
                    settings: [(String, String)] = [], wallTimeSeconds: Double? = nil,
                    generatedAt: String? = nil) {
            self.title = title
            self.model = model
            self.dataset = dataset
            self.objective = objective
            self.settings = settings
            self.wallTimeSeconds = wallTimeSeconds
            self.generatedAt = generatedAt
        }
    }

    /// How one policy scored on the evaluation prompts.
    public struct EvaluationSummary: Equatable, Sendable {
        /// Mean reward (for the sentiment task, the classifier's positive score) over the prompts.
        public var meanReward: Double
        /// Fraction of prompts on which this policy's completion beat the comparison's (for the
        /// trained policy: beat the reference model's completion), if measured.
        public var winRate: Double?
        /// Mean sequence-level KL(π ‖ π_ref) over the prompts' completions, in nats (0 for the
        /// reference itself), if measured.
        public var klNats: Double?
        /// Number of evaluation prompts.
        public var promptCount: Int

        /// Creates an evaluation summary.
        public init(meanReward: Double, winRate: Double? = nil, klNats: Double? = nil, promptCount: Int) {
            self.meanReward = meanReward
            self.winRate = winRate
            self.klNats = klNats
            self.promptCount = promptCount
        }
    }

    /// One evaluated policy on the reward–KL plane: a checkpoint during training, or one β of a sweep.
    public struct Checkpoint: Equatable, Sendable {
        /// The label written next to the point (`"step 200"`, `"β = 0.05"`).
        public var label: String
        /// Mean KL(π ‖ π_ref) in nats.
        public var klNats: Double
        /// Mean reward.
        public var meanReward: Double

        /// Creates a checkpoint.
        public init(label: String, klNats: Double, meanReward: Double) {
            self.label = label
            self.klNats = klNats
            self.meanReward = meanReward
        }
    }

    /// One prompt with the reference model's and the trained model's completions.
    public struct Sample: Equatable, Sendable {
        /// The prompt (for the sentiment task, the start of a movie review).
        public var prompt: String
        /// The completion before training (the reference model's).
        public var before: String
        /// The completion after training.
        public var after: String
        /// The reward of `before`.
        public var beforeScore: Double
        /// The reward of `after`.
        public var afterScore: Double

        /// Creates a sample.
        public init(prompt: String, before: String, after: String, beforeScore: Double, afterScore: Double) {
            self.prompt = prompt
            self.before = before
            self.after = after
            self.beforeScore = beforeScore
            self.afterScore = afterScore
        }
    }

    /// What was run.
    public var metadata: Metadata
    /// The training log, one dictionary per logged line, with TRL's metric names (`loss`,
    /// `rewards/accuracies`, `rewards/margins`, `rewards/chosen`, `rewards/rejected`,
    /// `logps/chosen`, `logps/rejected`, `learning_rate`, `grad_norm`, `tokens_per_second`,
    /// `step`, `epoch`; evaluation lines use the `eval_` prefix). Rows without `step` are placed
    /// by their position. Unknown keys are listed in the final-values table.
    public var logRows: [[String: Double]]
    /// The reference (untrained) policy's evaluation.
    public var before: EvaluationSummary?
    /// The trained policy's evaluation.
    public var after: EvaluationSummary?
    /// Evaluated checkpoints or sweep points for the reward–KL plot, in order (joined by a line).
    public var checkpoints: [Checkpoint]
    /// Extra before/after quantities to draw as bars next to reward, KL and win rate.
    public var extraComparisons: [SVGChart.Comparison]
    /// Prompt-by-prompt completions before and after training.
    public var samples: [Sample]
    /// What the reward measures, in one sentence (shown under the headline).
    public var rewardDescription: String
    /// EMA weight for noisy training curves (0 turns smoothing off); applied only to series with
    /// at least 20 points, with the raw values drawn faint behind.
    public var smoothing: Double
    /// Notes shown at the end of the headline section (warnings, skipped log lines).
    public var notes: [String]
    /// The training-curve charts, in order (``preferenceCurves`` by default; ``onlineCurves(method:logRows:)``
    /// for PPO, GRPO and RLOO runs).
    public var curves: [Curve] = TrainingReport.preferenceCurves

    /// Creates a report; fill the remaining properties before calling `html()`.
    public init(metadata: Metadata, logRows: [[String: Double]] = [],
                before: EvaluationSummary? = nil, after: EvaluationSummary? = nil,
                checkpoints: [Checkpoint] = [], extraComparisons: [SVGChart.Comparison] = [],
                samples: [Sample] = [], rewardDescription: String = "", smoothing: Double = 0.6,
                notes: [String] = []) {
        self.metadata = metadata
        self.logRows = logRows
        self.before = before
        self.after = after
        self.checkpoints = checkpoints
        self.extraComparisons = extraComparisons
        self.samples = samples
        self.rewardDescription = rewardDescription
        self.smoothing = smoothing
        self.notes = notes
    }

    /// Reads a `metrics.jsonl` training log into rows; see `MetricsLog` for what is tolerated.
    public static func readMetrics(from url: URL) throws -> [[String: Double]] {
        try MetricsLog(contentsOf: url).rows
    }

    /// Writes `html()` to `url` as UTF-8, replacing any existing file.
    public func write(to url: URL) throws {
        try Data(html().utf8).write(to: url, options: .atomic)
    }

    /// The ids of the report's sections, in page order (anchors for links and for tests).
    public static let sectionIDs = ["headline", "training-curves", "reward-kl", "before-after", "samples", "settings"]

    /// The complete HTML document.
    public func html() -> String {
        var page = ""
        page.reserveCapacity(200_000)
        page += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        page += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        page += "<title>\(esc(metadata.title))</title>\n<style>\(Self.css)</style>\n</head>\n<body>\n<main>\n"
        page += headerHTML()
        page += headlineHTML()
        page += curvesHTML()
        page += rewardKLHTML()
        page += comparisonHTML()
        page += samplesHTML()
        page += settingsHTML()
        page += "<footer>Generated by Align"
        if let at = metadata.generatedAt { page += " · \(esc(at))" }
        page += ". Self-contained: no scripts, fonts or network requests.</footer>\n"
        page += "</main>\n</body>\n</html>\n"
        return page
    }

    // MARK: - Sections

    private func esc(_ s: String) -> String { Markup.escape(s) }

    private func headerHTML() -> String {
        var parts = [metadata.model, metadata.dataset, metadata.objective].filter { !$0.isEmpty }
        if let t = metadata.wallTimeSeconds { parts.append("wall time " + Markup.duration(t)) }
        var s = "<header>\n<h1>\(esc(metadata.title))</h1>\n"
        if !parts.isEmpty { s += "<p class=\"subtitle\">\(parts.map(esc).joined(separator: " · "))</p>\n" }
        s += "<nav>"
        let names = ["Headline", "Training curves", "Reward vs KL", "Before / after", "Samples", "Settings"]
        s += zip(Self.sectionIDs, names).map { "<a href=\"#\($0)\">\($1)</a>" }.joined(separator: " ")
        s += "</nav>\n</header>\n"
        return s
    }

    private func headlineHTML() -> String {
        var s = "<section id=\"headline\">\n<h2>Headline</h2>\n<div class=\"cards\">\n"
        // Mean reward before -> after.
        let rewardValue: String
        var rewardSub = ""
        switch (before, after) {
        case let (b?, a?):
            rewardValue = "\(num(b.meanReward)) <span class=\"arrow\">→</span> <strong>\(num(a.meanReward))</strong>"
            let delta = a.meanReward - b.meanReward
            rewardSub = "<span class=\"\(delta >= 0 ? "up" : "down")\">\(esc(Markup.signed(delta)))</span> over \(a.promptCount) prompts"
        case let (b?, nil):
            rewardValue = "\(num(b.meanReward)) <span class=\"arrow\">→</span> —"
            rewardSub = "after: not evaluated"
        case let (nil, a?):
            rewardValue = "— <span class=\"arrow\">→</span> <strong>\(num(a.meanReward))</strong>"
            rewardSub = "before: not evaluated"
        case (nil, nil):
            rewardValue = "—"
            rewardSub = "not evaluated"
        }
        s += card(label: "Mean reward, before → after", value: rewardValue, sub: rewardSub, wide: true)
        if let kl = after?.klNats {
            s += card(label: "KL from reference", value: "<strong>\(num(kl))</strong> nats",
                      sub: "mean per completion, KL(π‖π<sub>ref</sub>)")
        } else {
            s += card(label: "KL from reference", value: "—", sub: "not measured")
        }
        if let w = after?.winRate {
            s += card(label: "Win rate", value: "<strong>\(esc(Markup.percent(w)))</strong>",
                      sub: "after beats before, per prompt")
        } else {
            s += card(label: "Win rate", value: "—", sub: "not measured")
        }
        let trainRows = logRows.filter { !Self.isEvalRow($0) }
        let lastStep = trainRows.compactMap { $0["step"] }.filter(\.isFinite).max()
        var trainingSub = [String]()
        if let t = metadata.wallTimeSeconds { trainingSub.append(Markup.duration(t)) }
        if let tps = Self.mean(trainRows.compactMap { $0["tokens_per_second"] }) {
            trainingSub.append(Markup.number(tps, significant: 3) + " tokens/s")
        }
        if trainingSub.isEmpty { trainingSub.append(logRows.isEmpty ? "no training log" : "\(logRows.count) log lines") }
        s += card(label: "Training steps", value: lastStep.map { "<strong>\(Markup.fixed($0, decimals: 0))</strong>" } ?? "—",
                  sub: esc(trainingSub.joined(separator: " · ")))
        s += "</div>\n"
        if !rewardDescription.isEmpty { s += "<p class=\"note\">\(esc(rewardDescription))</p>\n" }
        if !notes.isEmpty {
            s += "<ul class=\"notes\">" + notes.map { "<li>\(esc($0))</li>" }.joined() + "</ul>\n"
        }
        s += "</section>\n"
        return s
    }

    private func card(label: String, value: String, sub: String, wide: Bool = false) -> String {
        "<div class=\"card\(wide ? " wide" : "")\"><div class=\"label\">\(esc(label))</div>"
            + "<div class=\"value\">\(value)</div><div class=\"sub\">\(sub)</div></div>\n"
    }

    private func num(_ v: Double) -> String { esc(Markup.number(v, significant: 3)) }

    /// One chart of the training-curves grid: which metrics.jsonl keys, how drawn, and what to look
    /// for. A non-optional curve is drawn (empty) even when no row has its keys.
    public struct Curve {
        public var title: String
        public var yLabel: String
        /// (metrics key, legend name, colour); `eval_` + key is drawn dashed when present.
        public var keys: [(key: String, name: String, color: String)]
        /// A range the y axis always covers (0...1 for fractions), or nil.
        public var yIncludes: ClosedRange<Double>?
        public var caption: String
        public var optional: Bool

        /// Creates a curve.
        public init(title: String, yLabel: String, keys: [(key: String, name: String, color: String)], yIncludes: ClosedRange<Double>? = nil,
                    caption: String, optional: Bool) {
            self.title = title; self.yLabel = yLabel; self.keys = keys; self.yIncludes = yIncludes
            self.caption = caption; self.optional = optional
        }
    }

    static let chosenColor = "#059669", rejectedColor = "#dc2626"
    static let trainColor = "#2563eb", evalColor = "#d97706"

    /// The curves of a preference run (DPO's metric names); the default of ``curves``.
    public static let preferenceCurves: [Curve] = [
        Curve(title: "Loss", yLabel: "loss", keys: [("loss", "train", trainColor)], yIncludes: nil,
                  caption: "DPO loss −log σ(β·margin); starts at log 2 ≈ 0.693 when policy = reference.", optional: false),
        Curve(title: "Preference accuracy", yLabel: "accuracy", keys: [("rewards/accuracies", "train", trainColor)],
                  yIncludes: 0...1, caption: "Share of pairs whose chosen completion gets the higher implicit reward.", optional: false),
        Curve(title: "Reward margin", yLabel: "margin", keys: [("rewards/margins", "train", trainColor)], yIncludes: nil,
                  caption: "Mean β·(log-ratio of chosen − log-ratio of rejected); should grow.", optional: false),
        Curve(title: "Log-probabilities", yLabel: "log p (summed)",
                  keys: [("logps/chosen", "chosen", chosenColor), ("logps/rejected", "rejected", rejectedColor)], yIncludes: nil,
                  caption: "Summed completion log-probs under the policy. Chosen falling too is likelihood displacement.", optional: false),
        Curve(title: "Implicit rewards", yLabel: "β·log π/π_ref",
                  keys: [("rewards/chosen", "chosen", chosenColor), ("rewards/rejected", "rejected", rejectedColor)], yIncludes: nil,
                  caption: "Implicit rewards of chosen and rejected completions; they should separate.", optional: false),
        Curve(title: "Learning rate", yLabel: "learning rate", keys: [("learning_rate", "lr", trainColor)], yIncludes: nil,
                  caption: "Scheduled learning rate.", optional: true),
        Curve(title: "Gradient norm", yLabel: "‖g‖", keys: [("grad_norm", "grad norm", trainColor)], yIncludes: nil,
                  caption: "Global gradient norm before clipping.", optional: true),
        Curve(title: "Throughput", yLabel: "tokens / s", keys: [("tokens_per_second", "tokens/s", trainColor)], yIncludes: nil,
                  caption: "Training throughput.", optional: true),
    ]

    /// Whether a log row holds evaluation metrics (TRL prefixes them with `eval_`).
    static func isEvalRow(_ row: [String: Double]) -> Bool {
        row.keys.contains { $0.hasPrefix("eval_") }
    }

    /// The (step, value) points of `key` over `rows`; rows without the key are skipped, rows with
    /// a non-finite value give a gap. A row without `step` is placed at its 1-based position.
    static func points(_ key: String, in rows: [[String: Double]]) -> [SVGChart.Point] {
        var result: [SVGChart.Point] = []
        for (i, row) in rows.enumerated() {
            guard let v = row[key] else { continue }
            result.append(SVGChart.Point(x: row["step"] ?? Double(i + 1), y: v))
        }
        return result
    }

    private static func mean(_ values: [Double]) -> Double? {
        let finite = values.filter(\.isFinite)
        return finite.isEmpty ? nil : finite.reduce(0, +) / Double(finite.count)
    }

    private func curvesHTML() -> String {
        var s = "<section id=\"training-curves\">\n<h2>Training curves</h2>\n"
        if logRows.isEmpty {
            s += "<p class=\"empty\">No training log was recorded.</p>\n</section>\n"
            return s
        }
        let smoothedAny = smoothing > 0
        s += "<div class=\"grid\">\n"
        for spec in curves {
            var series: [SVGChart.Series] = []
            var hasEval = false
            for (key, name, color) in spec.keys {
                let train = Self.points(key, in: logRows)
                let eval = Self.points("eval_" + key, in: logRows)
                if !train.isEmpty {
                    series.append(.init(name: spec.keys.count == 1 ? "train" : name, points: train,
                                        color: color, smoothed: train.count >= 20))
                }
                if !eval.isEmpty {
                    hasEval = true
                    series.append(.init(name: (spec.keys.count == 1 ? "eval" : name + " (eval)"), points: eval,
                                        color: spec.keys.count == 1 ? Self.evalColor : color, dashed: true, smoothed: false))
                }
            }
            if series.isEmpty && spec.optional { continue }
            let svg = SVGChart.line(title: spec.title, xLabel: "step", yLabel: spec.yLabel, series: series,
                                    smoothing: smoothedAny ? smoothing : 0, yIncludes: spec.yIncludes,
                                    width: 520, height: 300)
            var caption = spec.caption
            if hasEval { caption += " Dashed: evaluation." }
            s += "<figure>\(svg)<figcaption>\(esc(caption))</figcaption></figure>\n"
        }
        s += "</div>\n"
        if smoothedAny {
            s += "<p class=\"note\">Long curves are smoothed with an exponential moving average (weight \(esc(Markup.number(smoothing)))); the raw values are drawn faintly behind.</p>\n"
        }
        s += "</section>\n"
        return s
    }

    private func rewardKLHTML() -> String {
        var s = "<section id=\"reward-kl\">\n<h2>Reward vs KL</h2>\n"
        var groups: [SVGChart.ScatterSeries] = []
        if let b = before {
            groups.append(.init(name: "reference (before)",
                                points: [.init(x: b.klNats ?? 0, y: b.meanReward, label: "before")], color: "#6b7280"))
        }
        if !checkpoints.isEmpty {
            groups.append(.init(name: "evaluated policies",
                                points: checkpoints.map { .init(x: $0.klNats, y: $0.meanReward, label: $0.label) },
                                connected: true, color: SVGChart.palette[0]))
        }
        if let a = after, let kl = a.klNats,
           !checkpoints.contains(where: { $0.klNats == kl && $0.meanReward == a.meanReward }) {
            groups.append(.init(name: "final (after)", points: [.init(x: kl, y: a.meanReward, label: "after")],
                                color: SVGChart.palette[2]))
        }
        if groups.isEmpty {
            s += "<p class=\"empty\">No policy was evaluated.</p>\n</section>\n"
            return s
        }
        let svg = SVGChart.scatter(title: "Mean reward against KL from the reference", xLabel: "KL(π‖π_ref), nats",
                                   yLabel: "mean reward", series: groups, xIncludes: 0...0, width: 960, height: 420)
        s += "<figure class=\"wide\" style=\"max-width: 960px\">\(svg)<figcaption>Each point is one evaluated policy. Up and to the left is better: more reward for less divergence from the reference model (the frontier of the DPO paper’s sentiment experiment).</figcaption></figure>\n"
        s += "</section>\n"
        return s
    }

    private func comparisonHTML() -> String {
        var s = "<section id=\"before-after\">\n<h2>Before / after</h2>\n"
        var items: [SVGChart.Comparison] = []
        if let b = before, let a = after {
            items.append(.init(name: "Mean reward", before: b.meanReward, after: a.meanReward))
            if b.klNats != nil || a.klNats != nil {
                items.append(.init(name: "KL (nats)", before: b.klNats ?? .nan, after: a.klNats ?? .nan))
            }
            if let bw = b.winRate, let aw = a.winRate {
                items.append(.init(name: "Win rate", before: bw, after: aw, style: .percent))
            }
        }
        items += extraComparisons
        if items.isEmpty {
            s += "<p class=\"empty\">No before/after evaluation.</p>\n</section>\n"
            return s
        }
        let width = max(520, 190 * Double(items.count) + 32)
        let svg = SVGChart.comparison(title: "Reference model vs trained model", items: items,
                                      beforeLabel: "before", afterLabel: "after", width: width, height: 260)
        // Never wider than drawn: the panels' text would otherwise grow past the page's type size.
        s += "<figure class=\"wide\" style=\"max-width: \(Markup.coordinate(width))px\">\(svg)</figure>\n"
        if let b = before, let a = after {
            s += "<table class=\"metrics\"><thead><tr><th></th><th>before</th><th>after</th></tr></thead><tbody>\n"
            func row(_ name: String, _ x: String, _ y: String) -> String {
                "<tr><th>\(esc(name))</th><td>\(esc(x))</td><td>\(esc(y))</td></tr>\n"
            }
            s += row("mean reward", Markup.number(b.meanReward), Markup.number(a.meanReward))
            s += row("KL from reference (nats)", b.klNats.map { Markup.number($0) } ?? "—", a.klNats.map { Markup.number($0) } ?? "—")
            s += row("win rate", b.winRate.map { Markup.percent($0) } ?? "—", a.winRate.map { Markup.percent($0) } ?? "—")
            s += row("prompts", String(b.promptCount), String(a.promptCount))
            s += "</tbody></table>\n"
        }
        s += "</section>\n"
        return s
    }

    private func samplesHTML() -> String {
        var s = "<section id=\"samples\">\n<h2>Samples</h2>\n"
        if samples.isEmpty {
            s += "<p class=\"empty\">No samples were recorded.</p>\n</section>\n"
            return s
        }
        s += "<table class=\"samples\"><colgroup><col class=\"prompt\"><col><col></colgroup>\n"
        s += "<thead><tr><th>Prompt</th><th>Before (reference)</th><th>After (trained)</th></tr></thead>\n<tbody>\n"
        for sample in samples {
            s += "<tr><td class=\"text\">\(esc(sample.prompt))</td>"
            s += "<td><div class=\"score\(Self.scoreClass(sample.beforeScore))\">\(esc(Self.score(sample.beforeScore)))</div>"
            s += "<div class=\"text\">\(esc(Self.trimmedStart(sample.before)))</div></td>"
            s += "<td><div class=\"score\(Self.scoreClass(sample.afterScore))\">\(esc(Self.score(sample.afterScore)))</div>"
            s += "<div class=\"text\">\(esc(Self.trimmedStart(sample.after)))</div></td></tr>\n"
        }
        s += "</tbody></table>\n</section>\n"
        return s
    }

    /// A continuation usually starts with the space that separates it from the prompt; in its
    /// own cell that space would only indent the first line.
    private static func trimmedStart(_ text: String) -> String {
        String(text.drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
    }

    /// A sample's reward for its badge; a missing score (NaN) shows as a dash.
    private static func score(_ value: Double) -> String {
        value.isFinite ? Markup.number(value, significant: 3) : "—"
    }

    private static func scoreClass(_ score: Double) -> String {
        guard score.isFinite else { return "" }
        return score > 0.05 ? " pos" : score < -0.05 ? " neg" : ""
    }

    private func settingsHTML() -> String {
        var s = "<section id=\"settings\">\n<h2>Settings</h2>\n<div class=\"two\">\n"
        s += "<table class=\"kv\"><tbody>\n"
        func row(_ k: String, _ v: String) -> String { "<tr><th>\(esc(k))</th><td>\(esc(v))</td></tr>\n" }
        s += row("model", metadata.model)
        s += row("data", metadata.dataset)
        if !metadata.objective.isEmpty { s += row("objective", metadata.objective) }
        for (k, v) in metadata.settings { s += row(k, v) }
        if let t = metadata.wallTimeSeconds { s += row("wall time", Markup.duration(t)) }
        s += row("log lines", String(logRows.count))
        s += "</tbody></table>\n"
        // Last finite value of every logged key, sorted by name (dictionary order is random).
        var last: [String: Double] = [:]
        for row in logRows {
            for (k, v) in row where v.isFinite { last[k] = v }
        }
        if !last.isEmpty {
            s += "<table class=\"kv\"><thead><tr><th colspan=\"2\">Last logged values</th></tr></thead><tbody>\n"
            for k in last.keys.sorted() {
                s += row(k, Markup.number(last[k]!, significant: 5))
            }
            s += "</tbody></table>\n"
        }
        s += "</div>\n</section>\n"
        return s
    }

    /// The stylesheet: system fonts, a centred column, a two-column chart grid that collapses on
    /// narrow screens, and print rules that keep figures whole.
    static let css = """

    :root { --fg: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f8fafc; --accent: #2563eb; }
    * { box-sizing: border-box; }
    body { margin: 0; background: var(--bg); color: var(--fg); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
    main { max-width: 1120px; margin: 0 auto; padding: 28px 24px 48px; }
    header h1 { margin: 0 0 4px; font-size: 26px; font-weight: 650; letter-spacing: -0.01em; }
    .subtitle { margin: 0 0 12px; color: var(--muted); }
    nav a { color: var(--accent); text-decoration: none; margin-right: 14px; font-size: 14px; }
    section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 18px 22px 20px; margin-top: 20px; }
    h2 { margin: 0 0 14px; font-size: 18px; font-weight: 650; }
    .cards { display: grid; grid-template-columns: 2fr 1fr 1fr 1fr; gap: 12px; }
    .card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; background: #fbfdff; }
    .card .label { color: var(--muted); font-size: 12.5px; text-transform: uppercase; letter-spacing: 0.04em; }
    .card .value { font-size: 24px; margin-top: 4px; font-variant-numeric: tabular-nums; white-space: nowrap; }
    .card .value strong { font-weight: 700; }
    .card .arrow { color: var(--muted); }
    .card .sub { color: var(--muted); font-size: 13px; }
    .up { color: #047857; font-weight: 600; } .down { color: #b91c1c; font-weight: 600; }
    .note { color: var(--muted); font-size: 13.5px; margin: 12px 0 0; }
    .notes { margin: 10px 0 0; padding-left: 20px; color: #92400e; font-size: 13.5px; }
    .empty { color: var(--muted); font-style: italic; }
    .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
    figure { margin: 0; }
    figure svg { width: 100%; height: auto; display: block; border: 1px solid var(--line); border-radius: 6px; }
    figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
    table { border-collapse: collapse; font-size: 14px; }
    th, td { text-align: left; vertical-align: top; padding: 6px 10px; border-bottom: 1px solid var(--line); }
    thead th { font-size: 12.5px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; }
    table.metrics { margin-top: 14px; font-variant-numeric: tabular-nums; }
    table.metrics td, table.metrics thead th { text-align: right; min-width: 90px; }
    table.samples { width: 100%; table-layout: fixed; }
    table.samples col.prompt { width: 28%; }
    .text { white-space: pre-wrap; overflow-wrap: anywhere; }
    td.text { color: #374151; }
    .score { display: inline-block; font-size: 12px; font-weight: 600; padding: 0 7px; border-radius: 10px; background: #f3f4f6; color: #374151; margin-bottom: 3px; font-variant-numeric: tabular-nums; }
    .score.pos { background: #d1fae5; color: #065f46; } .score.neg { background: #fee2e2; color: #991b1b; }
    .two { display: grid; grid-template-columns: 1fr 1fr; gap: 24px; align-items: start; }
    table.kv { width: 100%; font-variant-numeric: tabular-nums; }
    table.kv th { font-weight: 500; color: #374151; width: 45%; overflow-wrap: anywhere; }
    table.kv td { overflow-wrap: anywhere; }
    footer { color: var(--muted); font-size: 12.5px; margin-top: 24px; text-align: center; }
    @media (max-width: 820px) { .grid, .two { grid-template-columns: 1fr; } .cards { grid-template-columns: 1fr 1fr; } }
    @media print { body { background: #fff; } section { break-inside: avoid-page; border: none; padding: 0; } figure { break-inside: avoid; } nav { display: none; } }

    """
}
