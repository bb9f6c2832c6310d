import AlignKernels
import AlignNN
import AlignTensor
import Foundation

/// `torch.nn.Conv2d` with square kernels: parameters `weight` (out, in, k, k) and `bias` (out).
public final class Conv2d: Module {
    public let weight: Parameter
    public let bias: Parameter
    public let stride: Int, padding: Int

    /// PyTorch's default initialisation: U(−1/√fan_in, 1/√fan_in) for weight and bias.
    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, generator: inout RandomGenerator) {
        let bound = 1 / Float(inChannels * kernel * kernel).squareRoot()
        weight = Parameter(Tensor.randomUniform([outChannels, inChannels, kernel, kernel], low: -bound, high: bound, generator: &generator))
        bias = Parameter(Tensor.randomUniform([outChannels], low: -bound, high: bound, generator: &generator))
        self.stride = stride; self.padding = padding
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.conv2d(weight: weight.value, bias: bias.value, stride: stride, padding: padding)
    }

    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        visit(prefix + "weight", weight)
        visit(prefix + "bias", bias)
    }
}

/// `torch.nn.GroupNorm` with affine parameters `weight` and `bias`.
public final class GroupNorm: Module {
    public let weight: Parameter, bias: Parameter
    public let groups: Int, eps: Float

    public init(groups: Int, channels: Int, eps: Float) {
        weight = Parameter(Tensor.ones([channels]))
        bias = Parameter(Tensor.zeros([channels]))
        self.groups = groups; self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { x.groupNorm(groups: groups, weight: weight.value, bias: bias.value, eps: eps) }

    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        visit(prefix + "weight", weight)
        visit(prefix + "bias", bias)
    }
}

/// diffusers' `ResnetBlock2D` ("default" time conditioning, SiLU):
/// h = conv1(silu(norm1(x))) + time_emb_proj(silu(temb)); h = conv2(silu(norm2(h)));
/// out = (shortcut(x) + h) / output_scale_factor.
public final class ResnetBlock2D: Module {
    let norm1: GroupNorm, conv1: Conv2d, timeEmbProj: Linear, norm2: GroupNorm, conv2: Conv2d
    let convShortcut: Conv2d?
    let outputScaleFactor: Float

    init(in inChannels: Int, out outChannels: Int, temb: Int, groups: Int, eps: Float, outputScaleFactor: Float = 1,
         generator g: inout RandomGenerator) {
        norm1 = GroupNorm(groups: groups, channels: inChannels, eps: eps)
        conv1 = Conv2d(inChannels, outChannels, kernel: 3, padding: 1, generator: &g)
        timeEmbProj = Linear(temb, outChannels, generator: &g)
        norm2 = GroupNorm(groups: groups, channels: outChannels, eps: eps)
        conv2 = Conv2d(outChannels, outChannels, kernel: 3, padding: 1, generator: &g)
        convShortcut = inChannels != outChannels ? Conv2d(inChannels, outChannels, kernel: 1, generator: &g) : nil
        self.outputScaleFactor = outputScaleFactor
    }

    func callAsFunction(_ x: Tensor, temb: Tensor) -> Tensor {
        var h = conv1(norm1(x).silu())
        let t = timeEmbProj(temb.silu())
        h = h + t.reshaped([t.shape[0], t.shape[1], 1, 1])
        h = conv2(norm2(h).silu())
        let out = (convShortcut.map { $0(x) } ?? x) + h
        return outputScaleFactor == 1 ? out : out / outputScaleFactor
    }

    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        AlignNN.visit(norm1, "norm1", prefix: prefix, visit)
        AlignNN.visit(conv1, "conv1", prefix: prefix, visit)
        AlignNN.visit(timeEmbProj, "time_emb_proj", prefix: prefix, visit)
        AlignNN.visit(norm2, "norm2", prefix: prefix, visit)
        AlignNN.visit(conv2, "conv2", prefix: prefix, visit)
        AlignNN.visit(convShortcut, "conv_shortcut", prefix: prefix, visit)
    }
}

