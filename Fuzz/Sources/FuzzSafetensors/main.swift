// Fuzzes the safetensors reader: any bytes either open as a valid file whose every tensor then
// loads (or is refused with an error), or are refused with a ModelIOError. Never a crash.
import AlignModelIO
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let url = Scratch.write(start, count, name: "model.safetensors")
    guard let file = try? SafetensorsFile(url: url) else { return 0 }
    _ = file.metadata
    for name in file.tensorNames {
        guard let info = file.info(name) else { preconditionFailure("listed tensor \(name) has no info") }
        if let (shape, storage) = try? file.loadFloat32(name) {
            precondition(shape == info.shape && storage.count == info.elementCount, "\(name): loaded shape disagrees with the header")
        }
        _ = try? file.withUnsafeBytes(of: name) { $0.reduce(0, &+) }
    }
    // The checkpoint view over a single file.
    if let checkpoint = try? CheckpointReader(url: url) {
        for name in checkpoint.tensorNames { _ = try? checkpoint.loadFloat32(name) }
    }
    return 0
}
