#if canImport(FoundationEssentials)
import FoundationEssentials  // JSONDecoder without the rest of Foundation
#else
import Foundation
#endif

/// The words and templates synthetic answers are written from, read from data (the server ships it as
/// `vocabulary.json` in its resources) and checked once, so a broken file stops the server at start-up, and
/// answering a request only looks things up.
///
/// Synthesis does no I/O: the server reads the file and hands its bytes to ``parse(_:)``.
public final class Vocabulary: Sendable {
    let reading: ReadingRules
    let shapes: ShapeRules
    let languages: [Language]
    let languageAliases: PhraseTable<LanguageAlias>
    let defaultLanguage: Int
    let paragraph: ParagraphPools
    let list: ListPools
    let code: CodePools
    let table: TablePools
    let thinking: ThinkingPools
    let toolPreface: Template

    /// The vocabulary in `bytes` (the JSON of `vocabulary.json`), or what is wrong with it.
    public static func parse(_ bytes: some Collection<UInt8>) throws(VocabularyError) -> Vocabulary {
        let file: VocabularyFile
        do {
            file = try JSONDecoder().decode(VocabularyFile.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw VocabularyError(describing: error)
        } catch {
            throw VocabularyError("\(error)")
        }
        return try Vocabulary(file)
    }

    init(_ file: VocabularyFile) throws(VocabularyError) {
        guard file.format == 1 else { throw VocabularyError("format \(file.format) is not 1, the only format this version reads") }
        reading = try ReadingRules(file.reading)
        shapes = ShapeRules(file.shapes)
        var languages: [Language] = []
        var aliases: [(String, LanguageAlias)] = []
        var seen: Set<String> = []
        for entry in file.languages {
            let language = try Language(entry)
            for alias in entry.aliases.map({ $0.lowercased() }) {
                guard seen.insert(alias).inserted else { throw VocabularyError("languages: the alias \"\(alias)\" is listed twice") }
                let contextOnly = entry.contextOnly?.contains { $0.lowercased() == alias } ?? false
                aliases.append((alias, LanguageAlias(index: languages.count, contextOnly: contextOnly)))
            }
            languages.append(language)
        }
        guard let defaultLanguage = languages.firstIndex(where: { $0.id == file.defaultLanguage }) else {
            throw VocabularyError("defaultLanguage \"\(file.defaultLanguage)\" is not among the languages")
        }
        self.languages = languages
        self.languageAliases = PhraseTable(aliases)
        self.defaultLanguage = defaultLanguage
        paragraph = try ParagraphPools(file.paragraph)
        list = try ListPools(file.list)
        code = try CodePools(file.code)
        table = try TablePools(file.table)
        thinking = try ThinkingPools(file.thinking)
        toolPreface = try Template(file.toolPreface, area: "toolPreface", slots: [.tool])
        try checkNoSentenceRepeats()
    }

    /// Every sentence of prose appears once in the file: an answer draws from several pools, and a sentence in two
    /// of them could be written twice in one answer.
    private func checkNoSentenceRepeats() throws(VocabularyError) {
        var pools: [[Template]] = [
            paragraph.body, paragraph.closers, list.first, list.middle, list.last, list.points, list.closers,
            code.outros, table.compareIntros, table.closers, thinking.body,
        ]
        for kinds in [paragraph.openers, paragraph.topical, list.stepIntros, list.pointIntros, code.intros, table.intros, thinking.openers]
        {
            pools.append(contentsOf: kinds.pools.sorted { $0.key.rawValue < $1.key.rawValue }.map(\.value))
        }
        var seen: Set<String> = []
        for template in pools.joined() where !seen.insert(template.source).inserted {
            throw VocabularyError("the sentence \"\(template.source)\" appears twice")
        }
    }
}

/// What is wrong with a vocabulary file, said so that a person can fix it.
public struct VocabularyError: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(_ description: String) { self.description = description }

