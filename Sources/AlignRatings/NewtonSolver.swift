import Foundation

/// What one maximum-likelihood (or maximum-a-posteriori) fit produced.
struct SolverOutput {
    /// Log-strengths, mean zero, indexed like the items.
    var strengths: [Double]
    /// log ν of the Davidson model; `nil` for the half-win model, `-infinity` when there were no ties.
    var logNu: Double?
    /// Log-likelihood of the data at the estimate, without the prior term (NaN when not asked for).
    var logLikelihood: Double
    /// Newton iterations taken.
    var iterations: Int
    /// Euclidean norm of the objective's gradient at the estimate.
    var gradientNorm: Double
    /// Whether the gradient norm fell below the tolerance.
    var converged: Bool
}

/// Newton–Raphson on the concave Bradley–Terry (or Davidson) log-likelihood over aggregated pair
/// counts, with strengths held at mean zero.
///
/// The log-likelihood only sees differences s_i − s_j, so its Hessian is singular along the all-ones
/// direction. Each step solves (−H + c·11ᵀ) δ = g instead: g sums to zero, hence so does δ, and the
/// added rank-one term makes the system positive definite whenever the comparison graph is strongly
/// connected (or a prior is present). One solver instance owns its scratch memory, so a bootstrap
/// worker reuses it across refits without allocating per step.
final class NewtonSolver {
    let layout: PairLayout
    let davidson: Bool
    let n: Int
    /// Scratch: the m×m system, row-major, m = n (+1 for log ν).
    private var matrix: [Double]
    private var gradient: [Double]
    private var step: [Double]
    private var trial: [Double]
    /// Scratch: a copy of `matrix` to retry from if its factorisation fails.
    private var backup: [Double]

    init(layout: PairLayout, davidson: Bool) {
        self.layout = layout
        self.davidson = davidson
        n = layout.itemCount
        let m = n + (davidson ? 1 : 0)
        matrix = [Double](repeating: 0, count: m * m)
        gradient = [Double](repeating: 0, count: m)
        step = gradient
        trial = gradient
        backup = matrix
    }

    /// Fits strengths (and log ν when `davidson` and there are both ties and decisive outcomes).
    ///
    /// - Parameters:
    ///   - counts: per-pair outcome weights.
    ///   - priorPrecision: 1/σ² of an N(0, σ²) prior on each strength, or 0 for none.
    ///   - start: starting strengths (mean zero), e.g. the full-data estimate for a bootstrap refit.
    ///   - startLogNu: starting log ν for the Davidson model; `nil` picks one from the tie fraction.
    ///   - computeLogLikelihood: whether to evaluate the log-likelihood at the end (bootstrap refits
    ///     skip that pass of logarithms).
    func fit(
        counts: PairCounts, priorPrecision: Double, start: [Double]?, startLogNu: Double?,
        tolerance: Double, maxIterations: Int, computeLogLikelihood: Bool = true
    ) -> SolverOutput {
        let tieWeight = counts.totalTies, decisiveWeight = counts.totalDecisive
        // The Davidson ν has a finite positive estimate only with both ties and decisive outcomes; with
        // no ties its estimate is 0, which is the plain model without ties.
        let fitNu = davidson && tieWeight > 0 && decisiveWeight > 0
        if davidson && decisiveWeight == 0 {
            // Only ties: every strength difference is estimated as zero, and ν as infinite.
            return SolverOutput(
                strengths: [Double](repeating: 0, count: n), logNu: .infinity, logLikelihood: 0,
                iterations: 0, gradientNorm: 0, converged: true)
        }
        let m = n + (fitNu ? 1 : 0)
        var x = [Double](repeating: 0, count: m)
        if let start { for i in 0..<n { x[i] = start[i] } }
        if fitNu {
            if let s = startLogNu, s.isFinite {
                x[n] = s
            } else {
                // At equal strengths P(tie) = ν/(2 + ν); match the observed tie fraction.
                let f = tieWeight / (tieWeight + decisiveWeight)
                x[n] = log(2 * f / (1 - f))
            }
        }
        let total = tieWeight + decisiveWeight
        // Rounding in the gradient grows with the total weight; never ask for less than it allows.
        let tol = max(tolerance, 1e-15 * total)

        var iterations = 0
        var f = 0.0
        var fIsCurrent = false
        var gNorm = Double.infinity
        var converged = false
        while true {
            assemble(x, counts: counts, priorPrecision: priorPrecision, fitNu: fitNu, m: m)
            gNorm = (0..<m).reduce(0) { $0 + gradient[$1] * gradient[$1] }.squareRoot()
            if gNorm < tol { converged = true; break }
            if iterations >= maxIterations { break }
            iterations += 1
            solveSystem(m: m)
            // Backtracking keeps every step an ascent step; far from the optimum (weakly connected
            // data) a full Newton step can overshoot, near it the full step is always taken.
            var slope = 0.0
            for k in 0..<m { slope += gradient[k] * step[k] }
            if slope < 0.1 {
                // The Newton decrement gᵀδ is about twice the gain still available; once it is this
                // small (decrement below 1/3, inside the region where damped Newton on logistic-type
                // likelihoods takes full steps) the step cannot overshoot, so take it without paying
                // for passes of logarithms. Warm-started bootstrap refits live almost entirely here.
                for k in 0..<m { x[k] += step[k] }
                recentre(&x)
                fIsCurrent = false
                continue
            }
            if !fIsCurrent {
                f = objective(x, counts: counts, priorPrecision: priorPrecision, fitNu: fitNu)
                fIsCurrent = true
            }
            var t = 1.0
            var accepted = false
            for _ in 0..<60 {
                for k in 0..<m { trial[k] = x[k] + t * step[k] }
                let fTrial = objective(trial, counts: counts, priorPrecision: priorPrecision, fitNu: fitNu)
                if fTrial >= f + 1e-4 * t * slope - 1e-13 * (1 + abs(f)) {
                    f = fTrial
                    fIsCurrent = true
                    for k in 0..<m { x[k] = trial[k] }
                    accepted = true
                    break
                }
                t *= 0.5
            }
            recentre(&x)
            if !accepted { break }
        }
        let ll = computeLogLikelihood ? logLikelihood(x, counts: counts, fitNu: fitNu) : .nan
        return SolverOutput(
            strengths: Array(x[0..<n]), logNu: davidson ? (fitNu ? x[n] : -.infinity) : nil,
            logLikelihood: ll, iterations: iterations, gradientNorm: gNorm, converged: converged)
    }

