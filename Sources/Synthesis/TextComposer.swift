/// Writes deterministic prose from the ``Vocabulary`` as a list of one-token pieces (`" word"`, `","`), so output
/// accounting, max_tokens cut-offs and stop sequences all work on the same units.
///
/// What is written answers the shape of the question (``QuestionReading``): a short paragraph, a numbered list
/// of steps or points, a fenced code block in the language asked for, or a Markdown table; sentences are drawn
/// without repeats, so no sentence appears twice in one answer.
struct TextComposer {
    var random: SeededGenerator
    let vocabulary: Vocabulary

    init(seed: UInt64, vocabulary: Vocabulary) {
        random = SeededGenerator(seed: seed)
        self.vocabulary = vocabulary
    }

    /// Splits text into one-token pieces: words of at most six letters (longer ones are cut), punctuation apart,
    /// each with the whitespace before it (a run of it, such as a line break and an indent, goes with the next
    /// token: whitespace costs nothing in ``TokenEstimator``, so the pieces count exactly its tokens).
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
        var onlySpace = false
        func cut(_ end: Int) {
            if end > start { pieces.append(String(decoding: bytes[start..<end], as: UTF8.self)) }
            start = end
            letters = 0
            onlySpace = false
        }
        for (i, byte) in bytes.enumerated() {
            let scalar = Unicode.Scalar(byte)
            if scalar.properties.isWhitespace {
                if !onlySpace { cut(i) }
                onlySpace = true
            } else if TokenEstimator.isWordScalar(scalar) {
                if letters == 6 { cut(i) }
                letters += 1
                onlySpace = false
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
        var onlySpace = false
        func flush() {
            if !current.isEmpty { pieces.append(current) }
            current = ""
            letters = 0
            onlySpace = false
        }
        for ch in text {
            if ch.isWhitespace {
                if !onlySpace { flush() }
                current.append(ch)
                onlySpace = true
            } else if ch.unicodeScalars.allSatisfy({ TokenEstimator.isWordScalar($0) }) {
                if letters == 6 { flush() }
                current.append(ch)
                letters += 1
                onlySpace = false
            } else {
                // Punctuation and symbols are tokens of their own (with any whitespace before them).
                if letters > 0 { flush() }
                current.append(ch)
                pieces.append(current)
                current = ""
                letters = 0
                onlySpace = false
            }
        }
        flush()
        return pieces
    }

    /// The answer to the question `reading` describes, as pieces.
    mutating func reply(_ reading: QuestionReading) -> [String] { Self.pieces(of: answer(reading)) }

    /// Reasoning-flavoured prose for thinking blocks: what is asked, then `sentences` considerations.
    mutating func thinking(_ reading: QuestionReading, sentences: Int) -> [String] {
        let pools = vocabulary.thinking
        var text = pick(pools.openers.templates(for: reading.kind)).rendered(SlotValues(topic: reading.topic))
        // More than the pool holds (the highest efforts) goes round it again.
        var left = max(0, sentences)
        while left > 0, !pools.body.isEmpty {
            for template in draw(left, from: pools.body) { text += " " + template.rendered(SlotValues()) }
            left -= min(left, pools.body.count)
        }
        return Self.pieces(of: text)
    }

    /// The sentence before a tool call.
    func toolPreface(_ name: String) -> [String] {
        Self.pieces(of: vocabulary.toolPreface.rendered(SlotValues(tool: name)))
    }

    // MARK: Drawing

    mutating func pick(_ pool: [Template]) -> Template { random.pick(pool) }

    /// `count` different entries of `pool` (all of it when it has fewer), in the order drawn.
    mutating func draw<T>(_ count: Int, from pool: [T]) -> [T] {
        var indices = Array(pool.indices)
        let count = min(max(0, count), indices.count)
        for i in 0..<count { indices.swapAt(i, random.int(in: i...(indices.count - 1))) }
        return indices.prefix(count).map { pool[$0] }
    }
}
