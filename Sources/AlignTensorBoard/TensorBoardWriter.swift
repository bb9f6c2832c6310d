import Foundation

/// Writes a training run's metrics as a TensorBoard event file, the way transformers'
/// `TensorBoardCallback` lays them out, so `tensorboard --logdir OUTPUT/runs` shows an Align run
/// next to TRL runs with the same chart names.
///
/// Layout: `OUTPUT/runs/<MonDD_HH-MM-SS>_<hostname>/events.out.tfevents.<unix time>.<hostname>`
/// (transformers' default `logging_dir` under the output folder). The file starts with a
/// `file_version: "brain.Event:2"` event; each metrics row then becomes one event per scalar, as
/// `SummaryWriter.add_scalar` writes them. Every event is written with one `write` call and no
/// buffering in this process, so a crash loses nothing already logged.
public final class TensorBoardWriter {
    /// The event file being written.
    public let fileURL: URL
    private let handle: FileHandle
    private let clock: () -> Date

    /// Creates `directory` if needed and a new event file in it, and writes the file-version event.
    /// - Parameters:
    ///   - hostname: part of the file name, as TensorBoard's writers name files.
    ///   - restartStep: when resuming, the first step this process will log: a `SessionLog.START`
    ///     event at that step makes TensorBoard drop what an earlier attempt logged from there on
    ///     (the steps a crashed run logged after its last checkpoint), as `SummaryWriter(purge_step:)` does.
    ///   - clock: the wall clock (tests pass a fixed one).
    public init(directory: URL, hostname: String = TensorBoardWriter.hostname, restartStep: Int? = nil,
                clock: @escaping () -> Date = Date.init) throws {
        self.clock = clock
        let fm = FileManager.default
        do { try fm.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw TensorBoardError.io(path: directory.path, reason: "cannot create the TensorBoard log folder")
        }
        let now = clock()
        let base = "events.out.tfevents.\(String(format: "%010lld", Int64(now.timeIntervalSince1970.rounded(.down)))).\(hostname)"
        // A resumed run started in the same second as the file it continues gets the next free
        // suffix; TensorBoard reads every `*tfevents*` file of a folder, in name order.
        var name = base
        var suffix = 1
        while fm.fileExists(atPath: directory.appendingPathComponent(name).path) {
            name = "\(base).\(suffix)"
            suffix += 1
        }
        fileURL = directory.appendingPathComponent(name)
        guard fm.createFile(atPath: fileURL.path, contents: nil), let handle = try? FileHandle(forWritingTo: fileURL) else {
            throw TensorBoardError.io(path: fileURL.path, reason: "cannot create the TensorBoard event file")
        }
        self.handle = handle
        try write(TensorBoardEvent(wallTime: now.timeIntervalSince1970, fileVersion: TensorBoardEvent.currentFileVersion,
                                   sourceWriter: "align"))
        if let restartStep {
            try write(TensorBoardEvent(wallTime: now.timeIntervalSince1970, step: Int64(restartStep), sessionStatus: .start))
        }
    }

    deinit { try? handle.close() }

    /// Appends one event (framed as a TFRecord).
    public func write(_ event: TensorBoardEvent) throws {
        do { try handle.write(contentsOf: Data(TFRecord.frame(event.encoded()))) } catch {
            throw TensorBoardError.io(path: fileURL.path, reason: "cannot write the TensorBoard event file (\(error.localizedDescription))")
        }
    }

    /// Writes one metrics row (as `metrics.jsonl` holds it) as scalars at the row's `step`, named by
    /// ``scalars(forRow:)``.
    public func log(row: [String: Double]) throws {
        let wallTime = clock().timeIntervalSince1970
        let step = Int64(row["step"] ?? 0)
        for scalar in TensorBoardWriter.scalars(forRow: row) {
            try write(TensorBoardEvent(wallTime: wallTime, step: step, scalars: [scalar]))
        }
    }

    /// The scalars of a metrics row under transformers' TensorBoard names (its `rewrite_logs`):
    /// `eval_X` → `eval/X`, `test_X` → `test/X`, anything else → `train/X` (so `epoch`, which
    /// transformers also logs with eval rows, is `train/epoch`). `step` is the event's step, not a
    /// scalar. Values are stored as float32, NaN and infinities included. Sorted by tag.
    public static func scalars(forRow row: [String: Double]) -> [TensorBoardEvent.Scalar] {
        row.compactMap { key, value -> TensorBoardEvent.Scalar? in
            guard key != "step" else { return nil }
            let tag: String
            if key.hasPrefix("eval_") { tag = "eval/" + key.dropFirst(5) }
            else if key.hasPrefix("test_") { tag = "test/" + key.dropFirst(5) }
            else { tag = "train/" + key }
            return TensorBoardEvent.Scalar(tag: tag, value: Float(value))
        }.sorted { $0.tag < $1.tag }
    }

    /// This machine's host name, as Python's `socket.gethostname()` gives it.
    public static var hostname: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        let name = String(cString: buffer)
        return name.isEmpty ? "localhost" : name
    }

    /// The run folder transformers would use: `<output>/runs/<MonDD_HH-MM-SS>_<hostname>`, local time
    /// (its `datetime.now().strftime("%b%d_%H-%M-%S")`).
    public static func runDirectory(output: URL, date: Date = Date(), hostname: String = TensorBoardWriter.hostname) -> URL {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "MMMdd_HH-mm-ss"
        return output.appendingPathComponent("runs").appendingPathComponent("\(formatter.string(from: date))_\(hostname)")
    }

    /// The run folder a resumed run appends to: the one under `<output>/runs` holding the newest
    /// event file (by the unix time in its name), or nil when there is none.
    public static func latestRunDirectory(output: URL) -> URL? {
        let runs = output.appendingPathComponent("runs")
        let fm = FileManager.default
        var best: (time: Int64, url: URL)?
        for folder in (try? fm.contentsOfDirectory(atPath: runs.path)) ?? [] {
            let url = runs.appendingPathComponent(folder)
            for file in (try? fm.contentsOfDirectory(atPath: url.path)) ?? [] where file.hasPrefix("events.out.tfevents.") {
                let time = Int64(file.dropFirst("events.out.tfevents.".count).prefix { $0.isNumber }) ?? 0
                if best == nil || time >= best!.time { best = (time, url) }
            }
        }
        return best?.url
    }
}
