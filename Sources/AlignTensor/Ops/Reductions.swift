import AlignKernels

extension Tensor {
    /// The bookkeeping every one-axis reduction shares: the output keeps `axis` with length 1 while
    /// `compute(outer, n, inner, y)` fills it and names the op to record; the axis is dropped
    /// afterwards unless `keepingDimension`.
    private func reduce(axis: Int, keepingDimension: Bool,
                        _ compute: (_ outer: Int, _ n: Int, _ inner: Int, _ y: Tensor, _ axis: Int) -> Operation) -> Tensor {
        let ax = self.axis(axis)
        let (outer, n, inner) = split(at: ax)
        var outShape = shape
        outShape[ax] = 1
        let y = Tensor.empty(outShape)
        let op = compute(outer, n, inner, y, ax)
        let r = Tensor.record(y, op, inputs: [self])
        return keepingDimension ? r : r.reshaped(outShape.enumerated().filter { $0.offset != ax }.map(\.element))
    }

    /// Sum over one axis; the axis is kept with length 1 when `keepingDimension` is true.
    public func sum(axis: Int, keepingDimension: Bool = false) -> Tensor {
        reduce(axis: axis, keepingDimension: keepingDimension) { outer, n, inner, y, ax in
            Kernels.sumAxis(pointer, y.pointer, outer: outer, n: n, inner: inner)
            return .sum(inputShape: shape, axis: ax)
        }
    }

    /// Sum over several axes.
    public func sum(axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        var r = self
        for a in axes.map(axis).sorted(by: >) { r = r.sum(axis: a, keepingDimension: keepingDimensions) }
        return r
    }

    /// Sum of all elements, as a scalar.
    public func sum() -> Tensor { reshaped([count]).sum(axis: 0) }

    /// Mean over one axis.
    public func mean(axis: Int, keepingDimension: Bool = false) -> Tensor {
        reduce(axis: axis, keepingDimension: keepingDimension) { outer, n, inner, y, ax in
            Kernels.sumAxis(pointer, y.pointer, outer: outer, n: n, inner: inner)
            let inv = 1 / Float(n)
            Kernels.map(y.pointer, y.pointer, count: y.count) { $0 * inv }
            return .mean(inputShape: shape, axis: ax)
        }
    }

    /// Mean over several axes.
    public func mean(axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        var r = self
        for a in axes.map(axis).sorted(by: >) { r = r.mean(axis: a, keepingDimension: keepingDimensions) }
        return r
    }

    /// Mean of all elements, as a scalar.
    public func mean() -> Tensor { reshaped([count]).mean(axis: 0) }

    /// Maximum over one axis (the gradient goes to the first maximal element).
    public func max(axis: Int, keepingDimension: Bool = false) -> Tensor {
        reduce(axis: axis, keepingDimension: keepingDimension) { outer, n, inner, y, ax in
            var argmax = [Int32](repeating: 0, count: outer * inner)
            argmax.withUnsafeMutableBufferPointer { am in
                Kernels.maxAxis(pointer, y.pointer, argmax: am.baseAddress!, outer: outer, n: n, inner: inner)
            }
            return .max(inputShape: shape, axis: ax, argmax: argmax)
        }
    }

    /// Sums over the axes along which `shape` was broadcast to reach this tensor's shape (no
    /// graph): the reverse of broadcasting, used by gradient rules.
    func summed(toShape target: [Int]) -> Tensor {
        if target == shape { return self }
        var r = self
        // Leading axes that broadcasting added.
        while r.rank > target.count { r = r.sum(axis: 0) }
        for d in 0..<target.count where target[d] == 1 && r.shape[d] != 1 {
            r = r.sum(axis: d, keepingDimension: true)
        }
        return r.reshaped(target)
    }

    /// Repeats this (reduced) tensor along `axis` to fill `target`, times `scale` (no graph).
    func expanded(alongAxis axis: Int, to target: [Int], scale: Float) -> Tensor {
        let out = Tensor.empty(target)
        let outer = target[..<axis].reduce(1, *), n = target[axis], inner = target[(axis + 1)...].reduce(1, *)
        Kernels.expandAxis(pointer, out.pointer, outer: outer, n: n, inner: inner, scale: scale)
        return out
    }
}
