import AlignKernels
import AlignTensor
import Testing
import TestSupport

/// Forward values and gradients against PyTorch (float64 references made by
/// scripts/fixtures/make_op_goldens.py from the same float32 inputs). Tolerance: float32 kernels
/// against a float64 reference differ by a few ulp per accumulated term, well under 1e-5 here.
@Suite struct PyTorchGoldenTests {
    /// Runs `f` on the inputs as parameters, seeds backward with `grad_out`, and checks the output
    /// and each named gradient against the `.f64` file.
    func check(_ name: String, inputs: [String], output: String = "out", gradOut: String = "grad_out",
               gradients: [String]? = nil, prefix: String = "", atol: Float = 1e-5, rtol: Float = 1e-4,
               outputMask: [Float]? = nil, sharedGradOut: Bool = false, _ f: ([Tensor]) -> Tensor) throws {
        let f32 = try GoldenFile("ops/\(name).safetensors"), f64 = try GoldenFile("ops/\(name).f64.safetensors")
        let params = try inputs.map { Parameter(try f32.tensor($0)) }
        let out = f(params.map(\.value))
        var expected = try f64.tensor(prefix + output).toArray()
        var actual = out.toArray()
        if let outputMask {
            actual = zip(actual, outputMask).map { $1 == 0 ? 0 : $0 }
            expected = zip(expected, outputMask).map { $1 == 0 ? 0 : $0 }
        }
        expectClose(actual, expected, atol: atol, rtol: rtol, "\(name) \(prefix)\(output)")
        out.backward(seed: try f32.tensor(sharedGradOut ? gradOut : prefix + gradOut))
        for (i, input) in inputs.enumerated() {
            let key = gradients?[i] ?? "grad_\(input)"
            if key.isEmpty { continue }
            let g = params[i].grad?.toArray() ?? []
            expectClose(g, try f64.tensor(prefix + key).toArray(), atol: atol, rtol: rtol, "\(name) \(prefix)\(key)")
        }
    }

    @Test(arguments: ["attention_gqa_leftpad", "attention_gqa_nopad"])
    func attention(_ name: String) throws {
        let file = try GoldenFile("ops/\(name).safetensors")
        let mask = try file.tensor("key_mask")
        // Query rows with no visible key (left padding) are defined as 0 on both sides.
        let rowMask = mask.toArray().flatMap { [Float](repeating: $0, count: 4 * 8) }
        try check(name, inputs: ["q", "k", "v"], outputMask: rowMask) { x in
            let (b, t) = (x[0].shape[0], x[0].shape[1])
            return Tensor.causalAttention(q: x[0].reshaped([b, t, 32]), k: x[1].reshaped([b, t, 16]), v: x[2].reshaped([b, t, 16]),
                                          heads: 4, kvHeads: 2, keyMask: mask).reshaped([b, t, 4, 8])
        }
    }

    @Test func rmsNorm() throws {
        try check("rmsnorm", inputs: ["x", "weight"]) { $0[0].rmsNorm(weight: $0[1], eps: 1e-6) }
    }

    @Test func layerNorm() throws {
        try check("layernorm", inputs: ["x", "weight", "bias"]) { $0[0].layerNorm(weight: $0[1], bias: $0[2], eps: 1e-5) }
    }

    @Test func logSoftmaxGather() throws {
        let targets = try GoldenFile("ops/logsoftmax_gather.safetensors").ints("targets")
        try check("logsoftmax_gather", inputs: ["logits"], output: "logp", gradOut: "grad_logp",
                  gradients: ["grad_logits_from_logp"]) { $0[0].logSoftmaxGather(targets: targets) }
        let f32 = try GoldenFile("ops/logsoftmax_gather.safetensors"), f64 = try GoldenFile("ops/logsoftmax_gather.f64.safetensors")
        let logits = Parameter(try f32.tensor("logits"))
        let loss = logits.value.crossEntropy(targets: targets)
        expectClose([loss.item()], try f64.tensor("loss").toArray(), atol: 1e-6, rtol: 1e-6, "cross-entropy")
        loss.backward()
        expectClose(logits.grad!, try f64.tensor("grad_logits_from_loss"), atol: 1e-6, rtol: 1e-5, "cross-entropy gradient")
    }

    @Test(arguments: ["rotate_half", "interleaved"], ["default", "llama3"])
    func rotary(_ convention: String, _ frequencies: String) throws {
        let file = try GoldenFile("ops/rope.safetensors")
        let scaling: RotaryTable.Llama3Scaling? = frequencies == "llama3"
            ? .init(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalMaxPositions: 8192) : nil
        let table = RotaryTable(headDim: 16, maxPositions: 128, theta: 10_000, llama3: scaling)
        // Our float32 inverse frequencies against the float64 reference.
        expectClose(RotaryTable.inverseFrequencies(headDim: 16, theta: 10_000, llama3: scaling),
                    try file.tensor("inv_freq.\(frequencies)").toArray(), atol: 0, rtol: 5e-7, "inv_freq")  // float32 arithmetic vs a float64 reference: ≤ 2 ulp
        for positions in ["p0", "p100"] {
            let pos = try file.ints("positions.\(positions)")
            let all = (0..<2).flatMap { _ in pos }
            // Angles at position ~100 carry float32 rounding of pos·inv_freq (as transformers does),
            // about 1e-5 absolute against the float64 reference.
            try check("rope", inputs: ["x"], gradients: ["grad_x"], prefix: "\(convention).\(frequencies).\(positions).",
                      atol: positions == "p0" ? 1e-6 : 3e-5, sharedGradOut: true) { x in
                x[0].rotary(table, positions: all, heads: 3, convention: convention == "rotate_half" ? .rotateHalf : .adjacentPairs)
            }
        }
    }

    @Test func activations() throws {
        try check("activations", inputs: ["x"], gradients: ["grad_x"], prefix: "silu.", sharedGradOut: true) { $0[0].silu() }
        try check("activations", inputs: ["x"], gradients: ["grad_x"], prefix: "gelu_erf.", sharedGradOut: true) { $0[0].gelu() }
        try check("activations", inputs: ["x"], gradients: ["grad_x"], prefix: "gelu_tanh.", sharedGradOut: true) { $0[0].gelu(tanhApproximation: true) }
        try check("activations", inputs: ["x"], gradients: ["grad_x"], prefix: "logsigmoid.", sharedGradOut: true) { $0[0].logSigmoid() }
    }

    @Test(arguments: [1, 2])
    func conv2d(_ stride: Int) throws {
        try check("conv2d", inputs: ["x", "weight", "bias"], prefix: "s\(stride).") {
            $0[0].conv2d(weight: $0[1], bias: $0[2], stride: stride, padding: 1)
        }
    }

    @Test func groupNorm() throws {
        try check("groupnorm", inputs: ["x", "weight", "bias"]) { $0[0].groupNorm(groups: 2, weight: $0[1], bias: $0[2]) }
    }

    @Test func upsample() throws {
        try check("upsample_nearest2x", inputs: ["x"]) { $0[0].upsampleNearest(factor: 2) }
    }
}
