/// A piece of vocabulary text with `{{slot}}` placeholders, split into parts once when the vocabulary loads, so
/// writing an answer only appends strings.
struct Template: Sendable, Hashable {
    enum Part: Sendable, Hashable {
        case text(String)
        case slot(Slot)
    }

    let parts: [Part]
    /// The text as written in the vocabulary, for error messages and duplicate checks.
    let source: String

    /// Parses `source`; an unknown slot name or an unclosed `{{` is an error naming the template.
    init(_ source: String) throws(VocabularyError) {
        self.source = source
        var parts: [Part] = []
        var rest = Substring(source)
        while let open = rest.firstRange(of: "{{") {
            if open.lowerBound > rest.startIndex { parts.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else {
                throw VocabularyError("an unclosed {{ in \"\(source)\"")
            }
            let name = String(rest[open.upperBound..<close.lowerBound])
            guard let slot = Slot(rawValue: name) else {
                throw VocabularyError("an unknown slot {{\(name)}} in \"\(source)\"")
            }
            parts.append(.slot(slot))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        self.parts = parts
    }

    var slots: Set<Slot> {
        Set(parts.compactMap { if case .slot(let slot) = $0 { slot } else { nil } })
    }

    func render(into text: inout String, _ values: SlotValues) {
        for part in parts {
            switch part {
            case .text(let literal): text += literal
            case .slot(let slot): values.append(slot, to: &text)
            }
        }
    }

    func rendered(_ values: SlotValues) -> String {
        var text = ""
        render(into: &text, values)
        return text
    }
}

/// The placeholders a template may use.
enum Slot: String, Sendable, CaseIterable {
    /// What the question is about, as the person wrote it (pronouns turned around); `Topic` capitalizes it.
    case topic
    case capitalizedTopic = "Topic"
    /// The programming language's display name and the kind of code (`function`, `script`, `query`).
    case language, noun
    /// The code's identifier in the language's style; `Name` in Pascal case.
    case name
    case pascalName = "Name"
    /// The code's one-line description.
    case summary
    /// How many list items, as a word, and what they are (`tips`, `ways`).
    case count, items
    /// The things a comparison table compares, as a phrase ("TCP and UDP").
    case subjects
    /// The tool a turn calls.
    case tool
}

/// The values one answer fills its templates with.
struct SlotValues {
    var topic = ""
    var language = ""
    var noun = ""
    var name = ""
    var pascalName = ""
    var summary = ""
    var count = ""
    var items = ""
    var subjects = ""
    var tool = ""

    func append(_ slot: Slot, to text: inout String) {
        switch slot {
        case .topic: text += topic
        case .capitalizedTopic:
            text += topic.prefix(1).uppercased()
            text += topic.dropFirst()
        case .language: text += language
        case .noun: text += noun
        case .name: text += name
        case .pascalName: text += pascalName
        case .summary: text += summary
        case .count: text += count
        case .items: text += items
        case .subjects: text += subjects
        case .tool: text += tool
        }
    }
}
