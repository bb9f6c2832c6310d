import AlignKernels
import AlignTensor

/// A neural-network building block with named parameters.
///
/// Names follow Hugging Face's state-dict keys (`model.layers.0.self_attn.q_proj.weight`), so a
/// checkpoint maps onto a module by name alone. A module lists its own parameters and children in
/// ``forEachParameter(prefix:_:)``; everything else (`namedParameters()`, `freeze()`, ...) derives
/// from that.
public protocol Module: AnyObject {
    /// Calls `visit(name, parameter)` for every parameter of this module and its children, each
    /// name prefixed by `prefix` (which is empty or ends in ".").
    func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void)
}

extension Module {
    /// Every parameter with its full name, in a stable order.
    public func namedParameters() -> [(name: String, parameter: Parameter)] {
        var out: [(String, Parameter)] = []
        forEachParameter(prefix: "") { out.append(($0, $1)) }
        return out
    }

    /// Parameters that receive gradients: the model's own that are not frozen, then the
    /// adapters' (``adapterParameters()``, named by PEFT's keys) that are not.
    public func trainableParameters() -> [(name: String, parameter: Parameter)] {
        (namedParameters() + adapterParameters()).filter { $0.parameter.requiresGrad }
    }

    /// Total number of scalar parameters (tied parameters counted once).
    public var parameterCount: Int {
        var seen = Set<ObjectIdentifier>()
        return namedParameters().reduce(0) { sum, p in
            seen.insert(ObjectIdentifier(p.parameter)).inserted ? sum + p.parameter.value.count : sum
        }
    }

    /// Stops gradients to every parameter (a reference model, or a frozen body under LoRA).
    public func freeze() { namedParameters().forEach { $0.parameter.requiresGrad = false } }

    /// Lets gradients reach every parameter again.
    public func unfreeze() { namedParameters().forEach { $0.parameter.requiresGrad = true } }

    /// Drops every parameter's gradient.
    public func zeroGrad() { namedParameters().forEach { $0.parameter.zeroGrad() } }

    /// Looks a parameter up by its full name.
    public func parameter(named name: String) -> Parameter? {
        namedParameters().first { $0.name == name }?.parameter
    }
}

/// Visits a child module's parameters under `prefix + name + "."`.
@inlinable
public func visit(_ child: Module?, _ name: String, prefix: String, _ visit: (String, Parameter) -> Void) {
    child?.forEachParameter(prefix: prefix + name + ".", visit)
}

extension Module {
    /// Holds every matrix of the model (each rank-2 parameter: linear weights, embedding tables,
    /// a tied LM head) in `format`, frozen, with its fp32 copy released: for a model used only
    /// for inference (a reference, a reward model during rollouts, a sampler). Norm scales and
    /// biases stay fp32; products accumulate in fp32. `.f32` widens them back (still frozen).
    /// With `.q8_0` a matrix whose rows are not whole 32-element blocks is held in f16. Adapters
    /// are not converted: hold a base narrow only without them.
    public func holdMatrices(in format: ElementFormat) {
        for (_, p) in namedParameters() where p.value.rank == 2 {
            p.requiresGrad = false
            p.store(in: format == .q8_0 && p.shape[1] % 32 != 0 ? .f16 : format)
        }
    }

    /// The storage format of the model's matrices: `.f32` unless ``holdMatrices(in:)`` changed it
    /// (the first matrix's format).
    public var matrixFormat: ElementFormat {
        namedParameters().first { $0.parameter.value.rank == 2 }?.parameter.value.format ?? .f32
    }
}
