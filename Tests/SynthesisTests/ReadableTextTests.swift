import Foundation
import MessagesAPI
import Testing

@testable import Synthesis

/// Synthetic text answers the shape of the question and reads as English, for many more questions than the
/// checked-in sample.
@Suite("Readable synthetic text")
struct ReadableTextTests {
    static let questions: [String] = {
        let frames = [
            "What is %@?", "Explain %@.", "Tell me about %@", "How do I %@?", "Give me 4 tips for %@.",
            "List some ideas for %@", "Write a Python function that %@.", "Write a JavaScript function to %@.",
            "Make a table of %@.", "Compare %@ in a table.", "Why does %@ matter?", "Can I %@ on a Sunday?",
            "%@", "Please, could you explain %@ step by step?", "How can we %@ without breaking anything?",
            "Write a Go program to %@", "Show me how to %@ in Ruby.", "Summarize %@ in one paragraph.",
        ]
        let topics = [
            "closures", "my garden", "the French Revolution", "sort a list", "parse dates", "TCP and UDP",
            "reverses a string", "cats vs dogs", "set up a home network with two routers and a switch for my office",
            "crème brûlée", "東京の地下鉄", "C++ templates", "node.js streams", "I", "", "e.g. this, that & the other",
            "**bold** `code` <b>tags</b> | pipes",
        ]
        return frames.flatMap { frame in topics.map { frame.replacing("%@", with: $0) } }.filter { !$0.isEmpty }
    }()

    @Test func everyAnswerReadsAsEnglishAndNoSentenceRepeats() throws {
        for question in Self.questions {
            let body = JSONWriter.string(
                ["model": "claude-sonnet-4-5", "max_tokens": 4096, "messages": [["role": "user", "content": .string(question)]]])
            let (message, _) = try synthesize(body)
            let answer = text(message)
            let check = AnswerShapeCheck(answer)
            #expect(check.problems.isEmpty, "\(question) → \(answer)\n\(check.problems)")
            #expect(check.sentences.count >= 1, "\(question)")
            #expect(message["usage"]?["output_tokens"]?.intValue == TokenEstimator.count(answer), "\(question)")
        }
    }

    static func reading(_ question: String, system: String = "") throws -> QuestionReading {
        QuestionReading(question: question, system: system, vocabulary: try ShippedVocabulary.get())
    }

    @Test(arguments: [
        ("What is a monad?", QuestionReading.Shape.paragraph),
        ("How do I reset my router?", .steps),
        ("Walk me through setting up SSH keys", .steps),
        ("Give me 5 tips for better sleep.", .points),
        ("What are three things to pack for a hike?", .points),
        ("Write a Python function that reverses a string.", .code),
        ("How do I read a file in Python?", .code),
        ("Write a bash script to back up my home directory.", .code),
        ("Make a table of the planets", .table),
        ("What is the difference between TCP and UDP?", .compare),
        ("Compare Python and Go in a table.", .compare),
        ("List 5 Python libraries for data science", .points),
        ("What is Python?", .paragraph),
        ("Let's go for a walk", .paragraph),
    ])
    func theShapeFollowsTheQuestion(_ question: String, shape: QuestionReading.Shape) throws {
        #expect(try Self.reading(question).shape == shape)
    }

    @Test(arguments: [
        ("How do I reset my router?", TopicKind.action, "reset your router"),
        ("Write a Python function that reverses a string.", .clause, "reverses a string"),
        ("Can you write a bash script to back up my files?", .action, "back up your files"),
        ("Give me 5 tips for better sleep.", .subject, "better sleep"),
        ("Make a table of the planets.", .subject, "the planets"),
        ("What are the benefits of unit testing?", .subject, "unit testing"),
        ("What is a function?", .subject, "a function"),
        ("How does a hash map work?", .subject, "a hash map"),
        ("Hi! How do I make a sourdough starter step by step?", .action, "make a sourdough starter"),
        ("How do I read a file line by line in Rust?", .action, "read a file line by line"),
        ("Why is the sky blue?", .general, ""),
        ("Tell me a joke", .general, ""),
    ])
    func theTopicIsWhatTheQuestionIsAbout(_ question: String, kind: TopicKind, topic: String) throws {
        let reading = try Self.reading(question)
        #expect(reading.kind == kind)
        #expect(reading.topic == topic)
    }

    @Test func codeComesInTheLanguageAskedForOrTheSystemPromptsOrPython() throws {
        let vocabulary = try ShippedVocabulary.get()
        func fence(_ question: String, system: String = "") throws -> String {
            vocabulary.languages[try Self.reading(question, system: system).language].fence
        }
        #expect(try fence("Write a Swift function that adds two numbers") == "swift")
        #expect(try fence("Write a function in C++ to sort a vector") == "cpp")
        #expect(try fence("Write a C# method that trims strings") == "csharp")
        #expect(try fence("Write a program in Go that prints hello") == "go")
        #expect(try fence("Write a function to go through a list") == "python", "go the verb is not Go")
        #expect(try fence("Implement binary search.", system: "You write idiomatic Kotlin code.") == "kotlin")
        #expect(try fence("Implement binary search.") == "python")

        let (message, _) = try synthesize(request(prompt: "Write a Ruby method that counts words."))
        let answer = text(message)
        #expect(answer.contains("```ruby\n# Counts words.\ndef count_words(items)"), "\(answer)")
        #expect(answer.hasSuffix("\n```") || answer.contains("\n```\n\n"))
    }

