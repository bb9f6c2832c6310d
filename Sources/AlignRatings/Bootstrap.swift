/// Percentile-bootstrap confidence intervals over independent items (prompts, images): what an
/// evaluation reports beside a mean so a reader can tell a change from sampling noise.
///
/// Items are resampled with replacement; every statistic of a resample is computed over the same
/// drawn items, so paired quantities (an image's reward before and after training) stay paired.
/// Deterministic: equal seeds give equal intervals.
public enum Bootstrap {
    /// The `confidence` percentile interval of `statistic` over `resamples` resamples of the item
    /// indices `0..<count`. `statistic` receives the drawn indices (with repeats).
    public static func interval(count: Int, resamples: Int = 2000, confidence: Double = 0.95, seed: UInt64 = 0,
                                statistic: ([Int]) -> Double) -> (lower: Double, upper: Double) {
        precondition(count > 0 && resamples > 1 && confidence > 0 && confidence < 1, "bootstrap needs items, resamples and 0 < confidence < 1")
        var draws = [Double]()
        draws.reserveCapacity(resamples)
        var indices = [Int](repeating: 0, count: count)
        for b in 0..<resamples {
            var rng = SplitMix64(seed: seed, stream: UInt64(b))
            for i in 0..<count { indices[i] = rng.nextIndex(below: count) }
            draws.append(statistic(indices))
        }
        draws.sort()
        let tail = (1 - confidence) / 2
        return (quantile(draws, tail), quantile(draws, 1 - tail))
    }

    /// The interval of the mean of `values`.
    public static func meanInterval(_ values: [Double], resamples: Int = 2000, confidence: Double = 0.95,
                                    seed: UInt64 = 0) -> (lower: Double, upper: Double) {
        interval(count: values.count, resamples: resamples, confidence: confidence, seed: seed) { idx in
            idx.reduce(0) { $0 + values[$1] } / Double(idx.count)
        }
    }

    /// Linear interpolation between order statistics (numpy's default `percentile`).
    static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        let position = q * Double(sorted.count - 1)
        let lo = Int(position.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (position - Double(lo))
    }
}
