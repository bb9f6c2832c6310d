import Foundation
import Testing
@testable import AlignRatings

/// The percentile bootstrap shared by `align rate` and the demo's evaluation intervals.
@Suite struct MeanBootstrapTests {
    @Test func percentileIntervalIsTypeSevenQuantiles() {
        // 101 values 0…100: the 2.5 % and 97.5 % type-7 quantiles are 2.5 and 97.5 exactly.
        let sorted = (0...100).map(Double.init)
        let ci95 = Bootstrap.percentileInterval(sorted: sorted, confidence: 0.95)
        #expect(abs(ci95.lowerBound - 2.5) < 1e-12 && abs(ci95.upperBound - 97.5) < 1e-12)
        let ci50 = Bootstrap.percentileInterval(sorted: sorted, confidence: 0.5)
        #expect(abs(ci50.lowerBound - 25) < 1e-12 && abs(ci50.upperBound - 75) < 1e-12)
        #expect(Bootstrap.percentileInterval(sorted: [3], confidence: 0.95) == 3...3)
    }

    @Test func constantDataGiveADegenerateInterval() throws {
        let ci = try #require(Bootstrap.meanInterval([0.25, 0.25, 0.25, 0.25], resamples: 500, seed: 3))
        #expect(ci == 0.25...0.25)
        #expect(Bootstrap.meanInterval([], resamples: 500) == nil)
        #expect(Bootstrap.meanInterval([1, 2], resamples: 0) == nil)
    }

    @Test func intervalOfTheMeanMatchesTheNormalApproximation() throws {
        // 400 draws of a known distribution: the 95 % interval holds the sample mean and its width
        // is close to 2 × 1.96 × s/√n (the bootstrap's own Monte Carlo error is a few percent).
        var rng = SplitMix64(seed: 11, stream: 0)
        let values = (0..<400).map { _ in Double(rng.nextIndex(below: 1000)) / 1000 }
        let n = Double(values.count), mean = values.reduce(0, +) / n
        let sd = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1)).squareRoot()
        let ci = try #require(Bootstrap.meanInterval(values, resamples: 4000, confidence: 0.95, seed: 5))
        #expect(ci.contains(mean))
        let expected = 2 * 1.96 * sd / n.squareRoot()
        let width = ci.upperBound - ci.lowerBound
        #expect(abs(width - expected) / expected < 0.1, "width \(width), normal approximation \(expected)")
        // Roughly symmetric about the mean for a symmetric distribution.
        #expect(abs((ci.upperBound - mean) - (mean - ci.lowerBound)) < 0.25 * width)
    }

    @Test func equalSeedsGiveEqualIntervals() throws {
        let values = [0.9, -0.3, 0.1, 0.4, 0.0, 0.7, -0.8, 0.2]
        let a = try #require(Bootstrap.meanInterval(values, resamples: 1000, seed: 7))
        let b = try #require(Bootstrap.meanInterval(values, resamples: 1000, seed: 7))
        let c = try #require(Bootstrap.meanInterval(values, resamples: 1000, seed: 8))
        #expect(a == b)
        #expect(a != c)
        // Wider coverage, wider interval.
        let wide = try #require(Bootstrap.meanInterval(values, resamples: 1000, confidence: 0.99, seed: 7))
        #expect(wide.lowerBound <= a.lowerBound && wide.upperBound >= a.upperBound)
    }
}