    @Test func aListHasAsManyItemsAsAskedFor() throws {
        for (question, count) in [("Give me 7 tips for writing", 7), ("List two ideas for dinner", 2), ("Ten reasons to learn Rust", 10)] {
            let check = AnswerShapeCheck(text(try synthesize(request(prompt: question)).message))
            #expect(check.listItems == count, "\(question)")
        }
    }

    @Test func aComparisonTableHasAColumnForEachThingCompared() throws {
        let answer = text(try synthesize(request(prompt: "What is the difference between Vim, Emacs and Nano?")).message)
        #expect(answer.contains("| Aspect | Vim | Emacs | Nano |"), "\(answer)")
        #expect(answer.contains("\n| --- | --- | --- | --- |\n"))
    }

    @Test func theTopicSaysBackOnlyWordsNotMarkup() throws {
        let answer = text(try synthesize(request(prompt: "Tell me about **bold** words, `ticks` and <b>tags</b>")).message)
        for mark in ["*", "`", "<", ">"] { #expect(!answer.contains(mark), "\(answer)") }
        #expect(answer.contains("bold words ticks and b tags b"), "\(answer)")
    }

    @Test func thinkingNamesTheTopicAndReadsAsEnglish() throws {
        let message = try synthesize(
            request(#","thinking":{"type":"enabled","budget_tokens":4000}"#, prompt: "How do I tune a guitar?", maxTokens: 8000)
        ).message
        let thinking = try #require(blocks(message).first?["thinking"]?.stringValue)
        #expect(thinking.hasPrefix("The user wants to tune a guitar.") || thinking.hasPrefix("The goal here is to tune a guitar."))
        #expect(AnswerShapeCheck(thinking).problems.isEmpty, "\(thinking)")
    }

    @Test func whitespaceRunsGoWithTheNextTokenSoPiecesCountTokens() {
        for text in ["a\n\nb", "```python\ndef f(x):\n    return x\n```", "x \t\n  y", "\n\n", "1.  two"] {
            #expect(
                TextComposer.pieces(of: text).count == TokenEstimator.count(text) + (text.last?.isWhitespace == true ? 1 : 0), "\(text)")
            #expect(TextComposer.asciiPieces(of: text) == TextComposer.characterPieces(of: text))
        }
        #expect(TextComposer.pieces(of: "a\n\n    b") == ["a", "\n\n    b"])
    }
}

@Suite("The vocabulary file")
struct VocabularyFileTests {
    static func shipped() throws -> JSONValue { try JSONParser.parse(try Data(contentsOf: ShippedVocabulary.file)) }

    static func parse(_ value: JSONValue) throws(VocabularyError) -> Vocabulary { try Vocabulary.parse(JSONWriter.bytes(value)) }

    /// The shipped file with the value at `path` (object keys and array indices) replaced, or removed when `nil`.
    static func edited(_ path: [String], _ value: JSONValue?) throws -> JSONValue {
        func edit(_ node: JSONValue, _ path: ArraySlice<String>) -> JSONValue? {
            guard let key = path.first else { return value }
            switch node {
            case .object(var object):
                let child = edit(object[key] ?? .null, path.dropFirst())
                object[key] = child
                return .object(object)
            case .array(var items):
                guard let index = Int(key), items.indices.contains(index) else { return node }
                if let child = edit(items[index], path.dropFirst()) { items[index] = child } else { items.remove(at: index) }
                return .array(items)
            default:
                return node
            }
        }
        return edit(try shipped(), path[...]) ?? .null
    }

    @Test func theShippedFileLoads() throws {
        let vocabulary = try Self.parse(try Self.shipped())
        #expect(vocabulary.languages.count >= 10)
        #expect(vocabulary.languages[vocabulary.defaultLanguage].id == "python")
    }

    @Test(
        arguments: [
            (["paragraph", "body"], JSONValue.array([]), "paragraph.body is empty"),
            (["paragraph", "openers", "none"], nil, "paragraph.openers.none is missing"),
            (["paragraph", "openers", "none", "0"], "Hello {{topic}}.", "uses {{topic}}, which is not filled here"),
            (["list", "first", "0"], "Start {{nonsense}} now.", "an unknown slot {{nonsense}}"),
            (["list", "first", "0"], "Start {{now.", "an unclosed {{"),
            (["list", "closers", "0"], "Make one change at a time and check the result before moving on.", "appears twice"),
            (["code", "intros", "someday"], ["x"], "\"someday\" is not one of"),
            (["defaultLanguage"], "cobol", "defaultLanguage \"cobol\" is not among the languages"),
            (["languages", "0", "snippets", "0", "0"], "```", "would close the code fence"),
            (["table", "rows", "0", "1"], "a | b", "has a | or a line break"),
            (["table", "columns"], nil, "table.columns is missing"),
            (["reading", "maxTopicWords"], "nine", "reading.maxTopicWords is not an integer"),
            (["format"], 2, "format 2 is not 1"),
        ] as [([String], JSONValue?, String)])
    func aBrokenFileSaysWhatIsWrong(_ path: [String], _ value: JSONValue?, _ message: String) throws {
        let broken = try Self.edited(path, value)
        let error = #expect(throws: VocabularyError.self) { _ = try Self.parse(broken) }
        #expect(error?.description.contains(message) == true, "\(error?.description ?? "")")
    }

    @Test func notJSONIsAnError() {
        let error = #expect(throws: VocabularyError.self) { _ = try Vocabulary.parse(Array("{\"format\": 1,".utf8)) }
        #expect(error?.description.isEmpty == false)
    }
}
