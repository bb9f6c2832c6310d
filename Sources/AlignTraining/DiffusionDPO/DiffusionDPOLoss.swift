import AlignDiffusion
import AlignTensor
import Foundation

/// The Diffusion-DPO loss of Wallace et al. (2023) in the form of SalesforceAIResearch/DiffusionDPO's
/// `train.py`: winner and loser share one timestep t and one noise ε; with the per-image mean squared
/// error of the ε prediction, mse(x) = mean over (C, H, W) of (ε̂(x_t, t) − ε)²,
///
///     inside = −½·β·((mse_θ(w) − mse_θ(l)) − (mse_ref(w) − mse_ref(l)))
///     loss   = mean over pairs of −log σ(inside)  [+ λ·mean mse_θ(w)]
///
/// and `implicit_acc` = mean(inside > 0).
public enum DiffusionDPOLoss {
    /// One micro-batch: the scaled loss and its metrics (sums weighted by the pair count).
    public struct Result {
        public var loss: Tensor
        public var metrics: StepMetrics
        public var inside: [Float]
    }

    /// x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε for images x (B, C, H, W), one t per image (no gradient).
    public static func addNoise(_ x: Tensor, noise: Tensor, timesteps: [Int], scheduler: NoiseScheduler) -> Tensor {
        let b = x.shape[0]
        let a = timesteps.map { scheduler.alphasCumprod[$0] }
        let sa = Tensor(shape: [b, 1, 1, 1], values: a.map { $0.squareRoot() })
        let sb = Tensor(shape: [b, 1, 1, 1], values: a.map { (1 - $0).squareRoot() })
        return withNoGrad { x * sa + noise * sb }
    }

    /// Per-image mean squared error of the model's ε prediction, shape (B).
    public static func denoisingErrors(_ model: UNet2DModel, noisy: Tensor, noise: Tensor, timesteps: [Int], labels: [Int]?) -> Tensor {
        let pred = model(noisy, timesteps: timesteps.map(Float.init), classLabels: labels)
        return (pred - noise).square().mean(axes: [1, 2, 3])
    }

    /// - Parameters:
    ///   - chosen, rejected: (B, C, H, W) images; `noise` (B, C, H, W) and `timesteps` (B) shared by each pair.
    ///   - scale: the micro-batch's share of the optimiser step (the loss is multiplied by it).
    public static func evaluate(policy: UNet2DModel, reference: UNet2DModel, scheduler: NoiseScheduler,
                                chosen: Tensor, rejected: Tensor, labels: [Int], timesteps: [Int], noise: Tensor,
                                beta: Float, sftWeight: Float, scale: Float = 1) -> Result {
        let b = chosen.shape[0]
        let images = Tensor.concat([chosen, rejected], axis: 0)
        let noise2 = Tensor.concat([noise, noise], axis: 0)
        let t2 = timesteps + timesteps
        let conditional = policy.configuration.numClassEmbeds != nil
        let labels2 = conditional ? labels + labels : nil
        let noisy = addNoise(images, noise: noise2, timesteps: t2, scheduler: scheduler)
        let mse = denoisingErrors(policy, noisy: noisy, noise: noise2, timesteps: t2, labels: labels2)
        let mseW = mse.slice(axis: 0, start: 0, length: b), mseL = mse.slice(axis: 0, start: b, length: b)
        let refMSE = withNoGrad { denoisingErrors(reference, noisy: noisy, noise: noise2, timesteps: t2, labels: labels2) }.toArray()
        let refW = Array(refMSE[0..<b]), refL = Array(refMSE[b..<2 * b])
        let refDiff = Tensor(shape: [b], values: zip(refW, refL).map { $0 - $1 })
        let inside = ((mseW - mseL) - refDiff) * (-0.5 * beta)
        var loss = -inside.logSigmoid().mean()
        if sftWeight > 0 { loss = loss + mseW.mean() * sftWeight }
        let insideValues = inside.toArray()
        var m = StepMetrics()
        let n = Double(b)
        func add(_ key: String, _ values: [Float]) { m.add(key, sum: values.reduce(0) { $0 + Double($1) }, weight: n) }
        m.add("loss", sum: Double(loss.item()) * n, weight: n)
        add("implicit_acc", insideValues.map { $0 > 0 ? 1 : 0 })
        add("mse_w", mseW.toArray()); add("mse_l", mseL.toArray())
        add("ref_mse_w", refW); add("ref_mse_l", refL)
        add("reward_margin", insideValues)
        return Result(loss: scale == 1 ? loss : loss * scale, metrics: m, inside: insideValues)
    }
}
