import AlignKernels
import AlignTensor

/// How low-rank adapters are shaped and attached: PEFT's `LoraConfig` fields, with its defaults
/// (r 8, alpha 8, dropout 0; scaling alpha/r, or alpha/√r with rsLoRA).
public struct LoRAConfiguration: Sendable, Hashable {
    /// Rank r of each update B·A.
    public var rank: Int = 8
    /// α: the update is scaled by α/r (α/√r with ``useRSLoRA``).
    public var alpha: Float = 8
    /// Dropout on the adapter's input while training (the base path never sees it).
    public var dropout: Float = 0
    /// Linear layers to adapt: short names (`q_proj`) match a module whose path ends in them,
    /// full paths (`model.layers.0.self_attn.q_proj`) match that module; `all-linear` is every
    /// linear layer but the output head. Empty: PEFT's default for Llama-family models, `q_proj`
    /// and `v_proj`.
    public var targetModules: [String] = []
    /// Rank-stabilised scaling α/√r.
    public var useRSLoRA = false
    /// Weight-decomposed adapters (DoRA): a learned magnitude per output row over the direction
    /// W + s·B·A, whose row norm is treated as a constant (detached), as PEFT does.
    public var useDoRA = false

    public init(rank: Int = 8, alpha: Float = 8, dropout: Float = 0, targetModules: [String] = [],
                useRSLoRA: Bool = false, useDoRA: Bool = false) {
        self.rank = rank; self.alpha = alpha; self.dropout = dropout; self.targetModules = targetModules
        self.useRSLoRA = useRSLoRA; self.useDoRA = useDoRA
    }

    /// s = α/r, or α/√r with rsLoRA.
    public var scaling: Float { useRSLoRA ? alpha / Float(rank).squareRoot() : alpha / Float(rank) }

    /// The names `all-linear` leaves out: output heads (PEFT keeps the LM head and a
    /// classification head out of `all-linear`).
    public static let outputHeadNames: Set<String> = ["lm_head", "score", "classifier"]

    /// The target list with PEFT's default filled in.
    public var resolvedTargets: [String] { targetModules.isEmpty ? ["q_proj", "v_proj"] : targetModules }

    /// Whether the linear layer at `path` (e.g. `model.layers.0.self_attn.q_proj`) is adapted.
    public func targets(_ path: String) -> Bool {
        let targets = resolvedTargets
        if targets == ["all-linear"] {
            let last = path.split(separator: ".").last.map(String.init) ?? path
            return !LoRAConfiguration.outputHeadNames.contains(last)
        }
        return targets.contains { $0 == path || path.hasSuffix("." + $0) }
    }
}

/// Which adapters a forward pass uses. Task-local, like ``GradMode``: a reference forward of the
/// policy (DPO, KTO, PPO without `--ref-model`) runs inside ``withReferenceAdapters(_:)`` on the same
/// layers and weights, so no second copy of the base model exists.
public enum AdapterMode: Sendable {
    /// The trained adapters (the default).
    case trained
    /// Each layer's reference adapter (a frozen copy of the adapter training started from), or
    /// none where a layer has none: the base model, for a new adapter.
    case reference
    /// No adapter at all: the base model.
    case disabled

    @TaskLocal public static var current: AdapterMode = .trained
}

/// Runs `body` with adapters switched to the reference: the frozen starting adapter where one was
/// loaded, the bare base model otherwise (B starts at zero, so that is the starting policy).
@discardableResult
public func withReferenceAdapters<T>(_ body: () throws -> T) rethrows -> T {
    try AdapterMode.$current.withValue(.reference) { try body() }
}

/// Runs `body` on the base model alone, every adapter switched off.
@discardableResult
public func withAdaptersDisabled<T>(_ body: () throws -> T) rethrows -> T {
    try AdapterMode.$current.withValue(.disabled) { try body() }
}

/// A low-rank update of one linear layer, as PEFT's `lora.Linear`: y = W·x + b + s·B·A·dropout(x),
/// with A (r, in) Kaiming-uniform (a = √5: U(−1/√in, 1/√in)) and B (out, r) zero, so a new
/// adapter leaves the model unchanged. DoRA adds a magnitude m (out), initialised to the row
/// norms of W: y = m / ‖W + s·B·A‖ ⊙ (W·x + s·B·A·x) + b, the norm held constant.
public final class LoRAAdapter {
    /// `lora_A.weight`, (r, in).
    public let a: Parameter
    /// `lora_B.weight`, (out, r).
    public let b: Parameter
    /// `lora_magnitude_vector`, (out), for DoRA.
    public let magnitude: Parameter?
    /// The shape it was made with (r, α, dropout, targets, rsLoRA, DoRA), for saving.
    public let configuration: LoRAConfiguration
    public var scaling: Float { configuration.scaling }
    public var dropout: Float { configuration.dropout }
    /// Draws dropout masks (training only); its state is part of a checkpoint.
    public var generator: RandomGenerator