/// diffusers' `Attention` as the UNet blocks build it: self-attention over the H·W positions of a
/// feature map, GroupNorm first, a residual connection, then division by `rescale_output_factor`.
/// Parameters `group_norm`, `to_q`, `to_k`, `to_v`, `to_out.0`.
public final class SpatialAttention: Module {
    let groupNorm: GroupNorm?
    let toQ: Linear, toK: Linear, toV: Linear, toOut: Linear
    let heads: Int, headDim: Int
    let rescale: Float

    init(channels: Int, headDim: Int?, groups: Int?, eps: Float, rescale: Float = 1, generator g: inout RandomGenerator) {
        let d = headDim ?? channels
        heads = max(1, channels / d)
        self.headDim = d
        let inner = heads * d
        groupNorm = groups.map { GroupNorm(groups: $0, channels: channels, eps: eps) }
        toQ = Linear(channels, inner, generator: &g)
        toK = Linear(channels, inner, generator: &g)
        toV = Linear(channels, inner, generator: &g)
        toOut = Linear(inner, channels, generator: &g)
        self.rescale = rescale
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let positions = h * w
        var seq = x.reshaped([n, c, positions])
        if let groupNorm { seq = groupNorm(seq) }
        seq = seq.transposed(1, 2)                                   // (N, HW, C)
        func split(_ t: Tensor) -> Tensor { t.reshaped([n, positions, heads, headDim]).permuted([0, 2, 1, 3]) }
        let q = split(toQ(seq)), k = split(toK(seq)), v = split(toV(seq))
        let scores = q.matmul(k.transposed(2, 3)) * (1 / Float(headDim).squareRoot())
        let attended = scores.softmax().matmul(v)                      // (N, heads, HW, d)
        let merged = attended.permuted([0, 2, 1, 3]).reshaped([n, positions, heads * headDim])
        let out = toOut(merged).transposed(1, 2).reshaped([n, c, h, w]) + x
        return rescale == 1 ? out : out / rescale
    }

    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        AlignNN.visit(groupNorm, "group_norm", prefix: prefix, visit)
        AlignNN.visit(toQ, "to_q", prefix: prefix, visit)
        AlignNN.visit(toK, "to_k", prefix: prefix, visit)
        AlignNN.visit(toV, "to_v", prefix: prefix, visit)
        AlignNN.visit(toOut, "to_out.0", prefix: prefix, visit)
    }
}

/// A list of modules named `0`, `1`, … under its own name (PyTorch's `ModuleList`).
func visitList(_ modules: [Module], _ name: String, prefix: String, _ visit: (String, Parameter) -> Void) {
    for (i, m) in modules.enumerated() { m.forEachParameter(prefix: prefix + name + ".\(i).", visit) }
}

/// `DownBlock2D` / `AttnDownBlock2D`: resnets (each followed by attention in the Attn variant),
/// then a stride-2 convolution unless it is the last block. Returns the output and every
/// intermediate state the up path concatenates.
final class DownBlock: Module {
    let resnets: [ResnetBlock2D]
    let attentions: [SpatialAttention]
    let downsampler: Conv2d?

    init(in inChannels: Int, out outChannels: Int, layers: Int, attention: Bool, downsample: Bool, temb: Int,
         config c: UNet2DConfiguration, generator g: inout RandomGenerator) {
        let eps = Float(c.normEps)
        resnets = (0..<layers).map { i in
            ResnetBlock2D(in: i == 0 ? inChannels : outChannels, out: outChannels, temb: temb, groups: c.normNumGroups, eps: eps, generator: &g)
        }
        attentions = attention ? (0..<layers).map { _ in
            SpatialAttention(channels: outChannels, headDim: c.attentionHeadDim, groups: c.normNumGroups, eps: eps, generator: &g)
        } : []
        downsampler = downsample ? Conv2d(outChannels, outChannels, kernel: 3, stride: 2, padding: c.downsamplePadding, generator: &g) : nil
    }

