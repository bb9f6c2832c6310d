import Dispatch
import Foundation

/// A Bradley–Terry model fitted by maximum likelihood, with bootstrap confidence intervals.
///
/// Each item i has a log-strength sᵢ and, between two items,
///
///     P(i beats j) = σ(sᵢ − sⱼ) = 1 / (1 + e^−(sᵢ − sⱼ)),
///
/// so a strength difference of 1 means odds of e ≈ 2.72 to 1. Strengths are reported with mean zero,
/// and on the Elo scale as `1500 + 400/ln 10 · s` (≈ 1500 + 173.7·s), where 400 Elo points are odds
/// of 10 to 1.
///
/// Ties count as half a win for each side by default (`.half`), or follow the Davidson model
/// (`.davidson`), P(tie) = ν√(πᵢπⱼ) / (πᵢ + πⱼ + ν√(πᵢπⱼ)) with πᵢ = e^sᵢ and ν estimated too.
///
/// Maximum-likelihood strengths are finite only when every item can be reached from every other by a
/// chain of wins (a strongly connected comparison graph; a tie links both ways). When that fails (an
/// item never lost or never won, or the items split into groups never compared with one another) the
/// fit adds a weak N(0, σ²) prior on each log-strength (σ = 2 by default, about 347 Elo points) and
/// says so in `RatingResult.warnings`.
///
/// ```swift
/// let comparisons = try ComparisonSet(json: bytes, source: "prefs.jsonl")
/// let result = try BradleyTerry(ties: .davidson, seed: 7).fit(comparisons)
/// for item in result.items { print(item.id, item.strength, item.elo) }
/// ```
public struct BradleyTerry: Sendable, Equatable {
    /// How a tied comparison enters the likelihood.
    public enum TieModel: String, Sendable, CaseIterable {
        /// A tie counts as half a win for each side.
        case half
        /// Davidson (1970): ties have their own probability, governed by a fitted ν ≥ 0.
        case davidson
    }

    /// When to add the Gaussian prior on log-strengths.
    public enum PriorPolicy: String, Sendable, CaseIterable {
        /// Only when maximum-likelihood strengths would diverge; otherwise a pure MLE.
        case automatic = "auto"
        /// Always (a maximum a posteriori estimate).
        case always
        /// Never; fitting data without a finite MLE then throws.
        case never
    }

    /// Elo points per unit of natural-log strength: 400 / ln 10.
    public static let eloPerUnitStrength = 400 / log(10.0)

    /// The Elo rating of a log-strength: 1500 + 400/ln 10 · `strength`.
    public static func elo(_ strength: Double) -> Double { 1500 + eloPerUnitStrength * strength }

    /// How ties are modelled.
    public var ties: TieModel
    /// When the prior on log-strengths applies.
    public var prior: PriorPolicy
    /// σ of the N(0, σ²) prior on each log-strength, in natural-log units.
    public var priorStandardDeviation: Double
    /// Bootstrap resamples for the confidence intervals; 0 skips them.
    public var bootstrapSamples: Int
    /// Coverage of the percentile intervals, in (0, 1).
    public var confidence: Double
    /// Seed of the bootstrap resampling; equal seeds give identical intervals.
    public var seed: UInt64
    /// Newton stops when the gradient's Euclidean norm is below this (or below the rounding floor of
    /// 1e-15 × the total comparison weight, when that is larger).
    public var tolerance: Double
    /// Newton iterations allowed per fit.
    public var maxIterations: Int

    /// Creates fit options; the defaults are those of `align rate`.
    public init(
        ties: TieModel = .half, prior: PriorPolicy = .automatic, priorStandardDeviation: Double = 2,
        bootstrapSamples: Int = 1000, confidence: Double = 0.95, seed: UInt64 = 0,
        tolerance: Double = 1e-10, maxIterations: Int = 100
    ) {
        self.ties = ties
        self.prior = prior
        self.priorStandardDeviation = priorStandardDeviation
        self.bootstrapSamples = bootstrapSamples
        self.confidence = confidence
        self.seed = seed
        self.tolerance = tolerance
        self.maxIterations = maxIterations
    }