    init(describing error: DecodingError) {
        func path(_ keys: [any CodingKey]) -> String {
            var path = ""
            for key in keys {
                if let index = key.intValue {
                    path += "[\(index)]"
                } else {
                    path += (path.isEmpty ? "" : ".") + key.stringValue
                }
            }
            return path.isEmpty ? "the file" : path
        }
        switch error {
        case .keyNotFound(let key, let context): self.init("\(path(context.codingPath + [key])) is missing")
        case .typeMismatch(let type, let context): self.init("\(path(context.codingPath)) is not \(Self.name(of: type))")
        case .valueNotFound(let type, let context): self.init("\(path(context.codingPath)) is null, not \(Self.name(of: type))")
        case .dataCorrupted(let context): self.init("\(path(context.codingPath)): \(context.debugDescription)")
        @unknown default: self.init("\(error)")
        }
    }

    static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is [String].Type, is [[String]].Type: "an array"
        default: "of the expected type (\(type))"
        }
    }
}

/// What kind of phrase a question's topic is, which decides the templates that can carry it: "reset your
/// password" (`action`) goes after "how to", "reverses a string" (`clause`) after "that", "the planets"
/// (`subject`) after "about". `why` and `yesno` are question forms that pick a paragraph's opening; `general`
/// (`none` in the file) templates carry no topic and stand in for any kind a pool does not list.
enum TopicKind: String, Sendable, CaseIterable {
    case action, clause, subject, why, yesno
    case general = "none"
}

/// Templates by topic kind; a kind without its own falls back to the general ones.
struct KindPools: Sendable {
    let pools: [TopicKind: [Template]]

    /// - Parameters:
    ///   - kinds: The kinds the pool may list besides `none`.
    ///   - generalMayBeEmpty: Whether `none` may be empty (no sentence of this sort without a topic).
    init(
        _ entries: [String: [String]], area: String, kinds: Set<TopicKind>, slots: Set<Slot>, generalMayBeEmpty: Bool = false
    ) throws(VocabularyError) {
        var pools: [TopicKind: [Template]] = [:]
        for (name, texts) in entries {
            guard let kind = TopicKind(rawValue: name), kind == .general || kinds.contains(kind) else {
                throw VocabularyError("\(area): \"\(name)\" is not one of \(kinds.map(\.rawValue).sorted() + ["none"])")
            }
            let allowed = kind == .general ? slots.subtracting([.topic, .capitalizedTopic]) : slots
            pools[kind] = try Template.pool(
                texts, area: "\(area).\(name)", slots: allowed, mayBeEmpty: kind == .general && generalMayBeEmpty)
        }
        guard pools[.general] != nil else { throw VocabularyError("\(area).none is missing") }
        self.pools = pools
    }

    func templates(for kind: TopicKind) -> [Template] { pools[kind] ?? pools[.general] ?? [] }
}

extension Template {
    init(_ source: String, area: String, slots: Set<Slot>) throws(VocabularyError) {
        do {
            try self.init(source)
        } catch {
            throw VocabularyError("\(area): \(error.description)")
        }
        if let stray = self.slots.subtracting(slots).first {
            throw VocabularyError("\(area): \"\(source)\" uses {{\(stray.rawValue)}}, which is not filled here")
        }
    }

    static func pool(_ texts: [String], area: String, slots: Set<Slot> = [], mayBeEmpty: Bool = false) throws(VocabularyError)
        -> [Template]
    {
        guard mayBeEmpty || !texts.isEmpty else { throw VocabularyError("\(area) is empty") }
        var pool: [Template] = []
        for text in texts {
            guard !text.isEmpty else { throw VocabularyError("\(area) has an empty entry") }
            pool.append(try Template(text, area: area, slots: slots))
        }
        return pool
    }
}

extension Vocabulary {
    struct Prefix: Sendable {
        let kind: TopicKind
        let dropLast: Set<String>
        let request: Bool
    }

    struct LanguageAlias: Sendable {
        let index: Int
        /// An alias that is also a common word ("go", "c"): it names the language only after "in" or "using",
        /// or before a word that asks for code.
        let contextOnly: Bool
    }

