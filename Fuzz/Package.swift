// swift-tools-version: 6.0
// libFuzzer targets for Align's readers of untrusted input. A separate package so that the normal
// `swift build` / `swift test` never see them: a fuzz target has no `main` of its own (libFuzzer
// supplies it), so it only links when built with `-sanitize=fuzzer`. Build and run with
// `bash scripts/fuzz.sh` from the repository root (see README.md, "Fuzzing").
import PackageDescription

/// One executable per reader; each defines `LLVMFuzzerTestOneInput` in `Sources/<name>/main.swift`
/// and has its seed corpus in `Corpus/<name>/`.
let fuzzTargets = [
    "FuzzSafetensors", "FuzzGGUF", "FuzzConfigJSON", "FuzzTokenizerJSON",
    "FuzzJSON", "FuzzJSONLines", "FuzzYAML", "FuzzChatTemplate",
]

let package = Package(
    name: "AlignFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "Align", path: ".."),
    ],
    targets: [
        .target(name: "FuzzSupport", swiftSettings: [.swiftLanguageMode(.v5)]),
    ] + fuzzTargets.map { name in
        .executableTarget(
            name: name,
            dependencies: ["FuzzSupport", .product(name: "Align", package: "Align")],
            swiftSettings: [.swiftLanguageMode(.v5)])
    }
)
