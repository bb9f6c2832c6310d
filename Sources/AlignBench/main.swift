// align-bench: Align's performance, always as a ratio against a baseline measured in the same run
// (raw cblas_sgemm on the same shapes, or the SGEMM peak). Never run by the tests.
//
//   align-bench [--threads N] [--iterations N] [peak] [gemm] [narrow] [skinny] [attention] [logsoftmax] [llama] [generation]
//   align-bench generation [--model FILE.gguf|FOLDER] [--dtype f32,f16,bf16,q8_0] [--prompt-length 128] [--steps 32]
//     (measures the memory bandwidth first; decode against the bandwidth bound)
//   align-bench parquet FILE [--iterations N]     (Parquet reading speed; see ParquetBench.swift)
//
// With no section names every section runs; `peak` alone prints only the SGEMM peak.
import AlignKernels
import AlignModelIO
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
    /// generation: a real model (.gguf or Hugging Face folder) instead of SmolLM2's shape with random weights.
    var model: String?
    /// generation: weight formats to time, in order.
    var dtypes: [ElementFormat] = [.f32, .f16, .bf16, .q8_0]
    /// generation: prompt tokens before decoding, and decoding steps timed.
    var promptLength = 128, steps = 32
}

func parseOptions() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst().makeIterator()
    while let a = args.next() {
        switch a {
        case "--threads": o.threads = Int(args.next() ?? "") ?? o.threads
        case "--iterations": o.iterations = Int(args.next() ?? "") ?? o.iterations
        case "--skip-peak": o.skipPeak = true
        case "--model": o.model = args.next()
        case "--dtype":
            o.dtypes = (args.next() ?? "").split(separator: ",").map { s in
                guard let f = ElementFormat(rawValue: String(s)) else { fatalError("--dtype \(s): f32, f16, bf16 or q8_0") }
                return f
            }
        case "--prompt-length": o.promptLength = Int(args.next() ?? "") ?? o.promptLength
        case "--steps": o.steps = Int(args.next() ?? "") ?? o.steps
        case "-h", "--help":
            print("usage: align-bench [--threads N] [--iterations N] [--skip-peak] [peak] [gemm] [narrow] [skinny] [attention] [logsoftmax] [llama] [generation]")
            print("       align-bench generation [--model FILE.gguf|FOLDER] [--dtype f32,f16,bf16,q8_0] [--prompt-length N] [--steps N]")
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

/// The four rank-r products of a LoRA layer's training step (h = x·Aᵀ, g·B, dA = (g·B)ᵀ·x,
/// dBᵀ = hᵀ·g) on SmolLM2-shaped layers, Align's narrow kernels against cblas_sgemm.
func benchNarrow(_ o: Options) {
    print("\n## LoRA rank-16 products: narrow kernels vs cblas_sgemm (same shapes, same threads)")
    print("| product (m rows, in → out) | cblas GFLOP/s | narrow GFLOP/s | narrow / cblas |")
    print("|---|---|---|---|")
    let m = 2048, r = 16
    for (inF, outF) in [(576, 576), (576, 192), (576, 1536), (1536, 576)] {
        let x = Tensor.full([m, inF], 0.01), g = Tensor.full([m, outF], 0.02)
        let at = Tensor.full([inF, r], 0.03), a = Tensor.full([r, inF], 0.03), b = Tensor.full([outF, r], 0.04)
        let h = Tensor.zeros([m, r]), dA = Tensor.zeros([r, inF]), dBt = Tensor.zeros([r, outF])
        let cases: [(String, Int, () -> Void, () -> Void)] = [
            ("h = x·Aᵀ", m * inF * r,
             { BLAS.gemm(transB: true, m: m, n: r, k: inF, a: x.pointer, b: a.pointer, c: h.pointer) },
             { Kernels.narrowProduct(m: m, k: inF, r: r, x: x.pointer, p: at.pointer, c: h.pointer) }),
            ("g·B", m * outF * r,
             { BLAS.gemm(m: m, n: r, k: outF, a: g.pointer, b: b.pointer, c: h.pointer) },
             { Kernels.narrowProduct(m: m, k: outF, r: r, x: g.pointer, p: b.pointer, c: h.pointer) }),
            ("dA = (g·B)ᵀ·x", m * inF * r,
             { BLAS.gemm(transA: true, m: r, n: inF, k: m, a: h.pointer, b: x.pointer, c: dA.pointer) },
             { Kernels.transposedNarrowProduct(m: m, r: r, n: inF, h: h.pointer, x: x.pointer, ldx: inF, c: dA.pointer) }),
            ("dBᵀ = hᵀ·g", m * outF * r,
             { BLAS.gemm(transA: true, m: r, n: outF, k: m, a: h.pointer, b: g.pointer, c: dBt.pointer) },
             { Kernels.transposedNarrowProduct(m: m, r: r, n: outF, h: h.pointer, x: g.pointer, ldx: outF, c: dBt.pointer) }),
        ]
        for (name, macs, raw, narrow) in cases {
            let (rawTime, narrowTime) = bestTimes(20 * o.iterations, raw, narrow)
            let flops = 2 * Double(macs)
            print("| \(name) (\(m), \(inF) → \(outF)) | \(fmt(flops / rawTime / 1e9)) | \(fmt(flops / narrowTime / 1e9)) | \(fmt(rawTime / narrowTime, 2))× |")
        }
    }
}

/// The decoding product y = x·Wᵀ at a few rows (one token per sequence) on SmolLM2-135M's layer
/// shapes: ``Kernels/skinnyLinear(_:rows:k:weight:n:bias:_:)`` against cblas_sgemm, as GB/s of
/// weight read and a fraction of the measured bandwidth bound (a decoding step reads every weight
/// once, so that is its ceiling). "stack" runs one step's 30 layers of q, k, v, o, gate, up, down and
/// the tied LM head back to back with distinct weights, as decoding does, so nothing stays in cache.
func benchSkinny(_ o: Options) {
    let bandwidth = measureBandwidth(o.iterations)
    print("\n## Decoding products (skinny x·Wᵀ), SmolLM2-135M shapes, \(Threads.count) threads, bandwidth bound \(fmt(bandwidth.bound)) GB/s")
    print("| rows | product (in → out) | cblas GB/s | skinny GB/s | skinny of bound | skinny / cblas |")
    print("|---|---|---|---|---|---|")
    let layerShapes = [(576, 576), (576, 192), (576, 192), (576, 576), (576, 1536), (576, 1536), (1536, 576)]
    // Distinct weights for every layer: 30 × 7 matrices + the LM head, ~538 MB, like the model.
    let stack = (0..<30).flatMap { _ in layerShapes.map { Tensor.full([$0.1, $0.0], 0.01) } } + [Tensor.full([49152, 576], 0.01)]
    let stackShapes = (0..<30).flatMap { _ in layerShapes } + [(576, 49152)]
    let stackBytes = Double(stackShapes.reduce(0) { $0 + $1.0 * $1.1 } * 4)
    for rows in [1, 8, 32] {
        let x = Tensor.full([rows, 1536], 0.02), y = Tensor.zeros([rows, 49152])
        for (inF, outF) in [(576, 576), (576, 1536), (1536, 576), (576, 49152)] {
            // Each timing sweeps enough distinct copies of W to leave the caches (≥ 256 MB).
            let copies = max(2, (256 << 20) / (inF * outF * 4))
            let ws = (0..<copies).map { _ in Tensor.full([outF, inF], 0.01) }
            let (blas, skinny) = bestTimes(o.iterations, {
                for w in ws { BLAS.gemm(transB: true, m: rows, n: outF, k: inF, a: x.pointer, b: w.pointer, c: y.pointer) }
            }, {
                for w in ws { Kernels.skinnyLinear(x.pointer, rows: rows, k: inF, weight: w.pointer, n: outF, bias: nil, y.pointer) }
            })
            let bytes = Double(copies * inF * outF * 4)
            print("| \(rows) | \(inF) → \(outF) | \(fmt(bytes / blas / 1e9)) | \(fmt(bytes / skinny / 1e9)) | \(fmt(bytes / skinny / 1e9 / bandwidth.bound * 100))% | \(fmt(blas / skinny, 2))× |")
        }
        let (blas, skinny) = bestTimes(o.iterations, {
            for (w, (inF, outF)) in zip(stack, stackShapes) { BLAS.gemm(transB: true, m: rows, n: outF, k: inF, a: x.pointer, b: w.pointer, c: y.pointer) }
        }, {
            for (w, (inF, outF)) in zip(stack, stackShapes) { Kernels.skinnyLinear(x.pointer, rows: rows, k: inF, weight: w.pointer, n: outF, bias: nil, y.pointer) }
        })
        print("| \(rows) | stack (one step, \(fmt(skinny * 1000))ms) | \(fmt(stackBytes / blas / 1e9)) | \(fmt(stackBytes / skinny / 1e9)) | \(fmt(stackBytes / skinny / 1e9 / bandwidth.bound * 100))% | \(fmt(blas / skinny, 2))× |")
    }
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

/// The machine's memory bandwidth, STREAM-style, on `Threads.count` threads over three arrays of
/// 256 MB each (2.4× this machine's 105 MB L3 apiece, 7× for a triad pass): copy (c = a), triad
/// (a = b + s·c) and a read-only sum, each the best of `iterations` passes, counting the bytes
/// STREAM counts (no write-allocate traffic). The bound a decoding step is held against is the
/// best of the three, since a step only reads its weights.
struct Bandwidth {
    var copy = 0.0, triad = 0.0, read = 0.0
    var bound: Double { max(copy, triad, read) }
}

func measureBandwidth(_ iterations: Int) -> Bandwidth {
    let n = 64 << 20
    let a = UnsafeMutablePointer<Float>.allocate(capacity: n), b = UnsafeMutablePointer<Float>.allocate(capacity: n)
    let c = UnsafeMutablePointer<Float>.allocate(capacity: n)
    defer { a.deallocate(); b.deallocate(); c.deallocate() }
    let vectors = n / 8, grain = 1 << 16
    // First touch on the threads that later stream the arrays (and every page faulted in now).
    parallelFor(vectors, minimumChunk: grain) { s, e in
        for i in (s * 8)..<(e * 8) { a[i] = 1; b[i] = 2; c[i] = 0.5 }
    }
    func pass(_ body: @escaping (Int, Int) -> Void) -> Double {
        bestTime(max(iterations, 5)) { parallelFor(vectors, minimumChunk: grain, body) }
    }
    let bytes = Double(n * 4)
    let copy = pass { s, e in
        let src = UnsafeRawPointer(a), dst = UnsafeMutableRawPointer(c)
        for v in s..<e { dst.storeBytes(of: src.load(fromByteOffset: v * 32, as: SIMD8<Float>.self), toByteOffset: v * 32, as: SIMD8<Float>.self) }
    }
    let triad = pass { s, e in
        let rb = UnsafeRawPointer(b), rc = UnsafeRawPointer(c), ra = UnsafeMutableRawPointer(a)
        for v in s..<e {
            let o = v * 32
            ra.storeBytes(of: rb.load(fromByteOffset: o, as: SIMD8<Float>.self) + 3 * rc.load(fromByteOffset: o, as: SIMD8<Float>.self),
                          toByteOffset: o, as: SIMD8<Float>.self)
        }
    }
    let read = pass { s, e in
        let r = UnsafeRawPointer(b)
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        var v = s
        while v + 4 <= e {
            let o = v * 32
            s0 += r.load(fromByteOffset: o, as: SIMD8<Float>.self); s1 += r.load(fromByteOffset: o + 32, as: SIMD8<Float>.self)
            s2 += r.load(fromByteOffset: o + 64, as: SIMD8<Float>.self); s3 += r.load(fromByteOffset: o + 96, as: SIMD8<Float>.self)
            v += 4
        }
        while v < e { s0 += r.load(fromByteOffset: v * 32, as: SIMD8<Float>.self); v += 1 }
        c[s * 8] = ((s0 + s1) + (s2 + s3)).sum()   // a store keeps the loads from being dropped
    }
    return Bandwidth(copy: 2 * bytes / copy / 1e9, triad: 3 * bytes / triad / 1e9, read: bytes / read / 1e9)
}

/// Bytes of weights one decoding step streams: every matrix and vector the layers and the LM head
/// read, at their storage format; an input embedding table is read one row per token, so it counts
/// only when it is also the (tied) LM head; position tables never.
func decodeWeightBytes(_ model: some CausalLanguageModel) -> Int {
    let named = model.namedParameters()
    let untied = named.contains { $0.name == "lm_head.weight" }
    var seen = Set<ObjectIdentifier>(), total = 0
    for (name, p) in named where seen.insert(ObjectIdentifier(p)).inserted {
        if name.hasSuffix("wpe.weight") { continue }
        if untied && (name.hasSuffix("embed_tokens.weight") || name.hasSuffix("wte.weight")) { continue }
        total += p.value.format.byteCount(elements: p.value.count)
    }
    return total
}

/// Prefill and decode speed of `model` at `format`, each decode row against the bandwidth bound:
/// bytes per step (weights) × steps/s over `bandwidth`. Prints table rows and one `RESULT` line
/// that scripts/bench/generation_vs_llamacpp.sh reads.
func benchDecoding(_ model: some CausalLanguageModel, format: ElementFormat, bandwidth: Bandwidth, o: Options,
                   promptLength: Int, steps: Int, generator g: inout RandomGenerator) {
    model.holdMatrices(in: format)
    let bytes = decodeWeightBytes(model)
    let vocabulary = model.vocabularySize
    let ids = (0..<promptLength).map { _ in Int32(g.nextInt(below: vocabulary)) }
    let prefill = bestTime(o.iterations) {
        withNoGrad {
            let cache = KVCache(for: model, batch: 1, capacity: promptLength)
            _ = model.logits(appending: ids, to: cache)
        }
    }
    let mb = fmt(Double(bytes) / 1e6, 0)
    print("| \(format) | \(mb) | prefill | 1 | \(promptLength) | \(fmt(prefill, 3)) | \(fmt(Double(promptLength) / prefill)) | |")
    var rates: [Int: Double] = [:]
    for batch in [1, 8, 32] {
        let prompts = (0..<batch).map { _ in (0..<promptLength).map { _ in Int32(g.nextInt(below: vocabulary)) } }
        let best = decodeTime(model, prompts: prompts, steps: steps, iterations: o.iterations)
        let stepsPerSecond = Double(steps) / best
        rates[batch] = Double(batch) * stepsPerSecond
        let fraction = Double(bytes) * stepsPerSecond / (bandwidth.bound * 1e9)
        print("| \(format) | \(mb) | decode after \(promptLength) | \(batch) | \(batch * steps) | \(fmt(best, 3)) | \(fmt(Double(batch) * stepsPerSecond)) | \(fmt(fraction * 100))% |")
    }
    let fraction1 = Double(bytes) * rates[1]! / (bandwidth.bound * 1e9)
    print("RESULT dtype=\(format) weight_mb=\(mb) prefill=\(fmt(Double(promptLength) / prefill, 2)) decode1=\(fmt(rates[1]!, 2)) decode8=\(fmt(rates[8]!, 2)) bound_fraction1=\(fmt(fraction1, 3)) bandwidth_gbs=\(fmt(bandwidth.bound, 2))")
}

/// Text generation with the KV cache. The machine's memory bandwidth is measured first (see
/// ``measureBandwidth(_:)``); then, for each weight format asked (default f32, f16, bf16, q8_0), prefill
/// tokens/s of one prompt and decode tokens/s at batch 1, 8 and 32, each as a fraction of the
/// bandwidth bound (weight bytes per token / bandwidth). The model is SmolLM2-135M's shape with
/// random weights, or `--model FILE.gguf|FOLDER`. On the random model the sampler's cost and
/// `generate()` end to end follow, then GPT-2 (124M shape) through the same generic path.
func benchGeneration(_ o: Options) throws {
    let bandwidth = measureBandwidth(o.iterations)
    print("\n## Memory bandwidth (STREAM-like, 3 × 256 MB arrays, \(Threads.count) threads)")
    print("copy \(fmt(bandwidth.copy)) GB/s, triad \(fmt(bandwidth.triad)) GB/s, read-only \(fmt(bandwidth.read)) GB/s → bound \(fmt(bandwidth.bound)) GB/s (the best of the three)")
    let (promptLength, steps) = (o.promptLength, o.steps)
    var g = RandomGenerator(seed: 3)
    let config = LlamaConfiguration(vocabSize: 49152, hiddenSize: 576, intermediateSize: 1536, numHiddenLayers: 30,
                                    numAttentionHeads: 9, numKeyValueHeads: 3, maxPositionEmbeddings: 512,
                                    tieWordEmbeddings: true)
    let model: any CausalLanguageModel
    if let path = o.model {
        let url = URL(fileURLWithPath: path)
        if url.pathExtension.lowercased() == "gguf" {
            model = try loadCausalLanguageModel(gguf: GGUFFile(url: url))
        } else {
            model = try loadCausalLanguageModel(directory: url)
        }
        print("\n## Generation (KV cache): \(path), \(model.parameterCount) parameters, \(Threads.count) threads")
    } else {
        model = try LlamaForCausalLM(config, seed: 0)
        print("\n## Generation (KV cache): SmolLM2-135M shape (random weights), \(model.parameterCount) parameters, \(Threads.count) threads")
    }
    print("| weights | MB read per step | phase | batch | tokens | best time (s) | tokens/s | of bandwidth bound |")
    print("|---|---|---|---|---|---|---|---|")
    for format in o.dtypes {
        benchDecoding(model, format: format, bandwidth: bandwidth, o: o, promptLength: promptLength, steps: steps, generator: &g)
    }
    guard o.model == nil else { return }
    model.holdMatrices(in: .f32)
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
        print("| sampler only (\(name)) | | | 1 | 10 | \(fmt(t, 4)) | \(fmt(10 / t)) | |")
    }
    let prompts = (0..<8).map { _ in (0..<promptLength).map { _ in Int32(g.nextInt(below: config.vocabSize)) } }
    let whole = bestTime(1) { _ = model.generate(prompts: prompts, config: sampling) }
    print("| f32 | | generate() sampling, incl. prefill | 8 | \(8 * steps) new | \(fmt(whole, 3)) | \(fmt(Double(8 * steps) / whole)) | |")

    let gpt2 = try GPT2LMHeadModel(GPT2Configuration(vocabSize: 50257, nEmbd: 768, nHead: 12, nLayer: 12), seed: 0)
    let gpt2Prompts = (0..<8).map { _ in (0..<promptLength).map { _ in Int32(g.nextInt(below: 50257)) } }
    let gpt2Decode = decodeTime(gpt2, prompts: gpt2Prompts, steps: steps, iterations: min(o.iterations, 2))
    print("| f32 | | GPT-2 124M shape: decode (after a \(promptLength)-token prompt) | 8 | \(8 * steps) | \(fmt(gpt2Decode, 3)) | \(fmt(Double(8 * steps) / gpt2Decode)) | |")
    let gpt2Whole = bestTime(1) { _ = gpt2.generate(prompts: gpt2Prompts, config: sampling) }
    print("| f32 | | GPT-2 124M shape: generate() sampling, incl. prefill | 8 | \(8 * steps) new | \(fmt(gpt2Whole, 3)) | \(fmt(Double(8 * steps) / gpt2Whole)) | |")
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
if all || options.sections.contains("narrow") { benchNarrow(options) }
if all || options.sections.contains("skinny") { benchSkinny(options) }
if all || options.sections.contains("attention") { benchAttention(options, peak: peak) }
if all || options.sections.contains("logsoftmax") { benchLogSoftmax(options) }
if all || options.sections.contains("llama") { try benchLlama(options, peak: peak) }
if all || options.sections.contains("generation") { try benchGeneration(options) }
