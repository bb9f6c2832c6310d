import AlignJSON
import Foundation

/// Errors of the diffusion module, each naming the file or key at fault.
public struct DiffusionError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// diffusers' `UNet2DModel` configuration (`config.json`), with diffusers' key names and defaults.
///
/// Align implements the positional time embedding, the `DownBlock2D` / `AttnDownBlock2D` /
/// `UpBlock2D` / `AttnUpBlock2D` blocks with convolutional down- and upsamplers, `UNetMidBlock2D`,
/// SiLU, the "default" time conditioning of the resnets, and class conditioning through
/// `num_class_embeds`; a folder asking for anything else is refused with the key that asks for it.
public struct UNet2DConfiguration: Sendable, Hashable {
    public var sampleSize: Int? = nil
    public var inChannels = 3
    public var outChannels = 3
    public var centerInputSample = false
    public var timeEmbeddingDim: Int? = nil
    public var freqShift = 0
    public var flipSinToCos = true
    public var downBlockTypes = ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"]
    public var midBlockType: String? = "UNetMidBlock2D"
    public var upBlockTypes = ["AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"]
    public var blockOutChannels = [224, 448, 672, 896]
    public var layersPerBlock = 2
    public var midBlockScaleFactor: Double = 1
    public var downsamplePadding = 1
    public var dropout: Double = 0
    public var attentionHeadDim: Int? = 8
    public var normNumGroups = 32
    public var attnNormNumGroups: Int? = nil
    public var normEps: Double = 1e-5
    public var addAttention = true
    public var numClassEmbeds: Int? = nil
    public var numTrainTimesteps: Int? = nil

    public init() {}

    /// The small class-conditional denoiser of REFERENCE.md §10 for 1-channel 32×32 images:
    /// channels (32, 64, 64), two resnets per block, Down / AttnDown / AttnDown, 10 classes.
    public static func fashionMNIST(channels: [Int] = [32, 64, 64]) -> UNet2DConfiguration {
        var c = UNet2DConfiguration()
        c.sampleSize = 32
        c.inChannels = 1; c.outChannels = 1
        c.blockOutChannels = channels
        c.downBlockTypes = ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"]
        c.upBlockTypes = ["AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"]
        c.normNumGroups = 8
        c.numClassEmbeds = 10
        return c
    }

    /// Time-embedding width: `time_embedding_dim` or 4 × the first block's channels.
    public var timeEmbedDim: Int { timeEmbeddingDim ?? blockOutChannels[0] * 4 }