    /// Throws `RatingError.invalidOption` for options outside their ranges.
    public func validate() throws {
        if bootstrapSamples < 0 { throw RatingError.invalidOption("--bootstrap must be 0 or more, got \(bootstrapSamples)") }
        if !(confidence > 0 && confidence < 1) {
            throw RatingError.invalidOption("--confidence must lie strictly between 0 and 1, got \(confidence)")
        }
        if !(priorStandardDeviation > 0 && priorStandardDeviation.isFinite) {
            throw RatingError.invalidOption("--prior-sd must be a positive number, got \(priorStandardDeviation)")
        }
        if !(tolerance > 0) { throw RatingError.invalidOption("tolerance must be positive, got \(tolerance)") }
        if maxIterations < 1 { throw RatingError.invalidOption("maxIterations must be at least 1, got \(maxIterations)") }
    }

    /// The probabilities that an item with log-strength `s` more than its opponent wins, ties and loses.
    ///
    /// - Parameter nu: the Davidson ν, or `nil` for the model without ties (whose tie probability is 0).
    public static func outcomeProbabilities(strengthDifference d: Double, nu: Double?)
        -> (win: Double, tie: Double, loss: Double)
    {
        guard let nu, nu > 0 else { return (sigmoid(d), 0, sigmoid(-d)) }
        if nu == .infinity { return (0, 1, 0) }
        // Divide numerator and denominator by √(πᵢπⱼ): P(win) = e^{d/2} / (e^{d/2} + e^{−d/2} + ν).
        let h = 0.5 * d, theta = log(nu)
        let top = max(abs(h), theta)
        let ew = exp(h - top), el = exp(-h - top), et = exp(theta - top)
        let z = ew + el + et
        return (ew / z, et / z, el / z)
    }

    /// Fits the model to `comparisons`, then bootstraps confidence intervals.
    ///
    /// - Throws: `RatingError` for invalid options, an empty set, a Davidson fit of nothing but ties,
    ///   or (with `prior: .never`) data without finite maximum-likelihood strengths.
    public func fit(_ comparisons: ComparisonSet) throws -> RatingResult {
        try validate()
        guard !comparisons.comparisons.isEmpty else { throw RatingError.noComparisons }
        let layout = PairLayout(comparisons)
        let counts = PairCounts(layout)
        if ties == .davidson && counts.totalDecisive == 0 { throw RatingError.onlyTies }

        var warnings: [String] = []
        let connectivity = ConnectivityReport(layout: layout, counts: counts, detailed: true)
        let usePrior: Bool
        switch prior {
        case .always: usePrior = true
        case .automatic:
            usePrior = !connectivity.isStronglyConnected
            if usePrior { warnings.append(priorWarning(connectivity, items: comparisons.items)) }
        case .never:
            if !connectivity.isStronglyConnected {
                throw RatingError.noFiniteEstimate(
                    connectivityExplanation(connectivity, items: comparisons.items))
            }
            usePrior = false
        }
        let precision = usePrior ? 1 / (priorStandardDeviation * priorStandardDeviation) : 0

        let solver = NewtonSolver(layout: layout, davidson: ties == .davidson)
        let estimate = solver.fit(
            counts: counts, priorPrecision: precision, start: nil, startLogNu: nil,
            tolerance: tolerance, maxIterations: maxIterations)
        if !estimate.converged {
            warnings.append(
                "the fit stopped after \(estimate.iterations) Newton iterations with gradient norm "
                    + "\(estimate.gradientNorm), above the tolerance \(tolerance)")
        }
        if ties == .davidson && counts.totalTies == 0 {
            warnings.append("no ties in the data: the Davidson ν is estimated as 0, the model without ties")
        }

        var bootstrap: BootstrapSummary? = nil
        var intervals: [ClosedRange<Double>]? = nil
        if bootstrapSamples > 0 {
            let run = runBootstrap(layout: layout, estimate: estimate, fullDataUsedPrior: usePrior)
            intervals = run.intervals
            bootstrap = run.summary
            if run.summary.replicatesWithPrior > 0 && !usePrior {
                warnings.append(
                    "\(run.summary.replicatesWithPrior) of \(bootstrapSamples) bootstrap resamples had no finite "
                        + "maximum-likelihood estimate and were refitted with the N(0, \(format(priorStandardDeviation))²) prior")
            }
            if run.summary.unconvergedReplicates > 0 {
                warnings.append("\(run.summary.unconvergedReplicates) bootstrap refits did not reach the tolerance")
            }
        }

        let tallies = comparisons.tallies()
        var items: [RatedItem] = comparisons.items.indices.map { k in
            RatedItem(
                id: comparisons.items[k], strength: estimate.strengths[k], interval: intervals?[k],
                wins: tallies[k].wins, losses: tallies[k].losses, ties: tallies[k].ties)
        }
        items.sort { $0.strength != $1.strength ? $0.strength > $1.strength : $0.id < $1.id }
        return RatingResult(
            items: items, tieModel: ties, nu: estimate.logNu.map { exp($0) },
            logLikelihood: estimate.logLikelihood, iterations: estimate.iterations,
            gradientNorm: estimate.gradientNorm, converged: estimate.converged,
            priorStandardDeviation: usePrior ? priorStandardDeviation : nil, warnings: warnings,
            bootstrap: bootstrap, comparisonCount: comparisons.comparisons.count,
            totalWeight: comparisons.totalWeight)
    }

