import ArgumentParser

/// The `align` command: one subcommand per job.
@main
struct Align: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "align",
        abstract: "Align language models with human preferences (DPO, RLHF, KTO) on CPU.",
        version: alignVersion,
        subcommands: alignSubcommands)
}

/// Semantic version printed by `align --version`.
let alignVersion = "0.1.0"
