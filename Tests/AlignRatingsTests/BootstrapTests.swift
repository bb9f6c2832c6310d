import Foundation
import Testing

@testable import AlignRatings

/// 6 items, 400 comparisons drawn from known strengths with a fixed generator.
private func simulated(seed: UInt64 = 99) -> ComparisonSet {
    let truth = [1.2, 0.6, 0.1, -0.2, -0.7, -1.0]
    var rng = SplitMix64(seed: seed, stream: 0)
    var set = ComparisonSet()
    for _ in 0..<400 {
        let i = rng.nextIndex(below: 6)
        var j = rng.nextIndex(below: 5)
        if j >= i { j += 1 }
        let u = Double(rng.next() >> 11) / 9_007_199_254_740_992
        let p = 1 / (1 + exp(truth[j] - truth[i]))
        let a = ItemID.string("m\(i)"), b = ItemID.string("m\(j)")
        if abs(u - p) < 0.05 { set.append(a, b, outcome: .tie) } else if u < p { set.append(winner: a, loser: b) } else { set.append(winner: b, loser: a) }
    }
    return set
}

@Test func bootstrapIsDeterministicForASeed() throws {
    let set = simulated()
    let first = try BradleyTerry(bootstrapSamples: 200, seed: 42).fit(set)
    let again = try BradleyTerry(bootstrapSamples: 200, seed: 42).fit(set)
    let other = try BradleyTerry(bootstrapSamples: 200, seed: 43).fit(set)
    #expect(first.items.map(\.interval) == again.items.map(\.interval))
    #expect(first.items.map(\.interval) != other.items.map(\.interval))
    #expect(first.bootstrap == BootstrapSummary(
        samples: 200, confidence: 0.95, seed: 42, replicatesWithPrior: 0, unconvergedReplicates: 0, nuInterval: nil))
}

@Test func intervalsBracketTheEstimateAndWidenWithConfidence() throws {
    let set = simulated()
    let narrow = try BradleyTerry(bootstrapSamples: 300, confidence: 0.5, seed: 1).fit(set)
    let wide = try BradleyTerry(bootstrapSamples: 300, confidence: 0.99, seed: 1).fit(set)
    for item in wide.items {
        let interval = try #require(item.interval)
        #expect(interval.contains(item.strength))
        let inner = try #require(narrow[item.id]?.interval)
        #expect(interval.lowerBound <= inner.lowerBound && inner.upperBound <= interval.upperBound)
        // 400 comparisons over 6 items: about 133 per item, so a 99% half-width of a few tenths.
        #expect(interval.upperBound - interval.lowerBound > 0.1 && interval.upperBound - interval.lowerBound < 2)
    }
}

@Test func bootstrapStandardErrorMatchesTheFisherInformation() throws {
    // For two items with n comparisons and win rate p the MLE of d = s_A − s_B = logit(p) has standard
    // error 1/√(n p (1−p)); s_A = d/2. The bootstrap's 68% interval should be about ±1 of its SE.
    var set = ComparisonSet()
    set.append(winner: "A", loser: "B", weight: 1)
    for _ in 0..<299 { set.append(winner: "A", loser: "B") }
    for _ in 0..<200 { set.append(winner: "B", loser: "A") }
    let result = try BradleyTerry(bootstrapSamples: 2000, confidence: 0.6827, seed: 5).fit(set)
    let interval = try #require(result["A"]?.interval)
    let se = 0.5 / (500 * 0.6 * 0.4).squareRoot()
    let halfWidth = (interval.upperBound - interval.lowerBound) / 2
    #expect(abs(halfWidth - se) < 0.1 * se, "half-width \(halfWidth) vs SE \(se)")
}

@Test func davidsonBootstrapGivesANuInterval() throws {
    let result = try BradleyTerry(ties: .davidson, bootstrapSamples: 100, seed: 3).fit(simulated())
    let nu = try #require(result.nu)
    let interval = try #require(result.bootstrap?.nuInterval)
    #expect(interval.contains(nu))
    #expect(interval.lowerBound > 0)
}

@Test func resamplesWithoutAFiniteMLEAreCountedAndWarned() throws {
    // A single loss for C makes many resamples lose it: those refit with the prior.
    var set = ComparisonSet()
    for _ in 0..<5 { set.append(winner: "A", loser: "B"); set.append(winner: "B", loser: "A") }
    set.append(winner: "C", loser: "A")
    set.append(winner: "A", loser: "C")
    let result = try BradleyTerry(bootstrapSamples: 200, seed: 9).fit(set)
    let count = try #require(result.bootstrap?.replicatesWithPrior)
    #expect(count > 10 && count < 200)
    #expect(result.warnings.contains { $0.hasPrefix("\(count) of 200 bootstrap resamples") })
    #expect(result.items.allSatisfy { $0.interval.map { $0.lowerBound.isFinite && $0.upperBound.isFinite } == true })
}

@Test func splitMixStreamsAreDistinctAndIndexesInRange() {
    var a = SplitMix64(seed: 1, stream: 0), b = SplitMix64(seed: 1, stream: 1), c = SplitMix64(seed: 1, stream: 0)
    let x = (0..<4).map { _ in a.next() }, y = (0..<4).map { _ in b.next() }, z = (0..<4).map { _ in c.next() }
    #expect(x != y && x == z)
    var counts = [Int](repeating: 0, count: 7)
    for _ in 0..<7000 { counts[a.nextIndex(below: 7)] += 1 }
    #expect(counts.allSatisfy { $0 > 850 && $0 < 1150 })
}

@Test func quantileInterpolatesLikeNumPy() {
    let values = [1.0, 2, 3, 4, 10]
    #expect(quantile(values, 0) == 1 && quantile(values, 1) == 10)
    #expect(quantile(values, 0.5) == 3)
    #expect(abs(quantile(values, 0.9) - 7.6) < 1e-12)  // numpy.percentile([1,2,3,4,10], 90) == 7.6
}
