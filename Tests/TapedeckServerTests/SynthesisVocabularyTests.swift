import Foundation
import MessagesAPI
import TapedeckTestSupport
import Testing

@testable import TapedeckServer

/// The vocabulary as shipped (`Sources/TapedeckServer/Resources/Synthesis/vocabulary.json`), found from this file.
private let shippedFile = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Sources/TapedeckServer/Resources/Synthesis/vocabulary.json")

@Suite("The synthesis vocabulary at start-up")
struct SynthesisVocabularyTests {
    @Test func theBundledFileIsTheShippedOneAndLoads() throws {
        _ = try SynthesisVocabulary.loadBundled()
        _ = try SynthesisVocabulary.load(from: shippedFile)
        let bundled = try #require(SynthesisVocabulary.bundledFile)
        #expect(try Data(contentsOf: bundled) == Data(contentsOf: shippedFile))
    }

    @Test(arguments: [
        (#"{"format": 1"#, "the synthesis vocabulary"),
        (#"{"format": 1}"#, "reading is missing"),
        ("", "the synthesis vocabulary"),
    ])
    func aBrokenFileStopsTheStartUpNamingIt(_ contents: String, _ message: String) async throws {
        try await withTemporaryDirectory { directory in
            let file = URL(fileURLWithPath: directory.file("vocabulary.json"))
            try Data(contents.utf8).write(to: file)
            let error = #expect(throws: ConfigurationError.self) { _ = try SynthesisVocabulary.load(from: file) }
            #expect(error?.code == .brokenSynthesisVocabulary)
            #expect(error?.description.contains(message) == true, "\(error?.description ?? "")")
            #expect(error?.description.contains(file.path) == true)
        }
    }

    @Test func aMissingFileStopsTheStartUp() {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tapedeck-no-such-\(UUID().uuidString).json")
        let error = #expect(throws: ConfigurationError.self) { _ = try SynthesisVocabulary.load(from: file) }
        #expect(error?.code == .brokenSynthesisVocabulary)
        #expect(error?.description.contains("cannot be read") == true)
    }
}