    /// The words that frame a request and say what it is about (see ``QuestionReading``).
    struct ReadingRules: Sendable {
        let maxScannedWords: Int
        let maxTopicWords: Int
        let courtesy: PhraseTable<String>
        let prefixes: PhraseTable<Prefix>
        let fillers: PhraseTable<String>
        let requestNouns: Set<String>
        let connectors: [String: TopicKind]
        let trailers: PhraseTable<String>
        let languageLinks: Set<String>
        let topicCuts: Set<String>
        let compareSeparators: Set<String>
        let compareStops: Set<String>
        let pronouns: [String: String]
        let whyWords: Set<String>
        let yesNoWords: Set<String>
        let numbers: [String: Int]
        let numberWords: [Int: String]
        let itemNouns: Set<String>
        let defaultItems: String
        let identifierStopwords: Set<String>
        let defaultName: [String]
        let nameSuffix: String
        let abbreviations: Set<String>

        init(_ file: VocabularyFile.Reading) throws(VocabularyError) {
            guard (1...10_000).contains(file.maxScannedWords) else { throw VocabularyError("reading.maxScannedWords must be 1 to 10000") }
            guard (3...50).contains(file.maxTopicWords) else { throw VocabularyError("reading.maxTopicWords must be 3 to 50") }
            maxScannedWords = file.maxScannedWords
            maxTopicWords = file.maxTopicWords
            courtesy = PhraseTable(file.courtesy)
            var prefixes: [(String, Prefix)] = []
            for prefix in file.prefixes {
                guard let kind = TopicKind(rawValue: prefix.kind), [.action, .clause, .subject, .general].contains(kind) else {
                    throw VocabularyError(
                        "reading.prefixes: \"\(prefix.words)\" has the kind \"\(prefix.kind)\"; use action, clause, subject or none")
                }
                prefixes.append(
                    (prefix.words, Prefix(kind: kind, dropLast: Self.lowered(prefix.dropLast ?? []), request: prefix.request ?? false)))
            }
            self.prefixes = PhraseTable(prefixes)
            fillers = PhraseTable(file.fillers)
            requestNouns = Self.lowered(file.requestNouns)
            var connectors: [String: TopicKind] = [:]
            for (word, name) in file.connectors {
                guard let kind = TopicKind(rawValue: name), [.action, .clause, .subject].contains(kind) else {
                    throw VocabularyError("reading.connectors: \"\(word)\" has the kind \"\(name)\"; use action, clause or subject")
                }
                connectors[word.lowercased()] = kind
            }
            self.connectors = connectors
            trailers = PhraseTable(file.trailers)
            languageLinks = Self.lowered(file.languageLinks)
            topicCuts = Self.lowered(file.topicCuts)
            compareSeparators = Self.lowered(file.compareSeparators)
            compareStops = Self.lowered(file.compareStops)
            pronouns = Dictionary(file.pronouns.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
            whyWords = Self.lowered(file.whyWords)
            yesNoWords = Self.lowered(file.yesNoWords)
            var numberWords: [Int: String] = [:]
            for (word, value) in file.numbers {
                guard (2...10).contains(value), numberWords[value] == nil else {
                    throw VocabularyError("reading.numbers: each of 2 to 10 may have one word (\"\(word)\": \(value))")
                }
                numberWords[value] = word.lowercased()
            }
            numbers = Dictionary(uniqueKeysWithValues: numberWords.map { ($0.value, $0.key) })
            self.numberWords = numberWords
            itemNouns = Self.lowered(file.itemNouns)
            guard !file.defaultItems.isEmpty else { throw VocabularyError("reading.defaultItems is empty") }
            defaultItems = file.defaultItems
            identifierStopwords = Self.lowered(file.identifierStopwords)
            defaultName = file.defaultName.map { $0.lowercased() }
            guard !defaultName.isEmpty, defaultName.allSatisfy(Self.isIdentifierWord) else {
                throw VocabularyError("reading.defaultName must be words of ASCII letters and digits")
            }
            guard Self.isIdentifierWord(file.nameSuffix.lowercased()) else {
                throw VocabularyError("reading.nameSuffix must be a word of ASCII letters and digits")
            }
            nameSuffix = file.nameSuffix.lowercased()
            abbreviations = Self.lowered(file.abbreviations)
        }

        static func lowered(_ words: [String]) -> Set<String> { Set(words.map { $0.lowercased() }) }

        static func isIdentifierWord(_ word: String) -> Bool {
            !word.isEmpty && word.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }
        }
    }

