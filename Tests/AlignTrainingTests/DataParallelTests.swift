import AlignDistributed
import AlignKernels
import AlignModelIO
import AlignTraining
import Foundation
import Testing
import TestSupport

/// Data parallelism under Open MPI: `mpirun -np 2 align …` against one process on the same global
/// batch (the built `align` executable on the tiny fixture models), and a rank killed mid-run.
/// Skipped, with a message, only where `mpirun` is not installed.
@Suite(.serialized, .enabled(if: MPIJob.mpirun != nil, "mpirun not found on PATH: install openmpi-bin (scripts/install-deps.sh does) to run the two-rank tests"))
struct DataParallelTests {
    /// Small steps on the tiny Llama fixture: 2 × 2 examples per step, so each of 2 ranks runs
    /// exactly one of one process's micro-batches; a constant schedule, 3 steps over 8 examples.
    static let loop = ["--batch-size", "2", "--gradient-accumulation-steps", "2", "--max-steps", "3", "--logging-steps", "1",
                       "--lr-scheduler", "constant", "--seed", "3", "--threads", "1"]
    static let sgd = ["--optimizer", "sgd", "--learning-rate", "0.05"]
    static let adamw = ["--optimizer", "adamw", "--learning-rate", "1e-3"]

    static func command(_ method: String) -> [String] {
        // The training file doubles as evaluation data, so the split evaluation is compared too.
        let model = fixturesDirectory.appendingPathComponent("models/llama").path
        let data = fixturesDirectory.appendingPathComponent(["dpo": "dpo/pairs.jsonl", "kto": "kto/unpaired.jsonl"][method] ?? "sft/prompt_completion.jsonl").path
        return [method, "--model", model, "--data", data, "--eval-data", data]
    }

    /// One process and two ranks on the same arguments; returns both output folders.
    static func runBoth(_ arguments: [String], name: String) throws -> (single: URL, parallel: URL) {
        let single = MPIJob.temporaryDirectory(name + "-1"), parallel = MPIJob.temporaryDirectory(name + "-2")
        let one = try MPIJob.run(arguments + ["--output", single.path], ranks: nil)
        #expect(one.status == 0, "single process failed:\n\(one.output)")
        let two = try MPIJob.run(arguments + ["--output", parallel.path], ranks: 2)
        #expect(two.status == 0, "mpirun -np 2 failed:\n\(two.output)")
        #expect(two.output.contains("data parallel: 2 ranks"), "the ranks did not form one job:\n\(two.output)")
        return (single, parallel)
    }

    @Test("SGD: final weights and every logged metric equal one process's within 1e-6", arguments: ["dpo", "sft", "kto"])
    func sgdEqualsOneProcess(method: String) throws {
        let (single, parallel) = try Self.runBoth(Self.command(method) + Self.loop + Self.sgd, name: "\(method)-sgd")
        defer { try? FileManager.default.removeItem(at: single); try? FileManager.default.removeItem(at: parallel) }
        try MPIJob.expectMetricsEqual(single, parallel, rtol: 1e-6, what: method)
        let a = try MPIJob.weights(single), b = try MPIJob.weights(parallel)
        #expect(!a.isEmpty && a.keys.sorted() == b.keys.sorted())
        for (name, x) in a {
            let error = MPIJob.relativeDifference(b[name] ?? [], x)
            #expect(error <= 1e-6, "\(method) \(name): relative difference \(error)")
        }
    }

    @Test("AdamW: first step's metrics within 1e-6, the update within 1e-2", arguments: ["dpo", "sft", "kto"])
    func adamwMatchesOneProcess(method: String) throws {
        let (single, parallel) = try Self.runBoth(Self.command(method) + Self.loop + Self.adamw, name: "\(method)-adamw")
        defer { try? FileManager.default.removeItem(at: single); try? FileManager.default.removeItem(at: parallel) }
        try MPIJob.expectMetricsEqual(single, parallel, rtol: 1e-6, what: method, rows: 1)
        let initial = try MPIJob.weights(fixturesDirectory.appendingPathComponent("models/llama"))
        let a = try MPIJob.weights(single), b = try MPIJob.weights(parallel)
        for (name, x) in a {
            guard let x0 = initial[name], let y = b[name] else { continue }
            let error = MPIJob.relativeDifference(zip(y, x0).map { $0 - $1 }, zip(x, x0).map { $0 - $1 })
            #expect(error <= 1e-2, "\(method) \(name): update differs by \(error) relative")
        }
    }

