import AlignKernels

extension Tensor {
    /// Softmax over the last axis, stable (max subtracted).
    public func softmax() -> Tensor {
        let n = shape.last ?? 1
        let y = Tensor.empty(shape)
        Kernels.softmaxRows(pointer, y.pointer, rows: count / Swift.max(n, 1), n: n, log: false)
        return Tensor.record(y, .softmax(output: y), inputs: [self])
    }

    /// Log-softmax over the last axis, stable.
    public func logSoftmax() -> Tensor {
        let n = shape.last ?? 1
        let y = Tensor.empty(shape)
        Kernels.softmaxRows(pointer, y.pointer, rows: count / Swift.max(n, 1), n: n, log: true)
        return Tensor.record(y, .logSoftmax(output: y), inputs: [self])
    }

    /// Fused log-softmax and gather: for logits (..., V) and one target id per row, the log-
    /// probability of that id, shape (...). Rows whose target is `ignoreIndex` give 0 and no
    /// gradient. No (rows, V) log-softmax buffer is ever written; the backward pass rebuilds the
    /// softmax from the logits and each row's saved log Σ exp.
    public func logSoftmaxGather(targets: [Int32], ignoreIndex: Int32 = -100) -> Tensor {
        let n = shape.last!
        let rows = count / n
        precondition(targets.count == rows, "\(targets.count) targets for \(rows) rows of logits \(shape)")
        let y = Tensor.empty(Array(shape.dropLast()))
        let lse = Tensor.empty([rows])
        targets.withUnsafeBufferPointer { t in
            Kernels.logSoftmaxGather(pointer, targets: t.baseAddress!, rows: rows, n: n, ignoreIndex: ignoreIndex,
                                     y.pointer, lse.pointer)
        }
        return Tensor.record(y, .logSoftmaxGather(logits: detached(), targets: targets, lse: lse, ignoreIndex: ignoreIndex),
                             inputs: [self])
    }

    /// Mean cross-entropy of logits (..., V) against target ids, skipping `ignoreIndex` targets
    /// (PyTorch's `F.cross_entropy(..., ignore_index=-100)`, reduction mean). 0 when every target
    /// is ignored.
    public func crossEntropy(targets: [Int32], ignoreIndex: Int32 = -100) -> Tensor {
        let counted = targets.reduce(0) { $0 + ($1 == ignoreIndex ? 0 : 1) }
        let logps = logSoftmaxGather(targets: targets, ignoreIndex: ignoreIndex)
        return logps.sum() * (-1 / Float(Swift.max(counted, 1)))
    }

    /// Per-row statistics of logits (rows, V) for training metrics, in one pass per row: the mean
    /// logit, the predictive entropy and whether the first maximal entry is the row's target
    /// (1 or 0). No graph.
    public func rowStatistics(targets: [Int32]) -> (meanLogit: [Float], entropy: [Float], isTop1: [Float]) {
        let n = shape.last ?? 1
        let rows = count / Swift.max(n, 1)
        precondition(targets.count == rows, "\(targets.count) targets for \(rows) rows of logits \(shape)")
        var mean = [Float](repeating: 0, count: rows), entropy = mean, top1 = mean
        targets.withUnsafeBufferPointer { t in
            mean.withUnsafeMutableBufferPointer { m in
                entropy.withUnsafeMutableBufferPointer { e in
                    top1.withUnsafeMutableBufferPointer { k in
                        Kernels.rowStatistics(pointer, targets: t.baseAddress!, rows: rows, n: n,
                                              meanLogit: m.baseAddress!, entropy: e.baseAddress!, isTop1: k.baseAddress!)
                    }
                }
            }
        }
        return (mean, entropy, top1)
    }

    /// log Σ exp over the last axis, one value per row (the normaliser of a log-softmax). No graph.
    public func logSumExpRows() -> [Float] {
        let n = shape.last ?? 1
        let rows = count / Swift.max(n, 1)
        var lse = [Float](repeating: 0, count: rows)
        lse.withUnsafeMutableBufferPointer { Kernels.logSumExpRows(pointer, rows: rows, n: n, $0.baseAddress!) }
        return lse
    }

    /// Element `column` of row `r` of a (rows, n) view (the last axis): one logit of one row.
    public func value(row r: Int, column: Int) -> Float {
        let n = shape.last ?? 1
        precondition(r >= 0 && r < count / Swift.max(n, 1) && column >= 0 && column < n, "element (\(r), \(column)) of \(shape)")
        return pointer[r * n + column]
    }

    /// Copies row `r` of a (rows, n) view (the last axis) into `buffer`, which must hold n values.
    public func copyRow(_ r: Int, into buffer: inout [Float]) {
        let n = shape.last ?? 1
        precondition(r >= 0 && r < count / Swift.max(n, 1) && buffer.count == n, "row \(r) of \(shape) into \(buffer.count) values")
        buffer.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: pointer + r * n, count: n) }
    }
}