    /// The phrases that ask for each shape of answer.
    struct ShapeRules: Sendable {
        let table: PhraseTable<String>
        let compare: PhraseTable<String>
        let code: PhraseTable<String>
        let steps: PhraseTable<String>
        let points: PhraseTable<String>

        init(_ file: VocabularyFile.Shapes) {
            table = PhraseTable(file.table)
            compare = PhraseTable(file.compare)
            code = PhraseTable(file.code)
            steps = PhraseTable(file.steps)
            points = PhraseTable(file.points)
        }
    }

    enum NameStyle: String, Sendable {
        case snake, camel, pascal
    }

    struct Language: Sendable {
        let id: String
        let name: String
        let fence: String
        let noun: String
        let style: NameStyle
        /// Each snippet's lines.
        let snippets: [[Template]]
        /// What follows this language's code, when it differs from the shared outros.
        let outros: [Template]?

        init(_ file: VocabularyFile.Language) throws(VocabularyError) {
            let area = "languages.\(file.id)"
            guard !file.id.isEmpty, !file.name.isEmpty, !file.noun.isEmpty else {
                throw VocabularyError("\(area): id, name and noun must be set")
            }
            guard !file.fence.isEmpty, file.fence.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || ("0"..."9").contains($0) })
            else {
                throw VocabularyError("\(area).fence must be letters and digits")
            }
            guard !file.aliases.isEmpty else { throw VocabularyError("\(area).aliases is empty") }
            guard let style = NameStyle(rawValue: file.style) else { throw VocabularyError("\(area).style must be snake, camel or pascal") }
            guard !file.snippets.isEmpty else { throw VocabularyError("\(area).snippets is empty") }
            var snippets: [[Template]] = []
            for lines in file.snippets {
                guard !lines.isEmpty else { throw VocabularyError("\(area).snippets has an empty snippet") }
                var snippet: [Template] = []
                for line in lines {
                    guard !line.contains("```") else { throw VocabularyError("\(area).snippets: a line would close the code fence") }
                    snippet.append(try Template(line, area: "\(area).snippets", slots: [.name, .pascalName, .summary]))
                }
                snippets.append(snippet)
            }
            id = file.id
            name = file.name
            fence = file.fence
            noun = file.noun
            self.style = style
            self.snippets = snippets
            outros = try file.outros.map { texts throws(VocabularyError) in
                try Template.pool(texts, area: "\(area).outros", slots: [.name, .noun, .language])
            }
        }
    }

    struct ParagraphPools: Sendable {
        let openers: KindPools
        let topical: KindPools
        let body: [Template]
        let closers: [Template]

        init(_ file: VocabularyFile.Paragraph) throws(VocabularyError) {
            openers = try KindPools(
                file.openers, area: "paragraph.openers", kinds: [.action, .clause, .subject, .why, .yesno], slots: [.topic])
            topical = try KindPools(
                file.topical, area: "paragraph.topical", kinds: [.action, .clause, .subject], slots: [.topic], generalMayBeEmpty: true)
            body = try Template.pool(file.body, area: "paragraph.body")
            closers = try Template.pool(file.closers, area: "paragraph.closers")
        }
    }

    struct ListPools: Sendable {
        let stepIntros: KindPools
        let pointIntros: KindPools
        let first: [Template]
        let middle: [Template]
        let last: [Template]
        let points: [Template]
        let closers: [Template]

        init(_ file: VocabularyFile.List) throws(VocabularyError) {
            stepIntros = try KindPools(file.stepIntros, area: "list.stepIntros", kinds: [.action, .clause, .subject], slots: [.topic])
            pointIntros = try KindPools(
                file.pointIntros, area: "list.pointIntros", kinds: [.action, .clause, .subject], slots: [.topic, .count, .items])
            first = try Template.pool(file.first, area: "list.first")
            middle = try Template.pool(file.middle, area: "list.middle")
            last = try Template.pool(file.last, area: "list.last")
            guard file.points.count >= 2 else { throw VocabularyError("list.points needs at least two entries") }
            points = try Template.pool(file.points, area: "list.points")
            closers = try Template.pool(file.closers, area: "list.closers")
        }
    }

    struct CodePools: Sendable {
        let intros: KindPools
        let summaries: KindPools
        let outros: [Template]

        init(_ file: VocabularyFile.Code) throws(VocabularyError) {
            intros = try KindPools(
                file.intros, area: "code.intros", kinds: [.action, .clause, .subject], slots: [.topic, .language, .noun, .name])
            summaries = try KindPools(
                file.summaries, area: "code.summaries", kinds: [.action, .clause, .subject], slots: [.topic, .capitalizedTopic])
            outros = try Template.pool(file.outros, area: "code.outros", slots: [.name, .noun, .language])
        }
    }

    struct TablePools: Sendable {
        struct Aspect: Sendable {
            let name: String
            let values: [String]
        }

        let intros: KindPools
        let compareIntros: [Template]
        let columns: [String]
        let rows: [[String]]
        let aspectColumn: String
        let joinWith: String
        let joinLastWith: String
        let aspects: [Aspect]
        let closers: [Template]

        /// Most things a comparison table has columns for.
        static let maxSubjects = 3

        init(_ file: VocabularyFile.Table) throws(VocabularyError) {
            intros = try KindPools(file.intros, area: "table.intros", kinds: [.action, .clause, .subject], slots: [.topic])
            compareIntros = try Template.pool(file.compareIntros, area: "table.compareIntros", slots: [.subjects])
            guard file.columns.count >= 2 else { throw VocabularyError("table.columns needs at least two columns") }
            guard file.rows.count >= 2 else { throw VocabularyError("table.rows needs at least two rows") }
            guard file.aspects.count >= 2 else { throw VocabularyError("table.aspects needs at least two aspects") }
            let cells = file.columns + file.rows.joined() + [file.aspectColumn] + file.aspects.flatMap { [$0.name] + $0.values }
            if let bad = cells.first(where: { $0.isEmpty || $0.contains("|") || $0.contains("\n") }) {
                throw VocabularyError("table: the cell \"\(bad)\" is empty or has a | or a line break")
            }
            if let row = file.rows.first(where: { $0.count != file.columns.count }) {
                throw VocabularyError("table.rows: \(row) does not have \(file.columns.count) cells")
            }
            if let aspect = file.aspects.first(where: { Set($0.values).count < Self.maxSubjects }) {
                throw VocabularyError("table.aspects: \"\(aspect.name)\" needs \(Self.maxSubjects) different values")
            }
            columns = file.columns
            rows = file.rows
            aspectColumn = file.aspectColumn
            joinWith = file.joinWith
            joinLastWith = file.joinLastWith
            aspects = file.aspects.map { Aspect(name: $0.name, values: $0.values) }
            closers = try Template.pool(file.closers, area: "table.closers")
        }
    }

    struct ThinkingPools: Sendable {
        let openers: KindPools
        let body: [Template]

        init(_ file: VocabularyFile.Thinking) throws(VocabularyError) {
            openers = try KindPools(file.openers, area: "thinking.openers", kinds: [.action, .clause, .subject], slots: [.topic])
            body = try Template.pool(file.body, area: "thinking.body")
        }
    }
}
