import Foundation

@testable import Synthesis

/// The vocabulary the server ships (`Sources/TapedeckServer/Resources/Synthesis/vocabulary.json`), read from the
/// source tree once: these tests write with the real file, not a stand-in.
enum ShippedVocabulary {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let file = repository.appendingPathComponent("Sources/TapedeckServer/Resources/Synthesis/vocabulary.json")

    private static let loaded = Result { try Vocabulary.parse(Data(contentsOf: file)) }

    static func get() throws -> Vocabulary { try loaded.get() }
}
