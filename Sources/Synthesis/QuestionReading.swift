/// What a question asks for, read from its words with the vocabulary's phrases: the shape of the answer, what it
/// is about (as a phrase the templates can carry), and, for code, the language.
///
/// Only the first `maxScannedWords` words are read, so a pasted document costs no more than a short question.
struct QuestionReading: Sendable {
    enum Shape: Sendable, Equatable {
        case paragraph, steps, points, code, table, compare
    }

    var shape = Shape.paragraph
    /// `why` or `yesno` for those questions; otherwise the topic's kind.
    var form = TopicKind.general
    var kind = TopicKind.general
    /// The topic as the person wrote it, pronouns turned around ("my" → "your"); empty for `general`.
    var topic = ""
    /// The topic's words in lower case, for code identifiers.
    var topicWords: [String] = []
    /// How many items the question asks for ("five tips", "3 steps"), if it says.
    var count: Int?
    /// What the items are ("tips", "ways").
    var items = ""
    /// The vocabulary's index of the language code is written in.
    var language = 0
    /// What a comparison compares ("TCP", "UDP").
    var subjects: [String] = []

    /// A word of the question: as written (without surrounding punctuation) and in lower case.
    struct Word {
        var text: String
        var lower: String
        /// The word ends a sentence; `asks`: with a question mark.
        var endsSentence = false
        var asks = false
        /// A comma follows the word: lists of things compared are separated so ("Vim, Emacs and Nano").
        var comma = false
    }

    init(question: String, system: String, vocabulary: Vocabulary) {
        let rules = vocabulary.reading
        let words = Self.words(of: question, limit: rules.maxScannedWords, abbreviations: rules.abbreviations)
        let lowers = words.map(\.lower)
        language = vocabulary.defaultLanguage
        items = rules.defaultItems

        let sentence = Self.topicSentence(words, courtesy: rules.courtesy)
        let sentenceLowers = sentence.map(\.lower)
        readTopic(sentence, lowers: sentenceLowers, rules: rules, vocabulary: vocabulary)
        count = Self.number(in: sentenceLowers, rules: rules) ?? Self.number(in: lowers, rules: rules)
        if let noun = sentenceLowers.first(where: { rules.itemNouns.contains($0) }) { items = noun }

        let shapes = vocabulary.shapes
        if shapes.compare.occurs(in: lowers), subjects.count >= 2 {
            shape = .compare
        } else if shapes.table.occurs(in: lowers) {
            shape = .table
        } else if let index = Self.codeLanguage(lowers, system: system, vocabulary: vocabulary) {
            shape = .code
            language = index
        } else if shapes.steps.occurs(in: lowers) {
            shape = .steps
        } else if shapes.points.occurs(in: lowers) || Self.countsItems(lowers, rules: rules) {
            shape = .points
        }
        if shape != .compare { subjects = [] }
    }

    // MARK: Words and sentences

    /// The words of `text`, at most `limit`: letters, digits and the marks inside words (`node.js`, `c++`, `c#`,
    /// `don't`, `step-by-step`); other punctuation separates words, and `.`, `?`, `!` or a line break ends a
    /// sentence (not the dot of an abbreviation such as "vs.").
    static func words(of text: String, limit: Int, abbreviations: Set<String>) -> [Word] {
        var words: [Word] = []
        var current = String.UnicodeScalarView()
        func finishWord() {
            defer { current = String.UnicodeScalarView() }
            guard let first = current.firstIndex(where: isLetterOrDigit) else {
                if current.contains(".") { endSentence(asks: false) }
                return
            }
            // Marks that end a word belong to the sentence ("tapes." "don't-"); `+` and `#` stay (`c++`, `c#`).
            var end = current.endIndex
            var dotted = false
            while end > first {
                let before = current.index(before: end)
                let scalar = current[before]
                guard ".'-_".unicodeScalars.contains(scalar) else { break }
                if scalar == "." { dotted = true }
                end = before
            }
            let text = String(String.UnicodeScalarView(current[first..<end]))
            let lower = text.lowercased()
            words.append(Word(text: text, lower: lower))
            if dotted, !abbreviations.contains(lower) { endSentence(asks: false) }
        }
        func endSentence(asks: Bool) {
            guard let last = words.indices.last else { return }
            if !words[last].endsSentence { words[last].endsSentence = true }
            if asks { words[last].asks = true }
        }
        for scalar in text.unicodeScalars {
            guard words.count < limit else { break }
            switch scalar {
            case "?", "!":
                finishWord()
                endSentence(asks: scalar == "?")
            case "\n", "\r":
                finishWord()
                endSentence(asks: false)
            case "\u{2019}":
                current.append("'")
            case ",":
                finishWord()
                if let last = words.indices.last { words[last].comma = true }
            default:
                if isLetterOrDigit(scalar) || "'+#-_.".unicodeScalars.contains(scalar) {
                    current.append(scalar)
                } else {
                    finishWord()
                }
            }
        }
        if words.count < limit { finishWord() }
        return words
    }

