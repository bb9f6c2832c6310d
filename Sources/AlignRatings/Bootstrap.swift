/// Percentile-bootstrap confidence intervals over independent items (prompts, images): what an
/// evaluation reports beside a mean so a reader can tell a change from sampling noise.
///
/// Items are resampled with replacement; every statistic of a resample is computed over the same
/// drawn items, so paired quantities (an image's reward before and after training) stay paired.
/// Resample b draws from its own ``SplitMix64`` stream of (seed, b), so equal seeds give equal
/// intervals whatever the order of evaluation. `align rate` cuts its Bradley–Terry refits with the
/// same ``percentileInterval(sorted:confidence:)``.
public enum Bootstrap {
    /// The default number of resamples: enough for stable 2.5 % / 97.5 % quantiles (their Monte
    /// Carlo error is then well below the interval's width).
    public static let defaultResamples = 2000

    /// The `confidence` percentile interval of `statistic` over `resamples` resamples of the item
    /// indices `0..<count`. `statistic` receives the drawn indices (with repeats).
    public static func interval(count: Int, resamples: Int = defaultResamples, confidence: Double = 0.95, seed: UInt64 = 0,
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
        let range = percentileInterval(sorted: draws, confidence: confidence)
        return (range.lowerBound, range.upperBound)
    }

    /// The interval of the mean of `values`.
    public static func meanInterval(_ values: [Double], resamples: Int = defaultResamples, confidence: Double = 0.95,
                                    seed: UInt64 = 0) -> (lower: Double, upper: Double) {
        interval(count: values.count, resamples: resamples, confidence: confidence, seed: seed) { idx in
            idx.reduce(0) { $0 + values[$1] } / Double(idx.count)
        }
    }

    /// The percentile interval of sorted replicates: the (1 − c)/2 and (1 + c)/2 quantiles, with
    /// linear interpolation between order statistics (Hyndman–Fan type 7, NumPy's default).
    /// - Precondition: `sorted` is non-empty and ascending.
    public static func percentileInterval(sorted: [Double], confidence: Double) -> ClosedRange<Double> {
        let tail = (1 - confidence) / 2
        return quantile(sorted, tail)...quantile(sorted, 1 - tail)
    }
}
