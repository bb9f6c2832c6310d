/// One `tensorflow.Event` message, limited to the fields Align writes: the wall time, the step, and
/// one of a file version, scalar summaries or a session-log status.
///
/// Field numbers (tensorflow/core/util/event.proto, summary.proto):
/// `Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5;
/// SessionLog session_log = 7; SourceMetadata source_metadata = 10; }`, `SourceMetadata { string writer = 1; }`, `Summary { repeated Value value = 1; }`,
/// `Summary.Value { string tag = 1; float simple_value = 2; }`, `SessionLog { SessionStatus status = 1; }`.
/// Encoded as proto3 does: `step` 0 and an unset `file_version` are left out; `simple_value` sits
/// in a `oneof`, so it is written even when 0.
public struct TensorBoardEvent: Sendable {
    /// One scalar of a summary.
    public struct Scalar: Sendable {
        public var tag: String
        public var value: Float
        public init(tag: String, value: Float) {
            self.tag = tag
            self.value = value
        }
    }

    /// `SessionLog.SessionStatus`: START tells TensorBoard a run (re)started at this event's step,
    /// so it drops events of an earlier attempt at that step or later.
    public enum SessionStatus: Int64, Sendable {
        case unspecified = 0, start = 1, stop = 2, checkpoint = 3
    }

    /// Seconds since 1970 (UTC) when the event was written.
    public var wallTime: Double
    /// The global step.
    public var step: Int64
    /// `brain.Event:2` on a file's first event.
    public var fileVersion: String?
    /// The scalar values (`summary.value[*]`).
    public var scalars: [Scalar]
    /// The session-log status, when the event is one.
    public var sessionStatus: SessionStatus?
    /// `source_metadata.writer`: the program that wrote the file (TensorBoard's own writer puts it on
    /// the first event since 2.13; Align writes "align").
    public var sourceWriter: String?

    public init(wallTime: Double, step: Int64 = 0, fileVersion: String? = nil, scalars: [Scalar] = [],
                sessionStatus: SessionStatus? = nil, sourceWriter: String? = nil) {
        self.wallTime = wallTime
        self.step = step
        self.fileVersion = fileVersion
        self.scalars = scalars
        self.sessionStatus = sessionStatus
        self.sourceWriter = sourceWriter
    }

    /// The version string every TensorBoard event file starts with.
    public static let currentFileVersion = "brain.Event:2"

    /// The protobuf encoding.
    public func encoded() -> [UInt8] {
        var w = ProtobufWriter()
        if wallTime != 0 || wallTime.sign == .minus { w.double(1, wallTime) }
        if step != 0 { w.int64(2, step) }
        if let fileVersion { w.string(3, fileVersion) }
        if !scalars.isEmpty {
            w.message(5) { summary in
                for scalar in scalars {
                    summary.message(1) { value in
                        value.string(1, scalar.tag)
                        value.float(2, scalar.value)
                    }
                }
            }
        }
        if let sessionStatus {
            w.message(7) { log in
                if sessionStatus != .unspecified { log.int64(1, sessionStatus.rawValue) }
            }
        }
        if let sourceWriter {
            w.message(10) { metadata in
                if !sourceWriter.isEmpty { metadata.string(1, sourceWriter) }
            }
        }
        return w.bytes
    }

    /// Decodes an event; fields Align does not write (images, histograms, tensors) are skipped.
    public init(decoding bytes: [UInt8]) throws {
        self.init(wallTime: 0)
        for (field, value) in try ProtobufReader.fields(bytes) {
            switch (field, value) {
            case (1, .fixed64(let bits)): wallTime = Double(bitPattern: bits)
            case (2, .varint(let v)): step = Int64(bitPattern: v)
            case (3, .lengthDelimited(let s)): fileVersion = String(decoding: s, as: UTF8.self)
            case (5, .lengthDelimited(let summary)):
                for (f, v) in try ProtobufReader.fields(summary) {
                    guard f == 1, case .lengthDelimited(let valueBytes) = v else { continue }
                    var tag: String?
                    var simple: Float?
                    for (vf, vv) in try ProtobufReader.fields(valueBytes) {
                        switch (vf, vv) {
                        case (1, .lengthDelimited(let t)): tag = String(decoding: t, as: UTF8.self)
                        case (2, .fixed32(let bits)): simple = Float(bitPattern: bits)
                        default: break
                        }
                    }
                    if let tag, let simple { scalars.append(Scalar(tag: tag, value: simple)) }
                }
            case (7, .lengthDelimited(let log)):
                sessionStatus = .unspecified
                for (f, v) in try ProtobufReader.fields(log) {
                    if f == 1, case .varint(let s) = v { sessionStatus = SessionStatus(rawValue: Int64(bitPattern: s)) ?? .unspecified }
                }
            case (10, .lengthDelimited(let metadata)):
                sourceWriter = ""
                for (f, v) in try ProtobufReader.fields(metadata) {
                    if f == 1, case .lengthDelimited(let s) = v { sourceWriter = String(decoding: s, as: UTF8.self) }
                }
            case (1...3, _), (5, _), (7, _), (10, _):
                throw TensorBoardError.malformed("Event field \(field) has the wrong wire type")
            default: break
            }
        }
    }

    /// The events of an event file's bytes (framing and checksums verified).
    public static func events(inFile bytes: [UInt8]) throws -> [TensorBoardEvent] {
        try TFRecord.records(bytes).map(TensorBoardEvent.init(decoding:))
    }
}