    /// Removes the mean of the strengths, which the likelihood cannot see and rounding lets drift.
    private func recentre(_ x: inout [Double]) {
        guard n > 0 else { return }
        var mean = 0.0
        for i in 0..<n { mean += x[i] }
        mean /= Double(n)
        for i in 0..<n { x[i] -= mean }
    }

    /// The log-likelihood (ties as half wins, or Davidson) without the prior.
    func logLikelihood(_ x: [Double], counts: PairCounts, fitNu: Bool) -> Double {
        objective(x, counts: counts, priorPrecision: 0, fitNu: fitNu)
    }

    /// log-likelihood − (λ/2)·Σ s².
    private func objective(_ x: [Double], counts: PairCounts, priorPrecision: Double, fitNu: Bool) -> Double {
        var f = 0.0
        let theta = fitNu ? x[n] : 0
        layout.first.withUnsafeBufferPointer { first in
        layout.second.withUnsafeBufferPointer { second in
        counts.firstWins.withUnsafeBufferPointer { fw in
        counts.secondWins.withUnsafeBufferPointer { sw in
        counts.ties.withUnsafeBufferPointer { tw in
            for p in 0..<first.count {
                let total = fw[p] + sw[p] + tw[p]
                if total == 0 { continue }
                let d = x[first[p]] - x[second[p]]
                if fitNu {
                    f += (fw[p] - sw[p]) * 0.5 * d + tw[p] * theta - total * logSumExp3(0.5 * d, -0.5 * d, theta)
                } else {
                    let a = fw[p] + 0.5 * tw[p], b = sw[p] + 0.5 * tw[p]
                    f += a * logSigmoid(d) + b * logSigmoid(-d)
                }
            }
        }}}}}
        if priorPrecision > 0 {
            var ss = 0.0
            for i in 0..<n { ss += x[i] * x[i] }
            f -= 0.5 * priorPrecision * ss
        }
        return f
    }

