import AlignJSON
import Foundation

/// diffusers' `DDPMScheduler` / `DDIMScheduler` settings (`scheduler_config.json`), key for key.
public struct SchedulerConfiguration: Sendable, Hashable {
    public enum Kind: String, Sendable { case ddpm = "DDPMScheduler", ddim = "DDIMScheduler" }
    public var kind: Kind = .ddpm
    public var numTrainTimesteps = 1000
    public var betaStart = 0.0001
    public var betaEnd = 0.02
    /// linear, scaled_linear or squaredcos_cap_v2.
    public var betaSchedule = "linear"
    public var variance = "fixed_small"
    public var clipSample = true
    public var clipSampleRange = 1.0
    public var setAlphaToOne = true
    public var stepsOffset = 0
    /// leading, trailing or linspace.
    public var timestepSpacing = "leading"
    public var predictionType = "epsilon"
    /// Keys read from a file, written back unchanged (diffusers keeps every key it does not use).
    var extra: [(key: String, value: JSONValue)] = []

    public init(kind: Kind = .ddpm) { self.kind = kind }

    public static func == (a: SchedulerConfiguration, b: SchedulerConfiguration) -> Bool {
        a.kind == b.kind && a.numTrainTimesteps == b.numTrainTimesteps && a.betaStart == b.betaStart && a.betaEnd == b.betaEnd
            && a.betaSchedule == b.betaSchedule && a.variance == b.variance && a.clipSample == b.clipSample
            && a.clipSampleRange == b.clipSampleRange && a.setAlphaToOne == b.setAlphaToOne && a.stepsOffset == b.stepsOffset
            && a.timestepSpacing == b.timestepSpacing && a.predictionType == b.predictionType
    }
    public func hash(into h: inout Hasher) { h.combine(kind); h.combine(numTrainTimesteps); h.combine(betaSchedule) }

    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw DiffusionError("\(url.path): cannot read (\(error.localizedDescription))") }
        let json: JSONValue
        do { json = try JSONReader.parse(data) } catch { throw DiffusionError("\(url.path): invalid JSON: \(error)") }
        try self.init(json: json, path: url.path)
    }

    public init(json: JSONValue, path: String) throws {
        guard case .object(let members) = json else { throw DiffusionError("\(path): expected a JSON object") }
        func fail(_ key: String, _ m: String) -> DiffusionError { DiffusionError("\(path): \(key): \(m)") }
        guard case .string(let name)? = json["_class_name"] else { throw fail("_class_name", "missing (DDPMScheduler or DDIMScheduler)") }
        guard let k = Kind(rawValue: name) else { throw fail("_class_name", "\(name) is not supported (DDPMScheduler, DDIMScheduler are)") }
        kind = k
        for (key, value) in members {
            func double() throws -> Double { guard case .number(let n) = value, let d = n.double else { throw fail(key, "expected a number") }; return d }
            func int() throws -> Int { guard case .number(let n) = value, let i = n.integer else { throw fail(key, "expected an integer") }; return i }
            func bool() throws -> Bool { guard case .bool(let b) = value else { throw fail(key, "expected true or false") }; return b }
            func string() throws -> String { guard case .string(let s) = value else { throw fail(key, "expected a string") }; return s }
            switch key {
            case "num_train_timesteps": numTrainTimesteps = try int()
            case "beta_start": betaStart = try double()
            case "beta_end": betaEnd = try double()
            case "beta_schedule": betaSchedule = try string()
            case "variance_type": variance = try string()
            case "clip_sample": clipSample = try bool()
            case "clip_sample_range": clipSampleRange = try double()
            case "set_alpha_to_one": setAlphaToOne = try bool()
            case "steps_offset": stepsOffset = try int()
            case "timestep_spacing": timestepSpacing = try string()
            case "prediction_type": predictionType = try string()
            case "trained_betas": if value != .null { throw fail(key, "trained betas are not supported") }
            case "thresholding": if try bool() { throw fail(key, "dynamic thresholding is not supported") }
            case "rescale_betas_zero_snr": if try bool() { throw fail(key, "zero-SNR rescaling is not supported") }
            case "_class_name", "_diffusers_version": break
            default: extra.append((key, value))
            }
        }
        guard ["linear", "scaled_linear", "squaredcos_cap_v2"].contains(betaSchedule) else { throw fail("beta_schedule", "\(betaSchedule) is not supported (linear, scaled_linear, squaredcos_cap_v2 are)") }
        guard predictionType == "epsilon" else { throw fail("prediction_type", "\(predictionType) is not supported (epsilon is)") }
        guard ["fixed_small", "fixed_small_log", "fixed_large"].contains(variance) || kind == .ddim else { throw fail("variance_type", "\(variance) is not supported") }
        guard ["leading", "trailing", "linspace"].contains(timestepSpacing) else { throw fail("timestep_spacing", "\(timestepSpacing) is not supported") }
        guard numTrainTimesteps >= 1 && numTrainTimesteps <= 100_000 else { throw fail("num_train_timesteps", "must be in 1...100000") }
    }

    /// `scheduler_config.json` as diffusers' `save_config` writes it (keys sorted, indent 2).
    public func json() -> [UInt8] {
        var m: [(key: String, value: JSONValue)] = [
            ("_class_name", .string(kind.rawValue)),
            ("_diffusers_version", .string("0.42.1")),
            ("beta_end", .double(betaEnd)),
            ("beta_schedule", .string(betaSchedule)),
            ("beta_start", .double(betaStart)),
            ("clip_sample", .bool(clipSample)),
            ("clip_sample_range", .double(clipSampleRange)),
            ("dynamic_thresholding_ratio", .double(0.995)),
            ("num_train_timesteps", .integer(numTrainTimesteps)),
            ("prediction_type", .string(predictionType)),
            ("rescale_betas_zero_snr", .bool(false)),
            ("sample_max_value", .double(1.0)),
            ("steps_offset", .integer(stepsOffset)),
            ("thresholding", .bool(false)),
            ("timestep_spacing", .string(timestepSpacing)),
            ("trained_betas", .null),
        ]
        if kind == .ddpm { m.append(("variance_type", .string(variance))) } else { m.append(("set_alpha_to_one", .bool(setAlphaToOne))) }
        for (k, v) in extra where !m.contains(where: { $0.key == k }) { m.append((k, v)) }
        m.sort { $0.key < $1.key }
        var out = JSONWriter.bytes(.object(m), indent: 2)
        out.append(0x0A)
        return out
    }
}

