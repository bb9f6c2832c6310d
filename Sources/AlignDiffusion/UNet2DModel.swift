import AlignKernels
import AlignModelIO
import AlignNN
import AlignTensor
import Foundation

/// diffusers' `UNet2DModel`: predicts the noise ε in a noisy image x_t at timestep t (and class).
///
/// ```swift
/// let unet = try UNet2DModel(folder: URL(fileURLWithPath: "ddpm-fashion"))
/// let eps = unet(sample, timesteps: [999, 10], classLabels: [3, 7])   // (N, C, H, W)
/// ```
/// Parameter names are diffusers' state-dict keys, so `diffusion_pytorch_model.safetensors`
/// maps onto the model by name.
public final class UNet2DModel: Module {
    public let configuration: UNet2DConfiguration
    let convIn: Conv2d
    let timeLinear1: Linear, timeLinear2: Linear
    let classEmbedding: Embedding?
    let downBlocks: [DownBlock]
    let midBlock: MidBlock?
    let upBlocks: [UpBlock]
    let convNormOut: GroupNorm
    let convOut: Conv2d

    /// A freshly initialised model (PyTorch's default initialisation of each layer).
    public init(configuration c: UNet2DConfiguration, seed: UInt64 = 0) throws {
        try c.validate()
        var g = RandomGenerator(seed: seed)
        configuration = c
        let channels = c.blockOutChannels, temb = c.timeEmbedDim
        convIn = Conv2d(c.inChannels, channels[0], kernel: 3, padding: 1, generator: &g)
        timeLinear1 = Linear(channels[0], temb, generator: &g)
        timeLinear2 = Linear(temb, temb, generator: &g)
        classEmbedding = c.numClassEmbeds.map { Embedding($0, temb, generator: &g) }
        var down: [DownBlock] = []
        var output = channels[0]
        for (i, type) in c.downBlockTypes.enumerated() {
            let input = output
            output = channels[i]
            down.append(DownBlock(in: input, out: output, layers: c.layersPerBlock, attention: type == "AttnDownBlock2D",
                                  downsample: i < channels.count - 1, temb: temb, config: c, generator: &g))
        }
        downBlocks = down
        midBlock = c.midBlockType == nil ? nil : MidBlock(channels: channels.last!, temb: temb, config: c, generator: &g)
        let reversed = Array(channels.reversed())
        var up: [UpBlock] = []
        output = reversed[0]
        for (i, type) in c.upBlockTypes.enumerated() {
            let previous = output
            output = reversed[i]
            let input = reversed[min(i + 1, channels.count - 1)]
            up.append(UpBlock(in: input, previous: previous, out: output, layers: c.layersPerBlock + 1, attention: type == "AttnUpBlock2D",
                              upsample: i < channels.count - 1, temb: temb, config: c, generator: &g))
        }
        upBlocks = up
        convNormOut = GroupNorm(groups: c.normNumGroups, channels: channels[0], eps: Float(c.normEps))
        convOut = Conv2d(channels[0], c.outChannels, kernel: 3, padding: 1, generator: &g)
    }

    /// Loads a diffusers folder: `config.json` and `diffusion_pytorch_model.safetensors`.
    public convenience init(folder: URL) throws {
        let c = try UNet2DConfiguration(contentsOf: folder.appendingPathComponent("config.json"))
        try self.init(configuration: c)
        try loadWeights(from: folder)
    }

    /// Replaces every parameter with the one of the same name in the folder's safetensors file
    /// (shapes checked first, so a mismatch leaves the model untouched).
    public func loadWeights(from folder: URL) throws {
        let url = folder.appendingPathComponent(UNet2DModel.weightsFile)
        let file = try SafetensorsFile(url: url)
        var loaded: [(Parameter, Tensor)] = []
        let names = Set(file.tensorNames)
        for (name, p) in namedParameters() {
            guard names.contains(name) else { throw DiffusionError("\(url.path): no tensor \(name)") }
            let (shape, storage) = try file.loadFloat32(name)
            guard shape == p.shape else { throw DiffusionError("\(url.path): \(name) has shape \(shape), the configuration gives \(p.shape)") }
            loaded.append((p, Tensor(storage: storage, shape: shape)))
        }
        let known = Set(namedParameters().map(\.name))
        if let extra = file.tensorNames.first(where: { !known.contains($0) }) {
            throw DiffusionError("\(url.path): tensor \(extra) is not a parameter of this configuration")
        }
        for (p, t) in loaded { p.assign(t) }
    }

