import ArgumentParser

/// Every `align` subcommand, in the order `align --help` lists them. Each lives in Commands/.
let alignSubcommands: [ParsableCommand.Type] = [
    DemoCommand.self,
    DPOCommand.self,
    SFTCommand.self,
    RewardCommand.self,
    KTOCommand.self,
    PPOCommand.self,
    GRPOCommand.self,
    RLOOCommand.self,
    SampleCommand.self,
    JudgeCommand.self,
    EvalCommand.self,
    AccuracyCommand.self,
    GenerateCommand.self,
    LogProbsCommand.self,
    TokenizeCommand.self,
    ConvertCommand.self,
    MergeCommand.self,
    ConvertGGUF.self,
    Inspect.self,
    DataCommand.self,
    RateCommand.self,
    DiffusionCommand.self,
    DiffusionDPOCommand.self,
]
