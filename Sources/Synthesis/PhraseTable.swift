/// Phrases of one or more lower-case words, each with a value, found in a list of words without scanning the
/// text once per phrase: phrases are grouped by their first word, longest first, when the vocabulary loads.
struct PhraseTable<Value: Sendable>: Sendable {
    struct Phrase: Sendable {
        let words: [String]
        let value: Value
    }

    private let byFirstWord: [String: [Phrase]]
    /// The same phrases by their last word, for matching at the end of a list of words.
    private let byLastWord: [String: [Phrase]]

    init(_ phrases: [(String, Value)]) {
        var all: [Phrase] = []
        for (text, value) in phrases {
            let words = text.lowercased().split(separator: " ").map(String.init)
            if !words.isEmpty { all.append(Phrase(words: words, value: value)) }
        }
        // Longest first, so "how do i" wins over "how do"; equal lengths keep the file's order.
        all = all.enumerated().sorted { ($0.element.words.count, $1.offset) > ($1.element.words.count, $0.offset) }.map(\.element)
        var byFirstWord: [String: [Phrase]] = [:]
        var byLastWord: [String: [Phrase]] = [:]
        for phrase in all {
            byFirstWord[phrase.words[0], default: []].append(phrase)
            byLastWord[phrase.words[phrase.words.count - 1], default: []].append(phrase)
        }
        self.byFirstWord = byFirstWord
        self.byLastWord = byLastWord
    }

    /// The longest phrase that starts at `words[index]`.
    func match(_ words: [String], at index: Int) -> Phrase? {
        guard words.indices.contains(index), let candidates = byFirstWord[words[index]] else { return nil }
        return candidates.first { phrase in
            index + phrase.words.count <= words.count
                && phrase.words.indices.allSatisfy { words[index + $0] == phrase.words[$0] }
        }
    }

    /// The first phrase in `words`, and where it starts.
    func firstMatch(in words: [String]) -> (index: Int, phrase: Phrase)? {
        for index in words.indices {
            if let phrase = match(words, at: index) { return (index, phrase) }
        }
        return nil
    }

    func occurs(in words: [String]) -> Bool { firstMatch(in: words) != nil }

    /// The longest phrase `words` ends with.
    func suffix(of words: ArraySlice<String>) -> Phrase? {
        guard let last = words.last, let candidates = byLastWord[last] else { return nil }
        return candidates.first { phrase in
            phrase.words.count <= words.count && zip(words.suffix(phrase.words.count), phrase.words).allSatisfy { $0 == $1 }
        }
    }
}

extension PhraseTable where Value == String {
    /// Phrases whose value is the phrase itself.
    init(_ phrases: [String]) { self.init(phrases.map { ($0, $0) }) }
}