    /// Reads a diffusers `config.json`, refusing options Align does not implement.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw DiffusionError("\(url.path): cannot read (\(error.localizedDescription))") }
        let json: JSONValue
        do { json = try JSONReader.parse(data) } catch { throw DiffusionError("\(url.path): invalid JSON: \(error)") }
        try self.init(json: json, path: url.path)
    }

    public init(json: JSONValue, path: String) throws {
        guard case .object = json else { throw DiffusionError("\(path): expected a JSON object") }
        func fail(_ key: String, _ message: String) -> DiffusionError { DiffusionError("\(path): \(key): \(message)") }
        func int(_ key: String) throws -> Int?? {
            guard let v = json[key] else { return nil }
            if case .null = v { return .some(nil) }
            guard case .number(let n) = v, let i = n.integer else { throw fail(key, "expected an integer") }
            return .some(i)
        }
        func float(_ key: String) throws -> Double? {
            guard let v = json[key] else { return nil }
            guard case .number(let n) = v, let d = n.double else { throw fail(key, "expected a number") }
            return d
        }
        func bool(_ key: String) throws -> Bool? {
            guard let v = json[key] else { return nil }
            guard case .bool(let b) = v else { throw fail(key, "expected true or false") }
            return b
        }
        func string(_ key: String) throws -> String?? {
            guard let v = json[key] else { return nil }
            if case .null = v { return .some(nil) }
            guard case .string(let s) = v else { throw fail(key, "expected a string") }
            return .some(s)
        }
        func strings(_ key: String) throws -> [String]? {
            guard let v = json[key] else { return nil }
            guard case .array(let items) = v else { throw fail(key, "expected an array of strings") }
            return try items.map { if case .string(let s) = $0 { return s }; throw fail(key, "expected an array of strings") }
        }
        func ints(_ key: String) throws -> [Int]? {
            guard let v = json[key] else { return nil }
            guard case .array(let items) = v else { throw fail(key, "expected an array of integers") }
            return try items.map { if case .number(let n) = $0, let i = n.integer { return i }; throw fail(key, "expected an array of integers") }
        }
        if let name = try string("_class_name"), let name, name != "UNet2DModel" {
            throw fail("_class_name", "is \(name); Align reads UNet2DModel folders")
        }
        if let v = try int("sample_size") {
            sampleSize = v
        } else if let v = try ints("sample_size") {
            guard v.count == 2, v[0] == v[1] else { throw fail("sample_size", "only square sizes are supported") }
            sampleSize = v[0]
        }
        if let v = try int("in_channels"), let v { inChannels = v }
        if let v = try int("out_channels"), let v { outChannels = v }
        if let v = try bool("center_input_sample") { centerInputSample = v }
        if let v = try string("time_embedding_type"), let v, v != "positional" { throw fail("time_embedding_type", "\(v) is not supported (positional is)") }
        if let v = try int("time_embedding_dim") { timeEmbeddingDim = v }
        if let v = try float("freq_shift") { freqShift = Int(v) }
        if let v = try bool("flip_sin_to_cos") { flipSinToCos = v }
        if let v = try strings("down_block_types") { downBlockTypes = v }
        if let v = try string("mid_block_type") { midBlockType = v }
        if let v = try strings("up_block_types") { upBlockTypes = v }
        if let v = try ints("block_out_channels") { blockOutChannels = v }
        if let v = try int("layers_per_block"), let v { layersPerBlock = v }
        if let v = try float("mid_block_scale_factor") { midBlockScaleFactor = v }
        if let v = try int("downsample_padding"), let v { downsamplePadding = v }
        if let v = try string("downsample_type"), let v, v != "conv" { throw fail("downsample_type", "\(v) is not supported (conv is)") }
        if let v = try string("upsample_type"), let v, v != "conv" { throw fail("upsample_type", "\(v) is not supported (conv is)") }
        if let v = try float("dropout") { dropout = v }
        if let v = try string("act_fn"), let v, v != "silu" { throw fail("act_fn", "\(v) is not supported (silu is)") }
        if let v = try int("attention_head_dim") { attentionHeadDim = v }
        if let v = try int("norm_num_groups") {
            guard let v else { throw fail("norm_num_groups", "null is not supported") }
            normNumGroups = v
        }
        if let v = try int("attn_norm_num_groups") { attnNormNumGroups = v }
        if let v = try float("norm_eps") { normEps = v }
        if let v = try string("resnet_time_scale_shift"), let v, v != "default" { throw fail("resnet_time_scale_shift", "\(v) is not supported (default is)") }
        if let v = try bool("add_attention") { addAttention = v }
        if let v = try string("class_embed_type"), let v { throw fail("class_embed_type", "\(v) is not supported (null with num_class_embeds is)") }
        if let v = try int("num_class_embeds") { numClassEmbeds = v }
        if let v = try int("num_train_timesteps") { numTrainTimesteps = v }
        try validate(path: path)
    }

    /// Checks the block lists agree with the channel list.
    public func validate(path: String = "config.json") throws {
        func fail(_ key: String, _ message: String) -> DiffusionError { DiffusionError("\(path): \(key): \(message)") }
        guard !blockOutChannels.isEmpty, blockOutChannels.allSatisfy({ $0 > 0 }) else { throw fail("block_out_channels", "must be positive") }
        guard downBlockTypes.count == blockOutChannels.count else { throw fail("down_block_types", "has \(downBlockTypes.count) entries for \(blockOutChannels.count) block_out_channels") }
        guard upBlockTypes.count == blockOutChannels.count else { throw fail("up_block_types", "has \(upBlockTypes.count) entries for \(blockOutChannels.count) block_out_channels") }
        for t in downBlockTypes where !["DownBlock2D", "AttnDownBlock2D"].contains(t) { throw fail("down_block_types", "\(t) is not supported (DownBlock2D, AttnDownBlock2D are)") }
        for t in upBlockTypes where !["UpBlock2D", "AttnUpBlock2D"].contains(t) { throw fail("up_block_types", "\(t) is not supported (UpBlock2D, AttnUpBlock2D are)") }
        if let m = midBlockType, m != "UNetMidBlock2D" { throw fail("mid_block_type", "\(m) is not supported (UNetMidBlock2D is)") }
        guard downsamplePadding == 1 else { throw fail("downsample_padding", "only 1 is supported") }
        for c in blockOutChannels where c % normNumGroups != 0 { throw fail("norm_num_groups", "\(normNumGroups) does not divide \(c) channels") }
        guard layersPerBlock >= 1 else { throw fail("layers_per_block", "must be at least 1") }
        guard inChannels >= 1, outChannels >= 1 else { throw fail("in_channels", "must be positive") }
        if let n = numClassEmbeds, n < 1 { throw fail("num_class_embeds", "must be positive") }
    }

    /// `config.json` as diffusers' `save_config` writes it: every field, keys sorted, indent 2.
    public func json() -> [UInt8] {
        func opt(_ v: Int?) -> JSONValue { v.map { .integer($0) } ?? .null }
        var members: [(key: String, value: JSONValue)] = [
            ("_class_name", .string("UNet2DModel")),
            ("_diffusers_version", .string("0.42.1")),
            ("act_fn", .string("silu")),
            ("add_attention", .bool(addAttention)),
            ("attention_head_dim", opt(attentionHeadDim)),
            ("attn_norm_num_groups", opt(attnNormNumGroups)),
            ("block_out_channels", .array(blockOutChannels.map { .integer($0) })),
            ("center_input_sample", .bool(centerInputSample)),
            ("class_embed_type", .null),
            ("down_block_types", .array(downBlockTypes.map { .string($0) })),
            ("downsample_padding", .integer(downsamplePadding)),
            ("downsample_type", .string("conv")),
            ("dropout", .double(dropout)),
            ("flip_sin_to_cos", .bool(flipSinToCos)),
            ("freq_shift", .integer(freqShift)),
            ("in_channels", .integer(inChannels)),
            ("layers_per_block", .integer(layersPerBlock)),
            ("mid_block_scale_factor", .double(midBlockScaleFactor)),
            ("mid_block_type", midBlockType.map { .string($0) } ?? .null),
            ("norm_eps", .double(normEps)),
            ("norm_num_groups", .integer(normNumGroups)),
            ("num_class_embeds", opt(numClassEmbeds)),
            ("num_train_timesteps", opt(numTrainTimesteps)),
            ("out_channels", .integer(outChannels)),
            ("resnet_time_scale_shift", .string("default")),
            ("sample_size", opt(sampleSize)),
            ("time_embedding_dim", opt(timeEmbeddingDim)),
            ("time_embedding_type", .string("positional")),
            ("up_block_types", .array(upBlockTypes.map { .string($0) })),
            ("upsample_type", .string("conv")),
        ]
        members.sort { $0.key < $1.key }
        var out = JSONWriter.bytes(.object(members), indent: 2)
        out.append(0x0A)
        return out
    }
}
