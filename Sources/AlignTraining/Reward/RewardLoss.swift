import AlignData
import AlignKernels
import AlignModelIO
import AlignModels
import AlignNN
import AlignTensor
import Foundation

/// The Bradley–Terry loss and TRL's reward metrics on one batch.
public enum RewardLoss {
    /// Loss −mean log σ(r_w − r_l − m) + c·mean((r_w + r_l)²), multiplied by `scale`, and TRL's
    /// metrics (`accuracy`, `margin`, `min_reward`, `mean_reward`, `max_reward`) plus
    /// `rewards/chosen` and `rewards/rejected`.
    /// - Parameter batch: ids (2B × length): B chosen rows then B rejected rows, right-padded.
    public static func evaluate(model: RewardModel, ids: [Int32], pairs b: Int, length: Int, margins: [Float]?,
                                centerCoefficient: Float?, scale: Float = 1) -> (loss: Tensor, metrics: StepMetrics, rewards: [Float]) {
        let r = model.rewards(ids: ids, rows: 2 * b, length: length)
        let chosen = r.slice(axis: 0, start: 0, length: b), rejected = r.slice(axis: 0, start: b, length: b)
        var z = chosen - rejected
        if let margins { z = z - Tensor(shape: [b], values: margins) }
        var loss = -z.logSigmoid().mean()
        if let c = centerCoefficient, c != 0 { loss = loss + (chosen + rejected).square().mean() * c }
        loss = loss * scale
        let values = r.toArray()
        var m = StepMetrics()
        m.add("loss", Double(loss.item() / scale))
        for i in 0..<b {
            let w = Double(values[i]), l = Double(values[b + i])
            m.add("accuracy", sum: w > l ? 1 : 0, weight: 1)
            m.add("margin", sum: w - l, weight: 1)
            m.add("rewards/chosen", sum: w, weight: 1)
            m.add("rewards/rejected", sum: l, weight: 1)
        }
        // TRL logs the batch's min / mean / max; over several batches the logged value is their mean.
        m.add("min_reward", Double(values.min() ?? 0))
        m.add("max_reward", Double(values.max() ?? 0))
        m.add("mean_reward", sum: values.reduce(0) { $0 + Double($1) }, weight: Double(values.count))
        return (loss, m, values)
    }
}
