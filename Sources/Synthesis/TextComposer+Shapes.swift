/// The answer of each shape. Every sentence of one answer comes from a different template (pools are drawn
/// without replacement, and the vocabulary has no sentence twice), so none repeats.
extension TextComposer {
    /// The whole answer's text.
    mutating func answer(_ reading: QuestionReading) -> String {
        switch reading.shape {
        case .paragraph: paragraph(reading)
        case .steps: steps(reading)
        case .points: points(reading)
        case .code: code(reading)
        case .table: table(reading)
        case .compare: comparison(reading)
        }
    }

    /// An opening that fits the question, perhaps a sentence about the topic, one or two more, perhaps a
    /// closing offer.
    mutating func paragraph(_ reading: QuestionReading) -> String {
        let pools = vocabulary.paragraph
        let values = SlotValues(topic: reading.topic)
        var sentences = [pick(pools.openers.templates(for: reading.form))]
        let topical = pools.topical.templates(for: reading.kind)
        if reading.kind != .general, !topical.isEmpty, random.chance(70) { sentences.append(pick(topical)) }
        sentences += draw(random.int(in: 1...2), from: pools.body)
        if random.chance(50) { sentences.append(pick(pools.closers)) }
        return sentences.map { $0.rendered(values) }.joined(separator: " ")
    }

    /// A numbered list of steps: a first step, the middle ones, a last step.
    mutating func steps(_ reading: QuestionReading) -> String {
        let pools = vocabulary.list
        let count = clamped(reading.count ?? random.int(in: 3...5), to: 2...(2 + pools.middle.count))
        let intro = pick(pools.stepIntros.templates(for: reading.kind)).rendered(SlotValues(topic: reading.topic))
        let items = [pick(pools.first)] + draw(count - 2, from: pools.middle) + [pick(pools.last)]
        return list(intro: intro, items: items, closers: pools.closers)
    }

    /// A numbered list of points (tips, ideas, ways), as many as asked for.
    mutating func points(_ reading: QuestionReading) -> String {
        let pools = vocabulary.list
        let count = clamped(reading.count ?? random.int(in: 3...5), to: 2...min(10, pools.points.count))
        var values = SlotValues(topic: reading.topic)
        values.count = vocabulary.reading.numberWords[count] ?? String(count)
        values.items = reading.items
        let intro = pick(pools.pointIntros.templates(for: reading.kind)).rendered(values)
        return list(intro: intro, items: draw(count, from: pools.points), closers: pools.closers)
    }

    mutating func list(intro: String, items: [Template], closers: [Template]) -> String {
        var text = intro + "\n"
        for (index, item) in items.enumerated() {
            text += "\n\(index + 1). "
            item.render(into: &text, SlotValues())
        }
        if random.chance(60) { text += "\n\n" + pick(closers).rendered(SlotValues()) }
        return text
    }

    /// A sentence, a fenced block in the language asked for, and a sentence about it.
    mutating func code(_ reading: QuestionReading) -> String {
        let pools = vocabulary.code
        let language = vocabulary.languages[reading.language]
        var values = SlotValues(topic: reading.topic)
        values.language = language.name
        values.noun = language.noun
        let words = identifierWords(reading)
        values.name = Self.identifier(words, style: language.style)
        values.pascalName = Self.identifier(words, style: .pascal)
        values.summary = pick(pools.summaries.templates(for: reading.kind)).rendered(values)
        var text = pick(pools.intros.templates(for: reading.kind)).rendered(values)
        text += "\n\n```" + language.fence
        for line in random.pick(language.snippets) {
            text += "\n"
            line.render(into: &text, values)
        }
        text += "\n```\n\n" + pick(language.outros ?? pools.outros).rendered(values)
        return text
    }

