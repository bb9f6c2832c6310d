/// Weighted sums of named metrics, so micro-batches, accumulation steps and logging windows
/// combine into exactly the averages one large batch would give.
public struct StepMetrics: Sendable, Codable {
    /// key → [Σ value, Σ weight]
    private(set) var sums: [String: [Double]] = [:]

    public init() {}

    /// Adds `value` with `weight` (a per-example mean adds value·count with weight count).
    public mutating func add(_ key: String, sum value: Double, weight: Double) {
        let old = sums[key] ?? [0, 0]
        sums[key] = [old[0] + value, old[1] + weight]
    }

    /// Adds one observation of weight 1.
    public mutating func add(_ key: String, _ value: Double) { add(key, sum: value, weight: 1) }

    /// Merges another set of sums.
    public mutating func merge(_ other: StepMetrics) {
        for (k, v) in other.sums { add(k, sum: v[0], weight: v[1]) }
    }

    /// The weighted mean of every metric (0 where the weight is 0, as TRL reports empty sets).
    public var averages: [String: Double] {
        sums.mapValues { $0[1] > 0 ? $0[0] / $0[1] : 0 }
    }

    public var isEmpty: Bool { sums.isEmpty }
}