    /// Fills `gradient` with the objective's gradient and `matrix` with its negated Hessian plus the
    /// rank-one mean-zero term.
    private func assemble(_ x: [Double], counts: PairCounts, priorPrecision: Double, fitNu: Bool, m: Int) {
        let theta = fitNu ? x[n] : 0
        matrix.withUnsafeMutableBufferPointer { a in
        gradient.withUnsafeMutableBufferPointer { g in
        layout.first.withUnsafeBufferPointer { first in
        layout.second.withUnsafeBufferPointer { second in
        counts.firstWins.withUnsafeBufferPointer { fw in
        counts.secondWins.withUnsafeBufferPointer { sw in
        counts.ties.withUnsafeBufferPointer { tw in
            for k in 0..<(m * m) { a[k] = 0 }
            for k in 0..<m { g[k] = 0 }
            for p in 0..<first.count {
                let total = fw[p] + sw[p] + tw[p]
                if total == 0 { continue }
                let i = first[p], j = second[p]
                let d = x[i] - x[j]
                let gd: Double, hd: Double
                if fitNu {
                    // Multinomial logit over (win, loss, tie) with scores (d/2, −d/2, θ).
                    let h = 0.5 * d
                    let top = max(abs(h), theta)
                    let ew = exp(h - top), el = exp(-h - top), et = exp(theta - top)
                    let z = ew + el + et
                    let pw = ew / z, pl = el / z, pt = et / z
                    let diff = pw - pl
                    gd = 0.5 * (fw[p] - sw[p]) - 0.5 * total * diff
                    hd = total * 0.25 * ((pw + pl) - diff * diff)
                    let hdt = -0.5 * total * diff * pt  // entry of −H between d and θ
                    g[n] += tw[p] - total * pt
                    a[n * m + n] += total * pt * (1 - pt)
                    a[i * m + n] += hdt; a[n * m + i] += hdt
                    a[j * m + n] -= hdt; a[n * m + j] -= hdt
                } else {
                    let wa = fw[p] + 0.5 * tw[p]
                    let prob = sigmoid(d)
                    gd = wa - total * prob
                    hd = total * prob * (1 - prob)
                }
                g[i] += gd
                g[j] -= gd
                a[i * m + i] += hd
                a[j * m + j] += hd
                a[i * m + j] -= hd
                a[j * m + i] -= hd
            }
            var trace = 0.0
            for i in 0..<n {
                if priorPrecision > 0 {
                    g[i] -= priorPrecision * x[i]
                    a[i * m + i] += priorPrecision
                }
                trace += a[i * m + i]
            }
            // c·11ᵀ on the strength block with c·n ≈ the mean diagonal keeps the system well scaled.
            let c = max(trace / Double(n), 1e-12) / Double(n)
            for i in 0..<n {
                let row = i * m
                for j in 0..<n { a[row + j] += c }
            }
        }}}}}}}
    }

    /// Solves matrix · step = gradient by Cholesky factorisation, adding a growing ridge if rounding
    /// leaves the matrix not quite positive definite.
    private func solveSystem(m: Int) {
        var ridge = 0.0
        var scale = 0.0
        for i in 0..<m { scale = max(scale, matrix[i * m + i]) }
        for k in 0..<(m * m) { backup[k] = matrix[k] }
        while !choleskySolve(m: m) {
            ridge = ridge == 0 ? 1e-12 * max(scale, 1) : ridge * 10
            for k in 0..<(m * m) { matrix[k] = backup[k] }
            for i in 0..<m { matrix[i * m + i] += ridge }
        }
    }

    /// In-place Cholesky (lower triangle) of `matrix`, then two triangular solves into `step`.
    /// Returns false when a pivot is not positive.
    private func choleskySolve(m: Int) -> Bool {
        matrix.withUnsafeMutableBufferPointer { aBuffer in
        step.withUnsafeMutableBufferPointer { yBuffer in
        gradient.withUnsafeBufferPointer { g in
            let a = aBuffer.baseAddress!, y = yBuffer.baseAddress!
            for j in 0..<m {
                let rowJ = a + j * m
                var diag = rowJ[j]
                for k in 0..<j { diag -= rowJ[k] * rowJ[k] }
                guard diag > 0, diag.isFinite else { return false }
                let pivot = diag.squareRoot()
                rowJ[j] = pivot
                let inv = 1 / pivot
                for i in (j + 1)..<max(j + 1, m) {
                    let rowI = a + i * m
                    var sum = rowI[j]
                    for k in 0..<j { sum -= rowI[k] * rowJ[k] }
                    rowI[j] = sum * inv
                }
            }
            // L z = g, then Lᵀ y = z.
            for i in 0..<m {
                let row = a + i * m
                var sum = g[i]
                for k in 0..<i { sum -= row[k] * y[k] }
                y[i] = sum / row[i]
            }
            for i in stride(from: m - 1, through: 0, by: -1) {
                var sum = y[i]
                for k in (i + 1)..<max(i + 1, m) { sum -= a[k * m + i] * y[k] }
                y[i] = sum / a[i * m + i]
            }
            return true
        }}}
    }
}

/// 1 / (1 + e^−x), without overflow for large |x|.
@inline(__always)
func sigmoid(_ x: Double) -> Double {
    if x >= 0 { return 1 / (1 + exp(-x)) }
    let e = exp(x)
    return e / (1 + e)
}

/// log σ(x) = −log(1 + e^−x), accurate in both tails.
@inline(__always)
func logSigmoid(_ x: Double) -> Double {
    x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x))
}

/// log(eᵃ + eᵇ + eᶜ) without overflow.
@inline(__always)
func logSumExp3(_ a: Double, _ b: Double, _ c: Double) -> Double {
    let top = max(a, max(b, c))
    return top + log(exp(a - top) + exp(b - top) + exp(c - top))
}
