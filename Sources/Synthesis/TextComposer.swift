/// Writes deterministic prose as a list of one-token pieces (`" word"`, `","`), so output accounting, max_tokens
/// cut-offs and stop sequences all work on the same units.
struct TextComposer {
    var random: SeededGenerator

    static let openers = [
        "Here is a short answer", "Good question", "Let me walk through it", "In short",
        "There are a few parts to this", "Happy to help", "This comes down to a few points",
    ]
    static let subjects = [
        "the first step", "a simple approach", "the main idea", "the key detail", "a careful check",
        "the usual pattern", "a small example", "the tradeoff", "the next part", "a good default",
    ]
    static let verbs = [
        "keeps", "shows", "makes", "leaves", "turns", "gives", "holds", "brings", "moves", "sets",
    ]
    static let objects = [
        "the answer clear", "the data in order", "each case simple", "the result stable", "the work small",
        "the path short", "every step visible", "the code easy to test", "the output the same each time",
        "the reply on topic",
    ]
    static let tails = [
        "in most cases", "for this request", "without surprises", "from start to end", "as a rule",
        "when the input is known", "in practice", "for a first pass",
    ]

    init(seed: UInt64) { random = SeededGenerator(seed: seed) }

    /// Splits text into one-token pieces: words of at most six letters (longer ones are cut), punctuation apart.
    static func pieces(of text: String) -> [String] {
        // The composer's words and most JSON are ASCII: bytes split the same way, several times faster than
        // Characters (`\r` is left to the Character path, where `\r\n` is one Character).
        if text.utf8.allSatisfy({ $0 < 0x80 && $0 != 0x0D }) { return asciiPieces(of: text) }
        return characterPieces(of: text)
    }

    /// `pieces(of:)` for ASCII text without `\r`, on its bytes.
    static func asciiPieces(of text: String) -> [String] {
        let bytes = Array(text.utf8)
        var pieces: [String] = []
        pieces.reserveCapacity(bytes.count / 3)
        var start = 0
        var letters = 0
        func cut(_ end: Int) {
            if end > start { pieces.append(String(decoding: bytes[start..<end], as: UTF8.self)) }
            start = end
            letters = 0
        }
        for (i, byte) in bytes.enumerated() {
            let scalar = Unicode.Scalar(byte)
            if scalar.properties.isWhitespace {
                cut(i)
            } else if TokenEstimator.isWordScalar(scalar) {
                if letters == 6 { cut(i) }
                letters += 1
            } else {
                if letters > 0 { cut(i) }
                cut(i + 1)
            }
        }
        cut(bytes.count)
        return pieces
    }

    /// `pieces(of:)` for any text, by Characters.
    static func characterPieces(of text: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        var letters = 0
        func flush() {
            if !current.isEmpty { pieces.append(current) }
            current = ""
            letters = 0
        }
        for ch in text {
            if ch.isWhitespace {
                flush()
                current.append(ch)
            } else if ch.unicodeScalars.allSatisfy({ TokenEstimator.isWordScalar($0) }) {
                if letters == 6 { flush() }
                current.append(ch)
                letters += 1
            } else {
                // Punctuation and symbols are tokens of their own (with any whitespace before them).
                if letters > 0 { flush() }
                current.append(ch)
                pieces.append(current)
                current = ""
                letters = 0
            }
        }
        flush()
        return pieces
    }

    /// A reply of roughly `sentences` sentences that mentions the topic of the user's last turn.
    mutating func reply(topic: String, sentences: Int) -> [String] {
        var text = random.pick(Self.openers)
        let topicWords = topic.split(whereSeparator: { $0.isWhitespace }).prefix(8).joined(separator: " ")
        if !topicWords.isEmpty {
            text += random.chance(50) ? ": you asked about \"\(topicWords)\"." : ". On \"\(topicWords)\":"
        } else {
            text += "."
        }
        for _ in 0..<sentences { text += " " + sentence() }
        return Self.pieces(of: text)
    }

    /// Reasoning-flavoured prose for thinking blocks.
    mutating func thinking(topic: String, sentences: Int) -> [String] {
        let topicWords = topic.split(whereSeparator: { $0.isWhitespace }).prefix(6).joined(separator: " ")
        var text = topicWords.isEmpty ? "Let me think this through." : "The user asks about \(topicWords)."
        for _ in 0..<sentences { text += " " + sentence() }
        return Self.pieces(of: text)
    }

    mutating func sentence() -> String {
        var s = random.pick(Self.subjects) + " " + random.pick(Self.verbs) + " " + random.pick(Self.objects)
        if random.chance(40) { s += " " + random.pick(Self.tails) }
        return s.prefix(1).uppercased() + s.dropFirst() + "."
    }
}
