import AlignKernels

/// One recorded op in the autograd graph: what was computed (``Operation``, with the values its
/// backward pass needs) and from which inputs. Nodes point only at their inputs, so the graph is
/// freed as soon as the last tensor referring to its output goes away.
final class GradNode {
    /// The op and its saved values; replaced by `.released` once its backward has run.
    var operation: Operation
    /// One entry per differentiable input; nil where that input needs no gradient.
    let inputs: [GradNode?]
    /// Shape of the value this node produced.
    let shape: [Int]
    /// Set for leaves: the parameter that receives the gradient.
    unowned(unsafe) let parameter: Parameter?
    /// Gradient flowing into this node's output, accumulated during ``Tensor/backward(seed:)``.
    var grad: Tensor?
    /// Whether ``grad``'s storage was allocated for this node alone (a sum, or a linear op's fresh
    /// input gradient), so later contributions may be added into it in place. False when it may be
    /// shared: many rules pass their incoming gradient straight through (add, reshape).
    var gradOwned = false

    init(_ operation: Operation, inputs: [GradNode?], shape: [Int]) {
        self.operation = operation
        self.inputs = inputs
        self.shape = shape
        self.parameter = nil
    }

    init(leaf: Parameter, shape: [Int]) {
        operation = .leaf
        inputs = []
        self.shape = shape
        parameter = leaf
    }
}

extension Tensor {
    /// Wraps a freshly computed `value` as the output of `operation` on `inputs`, recording a node
    /// only when gradients are enabled and some input requires one.
    static func record(_ value: Tensor, _ operation: @autoclosure () -> Operation, inputs: [Tensor]) -> Tensor {
        guard GradMode.isEnabled, inputs.contains(where: { $0.node != nil }) else { return value }
        let node = GradNode(operation(), inputs: inputs.map(\.node), shape: value.shape)
        return Tensor(storage: value.storage, shape: value.shape, offset: value.offset, node: node)
    }

    /// Runs reverse-mode differentiation from this tensor, accumulating into every reachable
    /// ``Parameter/grad``. `seed` is the gradient of the final objective with respect to this
    /// tensor (default: 1, for a scalar loss). Activations and intermediate gradients are released
    /// as soon as their last use has passed.
    public func backward(seed: Tensor? = nil) {
        guard let root = node else { return }
        if seed == nil { precondition(count == 1, "backward() without a seed needs a scalar, not shape \(shape)") }
        // Topological order by iterative depth-first search (graphs can be thousands of nodes deep).
        var order: [GradNode] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(GradNode, Int)] = [(root, 0)]
        visited.insert(ObjectIdentifier(root))
        while let (node, next) = stack.popLast() {
            if next < node.inputs.count {
                stack.append((node, next + 1))
                if let child = node.inputs[next], visited.insert(ObjectIdentifier(child)).inserted {
                    stack.append((child, 0))
                }
            } else {
                order.append(node)
            }
        }
        root.grad = seed?.detached().reshaped(shape) ?? Tensor.ones(shape)
        withNoGrad {
            for node in order.reversed() {
                guard let grad = node.grad else { node.operation = .released; continue }
                node.grad = nil
                if let parameter = node.parameter {
                    parameter.accumulate(grad)
                    continue
                }
                let needs = node.inputs.map { $0 != nil }
                // A linear op's input gradient g·W is a fresh product: when x already holds an
                // owned gradient (q, k and v, or gate and up, share x), the product accumulates
                // into it (GEMM with beta = 1) instead of allocating a second (rows, in) buffer
                // and adding the two.
                let linearFamily = node.operation.isLinearFamily
                var accumulator: Tensor?
                if linearFamily, needs[0], let x = node.inputs[0], x.gradOwned, let existing = x.grad { accumulator = existing }
                let grads = Backward.vectorJacobianProducts(node.operation, grad: grad, needs: needs,
                                                            accumulatingInputGradientInto: accumulator)
                node.operation = .released
                for (index, (input, g)) in zip(node.inputs, grads).enumerated() {
                    guard let input, let g else { continue }
                    precondition(g.count == input.shape.reduce(1, *), "gradient shape \(g.shape) does not match \(input.shape)")
                    if let existing = input.grad {
                        // The linear op added its input gradient into this buffer already. (Only
                        // that case: other rules may hand the same tensor to two inputs that are one
                        // node, as x + x does, and those contributions must still be summed.)
                        if index == 0, let accumulator, g.storage === accumulator.storage { continue }
                        if input.gradOwned {
                            Kernels.zip(existing.pointer, g.pointer, existing.pointer, count: existing.count) { $0 + $1 }
                        } else {
                            let sum = Tensor.empty(input.shape)
                            Kernels.zip(existing.pointer, g.pointer, sum.pointer, count: sum.count) { $0 + $1 }
                            input.grad = sum
                            input.gradOwned = true
                        }
                    } else {
                        input.grad = g.reshaped(input.shape)
                        input.gradOwned = linearFamily && index == 0
                    }
                }
            }
        }
    }
}