/// DDPM (ancestral) and DDIM sampling steps and the forward noising, in fp32 as diffusers computes them.
public struct NoiseScheduler: Sendable {
    public let configuration: SchedulerConfiguration
    /// ᾱ_t for t in 0..<num_train_timesteps (a float32 cumulative product, as `torch.cumprod`).
    public let alphasCumprod: [Float]
    public let betas: [Float]
    /// Steps of the sampling schedule (descending); all training steps until ``setTimesteps(_:)``.
    public private(set) var timesteps: [Int]
    public private(set) var numInferenceSteps: Int?

    public init(_ c: SchedulerConfiguration) {
        configuration = c
        let n = c.numTrainTimesteps
        var b = [Float](repeating: 0, count: n)
        switch c.betaSchedule {
        case "scaled_linear":
            b = NoiseScheduler.linspace(Float(c.betaStart.squareRoot()), Float(c.betaEnd.squareRoot()), n).map { $0 * $0 }
        case "squaredcos_cap_v2":
            func alphaBar(_ t: Double) -> Double { let x = cos((t + 0.008) / 1.008 * Double.pi / 2); return x * x }
            b = (0..<n).map { i in Float(min(1 - alphaBar(Double(i + 1) / Double(n)) / alphaBar(Double(i) / Double(n)), 0.999)) }
        default:
            b = NoiseScheduler.linspace(Float(c.betaStart), Float(c.betaEnd), n)
        }
        betas = b
        var cum = [Float](repeating: 0, count: n)
        var running: Float = 1
        for i in 0..<n { running *= (1 - b[i]); cum[i] = running }
        alphasCumprod = cum
        timesteps = Array((0..<n).reversed())
    }

    /// `torch.linspace` in float32: the first half from the start, the second from the end.
    static func linspace(_ a: Float, _ b: Float, _ n: Int) -> [Float] {
        guard n > 1 else { return [a] }
        let step = (b - a) / Float(n - 1)
        let half = n / 2
        return (0..<n).map { i in i < half ? a + step * Float(i) : b - step * Float(n - 1 - i) }
    }

    /// The descending sampling steps for `k` inference steps (diffusers' `set_timesteps`).
    public mutating func setTimesteps(_ k: Int) throws {
        let n = configuration.numTrainTimesteps
        guard k >= 1 && k <= n else { throw DiffusionError("--num-inference-steps \(k): must be in 1...\(n)") }
        switch configuration.timestepSpacing {
        case "linspace":
            timesteps = (0..<k).map { i in Int((Double(n - 1) * Double(i) / Double(max(k - 1, 1))).rounded(.toNearestOrEven)) }.reversed()
        case "trailing":
            let ratio = Double(n) / Double(k)
            timesteps = stride(from: Double(n), to: 0, by: -ratio).map { Int($0.rounded(.toNearestOrEven)) - 1 }
        default:
            let ratio = n / k
            timesteps = (0..<k).map { $0 * ratio + configuration.stepsOffset }.reversed()
        }
        numInferenceSteps = k
    }

