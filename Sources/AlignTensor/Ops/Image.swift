import AlignKernels

extension Tensor {
    /// 2-D convolution as `torch.nn.functional.conv2d`: self (N, Cin, H, W), weight
    /// (Cout, Cin, kh, kw), optional bias (Cout) → (N, Cout, outH, outW).
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
        precondition(rank == 4 && weight.rank == 4 && weight.shape[1] == shape[1], "conv2d of \(shape) by weight \(weight.shape)")
        let s = Conv2DShape(batch: shape[0], inChannels: shape[1], height: shape[2], width: shape[3],
                            outChannels: weight.shape[0], kernelHeight: weight.shape[2], kernelWidth: weight.shape[3],
                            stride: stride, padding: padding)
        let y = Tensor.empty([s.batch, s.outChannels, s.outHeight, s.outWidth])
        Kernels.conv2d(pointer, weight: weight.pointer, bias: bias.map { UnsafePointer($0.pointer) }, shape: s, y.pointer)
        let op = Operation.conv2d(x: detached(), weight: weight.detached(), hasBias: bias != nil, shape: s)
        return Tensor.record(y, op, inputs: bias.map { [self, weight, $0] } ?? [self, weight])
    }

    /// Nearest-neighbour upsampling of the last two axes by an integer factor.
    public func upsampleNearest(factor: Int) -> Tensor {
        precondition(rank >= 2 && factor >= 1, "upsample of \(shape) by \(factor)")
        var outShape = shape
        outShape[rank - 2] *= factor
        outShape[rank - 1] *= factor
        let y = Tensor.empty(outShape)
        Kernels.upsampleNearest(pointer, y.pointer, planes: shape.dropLast(2).reduce(1, *), height: shape[rank - 2],
                                width: shape[rank - 1], factor: factor, reverse: false)
        return Tensor.record(y, .upsampleNearest(inputShape: shape, factor: factor), inputs: [self])
    }
}
