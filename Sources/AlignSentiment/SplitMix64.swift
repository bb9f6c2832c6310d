/// SplitMix64 (Steele, Lea & Flood 2014): a tiny seeded generator whose whole state is one integer.
///
/// AlignSentiment depends on nothing else in Align, so it carries its own generator for the few
/// reproducible choices it makes (prompt splits and prefix lengths). Equal seeds give equal
/// streams on every platform.
struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The generator's state; each step adds the golden-ratio increment.
    private(set) var state: UInt64

    /// Creates a generator whose stream is fixed by `seed`.
    init(seed: UInt64) { state = seed }

    /// The 64-bit finaliser of SplitMix64: a bijection that spreads every input bit over the output.
    /// Used to derive independent per-item seeds from a run seed and an item id.
    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next 64 random bits.
    @inline(__always)
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// A uniform double in [0, 1) with 53 random bits.
    mutating func nextUnit() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// A uniform integer in `range`, without modulo bias (rejection sampling). Meant for small
    /// ranges; the width must fit in an `Int`.
    mutating func nextInt(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) + 1
        let limit = UInt64.max - UInt64.max % span
        while true {
            let r = next()
            if r < limit { return range.lowerBound + Int(r % span) }
        }
    }
}
