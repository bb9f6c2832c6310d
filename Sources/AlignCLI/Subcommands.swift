import ArgumentParser

/// Every `align` subcommand, in the order `align --help` lists them. Each lives in Commands/.
let alignSubcommands: [ParsableCommand.Type] = [
    Inspect.self,
    ConvertGGUF.self,
    RateCommand.self,
    DataCommand.self,
    DPOCommand.self,
    SFTCommand.self,
    RewardCommand.self,
    KTOCommand.self,
]
