import AlignRatings
import Testing

@Suite struct BootstrapIntervalTests {
    @Test func meanIntervalCoversTheMeanAndShrinksWithMoreItems() {
        // 0,1,…,99 repeated: mean 49.5, standard error of the mean ≈ 28.9/√n.
        let small = (0..<100).map(Double.init), large = (0..<1600).map { Double($0 % 100) }
        let a = Bootstrap.meanInterval(small, seed: 3), b = Bootstrap.meanInterval(large, seed: 3)
        #expect(a.lower < 49.5 && 49.5 < a.upper)
        #expect(b.lower < 49.5 && 49.5 < b.upper)
        // A 95 % interval spans about ±1.96 standard errors: ≈ 11.3 for n = 100, 2.8 for n = 1600.
        #expect(abs((a.upper - a.lower) - 11.3) < 2)
        #expect(abs((b.upper - b.lower) - 2.83) < 0.6)
    }

    @Test func equalSeedsGiveEqualIntervalsAndPairsStayPaired() {
        let before = [1.0, 2, 3, 4, 5, 6, 7, 8], after = before.map { $0 + 1 }
        let x = Bootstrap.meanInterval(before, seed: 9), y = Bootstrap.meanInterval(before, seed: 9)
        #expect(x == y)
        // The paired difference is exactly 1 in every resample, whatever is drawn.
        let d = Bootstrap.interval(count: before.count, seed: 1) { idx in
            idx.reduce(0) { $0 + after[$1] - before[$1] } / Double(idx.count)
        }
        #expect(abs(d.lower - 1) < 1e-12 && abs(d.upper - 1) < 1e-12)
    }
}