    /// The step before `t` in the sampling schedule.
    /// DDPM with a sampling schedule takes the next entry of it (−1 after the last); DDIM and an
    /// unscheduled DDPM step back by num_train_timesteps / K (1 without a schedule).
    public func previousTimestep(_ t: Int) throws -> Int {
        if configuration.kind == .ddpm, numInferenceSteps != nil {
            guard let i = timesteps.firstIndex(of: t) else { throw DiffusionError("timestep \(t) is not in the \(timesteps.count)-step schedule") }
            return i + 1 < timesteps.count ? timesteps[i + 1] : -1
        }
        return t - configuration.numTrainTimesteps / (numInferenceSteps ?? configuration.numTrainTimesteps)
    }

    /// x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε, per image (`add_noise`).
    public func addNoise(original: [Float], noise: [Float], timesteps t: [Int]) -> [Float] {
        let per = original.count / t.count
        var out = [Float](repeating: 0, count: original.count)
        for (n, step) in t.enumerated() {
            let a = alphasCumprod[step]
            let sa = a.squareRoot(), sb = (1 - a).squareRoot()
            for i in n * per..<(n + 1) * per { out[i] = sa * original[i] + sb * noise[i] }
        }
        return out
    }

    /// One reverse step from x_t: (x_{t−1}, x̂₀). `noise` is the step's standard normal draw (used
    /// when t > 0 for DDPM, when η > 0 for DDIM).
    public func step(modelOutput eps: [Float], timestep t: Int, sample x: [Float], noise: [Float]?, eta: Float = 0) throws -> (prev: [Float], predOriginal: [Float]) {
        guard t >= 0 && t < configuration.numTrainTimesteps else { throw DiffusionError("timestep \(t) is outside 0..<\(configuration.numTrainTimesteps)") }
        guard eps.count == x.count else { throw DiffusionError("model_output has \(eps.count) values, sample \(x.count)") }
        if let noise, noise.count != x.count { throw DiffusionError("noise has \(noise.count) values, sample \(x.count)") }
        let prevT = try previousTimestep(t)
        let aT = alphasCumprod[t]
        let one: Float = 1
        let final: Float = configuration.kind == .ddim && !configuration.setAlphaToOne ? alphasCumprod[0] : one
        let aPrev = prevT >= 0 ? alphasCumprod[prevT] : final
        let betaT = 1 - aT
        let range = Float(configuration.clipSampleRange)
        var x0 = zip(x, eps).map { ($0 - betaT.squareRoot() * $1) / aT.squareRoot() }
        if configuration.clipSample { x0 = x0.map { min(max($0, -range), range) } }
        switch configuration.kind {
        case .ddpm:
            let betaPrev = 1 - aPrev
            let currentAlpha = aT / aPrev
            let currentBeta = 1 - currentAlpha
            let c0 = (aPrev.squareRoot() * currentBeta) / betaT
            let ct = currentAlpha.squareRoot() * betaPrev / betaT
            var prev = zip(x0, x).map { c0 * $0 + ct * $1 }
            if t > 0 {
                guard let noise else { throw DiffusionError("a DDPM step at t > 0 needs noise") }
                var v = max((1 - aPrev) / (1 - aT) * currentBeta, 1e-20)
                switch configuration.variance {
                case "fixed_small_log": v = Foundation.exp(0.5 * Foundation.log(v))
                case "fixed_large": v = currentBeta
                default: break
                }
                let scale = configuration.variance == "fixed_small_log" ? v : v.squareRoot()
                for i in prev.indices { prev[i] += scale * noise[i] }
            }
            return (prev, x0)
        case .ddim:
            guard numInferenceSteps != nil else { throw DiffusionError("a DDIM step needs --num-inference-steps") }
            let betaPrev = 1 - aPrev
            let variance = (betaPrev / betaT) * (1 - aT / aPrev)
            let std = eta * variance.squareRoot()
            let direction = (1 - aPrev - std * std).squareRoot()
            var prev = zip(x0, eps).map { aPrev.squareRoot() * $0 + direction * $1 }
            if eta > 0 {
                guard let noise else { throw DiffusionError("a DDIM step with eta > 0 needs noise") }
                for i in prev.indices { prev[i] += std * noise[i] }
            }
            return (prev, x0)
        }
    }
}
