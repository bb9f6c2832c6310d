import Foundation
import Testing

@testable import AlignRatings

/// 40 items, sparse random comparisons with ties, plus a ring so the graph is strongly connected.
private func sparseSet(items: Int = 40, comparisons: Int = 300, seed: UInt64 = 11) -> ComparisonSet {
    var rng = SplitMix64(seed: seed, stream: 0)
    var set = ComparisonSet()
    for k in 0..<items {
        set.append(winner: .number(String(k)), loser: .number(String((k + 1) % items)))
    }
    for _ in 0..<comparisons {
        let i = rng.nextIndex(below: items)
        var j = rng.nextIndex(below: items - 1)
        if j >= i { j += 1 }
        let outcome: Outcome = [.firstWins, .secondWins, .tie, .firstWins][rng.nextIndex(below: 4)]
        set.append(.number(String(i)), .number(String(j)), outcome: outcome)
    }
    return set
}

@Test(arguments: [(false, 0.0), (true, 0.0), (false, 0.25), (true, 0.25)])
func conjugateGradientsMatchCholesky(davidson: Bool, prior: Double) {
    let set = sparseSet()
    let layout = PairLayout(set)
    let counts = PairCounts(layout)
    let dense = NewtonSolver(layout: layout, davidson: davidson)
        .fit(counts: counts, priorPrecision: prior, start: nil, startLogNu: nil, tolerance: 1e-10, maxIterations: 100)
    let sparse = NewtonSolver(layout: layout, davidson: davidson, denseLimit: 0)
        .fit(counts: counts, priorPrecision: prior, start: nil, startLogNu: nil, tolerance: 1e-10, maxIterations: 100)
    #expect(dense.converged && sparse.converged)
    #expect(sparse.iterations <= dense.iterations + 2)
    let gap = zip(dense.strengths, sparse.strengths).map { abs($0 - $1) }.max()!
    #expect(gap < 1e-9)
    if davidson { #expect(abs(dense.logNu! - sparse.logNu!) < 1e-9) }
    #expect(abs(dense.logLikelihood - sparse.logLikelihood) < 1e-9)
}

@Test func solverReachesTheGradientTolerance() {
    let set = sparseSet(items: 25, comparisons: 2000, seed: 4)
    let layout = PairLayout(set)
    let out = NewtonSolver(layout: layout, davidson: false)
        .fit(counts: PairCounts(layout), priorPrecision: 0, start: nil, startLogNu: nil, tolerance: 1e-10, maxIterations: 100)
    #expect(out.converged && out.gradientNorm < 1e-10 && out.iterations < 12)
    #expect(abs(out.strengths.reduce(0, +)) < 1e-12)
}