    /// A new adapter for `weight` (out, in): A random from `generator`, B zero, m = ‖W‖ per row.
    public init(weight: Tensor, configuration c: LoRAConfiguration, generator: inout RandomGenerator) {
        let outF = weight.shape[0], inF = weight.shape[1]
        a = Parameter(Tensor.kaimingUniform([c.rank, inF], generator: &generator))
        b = Parameter(Tensor.zeros([outF, c.rank]))
        magnitude = c.useDoRA ? Parameter(LoRAAdapter.rowNorms(weight)) : nil
        configuration = c
        self.generator = RandomGenerator(seed: generator.next())
    }

    /// An adapter with given tensors (loaded from a file).
    /// `configuration.rank` is taken from `a`; DoRA is on when `magnitude` is given.
    public init(a: Tensor, b: Tensor, magnitude: Tensor?, configuration: LoRAConfiguration, seed: UInt64 = 0) {
        precondition(a.rank == 2 && b.rank == 2 && b.shape[1] == a.shape[0], "LoRA shapes A \(a.shape), B \(b.shape)")
        self.a = Parameter(a)
        self.b = Parameter(b)
        self.magnitude = magnitude.map { Parameter($0) }
        var c = configuration
        c.rank = a.shape[0]
        c.useDoRA = magnitude != nil
        self.configuration = c
        self.generator = RandomGenerator(seed: seed)
    }

    /// A frozen copy (the reference adapter when training continues from this one).
    public func frozenCopy() -> LoRAAdapter {
        let copy = LoRAAdapter(a: a.value.copy(), b: b.value.copy(), magnitude: magnitude?.value.copy(),
                               configuration: configuration)
        copy.parameters.forEach { $0.parameter.requiresGrad = false }
        return copy
    }

    /// The rank r.
    public var rank: Int { a.shape[0] }

    /// PEFT's names under the layer's path, in file order: `lora_A.weight`, `lora_B.weight`,
    /// `lora_magnitude_vector`.
    public var parameters: [(name: String, parameter: Parameter)] {
        var out: [(name: String, parameter: Parameter)] = [("lora_A.weight", a), ("lora_B.weight", b)]
        if let magnitude { out.append(("lora_magnitude_vector", magnitude)) }
        return out
    }

    /// ‖row‖₂ of a (out, in) matrix: (out).
    static func rowNorms(_ w: Tensor) -> Tensor {
        withNoGrad { w.square().sum(axis: 1).sqrt() }
    }

    /// s·B·A (out, in), the dense update (for merging and DoRA's norm); no gradient.
    public func deltaWeight() -> Tensor {
        withNoGrad { b.value.matmul(a.value) * scaling }
    }

    /// The layer's output as one product with the merged weight W + s·B·A
    /// (``Tensor/lowRankLinear(weight:bias:a:b:scaling:)``), or nil where that does not apply: DoRA,
    /// dropout while training (the adapter then reads another x than the base), weights not in
    /// fp32, or too few rows for the merge to pay (decoding). Same values as ``output(_:base:weight:bias:)``
    /// up to float rounding.
    func mergedOutput(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor? {
        guard magnitude == nil, !(GradMode.isEnabled && dropout > 0), weight.format == .f32,
              a.value.format == .f32, b.value.format == .f32, bias?.format ?? .f32 == .f32 else { return nil }
        let outF = weight.shape[0], inF = weight.shape[1]
        guard Tensor.lowRankMergePays(rows: x.count / inF, inFeatures: inF, outFeatures: outF) else { return nil }
        return x.lowRankLinear(weight: weight, bias: bias, a: a.value, b: b.value, scaling: scaling)
    }

    /// The layer's output with this adapter: `base` is x·Wᵀ + b already computed.
    func output(_ x: Tensor, base: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let training = GradMode.isEnabled && dropout > 0
        let xd = training ? x.dropout(dropout, generator: &generator) : x
        // s applied to the rank-r intermediate: one pass over (..., r) instead of (..., out).
        let update = (xd.linear(weight: a.value) * scaling).linear(weight: b.value)    // (..., out)
        guard let magnitude else { return base + update }
        // DoRA: m / ‖W + s·B·A‖ (detached) rescales W·x + s·B·A·x, the bias untouched.
        let norm = withNoGrad { LoRAAdapter.rowNorms(weight + deltaWeight()) }        // (out)
        let scale = magnitude.value / norm                                             // (out), gradient to m
        if training {
            // PEFT's form under dropout: base + (scale − 1)·W·dropout(x) + scale·update.
            return base + (scale - 1) * xd.linear(weight: weight) + scale * update
        }
        guard let bias else { return (base + update) * scale }
        return ((base - bias) + update) * scale + bias
    }

    /// W' = W + s·B·A, or for DoRA m / ‖W + s·B·A‖ ⊙ (W + s·B·A): the merged weight.
    public func mergedWeight(_ weight: Tensor) -> Tensor {
        withNoGrad {
            let w = weight + deltaWeight()
            guard let magnitude else { return w }
            return w * (magnitude.value / LoRAAdapter.rowNorms(w)).reshaped([weight.shape[0], 1])
        }
    }
}

extension Linear {
    /// The adapter this forward uses under the current ``AdapterMode``.
    var activeAdapter: LoRAAdapter? {
        guard adapter != nil || referenceAdapter != nil else { return nil }
        switch AdapterMode.current {
        case .trained: return adapter
        case .reference: return referenceAdapter
        case .disabled: return nil
        }
    }
}

/// Collects linear layers with their module paths during a parameter walk.
final class LinearCollector: @unchecked Sendable {
    var found: [(path: String, linear: Linear)] = []
    @TaskLocal static var current: LinearCollector?
}

extension Module {
    /// Every ``Linear`` layer with its module path (`model.layers.0.self_attn.q_proj`), in
    /// parameter order: what adapters attach to by name.
    public func namedLinears() -> [(path: String, linear: Linear)] {
        let collector = LinearCollector()
        LinearCollector.$current.withValue(collector) { forEachParameter(prefix: "") { _, _ in } }
        var seen = Set<ObjectIdentifier>()
        return collector.found.filter { seen.insert(ObjectIdentifier($0.linear)).inserted }
    }

