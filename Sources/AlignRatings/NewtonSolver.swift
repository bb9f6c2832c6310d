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
    /// Per pair: the pair's entry of the negated Hessian with respect to d = sᵢ − sⱼ.
    private var pairCurvature: [Double]
    /// Per pair (Davidson): the negated Hessian's entry between d and log ν.
    private var pairCross: [Double]
    /// The negated Hessian's log ν diagonal entry (Davidson).
    private var thetaCurvature = 0.0
    /// The prior precision and ν flag of the current fit, for the solver.
    private var priorPrecision = 0.0
    private var fitNu = false
    /// Weight c of the c·11ᵀ term that pins the mean.
    private var constraintWeight = 0.0
    /// Scratch for conjugate gradients.
    private var residual: [Double], direction: [Double], product: [Double], diagonal: [Double]
    /// Largest system solved densely; above it, conjugate gradients. 400 keeps a Cholesky step under
    /// about 25 MFLOP, while CG costs O(pairs) per product.
    let denseLimit: Int

    init(layout: PairLayout, davidson: Bool, denseLimit: Int = 400) {
        self.layout = layout
        self.davidson = davidson
        self.denseLimit = denseLimit
        n = layout.itemCount
        let m = n + (davidson ? 1 : 0)
        // The dense matrix is only allocated when it will be used.
        matrix = [Double](repeating: 0, count: m <= denseLimit ? m * m : 0)
        backup = matrix
        gradient = [Double](repeating: 0, count: m)
        step = gradient
        trial = gradient
        pairCurvature = [Double](repeating: 0, count: layout.pairCount)
        pairCross = pairCurvature
        let cgSize = m <= denseLimit ? 0 : m
        residual = [Double](repeating: 0, count: cgSize)
        direction = residual
        product = residual
        diagonal = residual
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
            var largestMove = 0.0
            for k in 0..<m { largestMove = max(largestMove, abs(step[k])) }
            if largestMove <= 0.25 {
                // No strength (or log ν) moves by more than 0.25, so no pair's log-odds moves by more
                // than 0.5 and the likelihood's curvature changes by at most a factor e^0.5 along the
                // step (|f'''| ≤ f'' for these logistic-type terms). The full Newton step then gains
                // at least (1 − e^0.5/2)·gᵀδ ≈ 0.18·gᵀδ > 0 whatever the weights, so take it without
                // paying for passes of logarithms. Warm-started bootstrap refits live almost entirely here.
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

    /// Fills `gradient` with the objective's gradient and the per-pair curvatures of the negated
    /// Hessian (`pairCurvature`, `pairCross`, `thetaCurvature`), from which `solveSystem` builds either
    /// the dense matrix or the operator for conjugate gradients.
    private func assemble(_ x: [Double], counts: PairCounts, priorPrecision: Double, fitNu: Bool, m: Int) {
        let theta = fitNu ? x[n] : 0
        var thetaCurvature = 0.0
        gradient.withUnsafeMutableBufferPointer { g in
        pairCurvature.withUnsafeMutableBufferPointer { hp in
        pairCross.withUnsafeMutableBufferPointer { cp in
        layout.first.withUnsafeBufferPointer { first in
        layout.second.withUnsafeBufferPointer { second in
        counts.firstWins.withUnsafeBufferPointer { fw in
        counts.secondWins.withUnsafeBufferPointer { sw in
        counts.ties.withUnsafeBufferPointer { tw in
            for k in 0..<m { g[k] = 0 }
            for p in 0..<first.count {
                let total = fw[p] + sw[p] + tw[p]
                if total == 0 { hp[p] = 0; cp[p] = 0; continue }
                let i = first[p], j = second[p]
                let d = x[i] - x[j]
                let gd: Double
                if fitNu {
                    // Multinomial logit over (win, loss, tie) with scores (d/2, −d/2, θ); the negated
                    // Hessian is total × the covariance of the scores' derivatives.
                    let h = 0.5 * d
                    let top = max(abs(h), theta)
                    let ew = exp(h - top), el = exp(-h - top), et = exp(theta - top)
                    let z = ew + el + et
                    let pw = ew / z, pl = el / z, pt = et / z
                    let diff = pw - pl
                    gd = 0.5 * (fw[p] - sw[p]) - 0.5 * total * diff
                    hp[p] = total * 0.25 * ((pw + pl) - diff * diff)
                    cp[p] = -0.5 * total * diff * pt  // entry of −H between d and θ
                    g[n] += tw[p] - total * pt
                    thetaCurvature += total * pt * (1 - pt)
                } else {
                    let wa = fw[p] + 0.5 * tw[p]
                    let prob = sigmoid(d)
                    gd = wa - total * prob
                    hp[p] = total * prob * (1 - prob)
                }
                g[i] += gd
                g[j] -= gd
            }
            if priorPrecision > 0 {
                for i in 0..<n { g[i] -= priorPrecision * x[i] }
            }
        }}}}}}}}
        self.thetaCurvature = thetaCurvature
        self.priorPrecision = priorPrecision
        self.fitNu = fitNu
    }

    /// Solves (−H + c·11ᵀ) · step = gradient: by Cholesky on the dense matrix for up to `denseLimit`
    /// unknowns, else by conjugate gradients on the sparse operator (O(pairs) per product instead of
    /// O(m³) per factorisation, which is what makes thousands of items feasible).
    private func solveSystem(m: Int) {
        // c·11ᵀ on the strength block with c·n ≈ the mean diagonal keeps the system well scaled.
        var trace = 0.0
        for p in 0..<layout.pairCount { trace += 2 * pairCurvature[p] }
        trace += Double(n) * priorPrecision
        constraintWeight = max(trace / Double(n), 1e-12) / Double(n)
        if m <= denseLimit {
            buildDenseMatrix(m: m)
            solveDense(m: m)
        } else {
            solveConjugateGradient(m: m)
        }
    }

    private func buildDenseMatrix(m: Int) {
        let c = constraintWeight, prior = priorPrecision, fitNu = self.fitNu
        matrix.withUnsafeMutableBufferPointer { a in
        pairCurvature.withUnsafeBufferPointer { hp in
        pairCross.withUnsafeBufferPointer { cp in
        layout.first.withUnsafeBufferPointer { first in
        layout.second.withUnsafeBufferPointer { second in
            for k in 0..<(m * m) { a[k] = 0 }
            for p in 0..<first.count {
                let i = first[p], j = second[p], h = hp[p]
                a[i * m + i] += h
                a[j * m + j] += h
                a[i * m + j] -= h
                a[j * m + i] -= h
                if fitNu {
                    let x = cp[p]
                    a[i * m + n] += x; a[n * m + i] += x
                    a[j * m + n] -= x; a[n * m + j] -= x
                }
            }
            if fitNu { a[n * m + n] = thetaCurvature }
            for i in 0..<n {
                a[i * m + i] += prior
                let row = i * m
                for j in 0..<n { a[row + j] += c }
            }
        }}}}}
    }

    /// Factorises the dense matrix, adding a growing ridge if rounding leaves it not quite positive
    /// definite.
    private func solveDense(m: Int) {
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

    /// y = (−H + c·11ᵀ) v without forming the matrix.
    private func applyOperator(_ v: UnsafePointer<Double>, into y: UnsafeMutablePointer<Double>, m: Int) {
        let c = constraintWeight, prior = priorPrecision, fitNu = self.fitNu
        var sum = 0.0
        for i in 0..<n { sum += v[i] }
        for i in 0..<n { y[i] = (prior * v[i]) + c * sum }
        if fitNu { y[n] = thetaCurvature * v[n] }
        pairCurvature.withUnsafeBufferPointer { hp in
        pairCross.withUnsafeBufferPointer { cp in
        layout.first.withUnsafeBufferPointer { first in
        layout.second.withUnsafeBufferPointer { second in
            for p in 0..<first.count {
                let i = first[p], j = second[p]
                let dv = v[i] - v[j]
                var yi = hp[p] * dv
                if fitNu {
                    yi += cp[p] * v[n]
                    y[n] += cp[p] * dv
                }
                y[i] += yi
                y[j] -= yi
            }
        }}}}
    }

    /// Jacobi-preconditioned conjugate gradients, to a residual 1e-12 of the gradient's norm (far below
    /// what Newton needs, so the outer iteration keeps its quadratic convergence).
    private func solveConjugateGradient(m: Int) {
        // Diagonal of the operator, for the preconditioner.
        for k in 0..<m { diagonal[k] = 0 }
        for p in 0..<layout.pairCount {
            diagonal[layout.first[p]] += pairCurvature[p]
            diagonal[layout.second[p]] += pairCurvature[p]
        }
        for i in 0..<n { diagonal[i] += priorPrecision + constraintWeight }
        if fitNu { diagonal[n] = thetaCurvature }
        step.withUnsafeMutableBufferPointer { xBuffer in
        gradient.withUnsafeBufferPointer { gBuffer in
        residual.withUnsafeMutableBufferPointer { rBuffer in
        direction.withUnsafeMutableBufferPointer { pBuffer in
        product.withUnsafeMutableBufferPointer { qBuffer in
        diagonal.withUnsafeBufferPointer { dBuffer in
            let x = xBuffer.baseAddress!, g = gBuffer.baseAddress!, r = rBuffer.baseAddress!
            let dir = pBuffer.baseAddress!, q = qBuffer.baseAddress!, diag = dBuffer.baseAddress!
            var gNorm2 = 0.0
            for k in 0..<m {
                x[k] = 0
                r[k] = g[k]
                gNorm2 += g[k] * g[k]
            }
            let target = 1e-24 * gNorm2
            var rz = 0.0
            for k in 0..<m {
                dir[k] = r[k] / max(diag[k], 1e-300)
                rz += r[k] * dir[k]
            }
            var rNorm2 = gNorm2
            var iteration = 0
            while rNorm2 > target && iteration < 10 * m + 100 {
                iteration += 1
                applyOperator(UnsafePointer(dir), into: q, m: m)
                var pq = 0.0
                for k in 0..<m { pq += dir[k] * q[k] }
                guard pq > 0 else { break }
                let alpha = rz / pq
                rNorm2 = 0
                for k in 0..<m {
                    x[k] += alpha * dir[k]
                    r[k] -= alpha * q[k]
                    rNorm2 += r[k] * r[k]
                }
                var rzNext = 0.0
                for k in 0..<m { rzNext += r[k] * r[k] / max(diag[k], 1e-300) }
                let beta = rzNext / rz
                rz = rzNext
                for k in 0..<m { dir[k] = r[k] / max(diag[k], 1e-300) + beta * dir[k] }
            }
        }}}}}}
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
