/// The vocabulary file as written (`vocabulary.json` in the server's resources): what ``Vocabulary`` is
/// compiled from. Keys the file has beyond these (its `about` note) are ignored.
struct VocabularyFile: Decodable {
    var format: Int
    var reading: Reading
    var shapes: Shapes
    var defaultLanguage: String
    var languages: [Language]
    var paragraph: Paragraph
    var list: List
    var code: Code
    var table: Table
    var thinking: Thinking
    var toolPreface: String

    /// How a question is read: the words that frame a request, and the words that say what it is about.
    struct Reading: Decodable {
        var maxScannedWords: Int
        var maxTopicWords: Int
        var courtesy: [String]
        var prefixes: [Prefix]
        var fillers: [String]
        var requestNouns: [String]
        var connectors: [String: String]
        var trailers: [String]
        var languageLinks: [String]
        var topicCuts: [String]
        var compareSeparators: [String]
        var compareStops: [String]
        var pronouns: [String: String]
        var whyWords: [String]
        var yesNoWords: [String]
        var numbers: [String: Int]
        var itemNouns: [String]
        var defaultItems: String
        var identifierStopwords: [String]
        var defaultName: [String]
        var nameSuffix: String
        var abbreviations: [String]
    }

    struct Prefix: Decodable {
        var words: String
        var kind: String
        var dropLast: [String]?
        /// A verb that asks for something ("write", "give me"): the words naming what is asked for ("a short
        /// Python function", "five tips") are left out of the topic even when no "to" or "that" follows.
        var request: Bool?
    }

    /// The phrases that ask for each shape of answer.
    struct Shapes: Decodable {
        var table: [String]
        var compare: [String]
        var code: [String]
        var steps: [String]
        var points: [String]
    }

    struct Language: Decodable {
        var id: String
        var name: String
        var fence: String
        var aliases: [String]
        var contextOnly: [String]?
        var noun: String
        var style: String
        var snippets: [[String]]
        var outros: [String]?
    }

    struct Paragraph: Decodable {
        var openers: [String: [String]]
        var topical: [String: [String]]
        var body: [String]
        var closers: [String]
    }

    struct List: Decodable {
        var stepIntros: [String: [String]]
        var pointIntros: [String: [String]]
        var first: [String]
        var middle: [String]
        var last: [String]
        var points: [String]
        var closers: [String]
    }

    struct Code: Decodable {
        var intros: [String: [String]]
        var summaries: [String: [String]]
        var outros: [String]
    }

    struct Table: Decodable {
        var intros: [String: [String]]
        var compareIntros: [String]
        var columns: [String]
        var rows: [[String]]
        var aspectColumn: String
        /// How the things a table compares are listed in a sentence ("A, B and C").
        var joinWith: String
        var joinLastWith: String
        var aspects: [Aspect]
        var closers: [String]
    }

    struct Aspect: Decodable {
        var name: String
        var values: [String]
    }

    struct Thinking: Decodable {
        var openers: [String: [String]]
        var body: [String]
    }
}
