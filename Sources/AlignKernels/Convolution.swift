/// Geometry of a 2-D convolution over (batch, channels, height, width) images.
public struct Conv2DShape: Sendable, Hashable {
    public var batch: Int, inChannels: Int, height: Int, width: Int
    public var outChannels: Int, kernelHeight: Int, kernelWidth: Int
    public var stride: Int, padding: Int

    public init(batch: Int, inChannels: Int, height: Int, width: Int, outChannels: Int,
                kernelHeight: Int, kernelWidth: Int, stride: Int = 1, padding: Int = 0) {
        self.batch = batch; self.inChannels = inChannels; self.height = height; self.width = width
        self.outChannels = outChannels; self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.stride = stride; self.padding = padding
    }

    public var outHeight: Int { (height + 2 * padding - kernelHeight) / stride + 1 }
    public var outWidth: Int { (width + 2 * padding - kernelWidth) / stride + 1 }
    /// Rows of the unfolded (im2col) matrix: one per (channel, ky, kx).
    var patch: Int { inChannels * kernelHeight * kernelWidth }
}

extension Kernels {
    /// Unfolds one image (C, H, W) into columns (C·kh·kw, outH·outW); with `fold`, adds columns back
    /// into the image instead (the adjoint, used by the backward pass).
    static func im2col(_ image: UnsafeMutablePointer<Float>, _ cols: UnsafeMutablePointer<Float>, _ s: Conv2DShape, fold: Bool) {
        let oh = s.outHeight, ow = s.outWidth
        parallelFor(s.inChannels) { start, end in
            for c in start..<end {
                for ky in 0..<s.kernelHeight {
                    for kx in 0..<s.kernelWidth {
                        let row = (c * s.kernelHeight + ky) * s.kernelWidth + kx
                        let dst = cols + row * oh * ow
                        for oy in 0..<oh {
                            let iy = oy * s.stride - s.padding + ky
                            for ox in 0..<ow {
                                let ix = ox * s.stride - s.padding + kx
                                let inside = iy >= 0 && iy < s.height && ix >= 0 && ix < s.width
                                let at = (c * s.height + iy) * s.width + ix
                                if fold {
                                    if inside { image[at] += dst[oy * ow + ox] }
                                } else {
                                    dst[oy * ow + ox] = inside ? image[at] : 0
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// 2-D convolution (cross-correlation, as PyTorch): x (N, Cin, H, W), w (Cout, Cin, kh, kw),
    /// optional bias (Cout) → y (N, Cout, outH, outW). im2col then one GEMM per image.
    public static func conv2d(
        _ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        shape s: Conv2DShape, _ y: UnsafeMutablePointer<Float>
    ) {
        let spatial = s.outHeight * s.outWidth
        let cols = TensorStorage(count: s.patch * spatial)
        for n in 0..<s.batch {
            im2col(UnsafeMutablePointer(mutating: x + n * s.inChannels * s.height * s.width), cols.pointer, s, fold: false)
            let out = y + n * s.outChannels * spatial
            BLAS.gemm(m: s.outChannels, n: spatial, k: s.patch, a: w, b: cols.pointer, c: out)
            if let bias {
                for o in 0..<s.outChannels { for i in 0..<spatial { out[o * spatial + i] += bias[o] } }
            }
        }
    }

    /// Backward of ``conv2d``: dx (overwritten), dw and db (accumulated) from dy.
    public static func conv2dBackward(
        _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, weight w: UnsafePointer<Float>, shape s: Conv2DShape,
        dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?, db: UnsafeMutablePointer<Float>?
    ) {
        let spatial = s.outHeight * s.outWidth
        let cols = TensorStorage(count: s.patch * spatial)
        if let dx { dx.update(repeating: 0, count: s.batch * s.inChannels * s.height * s.width) }
        for n in 0..<s.batch {
            let g = dy + n * s.outChannels * spatial
            if let dw {
                im2col(UnsafeMutablePointer(mutating: x + n * s.inChannels * s.height * s.width), cols.pointer, s, fold: false)
                // dW (Cout, patch) += dY_n (Cout, spatial) · colsᵀ
                BLAS.gemm(transA: false, transB: true, m: s.outChannels, n: s.patch, k: spatial,
                          a: g, lda: spatial, b: cols.pointer, ldb: spatial, beta: 1, c: dw, ldc: s.patch)
            }
            if let db {
                for o in 0..<s.outChannels { db[o] += Float(sum(g + o * spatial, count: spatial)) }
            }
            if let dx {
                // dcols (patch, spatial) = Wᵀ · dY_n, then fold back into the image.
                BLAS.gemm(transA: true, transB: false, m: s.patch, n: spatial, k: s.outChannels,
                          a: w, lda: s.patch, b: g, ldb: spatial, c: cols.pointer, ldc: spatial)
                im2col(dx + n * s.inChannels * s.height * s.width, cols.pointer, s, fold: true)
            }
        }
    }

    /// Nearest-neighbour upsampling of x (planes, H, W) by an integer factor; with `reverse`,
    /// the backward pass: sums each factor×factor block of dy into dx.
    public static func upsampleNearest(
        _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, planes: Int, height: Int, width: Int,
        factor: Int, reverse: Bool
    ) {
        let oh = height * factor, ow = width * factor
        parallelFor(planes) { start, end in
            for p in start..<end {
                let src = x + p * height * width, dst = y + p * oh * ow
                if reverse { src.update(repeating: 0, count: height * width) }
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let i = (oy / factor) * width + ox / factor
                        if reverse { src[i] += dst[oy * ow + ox] } else { dst[oy * ow + ox] = src[i] }
                    }
                }
            }
        }
    }
}
