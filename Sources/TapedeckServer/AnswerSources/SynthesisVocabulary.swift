import Foundation
import Synthesis

/// The vocabulary synthetic answers are written from, loaded once at start-up from the package resources
/// (`Resources/Synthesis/vocabulary.json`, copied into the `tapedeck_TapedeckServer.resources` bundle beside the
/// executable, like the inspector's templates).
///
/// A missing or broken file stops `tapedeck serve` at start-up with a ``ConfigurationError`` that says what is
/// wrong and where, never an odd answer later.
enum SynthesisVocabulary {
    /// Where the package's resource bundle has the file, if it has it.
    static var bundledFile: URL? { Bundle.module.url(forResource: "vocabulary", withExtension: "json", subdirectory: "Synthesis") }

    static func loadBundled() throws(ConfigurationError) -> Vocabulary {
        guard let file = bundledFile else {
            throw ConfigurationError(
                .brokenSynthesisVocabulary,
                "the synthesis vocabulary is missing: no Synthesis/vocabulary.json in \(Bundle.module.bundlePath)")
        }
        return try load(from: file)
    }

    static func load(from file: URL) throws(ConfigurationError) -> Vocabulary {
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw ConfigurationError(.brokenSynthesisVocabulary, "the synthesis vocabulary \(file.path) cannot be read")
        }
        do {
            return try Vocabulary.parse(data)
        } catch {
            throw ConfigurationError(.brokenSynthesisVocabulary, "the synthesis vocabulary \(file.path): \(error.description)")
        }
    }
}
