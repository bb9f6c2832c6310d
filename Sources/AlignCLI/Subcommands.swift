import ArgumentParser

/// Every `align` subcommand, in the order `align --help` lists them. Each lives in Commands/.
let alignSubcommands: [ParsableCommand.Type] = [
    Inspect.self,
    ConvertGGUF.self,
    RateCommand.self,
    DataCommand.self,
    DemoCommand.self,
    SampleCommand.self,
    JudgeCommand.self,
    EvalCommand.self,
    DPOCommand.self,
    TokenizeCommand.self,
    LogProbsCommand.self,
    GenerateCommand.self,
    ConvertCommand.self,
]