    /// Micro-batches of 1 and 2 rows on the ranks against one of 3: padding and product shapes differ,
    /// so values agree up to float rounding. `loss` is left out: it is logged as the mean of the
    /// micro-batches' mean losses (transformers' convention, which the split changes when the
    /// micro-batches differ in size); the gradient itself is the step's mean, as the weights show.
    @Test("An uneven split (3 examples per step over 2 ranks) equals one process within 1e-5")
    func unevenSplit() throws {
        let loop = ["--batch-size", "3", "--max-steps", "2", "--logging-steps", "1", "--lr-scheduler", "constant", "--threads", "1"]
        let (single, parallel) = try Self.runBoth(Self.command("dpo") + loop + Self.sgd, name: "dpo-uneven")
        defer { try? FileManager.default.removeItem(at: single); try? FileManager.default.removeItem(at: parallel) }
        try MPIJob.expectMetricsEqual(single, parallel, rtol: 1e-5, what: "uneven", floor: 1, skipping: ["loss"])
        let a = try MPIJob.weights(single), b = try MPIJob.weights(parallel)
        for (name, x) in a { #expect(MPIJob.relativeDifference(b[name] ?? [], x) <= 1e-5, "\(name)") }
    }

    @Test("A killed rank ends the job non-zero naming it, leaves only complete checkpoints, and --resume continues")
    func killedRank() throws {
        let output = MPIJob.temporaryDirectory("killed")
        defer { try? FileManager.default.removeItem(at: output) }
        let base = Self.command("sft") + ["--batch-size", "2", "--gradient-accumulation-steps", "2", "--lr-scheduler", "constant",
                                          "--optimizer", "sgd", "--learning-rate", "0.01", "--save-steps", "2", "--logging-steps", "1",
                                          "--threads", "1", "--output", output.path]
        let job = try MPIJob.start(base + ["--max-steps", "1000000"], ranks: 2)
        // Wait for a checkpoint, then kill rank 1 the way an OOM killer or a lost node would.
        let deadline = Date().addingTimeInterval(300)
        while Trainer.latestCheckpoint(in: output) == nil && job.process.isRunning && Date() < deadline { usleep(50_000) }
        let victim = MPIJob.rankProcess(1, mentioning: output.path)
        #expect(victim != nil, "rank 1's process not found")
        if let victim { kill(victim, SIGKILL) }
        let (status, text) = job.finish(timeout: 120)
        #expect(status != 0, "the job exited 0 after a rank was killed:\n\(text)")
        #expect(text.contains("rank 1"), "the launcher's message does not name rank 1:\n\(text)")
        // Every checkpoint folder that exists is complete (staging folders are hidden and renamed only when whole).
        let names = try FileManager.default.contentsOfDirectory(atPath: output.path)
        for name in names where name.hasPrefix("checkpoint-") {
            let folder = output.appendingPathComponent(name)
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("trainer_state.json").path), "\(name) is incomplete")
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("checksums.json").path), "\(name) has no checksums")
        }
        guard let latest = Trainer.latestCheckpoint(in: output), let k = Int(latest.lastPathComponent.dropFirst("checkpoint-".count)) else {
            Issue.record("no checkpoint was written before the kill:\n\(text)")
            return
        }
        // Resume with the same number of ranks, two steps past the checkpoint.
        let resumed = try MPIJob.run(base + ["--max-steps", "\(k + 2)", "--resume"], ranks: 2)
        #expect(resumed.status == 0, "resume failed:\n\(resumed.output)")
        #expect(resumed.output.contains("resumed from step \(k)"), "\(resumed.output)")
        let rows = try MPIJob.metricRows(output)
        #expect(rows.last?["step"] as? Double == Double(k + 2), "last logged step: \(String(describing: rows.last?["step"]))")
        #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent("model.safetensors").path))
        let left = try FileManager.default.contentsOfDirectory(atPath: output.path).filter { $0.contains(".partial-") }
        #expect(left.isEmpty, "staging folders left after resume: \(left)")
    }
}

/// The single-process pieces of data parallelism, which need no launcher.
struct DataParallelUnitTests {
    @Test("Step shares are contiguous, balanced and cover the step")
    func shares() {
        for count in 1...13 {
            for size in 1...5 {
                let ranges = (0..<size).map { Trainer.share(of: count, rank: $0, size: size) }
                #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == count)
                for r in 1..<size { #expect(ranges[r].lowerBound == ranges[r - 1].upperBound) }
                #expect(ranges.map(\.count).max()! - ranges.map(\.count).min()! <= 1)
            }
        }
        // 8 examples per step in micro-batches of 2 over 2 ranks: whole micro-batches each.
        #expect(Trainer.share(of: 8, rank: 1, size: 2) == 4..<8)
    }

    @Test("One process: a step share is the whole step and gathering is the identity")
    func singleProcessShare() {
        let share = StepShare(step: 0, stepExamples: [5, 2, 7], localRange: 0..<3, communicator: SingleProcess())
        #expect(share.localExamples == [5, 2, 7])
        #expect(share.gather([1, 2, 3]) == [1, 2, 3])
        #expect(share.sum([4]) == [4])
        #expect(!Distributed.launchedByMPI, "the test process must not be an MPI rank")
    }
}

/// Starting `align` (one process or under `mpirun`) and reading what it wrote.
enum MPIJob {
    static let repositoryRoot = fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent()

