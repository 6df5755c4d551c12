import ArgumentParser
@main struct Tapedeck: AsyncParsableCommand {}
