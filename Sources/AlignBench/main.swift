// align-bench: Align's performance, always as a ratio against a baseline measured in the same run
// (raw cblas_sgemm on the same shapes, or the SGEMM peak). Never run by the tests.
//
//   align-bench [--threads N] [--iterations N] [peak] [gemm] [attention] [logsoftmax] [llama] [generation]
//   align-bench parquet FILE [--iterations N]     (Parquet reading speed; see ParquetBench.swift)
//
// With no section names every section runs; `peak` alone prints only the SGEMM peak.
import AlignKernels
import AlignModels
import AlignNN
import AlignTensor
import CBLAS
import Dispatch
import Foundation

struct Options {
    var threads = ProcessInfo.processInfo.activeProcessorCount
    var iterations = 5
    var sections: Set<String> = []
    /// Skips measuring the SGEMM peak (for profiling a section under valgrind).
    var skipPeak = false
}

func parseOptions() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst().makeIterator()
    while let a = args.next() {
        switch a {
        case "--threads": o.threads = Int(args.next() ?? "") ?? o.threads
        case "--iterations": o.iterations = Int(args.next() ?? "") ?? o.iterations
        case "--skip-peak": o.skipPeak = true
        case "-h", "--help":
            print("usage: align-bench [--threads N] [--iterations N] [peak] [gemm] [attention] [logsoftmax] [llama] [generation]")
            exit(0)
        default: o.sections.insert(a)
        }
    }
    return o
}

