public import ArgumentParser
import TapedeckServer

/// `tapedeck`: the root command; it only lists the subcommands.
public struct TapedeckCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "tapedeck",
        abstract: "A local stand-in for the Anthropic Messages API: record, replay, synthesize.",
        version: TapedeckVersion.current,
        subcommands: [Serve.self, CassetteCommand.self],
        defaultSubcommand: nil
    )

    public init() {}
}
