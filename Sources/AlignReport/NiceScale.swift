/// An axis range rounded outwards to "nice" tick values (1, 2 or 5 times a power of ten), after
/// Paul Heckbert's "Nice Numbers for Graph Labels" (Graphics Gems, 1990), with the step chosen
/// among the nice neighbours to land closest to the requested tick count.
///
/// Degenerate inputs are handled so a chart can always be drawn: an empty or non-finite range
/// becomes 0...1, and a single value `v` is widened to a small range around it.
///
///     let scale = NiceScale(lower: 0.13, upper: 0.87)
///     scale.ticks            // [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
///     scale.label(for: 0.4)  // "0.4"
public struct NiceScale: Equatable, Sendable {
    /// The first tick, at or below the smallest data value.
    public let lower: Double
    /// The last tick, at or above the largest data value.
    public let upper: Double
    /// The distance between neighbouring ticks: 1, 2 or 5 times a power of ten.
    public let step: Double

    /// Builds a scale covering `lower...upper` with about `maxTicks` ticks (at least 2).
    ///
    /// The bounds may come in either order; NaN or infinite bounds are ignored. A positive
    /// `minimumStep` keeps ticks at least that far apart (1 for integer values such as steps,
    /// so a short run is not labelled 1.5, 2.5).
    public init(lower: Double, upper: Double, maxTicks: Int = 6, minimumStep: Double = 0) {
        var lo = Swift.min(lower, upper), hi = Swift.max(lower, upper)
        if !lo.isFinite && !hi.isFinite { lo = 0; hi = 1 }
        else if !lo.isFinite { lo = hi }
        else if !hi.isFinite { hi = lo }
        if lo == hi {
            // One value: show it in the middle of a range a tenth of its size (or ±1 around zero).
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            lo -= pad
            hi += pad
        }
        var step = NiceScale.bestStep(lower: lo, upper: hi, targetTicks: Swift.max(2, maxTicks))
        // Widening by ±10 % of a huge value can overflow the range; keep a finite positive step.
        if !step.isFinite || step <= 0 { step = 1 }
        if minimumStep > 0, minimumStep.isFinite, step < minimumStep {
            step = NiceScale.niceNumber(minimumStep, round: false)
        }
        self.step = step
        self.lower = (lo / step).rounded(.down) * step
        self.upper = (hi / step).rounded(.up) * step
    }

    /// Builds a scale covering the finite values of `values` (NaN and infinities are skipped);
    /// see `init(lower:upper:maxTicks:minimumStep:)`.
    public init<S: Sequence>(covering values: S, maxTicks: Int = 6, minimumStep: Double = 0) where S.Element == Double {
        var lo = Double.infinity, hi = -Double.infinity
        for v in values where v.isFinite {
            lo = Swift.min(lo, v)
            hi = Swift.max(hi, v)
        }
        self.init(lower: lo, upper: hi, maxTicks: maxTicks, minimumStep: minimumStep)
    }

    /// The tick values from `lower` to `upper`, snapped to multiples of `step` so that accumulated
    /// floating-point error never shows (0.30000000000000004 becomes 0.3) and `-0` becomes `0`.
    public var ticks: [Double] {
        let count = Int(((upper - lower) / step).rounded()) + 1
        guard count > 0, count <= 1000 else { return [lower, upper] }
        let first = (lower / step).rounded()
        // step = m·10^e with integer m; k·m is exact, and dividing by an exact 10^-e rounds once,
        // so 3 × 0.2 comes out as 0.6 rather than 0.6000000000000001.
        let e = Int(step.log10Floor)
        let m = (step / Markup.pow10(e)).rounded()
        return (0..<count).map { i in
            let k = (first + Double(i)) * m
            let v = e >= 0 ? k * Markup.pow10(e) : k / Markup.pow10(-e)
            return v == 0 ? 0 : v
        }
    }

    /// The number of decimals needed to tell the ticks apart (0 for steps of 1 or more).
    public var decimals: Int {
        Swift.max(0, -Int(step.log10Floor))
    }

    /// Whether tick labels read better in scientific notation (very small or very large values).
    public var usesScientificNotation: Bool {
        // Judged by magnitude, not step: a tiny range around 0.69 reads best as 0.6931, 0.6932.
        let largest = Swift.max(abs(lower), abs(upper))
        return largest > 0 && (largest < 1e-3 || largest >= 1e7)
    }

    /// The label for tick value `value`, with just enough digits for this scale's step.
    public func label(for value: Double) -> String {
        if usesScientificNotation {
            if value == 0 { return "0" }
            // Each tick in its own exponent (8e-7, 1e-6, 1.2e-6), with the digits the step needs.
            // The 1e-9 nudge keeps 9.999999999999999e-7 (a snapped 1e-6) from printing as "10e-7".
            let exponent = Int((abs(value) * (1 + 1e-9)).log10Floor)
            let mantissaDecimals = Swift.max(0, exponent - Int(step.log10Floor))
            let mantissa = value / Markup.pow10(exponent)
            return Markup.fixed(mantissa, decimals: mantissaDecimals, trimZeros: true) + "e" + String(exponent)
        }
        return Markup.fixed(value, decimals: decimals)
    }

    /// Picks the step among Heckbert's nice numbers (1, 2, 5 × 10^k) near the raw step
    /// `(upper − lower) / (targetTicks − 1)` whose outward-rounded axis has the tick count closest
    /// to `targetTicks`, preferring the tighter axis on a tie.
    ///
    /// Heckbert's original rounds the range first and then the step, which often lands on half
    /// the requested ticks (−1.7...0.35 with 6 requested gives 4 ticks of 1); comparing the
    /// neighbouring candidates keeps the same nice values but a more even density.
    static func bestStep(lower: Double, upper: Double, targetTicks: Int) -> Double {
        let raw = (upper - lower) / Double(targetTicks - 1)
        guard raw.isFinite, raw > 0 else { return 1 }
        let exponent = Int(raw.log10Floor)
        var best = NiceScale.niceNumber(raw, round: true)
        var bestDistance = Int.max
        var bestSpan = Double.infinity
        for e in (exponent - 1)...(exponent + 1) {
            for mantissa in [1.0, 2.0, 5.0] {
                let step = mantissa * Markup.pow10(e)
                let first = (lower / step).rounded(.down), last = (upper / step).rounded(.up)
                let distance = abs(Int(last - first) + 1 - targetTicks)
                // On a tie, the axis that wastes less room around the data wins.
                let span = (last - first) * step
                if distance < bestDistance || (distance == bestDistance && span < bestSpan) {
                    best = step
                    bestDistance = distance
                    bestSpan = span
                }
            }
        }
        return best
    }

    /// Heckbert's nice number: the 1, 2, 5 or 10 times a power of ten closest to `value` (when
    /// `round`) or at least `value` (otherwise).
    public static func niceNumber(_ value: Double, round: Bool) -> Double {
        guard value.isFinite, value > 0 else { return 1 }
        let exponent = Int(value.log10Floor)
        let power = Markup.pow10(exponent)
        let fraction = value / power
        let nice: Double
        if round {
            nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10
        } else {
            nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
        }
        return nice * power
    }
}