    /// The adapted layers: path, layer and adapter, in parameter order.
    public func adaptedLinears() -> [(path: String, linear: Linear, adapter: LoRAAdapter)] {
        var out: [(path: String, linear: Linear, adapter: LoRAAdapter)] = []
        for (path, linear) in namedLinears() {
            if let adapter = linear.adapter { out.append((path, linear, adapter)) }
        }
        return out
    }

    /// Whether any layer carries a trained adapter.
    public var hasAdapters: Bool { namedLinears().contains { $0.linear.adapter != nil } }

    /// Every adapter parameter under its module path and PEFT's name
    /// (`model.layers.0.self_attn.q_proj.lora_A.weight`).
    public func adapterParameters() -> [(name: String, parameter: Parameter)] {
        var out: [(name: String, parameter: Parameter)] = []
        for (path, _, adapter) in adaptedLinears() {
            for (name, parameter) in adapter.parameters { out.append((path + "." + name, parameter)) }
        }
        return out
    }

    /// Attaches new adapters to the linear layers `configuration` targets and freezes every base
    /// parameter (their weight gradients are then never computed). A seeded generator makes the
    /// A matrices reproducible. Throws when nothing matches the targets.
    @discardableResult
    public func attachAdapters(_ configuration: LoRAConfiguration, seed: UInt64 = 0) throws -> [String] {
        try configuration.validate()
        var generator = RandomGenerator(seed: seed)
        var attached: [String] = []
        // Output heads are never adapted (their forward is the head product, not the layer's).
        for (path, linear) in namedLinears() where configuration.targets(path)
            && !LoRAConfiguration.outputHeadNames.contains(path.split(separator: ".").last.map(String.init) ?? path) {
            linear.adapter = LoRAAdapter(weight: linear.weight.value, configuration: configuration, generator: &generator)
            attached.append(path)
        }
        guard !attached.isEmpty else {
            throw LoRAError.noTargets(configuration.resolvedTargets, available: Array(Set(namedLinears().map { $0.path.split(separator: ".").last.map(String.init) ?? $0.path })).sorted())
        }
        freeze()
        return attached
    }

    /// Makes the current adapters the reference (``AdapterMode/reference``): each adapted layer
    /// keeps a frozen copy of its adapter as it is now. For training that continues from an
    /// existing adapter, whose starting point is then the reference, as TRL does with PEFT.
    public func freezeAdaptersAsReference() {
        for (_, linear, adapter) in adaptedLinears() { linear.referenceAdapter = adapter.frozenCopy() }
    }

    /// Folds every adapter into its layer's weight (``LoRAAdapter/mergedWeight(_:)``) and removes it.
    public func mergeAdapters() {
        for (_, linear, adapter) in adaptedLinears() {
            linear.weight.assign(adapter.mergedWeight(linear.weight.value))
            linear.adapter = nil
            linear.referenceAdapter = nil
        }
    }
}

extension LoRAConfiguration {
    /// Range checks: r ≥ 1, dropout in [0, 1).
    public func validate() throws {
        guard rank >= 1 else { throw LoRAError.invalid("lora_r must be at least 1, got \(rank)") }
        guard dropout >= 0 && dropout < 1 else { throw LoRAError.invalid("lora_dropout must be in [0, 1), got \(dropout)") }
        guard alpha.isFinite else { throw LoRAError.invalid("lora_alpha must be finite") }
    }
}

/// Adapter errors.
public enum LoRAError: Error, CustomStringConvertible {
    case noTargets([String], available: [String])
    case invalid(String)

    public var description: String {
        switch self {
        case let .noTargets(targets, available):
            return "lora_target_modules \(targets.joined(separator: ",")) match no linear layer of the model (its linear layers: \(available.joined(separator: ", ")); or all-linear)"
        case let .invalid(message): return message
        }
    }
}
