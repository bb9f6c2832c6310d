import AlignKernels
import AlignTensor

/// An optimiser updates named parameters in place from their accumulated gradients.
///
/// State is exposed as named tensors plus scalars so a trainer can checkpoint it in any file
/// format and restore it exactly (``state()`` / ``loadState(_:)``).
public protocol Optimizer: AnyObject {
    /// The learning rate used by the next ``step()``; schedules set it before each step.
    var learningRate: Float { get set }
    /// Applies one update to every parameter that has a gradient. Parameters without one are
    /// left untouched (and their state does not advance), as in PyTorch.
    func step()
    /// Everything needed to resume exactly.
    func state() -> OptimizerState
    /// Restores ``state()``; fails with a message when names or shapes do not match.
    func loadState(_ state: OptimizerState) throws
}

/// An optimiser's saved state: per-parameter tensors under `"<parameter>.<slot>"` and scalars.
public struct OptimizerState: @unchecked Sendable {
    public var tensors: [String: Tensor]
    public var scalars: [String: Double]
    public init(tensors: [String: Tensor] = [:], scalars: [String: Double] = [:]) {
        self.tensors = tensors
        self.scalars = scalars
    }
}

/// A mismatch between saved optimiser state and the parameters being restored.
public struct OptimizerStateError: Error, CustomStringConvertible {
    public let description: String
}

/// Per-parameter slots (moments, momentum buffers) keyed by parameter name.
final class Slots {
    var values: [String: Tensor] = [:]

    func slot(_ name: String, like p: Parameter) -> Tensor {
        if let t = values[name] { return t }
        let t = Tensor.zeros(p.shape)
        values[name] = t
        return t
    }

    func load(_ state: OptimizerState, slotNames: [String], parameters: [(name: String, parameter: Parameter)]) throws {
        values = [:]
        let byName = Dictionary(parameters.map { ($0.name, $0.parameter) }, uniquingKeysWith: { a, _ in a })
        for (key, t) in state.tensors {
            guard let dot = key.lastIndex(of: "."), slotNames.contains(String(key[key.index(after: dot)...])) else {
                throw OptimizerStateError(description: "unknown optimiser state entry \(key)")
            }
            let pname = String(key[..<dot])
            guard let p = byName[pname] else { throw OptimizerStateError(description: "optimiser state for unknown parameter \(pname)") }
            guard p.shape == t.shape else {
                throw OptimizerStateError(description: "optimiser state \(key) has shape \(t.shape), parameter has \(p.shape)")
            }
            values[key] = t.copy()
        }
    }
}

/// AdamW (Loshchilov & Hutter), exactly as `torch.optim.AdamW`: decoupled weight decay
/// p ← p − lr·λ·p, then Adam with bias-corrected moments: p ← p − lr·m̂/(√v̂ + ε).
public final class AdamW: Optimizer {
    public var learningRate: Float
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    let parameters: [(name: String, parameter: Parameter)]
    let slots = Slots()
    var steps: [String: Int] = [:]

    public init(parameters: [(name: String, parameter: Parameter)], learningRate: Float = 1e-3,
                beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0.01) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
    }

    public func step() {
        for (name, p) in parameters {
            guard let g = p.grad else { continue }
            let m = slots.slot(name + ".exp_avg", like: p), v = slots.slot(name + ".exp_avg_sq", like: p)
            let t = (steps[name] ?? 0) + 1
            steps[name] = t
            // PyTorch's formulation: step_size = lr / (1 − β1ᵗ), denom = √v / √(1 − β2ᵗ) + ε.
            let bc1 = 1 - Float(pow(Double(beta1), Double(t)))
            let bc2Sqrt = Float((1 - pow(Double(beta2), Double(t))).squareRoot())
            let stepSize = learningRate / bc1
            let decay = 1 - learningRate * weightDecay
            p.value.applyAdamW(gradient: g, expAvg: m, expAvgSq: v, stepSize: stepSize, beta1: beta1, beta2: beta2,
                               eps: eps, biasCorrection2Root: bc2Sqrt, decay: decay)
        }
    }

    public func state() -> OptimizerState {
        var scalars: [String: Double] = [:]
        for (name, t) in steps { scalars[name + ".step"] = Double(t) }
        return OptimizerState(tensors: slots.values, scalars: scalars)
    }

    public func loadState(_ state: OptimizerState) throws {
        try slots.load(state, slotNames: ["exp_avg", "exp_avg_sq"], parameters: parameters)
        steps = [:]
        for (key, value) in state.scalars where key.hasSuffix(".step") { steps[String(key.dropLast(5))] = Int(value) }
    }
}

/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay,
/// as `torch.optim.SGD` (dampening 0): b ← μb + g; p ← p − lr·(g + μb if Nesterov else b).
public final class SGD: Optimizer {
    public var learningRate: Float
    public let momentum: Float, weightDecay: Float, nesterov: Bool
    let parameters: [(name: String, parameter: Parameter)]
    let slots = Slots()

    public init(parameters: [(name: String, parameter: Parameter)], learningRate: Float, momentum: Float = 0,
                weightDecay: Float = 0, nesterov: Bool = false) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum; self.weightDecay = weightDecay; self.nesterov = nesterov
    }

    public func step() {
        for (name, p) in parameters {
            guard let g = p.grad else { continue }
            // Plain SGD keeps no buffer (none is saved in the state either).
            let fresh = slots.values[name + ".momentum_buffer"] == nil
            let buffer = momentum == 0 ? nil : slots.slot(name + ".momentum_buffer", like: p)
            p.value.applySGD(gradient: g, momentumBuffer: buffer, seedBuffer: fresh, learningRate: learningRate,
                             momentum: momentum, weightDecay: weightDecay, nesterov: nesterov)
        }
    }

    public func state() -> OptimizerState { OptimizerState(tensors: slots.values) }

    public func loadState(_ state: OptimizerState) throws {
        try slots.load(state, slotNames: ["momentum_buffer"], parameters: parameters)
    }
}

/// RMSprop as `torch.optim.RMSprop` (not centred, no momentum): v ← αv + (1−α)g²;
/// p ← p − lr·g/(√v + ε). The DPO paper trained with it.
public final class RMSprop: Optimizer {
    public var learningRate: Float
    public let alpha: Float, eps: Float, weightDecay: Float
    let parameters: [(name: String, parameter: Parameter)]
    let slots = Slots()

    public init(parameters: [(name: String, parameter: Parameter)], learningRate: Float = 1e-2, alpha: Float = 0.99,
                eps: Float = 1e-8, weightDecay: Float = 0) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.alpha = alpha; self.eps = eps; self.weightDecay = weightDecay
    }

    public func step() {
        for (name, p) in parameters {
            guard let g = p.grad else { continue }
            let v = slots.slot(name + ".square_avg", like: p)
            p.value.applyRMSprop(gradient: g, squareAverage: v, learningRate: learningRate, alpha: alpha,
                                 eps: eps, weightDecay: weightDecay)
        }
    }

    public func state() -> OptimizerState { OptimizerState(tensors: slots.values) }

    public func loadState(_ state: OptimizerState) throws {
        try slots.load(state, slotNames: ["square_avg"], parameters: parameters)
    }
}

import Foundation
