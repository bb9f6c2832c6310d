import AlignTensor
import Foundation

/// Images (N, C, H, W) in [−1, 1] with one class label each, held as flat Float arrays.
public struct ImageSet: Sendable {
    public var pixels: [Float]
    public var labels: [Int]
    public let channels: Int, height: Int, width: Int

    public init(pixels: [Float], labels: [Int], channels: Int, height: Int, width: Int) {
        precondition(pixels.count == labels.count * channels * height * width, "\(pixels.count) pixels for \(labels.count) images")
        self.pixels = pixels; self.labels = labels
        self.channels = channels; self.height = height; self.width = width
    }

    public var count: Int { labels.count }
    public var imageSize: Int { channels * height * width }
    public var shape: [Int] { [channels, height, width] }

    /// Images `indices` as one (B, C, H, W) tensor, and their labels.
    public func batch(_ indices: [Int]) -> (images: Tensor, labels: [Int]) {
        var values = [Float](); values.reserveCapacity(indices.count * imageSize)
        for i in indices { values += pixels[i * imageSize..<(i + 1) * imageSize] }
        return (Tensor(shape: [indices.count] + shape, values: values), indices.map { labels[$0] })
    }

    /// The first `n` images.
    public func prefix(_ n: Int) -> ImageSet {
        let k = min(n, count)
        return ImageSet(pixels: Array(pixels[0..<k * imageSize]), labels: Array(labels[0..<k]), channels: channels, height: height, width: width)
    }
}

/// Preference pairs of images: `chosen` and `rejected` (N, C, H, W) in [−1, 1] and `class_labels`
/// (N,), one safetensors file (written by `align diffusion pairs` or by the user).
public struct ImagePairs: Sendable {
    public var chosen: ImageSet
    public var rejected: ImageSet
    public var labels: [Int] { chosen.labels }
    public var count: Int { chosen.count }

    public init(chosen: ImageSet, rejected: ImageSet) {
        precondition(chosen.count == rejected.count && chosen.shape == rejected.shape)
        self.chosen = chosen; self.rejected = rejected
    }

    public init(contentsOf url: URL) throws {
        let file = try TensorFile(url: url)
        let c = try file.tensor("chosen", rank: 4), r = try file.tensor("rejected", rank: 4)
        guard c.shape == r.shape else { throw DiffusionError("\(url.path): chosen \(c.shape) and rejected \(r.shape) differ in shape") }
        let labels = try file.integers("class_labels", rank: 1)
        guard labels.count == c.shape[0] else { throw DiffusionError("\(url.path): class_labels has \(labels.count) entries for \(c.shape[0]) pairs") }
        for (name, t) in [("chosen", c), ("rejected", r)] {
            if let i = t.toArray().firstIndex(where: { !$0.isFinite || $0 < -1.0001 || $0 > 1.0001 }) {
                throw DiffusionError("\(url.path): \(name) pixel \(i) is \(t.toArray()[i]); images must lie in [-1, 1]")
            }
        }
        let (ch, h, w) = (c.shape[1], c.shape[2], c.shape[3])
        chosen = ImageSet(pixels: c.toArray(), labels: labels, channels: ch, height: h, width: w)
        rejected = ImageSet(pixels: r.toArray(), labels: labels, channels: ch, height: h, width: w)
    }

    public func write(to url: URL) throws {
        let n = count
        try TensorFile.write(floats: [("chosen", Tensor(shape: [n] + chosen.shape, values: chosen.pixels)),
                                      ("rejected", Tensor(shape: [n] + rejected.shape, values: rejected.pixels))],
                             integers: [("class_labels", [n], labels)], to: url)
    }
}
