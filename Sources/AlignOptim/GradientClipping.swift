import AlignKernels
import AlignTensor

/// Scales all gradients so their global L2 norm is at most `maxNorm`, as
/// `torch.nn.utils.clip_grad_norm_` (coefficient maxNorm / (norm + 1e-6), capped at 1).
/// Returns the norm before clipping; with `maxNorm` ≤ 0 only measures it.
@discardableResult
public func clipGradientNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
    var total: Double = 0
    for p in parameters { if let g = p.grad { total += g.sumOfSquares() } }
    let norm = Float(total.squareRoot())
    if maxNorm > 0 {
        let coefficient = maxNorm / (norm + 1e-6)
        if coefficient < 1 {
            for p in parameters {
                guard let g = p.grad else { continue }
                g.scaleInPlace(by: coefficient)
            }
        }
    }
    return norm
}