    static func isLetterOrDigit(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let v = scalar.value
            return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A)
        }
        return scalar.properties.isAlphabetic || scalar.properties.numericType != nil
    }

    /// The sentence that says what is asked: the first question, or else the first sentence with more than
    /// greetings in it.
    static func topicSentence(_ words: [Word], courtesy: PhraseTable<String>) -> [Word] {
        var sentences: [ArraySlice<Word>] = []
        var start = 0
        for (index, word) in words.enumerated() where word.endsSentence {
            sentences.append(words[start...index])
            start = index + 1
        }
        if start < words.count { sentences.append(words[start...]) }
        if let question = sentences.first(where: { $0.last?.asks == true }) { return Array(question) }
        let substantial = sentences.first { sentence in
            let lowers = sentence.map(\.lower)
            var index = 0
            while let phrase = courtesy.match(lowers, at: index) { index += phrase.words.count }
            return index < lowers.count
        }
        return Array(substantial ?? sentences.first ?? [])
    }

    // MARK: The topic

    /// Reads what the sentence is about: courtesy, the framing of the request ("how do I", "write a Python
    /// function that") and trailing phrases ("in a table") are left out; what remains is the topic.
    mutating func readTopic(_ words: [Word], lowers: [String], rules: Vocabulary.ReadingRules, vocabulary: Vocabulary) {
        var start = 0
        var end = lowers.count
        while start < end, let phrase = rules.courtesy.match(lowers, at: start) { start += phrase.words.count }
        guard start < end else { return }
        if rules.whyWords.contains(lowers[start]) { form = .why }

        var kind = TopicKind.general
        var dropLast: Set<String> = []
        var request = true
        if let prefix = rules.prefixes.match(lowers, at: start) {
            kind = prefix.value.kind
            dropLast = prefix.value.dropLast
            request = prefix.value.request
            start += prefix.words.count
        } else if rules.yesNoWords.contains(lowers[start]) {
            if words.last?.asks == true { form = .yesno }
            return
        } else if form == .why {
            return
        }

        // What is asked for: "a short Python function", "five tips", "a table".
        let framed = start
        var named = false
        while start < end {
            let word = lowers[start]
            if named, rules.connectors[word] != nil {
                // "a table of the planets": after what is asked for, "of" starts the topic.
                break
            } else if let filler = rules.fillers.match(lowers, at: start) {
                start += filler.words.count
            } else if Self.number(word, rules: rules) != nil {
                start += 1
            } else if let alias = vocabulary.languageAliases.match(lowers, at: start) {
                start += alias.words.count
            } else if rules.requestNouns.contains(word) {
                start += 1
                named = true
            } else {
                break
            }
        }
        if start + 1 < end, rules.languageLinks.contains(lowers[start]),
            let alias = vocabulary.languageAliases.match(lowers, at: start + 1)
        {
            start += 1 + alias.words.count
        }
        if start < end, let connector = rules.connectors[lowers[start]], named || start > framed {
            kind = connector
            start += 1
        } else if !named || !request {
            // A question about the thing itself ("what is a function?") keeps its words.
            start = framed
            if kind == .general, !named { return }
        }

        while start < end {
            if let trailer = rules.trailers.suffix(of: lowers[start..<end]) {
                end -= trailer.words.count
            } else if let alias = vocabulary.languageAliases.suffix(of: lowers[start..<end]), end - alias.words.count - 1 >= start,
                rules.languageLinks.contains(lowers[end - alias.words.count - 1])
            {
                end -= alias.words.count + 1
            } else if dropLast.contains(lowers[end - 1]) {
                end -= 1
            } else {
                break
            }
        }
        if end - start > rules.maxTopicWords {
            // Too long to read well inside a sentence: cut before a preposition or conjunction, or drop it.
            let cut = (start + 2...start + rules.maxTopicWords).last { rules.topicCuts.contains(lowers[$0]) }
            guard let cut else { return }
            end = cut
        }
        guard start < end, kind != .general else { return }
        self.kind = kind
        if form == .general { form = kind }
        topic = Self.phrase(words[start..<end], rules: rules)
        topicWords = Array(lowers[start..<end])
        subjects = Self.subjects(words[start..<end], rules: rules)
    }

    /// Words as a phrase the answer can say back: "my" becomes "your", "I" becomes "you".
    static func phrase(_ words: ArraySlice<Word>, rules: Vocabulary.ReadingRules) -> String {
        var text = ""
        for word in words {
            if !text.isEmpty { text += " " }
            if let swapped = rules.pronouns[word.lower], word.text == word.lower || word.text.hasPrefix("I") {
                text += swapped
            } else {
                text += word.text
            }
        }
        return text
    }

    /// The things a topic compares: "TCP and UDP", "Python vs Go for web servers" give two.
    static func subjects(_ words: ArraySlice<Word>, rules: Vocabulary.ReadingRules) -> [String] {
        var groups: [ArraySlice<Word>] = []
        var start = words.startIndex
        for index in words.indices {
            if rules.compareSeparators.contains(words[index].lower) {
                groups.append(words[start..<index])
                start = index + 1
            } else if words[index].comma, index + 1 < words.endIndex, !rules.compareSeparators.contains(words[index + 1].lower) {
                groups.append(words[start...index])
                start = index + 1
            }
        }
        groups.append(words[start...])
        guard groups.count >= 2 else { return [] }
        var subjects: [String] = []
        for group in groups.prefix(Vocabulary.TablePools.maxSubjects) {
            let kept = group.prefix { !rules.compareStops.contains($0.lower) }.prefix(4)
            guard !kept.isEmpty else { return [] }
            subjects.append(phrase(kept, rules: rules))
        }
        return subjects
    }

    // MARK: Counts and languages

    static func number(_ word: String, rules: Vocabulary.ReadingRules) -> Int? {
        if let value = rules.numbers[word] { return value }
        guard word.utf8.count <= 2, word.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int(word) else { return nil }
        return (2...10).contains(value) ? value : nil
    }

    static func number(in words: [String], rules: Vocabulary.ReadingRules) -> Int? {
        words.lazy.compactMap { number($0, rules: rules) }.first
    }

    /// Whether a number comes right before what a list is made of ("three things").
    static func countsItems(_ words: [String], rules: Vocabulary.ReadingRules) -> Bool {
        zip(words, words.dropFirst()).contains { number($0, rules: rules) != nil && rules.itemNouns.contains($1) }
    }

    /// The language to write code in, if the words ask for code (a word such as "function", or "in Rust"): the one
    /// they name, else the one the system prompt names, else the default.
    static func codeLanguage(_ words: [String], system: String, vocabulary: Vocabulary) -> Int? {
        let named = language(in: words, vocabulary: vocabulary)
        guard named?.linked == true || vocabulary.shapes.code.occurs(in: words) else { return nil }
        if let named { return named.index }
        // Read only now: a system prompt is often long and names many things.
        let rules = vocabulary.reading
        let system = Self.words(of: system, limit: rules.maxScannedWords, abbreviations: rules.abbreviations).map(\.lower)
        return language(in: system, vocabulary: vocabulary)?.index ?? vocabulary.defaultLanguage
    }

    /// The first language the words name, and whether "in" or "using" comes before it (which asks for code).
    static func language(in words: [String], vocabulary: Vocabulary) -> (index: Int, linked: Bool)? {
        let links = vocabulary.reading.languageLinks
        for index in words.indices {
            guard let alias = vocabulary.languageAliases.match(words, at: index) else { continue }
            let linked = index > 0 && links.contains(words[index - 1])
            if alias.value.contextOnly, !linked, vocabulary.shapes.code.match(words, at: index + alias.words.count) == nil {
                continue
            }
            return (alias.value.index, linked)
        }
        return nil
    }
}
