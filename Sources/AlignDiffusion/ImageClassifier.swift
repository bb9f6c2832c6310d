import AlignKernels
import AlignModelIO
import AlignNN
import AlignTensor
import Foundation

/// The reward's small CNN for 1×32×32 images: conv 3×3 (32) → ReLU → conv 3×3 stride 2 (64) → ReLU →
/// conv 3×3 stride 2 (64) → ReLU → flatten → linear 128 → ReLU → linear (classes). The 128 features
/// before the last layer are the space the Fréchet distance is measured in.
public final class ImageClassifier: Module {
    public let channels: Int, size: Int, classes: Int
    let conv1: Conv2d, conv2: Conv2d, conv3: Conv2d, fc1: Linear, fc2: Linear

    public init(channels: Int = 1, size: Int = 32, classes: Int = 10, seed: UInt64 = 0) {
        var g = RandomGenerator(seed: seed)
        self.channels = channels; self.size = size; self.classes = classes
        conv1 = Conv2d(channels, 32, kernel: 3, padding: 1, generator: &g)
        conv2 = Conv2d(32, 64, kernel: 3, stride: 2, padding: 1, generator: &g)
        conv3 = Conv2d(64, 64, kernel: 3, stride: 2, padding: 1, generator: &g)
        fc1 = Linear(64 * (size / 4) * (size / 4), 128, generator: &g)
        fc2 = Linear(128, classes, generator: &g)
    }

    /// The 128 penultimate features (B, 128).
    public func features(_ x: Tensor) -> Tensor {
        let h = conv3(conv2(conv1(x).relu()).relu()).relu()
        return fc1(h.reshaped([x.shape[0], -1])).relu()
    }

    /// Class logits (B, classes).
    public func callAsFunction(_ x: Tensor) -> Tensor { fc2(features(x)) }

    /// log p(label | image) for each image, without gradients.
    public func logProbabilities(_ x: Tensor, labels: [Int]) -> [Float] {
        withNoGrad { self(x).logSoftmaxGather(targets: labels.map { Int32($0) }) }.toArray()
    }

    public func forEachParameter(prefix: String, _ visit: (String, Parameter) -> Void) {
        AlignNN.visit(conv1, "conv1", prefix: prefix, visit)
        AlignNN.visit(conv2, "conv2", prefix: prefix, visit)
        AlignNN.visit(conv3, "conv3", prefix: prefix, visit)
        AlignNN.visit(fc1, "fc1", prefix: prefix, visit)
        AlignNN.visit(fc2, "fc2", prefix: prefix, visit)
    }

    public static let weightsFile = "classifier.safetensors"

    /// Writes `classifier.safetensors` (metadata: channels, size, classes) into `folder`.
    public func save(to folder: URL, metadata extra: [String: String] = [:]) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let tensors = namedParameters().map { name, p in
            SafetensorsWriter.Tensor(name: name, shape: p.shape, storage: withNoGrad { p.value.copy() }.storage)
        }
        var meta = ["format": "pt", "channels": "\(channels)", "size": "\(size)", "classes": "\(classes)"]
        meta.merge(extra) { $1 }
        try SafetensorsWriter.write(tensors, metadata: meta, to: folder.appendingPathComponent(ImageClassifier.weightsFile))
    }

    /// Reads a folder written by ``save(to:metadata:)``.
    public convenience init(folder: URL) throws {
        let url = folder.appendingPathComponent(ImageClassifier.weightsFile)
        let file = try SafetensorsFile(url: url)
        let m = file.metadata
        guard let c = m["channels"].flatMap(Int.init), let s = m["size"].flatMap(Int.init), let k = m["classes"].flatMap(Int.init) else {
            throw DiffusionError("\(url.path): metadata lacks channels/size/classes (not written by align diffusion classifier)")
        }
        self.init(channels: c, size: s, classes: k)
        try loadWeights(from: folder)
    }

    public func loadWeights(from folder: URL) throws {
        let url = folder.appendingPathComponent(ImageClassifier.weightsFile)
        let file = try SafetensorsFile(url: url)
        for (name, p) in namedParameters() {
            let (shape, storage) = try file.loadFloat32(name)
            guard shape == p.shape else { throw DiffusionError("\(url.path): \(name) has shape \(shape), expected \(p.shape)") }
            p.assign(Tensor(storage: storage, shape: shape))
        }
    }
}