    // MARK: - Bootstrap

    private func runBootstrap(layout: PairLayout, estimate: SolverOutput, fullDataUsedPrior: Bool)
        -> (intervals: [ClosedRange<Double>], summary: BootstrapSummary)
    {
        let n = layout.itemCount, samples = bootstrapSamples
        let comparisonCount = layout.pairOfComparison.count
        var strengths = [Double](repeating: 0, count: samples * n)
        var logNus = [Double](repeating: 0, count: samples)
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, samples))
        var priorReplicates = [Int](repeating: 0, count: workers)
        var unconverged = [Int](repeating: 0, count: workers)
        let precision = 1 / (priorStandardDeviation * priorStandardDeviation)
        let davidson = ties == .davidson
        let (tolerance, maxIterations, seed) = (self.tolerance, self.maxIterations, self.seed)

        strengths.withUnsafeMutableBufferPointer { strengthRows in
        logNus.withUnsafeMutableBufferPointer { nuSlots in
        priorReplicates.withUnsafeMutableBufferPointer { priorCounts in
        unconverged.withUnsafeMutableBufferPointer { unconvergedCounts in
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let solver = NewtonSolver(layout: layout, davidson: davidson)
                var counts = PairCounts(pairCount: layout.pairCount)
                // Replicate b uses its own stream and starts from the full-data estimate, so its
                // result does not depend on which worker ran it or in what order.
                for b in stride(from: worker, to: samples, by: workers) {
                    var rng = SplitMix64(seed: seed, stream: UInt64(b))
                    counts.reset()
                    for _ in 0..<comparisonCount {
                        counts.add(layout, comparison: rng.nextIndex(below: comparisonCount))
                    }
                    var usePrior = fullDataUsedPrior
                    if !usePrior
                        && !ConnectivityReport(layout: layout, counts: counts, detailed: false).isStronglyConnected
                    {
                        usePrior = true
                        priorCounts[worker] += 1
                    }
                    let refit = solver.fit(
                        counts: counts, priorPrecision: usePrior ? precision : 0, start: estimate.strengths,
                        startLogNu: estimate.logNu, tolerance: tolerance, maxIterations: maxIterations,
                        computeLogLikelihood: false)
                    if !refit.converged { unconvergedCounts[worker] += 1 }
                    for i in 0..<n { strengthRows[b * n + i] = refit.strengths[i] }
                    nuSlots[b] = refit.logNu ?? 0
                }
            }
        }}}}

        var column = [Double](repeating: 0, count: samples)
        var intervals: [ClosedRange<Double>] = []
        intervals.reserveCapacity(n)
        for i in 0..<n {
            for b in 0..<samples { column[b] = strengths[b * n + i] }
            column.sort()
            intervals.append(Bootstrap.percentileInterval(sorted: column, confidence: confidence))
        }
        var nuInterval: ClosedRange<Double>? = nil
        if davidson {
            nuInterval = Bootstrap.percentileInterval(sorted: logNus.map { exp($0) }.sorted(), confidence: confidence)
        }
        let summary = BootstrapSummary(
            samples: samples, confidence: confidence, seed: seed,
            replicatesWithPrior: priorReplicates.reduce(0, +), unconvergedReplicates: unconverged.reduce(0, +),
            nuInterval: nuInterval)
        return (intervals, summary)
    }

    // MARK: - Warnings

    private func priorWarning(_ report: ConnectivityReport, items: [ItemID]) -> String {
        let sd = format(priorStandardDeviation)
        let elo = format(priorStandardDeviation * BradleyTerry.eloPerUnitStrength, digits: 0)
        return connectivityExplanation(report, items: items)
            + "; added a weak N(0, \(sd)²) prior on log-strengths (σ = \(sd), about \(elo) Elo points)"
    }

    private func connectivityExplanation(_ report: ConnectivityReport, items: [ItemID]) -> String {
        var reasons: [String] = []
        if !report.neverLost.isEmpty { reasons.append("never lost: \(names(report.neverLost, items))") }
        if !report.neverWon.isEmpty { reasons.append("never won: \(names(report.neverWon, items))") }
        if !report.disconnectedGroups.isEmpty {
            let groups = report.disconnectedGroups.prefix(6).map { "{\(names($0, items, limit: 6))}" }
            let more = report.disconnectedGroups.count > 6 ? " and \(report.disconnectedGroups.count - 6) more" : ""
            reasons.append("\(report.disconnectedGroups.count) groups never compared with each other: "
                + groups.joined(separator: " ") + more)
        }
        if reasons.isEmpty {
            // Every item won and lost somewhere, yet some group never beat another one.
            let groups = report.strongGroups.prefix(6).map { "{\(names($0, items, limit: 6))}" }
            reasons.append("no item of a later group ever beat one of an earlier group: "
                + groups.joined(separator: " > ") + (report.strongGroups.count > 6 ? " > …" : ""))
        }
        return "maximum-likelihood strengths diverge because the comparison graph is not strongly connected ("
            + reasons.joined(separator: "; ") + ")"
    }

    private func names(_ indices: [Int], _ items: [ItemID], limit: Int = 12) -> String {
        let shown = indices.prefix(limit).map { items[$0].description }.joined(separator: ", ")
        return indices.count > limit ? shown + " and \(indices.count - limit) more" : shown
    }
}