    public static let weightsFile = "diffusion_pytorch_model.safetensors"

    /// Writes `config.json` and `diffusion_pytorch_model.safetensors` (F32) into `folder`.
    public func save(to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(configuration.json()).write(to: folder.appendingPathComponent("config.json"), options: .atomic)
        let tensors = namedParameters().map { name, p in
            SafetensorsWriter.Tensor(name: name, shape: p.shape, storage: withNoGrad { p.value.copy() }.storage)
        }
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: folder.appendingPathComponent(UNet2DModel.weightsFile))
    }

    /// diffusers' `get_timestep_embedding` in fp32: [sin | cos] (or [cos | sin] with
    /// `flip_sin_to_cos`) of t·exp(−ln(10000)·i/(half − freq_shift)), i < half.
    public static func timestepEmbedding(_ timesteps: [Float], dim: Int, flipSinToCos: Bool, freqShift: Int) -> Tensor {
        let half = dim / 2
        let logMax = Float(Foundation.log(10000.0))
        let freqs: [Float] = (0..<half).map { i in Foundation.exp(-logMax * Float(i) / Float(half - freqShift)) }
        var values = [Float](repeating: 0, count: timesteps.count * dim)
        for (n, t) in timesteps.enumerated() {
            for i in 0..<half {
                let a = t * freqs[i]
                let (s, c) = (Foundation.sin(a), Foundation.cos(a))
                values[n * dim + i] = flipSinToCos ? c : s
                values[n * dim + half + i] = flipSinToCos ? s : c
            }
        }
        return Tensor(shape: [timesteps.count, dim], values: values)
    }

    /// ε̂ for `sample` (N, C, H, W) at one timestep per image; `classLabels` for class-conditional
    /// models (required there, refused otherwise).
    public func callAsFunction(_ sample: Tensor, timesteps: [Float], classLabels: [Int]? = nil) -> Tensor {
        let c = configuration
        precondition(sample.rank == 4 && sample.shape[1] == c.inChannels, "UNet2DModel input \(sample.shape) for \(c.inChannels) channels")
        precondition(timesteps.count == sample.shape[0], "\(timesteps.count) timesteps for \(sample.shape[0]) images")
        var x = c.centerInputSample ? sample * 2 - 1 : sample
        let tProj = UNet2DModel.timestepEmbedding(timesteps, dim: c.blockOutChannels[0], flipSinToCos: c.flipSinToCos, freqShift: c.freqShift)
        var emb = timeLinear2(timeLinear1(tProj).silu())
        if let classEmbedding {
            guard let classLabels else { preconditionFailure("class_labels are required by a class-conditional UNet2DModel") }
            emb = emb + classEmbedding(classLabels.map { Int32($0) }, shape: [classLabels.count])
        }
        x = convIn(x)
        var states = [x]
        for block in downBlocks { x = block(x, temb: emb, states: &states) }
        if let midBlock { x = midBlock(x, temb: emb) }
        for block in upBlocks { x = block(x, temb: emb, states: &states) }
        return convOut(convNormOut(x).silu())
    }

    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        AlignNN.visit(convIn, "conv_in", prefix: prefix, visit)
        AlignNN.visit(timeLinear1, "time_embedding.linear_1", prefix: prefix, visit)
        AlignNN.visit(timeLinear2, "time_embedding.linear_2", prefix: prefix, visit)
        AlignNN.visit(classEmbedding, "class_embedding", prefix: prefix, visit)
        visitList(downBlocks, "down_blocks", prefix: prefix, visit)
        AlignNN.visit(midBlock, "mid_block", prefix: prefix, visit)
        visitList(upBlocks, "up_blocks", prefix: prefix, visit)
        AlignNN.visit(convNormOut, "conv_norm_out", prefix: prefix, visit)
        AlignNN.visit(convOut, "conv_out", prefix: prefix, visit)
    }

    /// A frozen deep copy (the Diffusion-DPO reference).
    public func frozenCopy() throws -> UNet2DModel {
        let copy = try UNet2DModel(configuration: configuration)
        for ((_, a), (_, b)) in zip(copy.namedParameters(), namedParameters()) { a.assign(withNoGrad { b.value.copy() }) }
        copy.freeze()
        return copy
    }
}
