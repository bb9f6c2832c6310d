import AlignKernels
import AlignTensor
import Foundation

/// Reverse diffusion from pure noise with a DDPM or DDIM schedule (diffusers' pipelines, batched).
public enum DiffusionSampler {
    /// Images for `labels` (one per label; nil labels for an unconditional model), starting from the
    /// seeded noise `seed` (the same seed and labels give the same initial noise for any model, so
    /// two models' samples compare image by image). `steps` sampling steps (set_timesteps), DDIM's `eta`.
    public static func sample(model: UNet2DModel, scheduler configuration: SchedulerConfiguration, labels: [Int], seed: UInt64,
                              steps: Int, eta: Float = 0, batchSize: Int = 64, progress: ((Int, Int) -> Void)? = nil) throws -> ImageSet {
        var scheduler = NoiseScheduler(configuration)
        try scheduler.setTimesteps(steps)
        let c = model.configuration
        let size = c.sampleSize ?? 32
        let per = c.inChannels * size * size
        var pixels = [Float](repeating: 0, count: labels.count * per)
        let conditional = c.numClassEmbeds != nil
        var done = 0
        for start in stride(from: 0, to: labels.count, by: batchSize) {
            let ids = Array(start..<min(start + batchSize, labels.count))
            // One generator per image: image i's noise does not depend on the batch it falls in.
            var generators = ids.map { RandomGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64($0)) }
            func draw() -> [Float] {
                var out = [Float](); out.reserveCapacity(ids.count * per)
                for k in generators.indices { for _ in 0..<per { out.append(generators[k].nextNormal()) } }
                return out
            }
            var x = draw()
            let batchLabels = ids.map { labels[$0] }
            for t in scheduler.timesteps {
                let input = Tensor(shape: [ids.count, c.inChannels, size, size], values: x)
                let eps = withNoGrad { model(input, timesteps: Array(repeating: Float(t), count: ids.count), classLabels: conditional ? batchLabels : nil) }
                let needsNoise = configuration.kind == .ddpm ? t > 0 : eta > 0
                x = try scheduler.step(modelOutput: eps.toArray(), timestep: t, sample: x, noise: needsNoise ? draw() : nil, eta: eta).prev
            }
            for (k, i) in ids.enumerated() { pixels.replaceSubrange(i * per..<(i + 1) * per, with: x[k * per..<(k + 1) * per]) }
            done += ids.count
            progress?(done, labels.count)
        }
        return ImageSet(pixels: pixels.map { min(max($0, -1), 1) }, labels: labels, channels: c.inChannels, height: size, width: size)
    }
}

/// Fréchet distance between two sets of feature vectors (rows), with Gaussian fits:
/// ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½), the square root's trace from the eigenvalues of
/// Σ₁^½ Σ₂ Σ₁^½ (symmetric, computed by Jacobi rotations in Double).
public enum FrechetDistance {
    public static func compute(_ a: [[Double]], _ b: [[Double]]) -> Double {
        let d = a[0].count
        func stats(_ x: [[Double]]) -> ([Double], [[Double]]) {
            let n = Double(x.count)
            var mu = [Double](repeating: 0, count: d)
            for r in x { for j in 0..<d { mu[j] += r[j] / n } }
            var cov = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
            for r in x {
                for i in 0..<d { let di = r[i] - mu[i]; for j in i..<d { cov[i][j] += di * (r[j] - mu[j]) } }
            }
            for i in 0..<d { for j in i..<d { cov[i][j] /= max(n - 1, 1); cov[j][i] = cov[i][j] } }
            return (mu, cov)
        }
        let (m1, s1) = stats(a), (m2, s2) = stats(b)
        let diff = zip(m1, m2).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        let (e1, v1) = eigen(s1)
        // Σ₁^½ = V diag(√λ) Vᵀ
        var root = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
        for i in 0..<d { for j in 0..<d { var s = 0.0; for k in 0..<d { s += v1[i][k] * max(e1[k], 0).squareRoot() * v1[j][k] }; root[i][j] = s } }
        let m = multiply(multiply(root, s2), root)
        let (e, _) = eigen(m)
        let traceSqrt = e.reduce(0) { $0 + max($1, 0).squareRoot() }
        let tr1 = (0..<d).reduce(0) { $0 + s1[$1][$1] }, tr2 = (0..<d).reduce(0) { $0 + s2[$1][$1] }
        return diff + tr1 + tr2 - 2 * traceSqrt
    }

    static func multiply(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
        let n = a.count
        var c = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0..<n { for k in 0..<n { let x = a[i][k]; if x == 0 { continue }; for j in 0..<n { c[i][j] += x * b[k][j] } } }
        return c
    }

    /// Eigenvalues and eigenvectors (columns) of a symmetric matrix by cyclic Jacobi.
    static func eigen(_ s: [[Double]]) -> ([Double], [[Double]]) {
        let n = s.count
        var a = s
        var v = (0..<n).map { i in (0..<n).map { $0 == i ? 1.0 : 0.0 } }
        for _ in 0..<50 {
            var off = 0.0
            for i in 0..<n { for j in (i + 1)..<n { off += a[i][j] * a[i][j] } }
            if off < 1e-18 { break }
            for p in 0..<n {
                for q in (p + 1)..<n where abs(a[p][q]) > 1e-30 {
                    let theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), sn = t * c
                    for k in 0..<n {
                        let akp = a[k][p], akq = a[k][q]
                        a[k][p] = c * akp - sn * akq; a[k][q] = sn * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = a[p][k], aqk = a[q][k]
                        a[p][k] = c * apk - sn * aqk; a[q][k] = sn * apk + c * aqk
                    }
                    for k in 0..<n {
                        let vkp = v[k][p], vkq = v[k][q]
                        v[k][p] = c * vkp - sn * vkq; v[k][q] = sn * vkp + c * vkq
                    }
                }
            }
        }
        return ((0..<n).map { a[$0][$0] }, v)
    }
}