/// Percentile of sorted values with linear interpolation between order statistics (Hyndman–Fan
/// type 7, the default of R and NumPy).
func quantile(_ sorted: [Double], _ p: Double) -> Double {
    precondition(!sorted.isEmpty)
    let h = Double(sorted.count - 1) * p
    let lo = Int(h.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
    let a = sorted[lo], b = sorted[hi]
    if a == b || !a.isFinite || !b.isFinite { return h - Double(lo) < 0.5 ? a : b }
    return a + (h - Double(lo)) * (b - a)
}

/// Formats `x` with `digits` decimals, dropping trailing zeros (`2`, `0.5`).
func format(_ x: Double, digits: Int = 3) -> String {
    var text = String(format: "%.\(digits)f", x)
    if text.contains(".") {
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
    }
    return text == "-0" ? "0" : text
}

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, fast generator whose streams for different
/// (seed, stream) pairs are independent enough for bootstrap resampling.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64, stream: UInt64) {
        // Mix the stream number in through one round of the output function, so streams 0, 1, 2…
        // start far apart instead of one increment apart.
        var s = SplitMix64(state: seed ^ 0x6A09_E667_F3BC_C909)
        state = s.next() ^ (stream &* 0x9E37_79B9_7F4A_7C15)
        state = next()
    }

    private init(state: UInt64) { self.state = state }

    @inline(__always)
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `0..<bound` (Lemire's multiply-and-reject, unbiased).
    @inline(__always)
    mutating func nextIndex(below bound: Int) -> Int {
        let b = UInt64(bound)
        var m = b.multipliedFullWidth(by: next())
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = b.multipliedFullWidth(by: next()) }
        }
        return Int(m.high)
    }
}
