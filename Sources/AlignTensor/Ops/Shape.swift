import AlignKernels

extension Tensor {
    /// The same elements under a new shape (a view: no copy). One dimension may be −1.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var dims = newShape
        if let hole = dims.firstIndex(of: -1) {
            let known = dims.enumerated().filter { $0.offset != hole }.map(\.element).reduce(1, *)
            dims[hole] = known == 0 ? 0 : count / known
        }
        precondition(dims.reduce(1, *) == count, "cannot reshape \(shape) (\(count) elements) to \(newShape)")
        if dims == shape { return self }
        let view = Tensor(storage: storage, shape: dims, offset: offset, node: nil)
        return Tensor.record(view, .reshape(inputShape: shape), inputs: [self])
    }

    /// Axes reordered: the result's axis d is this tensor's axis `permutation[d]` (a copy).
    public func permuted(_ permutation: [Int]) -> Tensor {
        let perm = permutation.map(axis)
        precondition(perm.sorted() == Array(0..<rank), "\(permutation) is not a permutation of \(rank) axes")
        if perm == Array(0..<rank) { return self }
        let y = Tensor.empty(perm.map { shape[$0] })
        Kernels.permute(pointer, shape: shape, perm: perm, y.pointer)
        return Tensor.record(y, .permute(inputShape: shape, permutation: perm), inputs: [self])
    }

    /// Swaps two axes (a copy).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var perm = Array(0..<rank)
        perm.swapAt(axis(a), axis(b))
        return permuted(perm)
    }

    /// Elements [start, start+length) along `axis`. Along the first axis this is a view.
    public func slice(axis: Int, start: Int, length: Int) -> Tensor {
        let ax = self.axis(axis)
        precondition(start >= 0 && length >= 0 && start + length <= shape[ax],
                     "slice \(start)..<\(start + length) out of range for axis \(ax) of \(shape)")
        var outShape = shape
        outShape[ax] = length
        let y: Tensor
        if ax == 0 || shape[..<ax].allSatisfy({ $0 == 1 }) {
            let inner = shape[(ax + 1)...].reduce(1, *)
            y = Tensor(storage: storage, shape: outShape, offset: offset + start * inner, node: nil)
        } else {
            y = Tensor.empty(outShape)
            let (outer, n, inner) = split(at: ax)
            Kernels.sliceAxis(pointer, y.pointer, outer: outer, n: n, inner: inner, start: start, length: length)
        }
        return Tensor.record(y, .slice(inputShape: shape, axis: ax, start: start, length: length), inputs: [self])
    }

    /// Joins tensors along an existing axis; all other dimensions must agree.
    public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concat of no tensors")
        let ax = tensors[0].axis(axis)
        var outShape = tensors[0].shape
        outShape[ax] = tensors.map { $0.shape[ax] }.reduce(0, +)
        for t in tensors {
            precondition(t.rank == outShape.count && t.shape.enumerated().allSatisfy { $0.offset == ax || $0.element == outShape[$0.offset] },
                         "cannot concatenate \(t.shape) with \(tensors[0].shape) along axis \(ax)")
        }
        let y = Tensor.empty(outShape)
        let outer = outShape[..<ax].reduce(1, *), inner = outShape[(ax + 1)...].reduce(1, *)
        // Copy each input into its block of the output.
        var start = 0
        for t in tensors {
            let len = t.shape[ax]
            let block = len * inner
            for o in 0..<outer {
                (y.pointer + (o * outShape[ax] + start) * inner).update(from: t.pointer + o * block, count: block)
            }
            start += len
        }
        return record(y, .concat(axis: ax, shapes: tensors.map(\.shape)), inputs: tensors)
    }

    /// Stacks equally shaped tensors along a new axis.
    public static func stack(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "stack of no tensors")
        let rank = tensors[0].rank + 1
        let ax = axis < 0 ? axis + rank : axis
        let expanded = tensors.map { t -> Tensor in
            var s = t.shape
            s.insert(1, at: ax)
            return t.reshaped(s)
        }
        return concat(expanded, axis: ax)
    }

    /// Elements where `mask` (broadcastable, non-zero = fill) is set replaced by `value`.
    public func maskedFill(_ mask: Tensor, with value: Float) -> Tensor {
        let m = mask.shape == shape ? mask : (Tensor.zeros(shape).detached() + mask.detached())
        let y = Tensor.map3(self, m, self) { x, m, _ in x.replacing(with: value, where: m .!= 0) }
        return Tensor.record(y, .maskedFill(mask: m), inputs: [self])
    }

    /// `a` where `condition` (same shape, non-zero = true) holds, else `b`.
    public static func select(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(condition.shape == a.shape && a.shape == b.shape, "select needs equal shapes: \(condition.shape), \(a.shape), \(b.shape)")
        let y = map3(condition, a, b) { c, a, b in b.replacing(with: a, where: c .!= 0) }
        return record(y, .select(condition: condition.detached()), inputs: [a, b, condition.detached()])
    }
}