    /// A Markdown table of options with their strengths and caveats.
    mutating func table(_ reading: QuestionReading) -> String {
        let pools = vocabulary.table
        let count = clamped(reading.count ?? random.int(in: 3...4), to: 2...pools.rows.count)
        var text = pick(pools.intros.templates(for: reading.kind)).rendered(SlotValues(topic: reading.topic)) + "\n\n"
        text += Self.row(pools.columns) + "\n" + Self.rule(pools.columns.count)
        for row in draw(count, from: pools.rows) { text += "\n" + Self.row(row) }
        return text + tableCloser()
    }

    /// A Markdown table with a column for each thing compared, a row for each aspect.
    mutating func comparison(_ reading: QuestionReading) -> String {
        let pools = vocabulary.table
        let subjects = Array(reading.subjects.prefix(Vocabulary.TablePools.maxSubjects))
        var values = SlotValues()
        values.subjects = subjects.dropLast().joined(separator: pools.joinWith) + pools.joinLastWith + (subjects.last ?? "")
        var text = pick(pools.compareIntros).rendered(values) + "\n\n"
        let header = [pools.aspectColumn] + subjects.map { $0.prefix(1).uppercased() + $0.dropFirst() }
        text += Self.row(header) + "\n" + Self.rule(header.count)
        let count = clamped(reading.count ?? random.int(in: 3...4), to: 2...pools.aspects.count)
        for aspect in draw(count, from: pools.aspects) {
            text += "\n" + Self.row([aspect.name] + draw(subjects.count, from: aspect.values))
        }
        return text + tableCloser()
    }

    mutating func tableCloser() -> String {
        random.chance(70) ? "\n\n" + pick(vocabulary.table.closers).rendered(SlotValues()) : ""
    }

    static func row(_ cells: [String]) -> String { "| " + cells.joined(separator: " | ") + " |" }

    static func rule(_ columns: Int) -> String { "|" + String(repeating: " --- |", count: columns) }

    func clamped(_ value: Int, to range: ClosedRange<Int>) -> Int {
        min(max(value, range.lowerBound), max(range.lowerBound, range.upperBound))
    }

    // MARK: Identifiers

    /// The words a code identifier is made of: the topic's first few content words ("reverses a string" gives
    /// reverse, string), or the vocabulary's default.
    func identifierWords(_ reading: QuestionReading) -> [String] {
        let rules = vocabulary.reading
        var words: [String] = []
        for word in reading.topicWords {
            let ascii = String(decoding: word.utf8.filter { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) }, as: UTF8.self)
            guard !ascii.isEmpty, !rules.identifierStopwords.contains(ascii) else { continue }
            words.append(words.isEmpty && reading.kind == .clause ? Self.baseForm(ascii) : ascii)
            if words.count == 3 { break }
        }
        if words.isEmpty { return rules.defaultName }
        // One word alone could be a keyword of the language (`return`, `class`): a suffix keeps it a name.
        if words.count == 1 { words.append(rules.nameSuffix) }
        // An identifier cannot start with a digit.
        if let first = words.first?.utf8.first, first >= 0x30, first <= 0x39 { words.insert(rules.defaultName[0], at: 0) }
        return words
    }

    /// "reverses" → "reverse", "copies" → "copy", "fixes" → "fix": the verb of a clause as a function's name.
    static func baseForm(_ verb: String) -> String {
        guard verb.count > 3, verb.hasSuffix("s"), !verb.hasSuffix("ss") else { return verb }
        if verb.hasSuffix("ies") { return verb.dropLast(3) + "y" }
        for ending in ["sses", "shes", "ches", "xes", "zes"] where verb.hasSuffix(ending) { return String(verb.dropLast(2)) }
        return String(verb.dropLast())
    }

    static func identifier(_ words: [String], style: Vocabulary.NameStyle) -> String {
        func capitalized(_ word: String) -> String { word.prefix(1).uppercased() + word.dropFirst() }
        switch style {
        case .snake: return words.joined(separator: "_")
        case .camel: return (words.first ?? "") + words.dropFirst().map(capitalized).joined()
        case .pascal: return words.map(capitalized).joined()
        }
    }
}
