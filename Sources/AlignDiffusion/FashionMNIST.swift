import CCompression
import Foundation

/// Fashion-MNIST from Debian's `dataset-fashion-mnist` (IDX files, gzip-compressed): 60 000 training and
/// 10 000 test images of 28×28, ten classes. Pixels are scaled to [−1, 1] and, by default, padded
/// with −1 (background) to 32×32 so the UNet can halve the size twice.
public enum FashionMNIST {
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// Reads the `train` or `t10k` split, at most `limit` images.
    public static func load(split: String, directory: String = defaultDirectory, pad: Bool = true, limit: Int? = nil) throws -> ImageSet {
        let dir = URL(fileURLWithPath: directory)
        func read(_ name: String) throws -> [UInt8] {
            for candidate in [name, name + ".gz"] {
                let url = dir.appendingPathComponent(candidate)
                guard FileManager.default.fileExists(atPath: url.path) else { continue }
                let data = try [UInt8](Data(contentsOf: url))
                return candidate.hasSuffix(".gz") ? try gunzip(data, path: url.path) : data
            }
            throw DiffusionError("\(dir.path)/\(name)(.gz) not found: install Debian's dataset-fashion-mnist (scripts/install-deps.sh) or give --data-dir")
        }
        let images = try read("\(split)-images-idx3-ubyte"), labels = try read("\(split)-labels-idx1-ubyte")
        func be32(_ b: [UInt8], _ o: Int) -> Int { Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3]) }
        guard images.count >= 16, be32(images, 0) == 0x803, labels.count >= 8, be32(labels, 0) == 0x801 else {
            throw DiffusionError("\(dir.path): \(split) files are not IDX image/label files")
        }
        let n = be32(images, 4), rows = be32(images, 8), cols = be32(images, 12)
        guard be32(labels, 4) == n, images.count == 16 + n * rows * cols, labels.count == 8 + n else {
            throw DiffusionError("\(dir.path): \(split) images and labels disagree in count or size")
        }
        let count = min(n, limit ?? n)
        let side = pad ? max(rows, 32) : rows
        let offset = (side - rows) / 2
        var pixels = [Float](repeating: -1, count: count * side * side)
        for i in 0..<count {
            for y in 0..<rows {
                for x in 0..<cols {
                    pixels[i * side * side + (y + offset) * side + x + offset] = Float(images[16 + i * rows * cols + y * cols + x]) / 127.5 - 1
                }
            }
        }
        return ImageSet(pixels: pixels, labels: (0..<count).map { Int(labels[8 + $0]) }, channels: 1, height: side, width: side)
    }

    /// Inflates a gzip stream with the system zlib.
    static func gunzip(_ input: [UInt8], path: String) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { throw DiffusionError("\(path): zlib init failed") }
        defer { inflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: max(input.count * 4, 1 << 16))
        var produced = 0
        var input = input
        let status: Int32 = input.withUnsafeMutableBufferPointer { src in
            stream.next_in = src.baseAddress
            stream.avail_in = UInt32(src.count)
            while true {
                if produced == out.count { out += [UInt8](repeating: 0, count: out.count) }
                let s: Int32 = out.withUnsafeMutableBufferPointer { dst in
                    stream.next_out = dst.baseAddress! + produced
                    stream.avail_out = UInt32(dst.count - produced)
                    let r = CCompression.inflate(&stream, Z_NO_FLUSH)
                    produced = dst.count - Int(stream.avail_out)
                    return r
                }
                if s == Z_STREAM_END { return s }
                if s != Z_OK && s != Z_BUF_ERROR { return s }
                if s == Z_BUF_ERROR && stream.avail_in == 0 { return s }
            }
        }
        guard status == Z_STREAM_END else { throw DiffusionError("\(path): corrupt gzip data (zlib status \(status))") }
        return Array(out[0..<produced])
    }
}

/// PNG files (8-bit grey or RGB) written with the system zlib.
public enum PNGWriter {
    /// Encodes `pixels` (row-major, `channels` 1 or 3 bytes per pixel) as a PNG file's bytes.
    public static func encode(width: Int, height: Int, channels: Int, pixels: [UInt8]) -> [UInt8] {
        precondition(channels == 1 || channels == 3, "PNG writer: 1 or 3 channels")
        precondition(pixels.count == width * height * channels, "PNG writer: \(pixels.count) bytes for \(width)×\(height)×\(channels)")
        var raw = [UInt8](); raw.reserveCapacity(height * (1 + width * channels))
        for y in 0..<height { raw.append(0); raw += pixels[y * width * channels..<(y + 1) * width * channels] }
        var bound = compressBound(UInt(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(bound))
        let status = compressed.withUnsafeMutableBufferPointer { dst in
            raw.withUnsafeBufferPointer { src in compress2(dst.baseAddress, &bound, src.baseAddress, UInt(src.count), 6) }
        }
        precondition(status == Z_OK, "zlib compress2 failed: \(status)")
        compressed.removeSubrange(Int(bound)...)
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        func be(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        func chunk(_ type: String, _ data: [UInt8]) {
            let body = Array(type.utf8) + data
            out += be(data.count) + body
            let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, UInt32($0.count)) }
            out += be(Int(crc))
        }
        chunk("IHDR", be(width) + be(height) + [8, channels == 1 ? 0 : 2, 0, 0, 0])
        chunk("IDAT", compressed)
        chunk("IEND", [])
        return out
    }

    /// A grid of images in [−1, 1] (one row of `columns` per line, a 2-pixel border) as PNG bytes.
    public static func grid(_ images: ImageSet, columns: Int, indices: [Int]? = nil) -> [UInt8] {
        let ids = indices ?? Array(0..<images.count)
        let rows = max(1, (ids.count + columns - 1) / columns)
        let border = 2, h = images.height, w = images.width, c = images.channels == 3 ? 3 : 1
        let width = columns * (w + border) + border, height = rows * (h + border) + border
        var pixels = [UInt8](repeating: 255, count: width * height * c)
        for (k, i) in ids.enumerated() {
            let ox = border + (k % columns) * (w + border), oy = border + (k / columns) * (h + border)
            for y in 0..<h {
                for x in 0..<w {
                    for ch in 0..<c {
                        let v = images.pixels[i * images.imageSize + (min(ch, images.channels - 1) * h + y) * w + x]
                        pixels[((oy + y) * width + ox + x) * c + ch] = UInt8(max(0, min(255, ((v + 1) * 127.5).rounded())))
                    }
                }
            }
        }
        return encode(width: width, height: height, channels: c, pixels: pixels)
    }
}