    /// `mpirun` on PATH, if installed.
    static let mpirun: String? = {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/mpirun"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }()

    /// The `align` executable `swift build` made (debug, the configuration tests run in, first).
    static var align: String {
        get throws {
            for configuration in ["debug", "release"] {
                let path = repositoryRoot.appendingPathComponent(".build/\(configuration)/align").path
                if FileManager.default.isExecutableFile(atPath: path) { return path }
            }
            throw MPIJobError("the align executable is not built: run `swift build` (scripts/test.sh does) before the tests")
        }
    }

    struct MPIJobError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    static func temporaryDirectory(_ name: String) -> URL {
        testScratchDirectory.appendingPathComponent("align-dp-\(name)-\(UUID().uuidString)")
    }

    final class Job {
        let process: Process
        let log: URL
        init(process: Process, log: URL) { self.process = process; self.log = log }

        /// Waits (killing the job after `timeout` seconds) and returns its status and output.
        func finish(timeout: TimeInterval = 600) -> (status: Int32, output: String) {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { usleep(50_000) }
            if process.isRunning { process.terminate(); process.waitUntilExit() }
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(at: log)
            return (process.terminationStatus, text)
        }
    }

    /// Starts `align arguments`, under `mpirun -np ranks` when `ranks` is given; output goes to a file.
    static func start(_ arguments: [String], ranks: Int?) throws -> Job {
        let process = Process()
        let align = try align
        if let ranks {
            guard let mpirun else { throw MPIJobError("mpirun not found") }
            process.executableURL = URL(fileURLWithPath: mpirun)
            var launcher = ["--oversubscribe", "-np", String(ranks)]
            if getuid() == 0 { launcher.insert("--allow-run-as-root", at: 0) }
            process.arguments = launcher + [align] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: align)
            process.arguments = arguments
        }
        var environment = ProcessInfo.processInfo.environment
        for key in environment.keys where key.hasPrefix("OMPI_") || key.hasPrefix("PMIX_") { environment[key] = nil }
        environment["ALIGN_NUM_THREADS"] = nil
        process.environment = environment
        let log = testScratchDirectory.appendingPathComponent("align-dp-log-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return Job(process: process, log: log)
    }

    static func run(_ arguments: [String], ranks: Int?) throws -> (status: Int32, output: String) {
        try start(arguments, ranks: ranks).finish()
    }

    /// The pid of the `align` rank `rank` whose command line mentions `text` (read from /proc).
    static func rankProcess(_ rank: Int, mentioning text: String) -> pid_t? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for entry in entries {
            guard let pid = pid_t(entry),
                  let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            let arguments = String(decoding: cmdline, as: UTF8.self).split(separator: "\0")
            guard arguments.first?.hasSuffix("/align") == true, arguments.contains(where: { $0.contains(text) }) else { continue }
            let variables = String(decoding: environ, as: UTF8.self).split(separator: "\0")
            if variables.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
        }
        return nil
    }

    /// The model's tensors by name (`model.safetensors` of a folder).
    static func weights(_ folder: URL) throws -> [String: [Float]] {
        let file = try SafetensorsFile(url: folder.appendingPathComponent("model.safetensors"))
        var out: [String: [Float]] = [:]
        for name in file.tensorNames {
            let (shape, storage) = try file.loadFloat32(name)
            let n = shape.reduce(1, *)
            out[name] = Array(UnsafeBufferPointer(start: storage.pointer, count: n))
        }
        return out
    }

    /// ‖a − b‖ / ‖b‖ (‖a‖ when b is all zeros); infinity when the lengths differ.
    static func relativeDifference(_ a: [Float], _ b: [Float]) -> Double {
        guard a.count == b.count else { return .infinity }
        var d = 0.0, n = 0.0
        for (x, y) in zip(a, b) { d += Double(x - y) * Double(x - y); n += Double(y) * Double(y) }
        return n > 0 ? (d / n).squareRoot() : d.squareRoot()
    }

    static func metricRows(_ folder: URL) throws -> [[String: Any]] {
        try String(contentsOf: folder.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    /// Every logged value of the first `rows` rows (all by default) agrees within `rtol` (timings aside).
    /// `floor` is the magnitude below which the tolerance is absolute (rtol × floor).
    static func expectMetricsEqual(_ a: URL, _ b: URL, rtol: Double, what: String, rows: Int = .max,
                                   floor: Double = 1e-3, skipping: Set<String> = []) throws {
        let x = try metricRows(a), y = try metricRows(b)
        #expect(x.count == y.count, "\(what): \(x.count) rows against \(y.count)")
        #expect(!x.isEmpty)
        let timing: Set<String> = Set(["tokens_per_second", "seconds_per_step", "peak_memory_mb"]).union(skipping)
        for (i, (r, s)) in zip(x, y).prefix(rows).enumerated() {
            #expect(Set(r.keys) == Set(s.keys), "\(what) row \(i): keys differ")
            for (key, value) in r where !timing.contains(key) {
                guard let u = (value as? NSNumber)?.doubleValue, let v = (s[key] as? NSNumber)?.doubleValue else { continue }
                #expect(abs(u - v) <= rtol * max(abs(u), floor), "\(what) row \(i) \(key): one process \(u), two ranks \(v)")
            }
        }
    }
}