    func callAsFunction(_ x: Tensor, temb: Tensor, states: inout [Tensor]) -> Tensor {
        var h = x
        for (i, resnet) in resnets.enumerated() {
            h = resnet(h, temb: temb)
            if !attentions.isEmpty { h = attentions[i](h) }
            states.append(h)
        }
        if let downsampler { h = downsampler(h); states.append(h) }
        return h
    }

    func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        visitList(resnets, "resnets", prefix: prefix, visit)
        visitList(attentions, "attentions", prefix: prefix, visit)
        if let downsampler { downsampler.forEachParameter(prefix: prefix + "downsamplers.0.conv.", visit) }
    }
}

/// `UpBlock2D` / `AttnUpBlock2D`: layers_per_block + 1 resnets, each on the running state
/// concatenated (channels) with the newest skip state, then nearest ×2 and a 3×3 convolution
/// unless it is the last block.
final class UpBlock: Module {
    let resnets: [ResnetBlock2D]
    let attentions: [SpatialAttention]
    let upsampler: Conv2d?

    init(in inChannels: Int, previous: Int, out outChannels: Int, layers: Int, attention: Bool, upsample: Bool, temb: Int,
         config c: UNet2DConfiguration, generator g: inout RandomGenerator) {
        let eps = Float(c.normEps)
        resnets = (0..<layers).map { i in
            let skip = i == layers - 1 ? inChannels : outChannels
            let input = i == 0 ? previous : outChannels
            return ResnetBlock2D(in: input + skip, out: outChannels, temb: temb, groups: c.normNumGroups, eps: eps, generator: &g)
        }
        attentions = attention ? (0..<layers).map { _ in
            SpatialAttention(channels: outChannels, headDim: c.attentionHeadDim, groups: c.normNumGroups, eps: eps, generator: &g)
        } : []
        upsampler = upsample ? Conv2d(outChannels, outChannels, kernel: 3, padding: 1, generator: &g) : nil
    }

    func callAsFunction(_ x: Tensor, temb: Tensor, states: inout [Tensor]) -> Tensor {
        var h = x
        for (i, resnet) in resnets.enumerated() {
            let skip = states.removeLast()
            h = resnet(Tensor.concat([h, skip], axis: 1), temb: temb)
            if !attentions.isEmpty { h = attentions[i](h) }
        }
        if let upsampler { h = upsampler(h.upsampleNearest(factor: 2)) }
        return h
    }

    func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        visitList(resnets, "resnets", prefix: prefix, visit)
        visitList(attentions, "attentions", prefix: prefix, visit)
        if let upsampler { upsampler.forEachParameter(prefix: prefix + "upsamplers.0.conv.", visit) }
    }
}

/// `UNetMidBlock2D`: resnet, (attention, resnet).
final class MidBlock: Module {
    let resnets: [ResnetBlock2D]
    let attention: SpatialAttention?

    init(channels: Int, temb: Int, config c: UNet2DConfiguration, generator g: inout RandomGenerator) {
        let eps = Float(c.normEps), scale = Float(c.midBlockScaleFactor)
        resnets = (0..<2).map { _ in
            ResnetBlock2D(in: channels, out: channels, temb: temb, groups: c.normNumGroups, eps: eps, outputScaleFactor: scale, generator: &g)
        }
        attention = c.addAttention
            ? SpatialAttention(channels: channels, headDim: c.attentionHeadDim, groups: c.attnNormNumGroups ?? c.normNumGroups,
                               eps: eps, rescale: scale, generator: &g)
            : nil
    }

    func callAsFunction(_ x: Tensor, temb: Tensor) -> Tensor {
        var h = resnets[0](x, temb: temb)
        if let attention { h = attention(h) }
        return resnets[1](h, temb: temb)
    }

    func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        visitList(resnets, "resnets", prefix: prefix, visit)
        if let attention { attention.forEachParameter(prefix: prefix + "attentions.0.", visit) }
    }
}
