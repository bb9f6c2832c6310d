// Errors raised while reading or writing model files.
import Foundation

/// A failure reading or writing a model file (safetensors, GGUF, a shard index).
///
/// Every case carries the path of the file concerned and a reason precise enough to act on
/// ("data_offsets [0, 96] of tensor \"w\" end past the 64-byte data region"), because malformed
/// checkpoints are common and a bare "invalid file" wastes the user's time.
public enum ModelIOError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be opened, mapped, read, written, synced or renamed (an OS error).
    case io(path: String, reason: String)
    /// The file exists but its contents break the format (truncated, bad header, bad offsets...).
    case malformed(path: String, reason: String)
    /// The file is well formed but uses a feature this library does not implement
    /// (an unknown GGML quantisation, say).
    case unsupported(path: String, reason: String)
    /// The requested tensor is not in the file or checkpoint.
    case tensorNotFound(path: String, name: String)
    /// The caller passed inconsistent arguments (a shape that does not match the element count...).
    case invalidArgument(path: String, reason: String)

    /// The file the error concerns.
    public var path: String {
        switch self {
        case .io(let path, _), .malformed(let path, _), .unsupported(let path, _),
             .tensorNotFound(let path, _), .invalidArgument(let path, _):
            return path
        }
    }

    /// The reason, without the path.
    public var reason: String {
        switch self {
        case .io(_, let reason), .malformed(_, let reason), .unsupported(_, let reason),
             .invalidArgument(_, let reason):
            return reason
        case .tensorNotFound(_, let name):
            return "no tensor named \"\(name)\""
        }
    }

    /// "<path>: <kind>: <reason>".
    public var description: String {
        switch self {
        case .io: return "\(path): I/O error: \(reason)"
        case .malformed: return "\(path): malformed file: \(reason)"
        case .unsupported: return "\(path): unsupported: \(reason)"
        case .tensorNotFound: return "\(path): \(reason)"
        case .invalidArgument: return "\(path): invalid argument: \(reason)"
        }
    }
}

/// The text of the current `errno`, for I/O error reasons.
func errnoDescription(_ code: Int32 = errno) -> String {
    String(cString: strerror(code)) + " (errno \(code))"
}