/// Best wall time in seconds over `iterations` runs after one warm-up.
func bestTime(_ iterations: Int, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity
    for _ in 0..<max(1, iterations) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    return best
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
func fmt(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }

/// Best times of two bodies measured alternately (raw, engine, raw, engine, …) so that machine
/// noise and frequency drift hit both sides alike.
func bestTimes(_ iterations: Int, _ a: () -> Void, _ b: () -> Void) -> (Double, Double) {
    a(); b()
    var bestA = Double.infinity, bestB = Double.infinity
    for _ in 0..<max(1, iterations) {
        var t0 = DispatchTime.now().uptimeNanoseconds
        a()
        bestA = min(bestA, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        t0 = DispatchTime.now().uptimeNanoseconds
        b()
        bestB = min(bestB, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    return (bestA, bestB)
}

/// cblas_sgemm's rate on a large square product: the machine's practical FP32 peak.
func sgemmPeak(_ iterations: Int) -> Double {
    let n = 2048
    let a = Tensor.full([n, n], 0.5), b = Tensor.full([n, n], 0.25), c = Tensor.zeros([n, n])
    // At least 10 tries: one slow best-of-5 (another process waking up) once halved the peak
    // and made every "fraction of peak" in the run meaningless.
    let t = bestTime(max(iterations, 10)) {
        BLAS.gemm(m: n, n: n, k: n, a: a.pointer, b: b.pointer, c: c.pointer)
    }
    return 2 * Double(n * n * n) / t / 1e9
}

func benchGEMM(_ o: Options, peak: Double) {
    print("\n## GEMM: engine vs raw cblas_sgemm (same shapes, same threads)")
    print("| shape (M×N×K, op) | raw GFLOP/s | engine GFLOP/s | engine / raw |")
    print("|---|---|---|---|")
    // The products one training step of the 12.5M-parameter Llama makes (2048 tokens).
    let cases: [(String, Int, Int, Int, Int)] = [   // name, M, N, K, kind 0 = x·Wᵀ, 1 = dY·W, 2 = dYᵀ·X
        ("q/k/v/o proj x·Wᵀ", 2048, 256, 256, 0),
        ("MLP up x·Wᵀ", 2048, 1024, 256, 0),
        ("MLP down x·Wᵀ", 2048, 256, 1024, 0),
        ("LM head x·Wᵀ", 2048, 8000, 256, 0),
        ("dX = dY·W (down)", 2048, 1024, 256, 1),
        ("dW = dYᵀ·X (up)", 1024, 256, 2048, 2),
        ("dW = dYᵀ·X (LM head)", 8000, 256, 2048, 2),
    ]
    var worst = Double.infinity
    for (name, m, n, k, kind) in cases {
        let flops = 2 * Double(m * n * k)
        var raw: Double, engine: Double
        switch kind {
        case 0:
            let x = Tensor.full([m, k], 0.01), w = Tensor.full([n, k], 0.02), y = Tensor.zeros([m, n])
            (raw, engine) = bestTimes(4 * o.iterations, {
                BLAS.gemm(transB: true, m: m, n: n, k: k, a: x.pointer, b: w.pointer, c: y.pointer)
            }, { _ = x.linear(weight: w) })
        case 1:
            let g = Tensor.full([m, k], 0.01), w = Tensor.full([k, n], 0.02), y = Tensor.zeros([m, n])
            (raw, engine) = bestTimes(4 * o.iterations, {
                BLAS.gemm(m: m, n: n, k: k, a: g.pointer, b: w.pointer, c: y.pointer)
            }, { _ = g.matmul(w) })
        default:
            let g = Tensor.full([k, m], 0.01), x = Tensor.full([k, n], 0.02), y = Tensor.zeros([m, n])
            // The engine's weight-gradient path: the backward of x·Wᵀ (forward time subtracted).
            let p = Parameter(Tensor.full([m, n], 0.02))
            let xin = Tensor.full([k, n], 0.02)
            let seed = Tensor.full([k, m], 0.01)
            let (rawTime, both) = bestTimes(4 * o.iterations, {
                BLAS.gemm(transA: true, m: m, n: n, k: k, a: g.pointer, b: x.pointer, c: y.pointer)
            }, {
                p.zeroGrad()
                xin.linear(weight: p.value).backward(seed: seed)
            })
            raw = rawTime
            engine = both - bestTime(4 * o.iterations) { _ = xin.linear(weight: p.value.detached()) }
        }
        let ratio = raw / engine
        worst = min(worst, ratio)
        print("| \(m)×\(n)×\(k) \(name) | \(fmt(flops / raw / 1e9)) | \(fmt(flops / engine / 1e9)) | \(fmt(ratio * 100))% |")
    }
    print("worst engine/raw ratio: \(fmt(worst * 100))% (SGEMM peak this run: \(fmt(peak)) GFLOP/s)")
}

func benchAttention(_ o: Options, peak: Double) {
    print("\n## Causal attention (fused, GQA-capable), B=16 T=128 H=8 D=32; batched kernel (key-mask path) first")
    let (b, t, h, d) = (16, 128, 8, 32)
    let q = Parameter(Tensor.full([b, t, h * d], 0.01)), k = Parameter(Tensor.full([b, t, h * d], 0.02))
    let v = Parameter(Tensor.full([b, t, h * d], 0.03))
    // An all-ones key mask selects the batched kernel (per-head GEMMs through BLAS), which serves
    // left-padded batches; unmasked batches run the packed kernel timed below.
    let ones = Tensor.full([b, t], 1)
    let fwd = bestTime(o.iterations) {
        _ = withNoGrad { Tensor.causalAttention(q: q.value, k: k.value, v: v.value, heads: h, kvHeads: h, keyMask: ones) }
    }
    let seed = Tensor.full([b, t, h * d], 1)
    let both = bestTime(o.iterations) {
        q.zeroGrad(); k.zeroGrad(); v.zeroGrad()
        Tensor.causalAttention(q: q.value, k: k.value, v: v.value, heads: h, kvHeads: h, keyMask: ones).backward(seed: seed)
    }
    let fwdFlops = 4 * Double(b * h * t * t * d), bwdFlops = 10 * Double(b * h * t * t * d)
    print("forward: \(fmt(fwd * 1000, 2)) ms, \(fmt(fwdFlops / fwd / 1e9)) GFLOP/s (\(fmt(fwdFlops / fwd / 1e9 / peak * 100))% of peak)")
    print("forward+backward: \(fmt(both * 1000, 2)) ms, \(fmt((fwdFlops + bwdFlops) / both / 1e9)) GFLOP/s (\(fmt((fwdFlops + bwdFlops) / both / 1e9 / peak * 100))% of peak)")
    print("tokens/s forward+backward: \(fmt(Double(b * t) / both, 0))")
    // The same tokens as packed sequences: the tiled kernel that runs (group, head) tasks in
    // parallel without BLAS, which training uses for packed rows and shared prompts.
    let packing = SequencePacking(lengths: Array(repeating: t, count: b))
    let flat = [q, k, v].map { Parameter($0.value.reshaped([b * t, h * d]).copy()) }
    let packedFwd = bestTime(o.iterations) {
        _ = withNoGrad { Tensor.causalAttention(q: flat[0].value, k: flat[1].value, v: flat[2].value, heads: h, kvHeads: h, packing: packing) }
    }
    let flatSeed = Tensor.full([b * t, h * d], 1)
    let packedBoth = bestTime(o.iterations) {
        for p in flat { p.zeroGrad() }
        Tensor.causalAttention(q: flat[0].value, k: flat[1].value, v: flat[2].value, heads: h, kvHeads: h, packing: packing).backward(seed: flatSeed)
    }
    print("packed (tiled, no BLAS) forward: \(fmt(packedFwd * 1000, 2)) ms (\(fmt(fwd / packedFwd, 2))× the batched kernel); forward+backward: \(fmt(packedBoth * 1000, 2)) ms (\(fmt(both / packedBoth, 2))×), \(fmt((fwdFlops + bwdFlops) / packedBoth / 1e9)) GFLOP/s counted on full T×T (\(fmt((fwdFlops + bwdFlops) / packedBoth / 1e9 / peak * 100))% of peak)")
}

func benchLogSoftmax(_ o: Options) {
    print("\n## Fused log-softmax + gather, N=2048 rows, V=8000")
    let (n, vocab) = (2048, 8000)
    var g = RandomGenerator(seed: 1)
    let logits = Parameter(Tensor.randomNormal([n, vocab], generator: &g))
    let targets = (0..<n).map { Int32($0 * 7 % vocab) }
    let fwd = bestTime(o.iterations) { _ = withNoGrad { logits.value.logSoftmaxGather(targets: targets) } }
    let both = bestTime(o.iterations) {
        logits.zeroGrad()
        logits.value.logSoftmaxGather(targets: targets).sum().backward()
    }
    let bytes = Double(n * vocab * 4)
    print("forward: \(fmt(fwd * 1000, 2)) ms (\(fmt(bytes / fwd / 1e9)) GB/s of logits read), \(fmt(Double(n) / fwd, 0)) rows/s")
    print("forward+backward: \(fmt(both * 1000, 2)) ms, \(fmt(Double(n) / both, 0)) rows/s")
}

func benchLlama(_ o: Options, peak: Double) throws {
    let config = LlamaConfiguration(vocabSize: 8000, hiddenSize: 256, intermediateSize: 1024, numHiddenLayers: 8,
                                    numAttentionHeads: 8, numKeyValueHeads: 8, maxPositionEmbeddings: 256)
    let model = try LlamaForCausalLM(config, seed: 0)
    let (batch, seq) = (16, 128)
    var g = RandomGenerator(seed: 2)
    let ids = (0..<(batch * seq)).map { _ in Int32(g.nextInt(below: config.vocabSize)) }
    // Next-token targets: each position predicts the following id; the last predicts nothing.
    let targets = (0..<(batch * seq)).map { i in i % seq == seq - 1 ? Int32(-100) : ids[i + 1] }
    print("\n## Llama-shaped forward+backward: \(model.parameterCount) parameters, \(batch)×\(seq) tokens, \(Threads.count) threads")
    let step = bestTime(o.iterations) {
        model.zeroGrad()
        let logits = model(ids: ids, batch: batch, seq: seq)
        logits.crossEntropy(targets: targets).backward()
    }
    let forward = bestTime(o.iterations) {
        _ = withNoGrad { model(ids: ids, batch: batch, seq: seq) }
    }
    let tokens = Double(batch * seq)
    let linearParams = Double(model.parameterCount - config.vocabSize * config.hiddenSize)
    let d = Double(config.resolvedHeadDim), t = Double(seq), heads = Double(config.numAttentionHeads)
    let attention = Double(config.numHiddenLayers) * Double(batch) * heads * t * t * d
    let flops = 6 * linearParams * tokens + 14 * attention
    let forwardFlops = 2 * linearParams * tokens + 4 * attention
    print("forward+backward: \(fmt(step, 3)) s/step, \(fmt(tokens / step, 0)) tokens/s, \(fmt(flops / step / 1e9)) GFLOP/s = \(fmt(flops / step / 1e9 / peak * 100))% of SGEMM peak")
    print("forward only (no grad): \(fmt(forward, 3)) s, \(fmt(tokens / forward, 0)) tokens/s, \(fmt(forwardFlops / forward / 1e9 / peak * 100))% of SGEMM peak")
    print("FLOPs counted: 6·(non-embedding parameters)·tokens + 14·L·B·H·T²·D (attention counted on the full T×T products: 4 forward, 10 backward with recompute, whether or not causal blocks are skipped)")
}

/// Best wall time of `steps` greedy decoding steps (argmax included) after a prefill of
/// `prompts`, over `iterations` runs, through the model's cached forward.
func decodeTime(_ model: some CausalLanguageModel, prompts: [[Int32]], steps: Int, iterations: Int) -> Double {
    let batch = prompts.count, vocabulary = model.vocabularySize
    var best = Double.infinity
    for _ in 0..<max(1, iterations) {
        withNoGrad {
            let cache = KVCache(for: model, batch: batch, capacity: prompts[0].count + steps)
            var logits = model.logits(appending: prompts.flatMap { $0 }, to: cache)
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<steps {
                // Greedy next tokens: the argmax is part of a real decoding step.
                let next = (0..<batch).map { b -> Int32 in
                    let row = logits.pointer + b * vocabulary
                    var top = 0
                    for i in 1..<vocabulary where row[i] > row[top] { top = i }
                    return Int32(top)
                }
                logits = model.logits(appending: next, to: cache)
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
    }
    return best
}

/// Text generation with the KV cache on a random model of SmolLM2-135M's shape: prefill
/// tokens/s for one 128-token prompt, decode tokens/s (new tokens over all rows) at batch 1 and 8,
/// and the same through `generate` with nucleus sampling, so the sampler's cost shows. Then
/// GPT-2 (124M shape) through the same generic path: decode at batch 8 and `generate`.
func benchGeneration(_ o: Options) throws {
    let config = LlamaConfiguration(vocabSize: 49152, hiddenSize: 576, intermediateSize: 1536, numHiddenLayers: 30,
                                    numAttentionHeads: 9, numKeyValueHeads: 3, maxPositionEmbeddings: 512,
                                    tieWordEmbeddings: true)
    let model = try LlamaForCausalLM(config, seed: 0)
    let (promptLength, steps) = (128, 32)
    var g = RandomGenerator(seed: 3)
    func prompt(_ vocabulary: Int = config.vocabSize) -> [Int32] {
        (0..<promptLength).map { _ in Int32(g.nextInt(below: vocabulary)) }
    }
    print("\n## Generation (KV cache): SmolLM2-135M shape, \(model.parameterCount) parameters, \(Threads.count) threads")
    print("| phase | batch | tokens | best time (s) | tokens/s |")
    print("|---|---|---|---|---|")
    let ids = prompt()
    let prefill = bestTime(o.iterations) {
        withNoGrad {
            let cache = KVCache(for: model, batch: 1, capacity: promptLength)
            _ = model.logits(appending: ids, to: cache)
        }
    }
    print("| prefill | 1 | \(promptLength) | \(fmt(prefill, 3)) | \(fmt(Double(promptLength) / prefill)) |")
    for batch in [1, 8] {
        let prompts = (0..<batch).map { _ in prompt() }
        let best = decodeTime(model, prompts: prompts, steps: steps, iterations: o.iterations)
        print("| decode (after a \(promptLength)-token prompt) | \(batch) | \(batch * steps) | \(fmt(best, 3)) | \(fmt(Double(batch * steps) / best)) |")
    }
    // The sampler alone on one vocabulary row, then end to end through generate(): prefill +
    // sampling with temperature, top-k, top-p and min-p.
    let sampling = GenerationConfig(maxNewTokens: steps, temperature: 0.7, topK: 50, topP: 0.9, minP: 0.05, seed: 1)
    for (name, settings) in [("greedy", GenerationConfig()), ("T 0.7, top-k 50, top-p 0.9, min-p 0.05", sampling),
                             ("T 0.7, top-p 0.9 (no top-k)", GenerationConfig(temperature: 0.7, topP: 0.9))] {
        var sampler = TokenSampler(config: settings)
        let row = (0..<config.vocabSize).map { _ in 3 * g.nextNormal() }
        var scratch = row
        let t = bestTime(o.iterations) {
            for _ in 0..<10 { scratch = row; _ = sampler.next(&scratch, seen: []) }
        }
        print("| sampler only (\(name)) | 1 | 10 | \(fmt(t, 4)) | \(fmt(10 / t)) |")
    }
    let prompts = (0..<8).map { _ in prompt() }
    let whole = bestTime(1) { _ = model.generate(prompts: prompts, config: sampling) }
    print("| generate() sampling, incl. prefill | 8 | \(8 * steps) new | \(fmt(whole, 3)) | \(fmt(Double(8 * steps) / whole)) |")

    let gpt2 = try GPT2LMHeadModel(GPT2Configuration(vocabSize: 50257, nEmbd: 768, nHead: 12, nLayer: 12), seed: 0)
    let gpt2Prompts = (0..<8).map { _ in prompt(50257) }
    let gpt2Decode = decodeTime(gpt2, prompts: gpt2Prompts, steps: steps, iterations: min(o.iterations, 2))
    print("| GPT-2 124M shape: decode (after a \(promptLength)-token prompt) | 8 | \(8 * steps) | \(fmt(gpt2Decode, 3)) | \(fmt(Double(8 * steps) / gpt2Decode)) |")
    let gpt2Whole = bestTime(1) { _ = gpt2.generate(prompts: gpt2Prompts, config: sampling) }
    print("| GPT-2 124M shape: generate() sampling, incl. prefill | 8 | \(8 * steps) new | \(fmt(gpt2Whole, 3)) | \(fmt(Double(8 * steps) / gpt2Whole)) |")
}

if CommandLine.arguments.dropFirst().first == "parquet" {
    try benchParquet(Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}
let options = parseOptions()
Threads.configure(options.threads)
let all = options.sections.isEmpty
print("# align-bench — \(Threads.count) threads, best of \(options.iterations)")
let peak = options.skipPeak ? 1 : sgemmPeak(options.iterations)
print("SGEMM peak (cblas_sgemm 2048³): \(fmt(peak)) GFLOP/s")
if all || options.sections.contains("gemm") { benchGEMM(options, peak: peak) }
if all || options.sections.contains("attention") { benchAttention(options, peak: peak) }
if all || options.sections.contains("logsoftmax") { benchLogSoftmax(options) }
if all || options.sections.contains("llama") { try benchLlama(options, peak: peak) }
if all || options.sections.contains("generation") { try benchGeneration(options) }
