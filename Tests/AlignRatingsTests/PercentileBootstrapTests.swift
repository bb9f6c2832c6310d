import Foundation
import Testing
@testable import AlignRatings

/// The percentile cut shared by `align rate`'s refits and ``Bootstrap/interval(count:resamples:confidence:seed:statistic:)``.
@Suite struct PercentileBootstrapTests {
    @Test func percentileIntervalIsTypeSevenQuantiles() {
        // 101 values 0…100: the 2.5 % and 97.5 % type-7 quantiles are 2.5 and 97.5.
        let sorted = (0...100).map(Double.init)
        let ci95 = Bootstrap.percentileInterval(sorted: sorted, confidence: 0.95)
        #expect(abs(ci95.lowerBound - 2.5) < 1e-12 && abs(ci95.upperBound - 97.5) < 1e-12)
        let ci50 = Bootstrap.percentileInterval(sorted: sorted, confidence: 0.5)
        #expect(abs(ci50.lowerBound - 25) < 1e-12 && abs(ci50.upperBound - 75) < 1e-12)
        #expect(Bootstrap.percentileInterval(sorted: [3], confidence: 0.95) == 3...3)
    }

    @Test func constantDataGiveADegenerateIntervalAndCoverageWidensIt() {
        let constant = Bootstrap.meanInterval([0.25, 0.25, 0.25, 0.25], resamples: 500, seed: 3)
        #expect(constant.lower == 0.25 && constant.upper == 0.25)
        let values = [0.9, -0.3, 0.1, 0.4, 0.0, 0.7, -0.8, 0.2]
        let mean = values.reduce(0, +) / Double(values.count)
        let ci95 = Bootstrap.meanInterval(values, resamples: 1000, seed: 7)
        let ci99 = Bootstrap.meanInterval(values, resamples: 1000, confidence: 0.99, seed: 7)
        #expect(ci95.lower < mean && mean < ci95.upper)
        #expect(ci99.lower <= ci95.lower && ci99.upper >= ci95.upper)
        #expect(Bootstrap.meanInterval(values, resamples: 1000, seed: 8) != ci95)
    }
}
