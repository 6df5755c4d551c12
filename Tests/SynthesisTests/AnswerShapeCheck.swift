import Foundation

/// An independent reading of a synthetic answer's Markdown: its prose sentences, list items, code blocks and
/// table rows, and what about them does not read as English.
struct AnswerShapeCheck {
    var sentences: [String] = []
    var listItems = 0
    var codeBlocks: [(language: String, lines: Int)] = []
    var tableRows = 0
    var problems: [String] = []

    init(_ text: String) {
        var fence: (language: String, lines: Int)?
        var tableColumns: Int?
        var expectedItem = 1
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("```") {
                if let open = fence {
                    if line != "```" { problems.append("a closing fence with text: \(line)") }
                    codeBlocks.append(open)
                    fence = nil
                } else {
                    fence = (String(line.dropFirst(3)), 0)
                }
                continue
            }
            if fence != nil {
                fence?.lines += 1
                continue
            }
            if line.isEmpty {
                tableColumns = nil
                continue
            }
            if line.hasPrefix("|") {
                checkRow(line, columns: &tableColumns)
                continue
            }
            if let dot = line.firstIndex(of: "."), let number = Int(line[..<dot]), line[dot...].hasPrefix(". ") {
                if number != expectedItem { problems.append("list item \(number) where \(expectedItem) was due") }
                expectedItem += 1
                listItems += 1
                checkProse(String(line[line.index(dot, offsetBy: 2)...]))
                continue
            }
            checkProse(line)
        }
        if fence != nil { problems.append("a code block is not closed") }
        var seen: Set<String> = []
        for sentence in sentences where !seen.insert(sentence).inserted {
            problems.append("repeated: \(sentence)")
        }
    }

    /// Prose: sentences that start with a capital letter, end with `.`, `!` or `?`, and have 3 to 40 words.
    mutating func checkProse(_ line: String) {
        guard line.trimmingCharacters(in: .whitespaces) == line else {
            problems.append("stray whitespace around: \(line)")
            return
        }
        for sentence in Self.sentences(in: line) {
            sentences.append(sentence)
            let words = sentence.split(separator: " ")
            if !(3...40).contains(words.count) { problems.append("\(words.count) words: \(sentence)") }
            if sentence.first?.isUppercase != true { problems.append("no capital: \(sentence)") }
            if !(sentence.last.map { ".!?".contains($0) } ?? false) { problems.append("no full stop: \(sentence)") }
            if sentence.contains("  ") || sentence.contains(" ,") || sentence.contains(" .") {
                problems.append("broken spacing: \(sentence)")
            }
        }
    }

    mutating func checkRow(_ line: String, columns: inout Int?) {
        guard line.hasSuffix("|") else {
            problems.append("a table row that does not end with |: \(line)")
            return
        }
        let cells = line.dropFirst().dropLast().split(separator: "|", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        if let columns, cells.count != columns { problems.append("\(cells.count) cells where the header has \(columns): \(line)") }
        if columns == nil { columns = cells.count }
        if cells.contains(where: \.isEmpty) { problems.append("an empty cell: \(line)") }
        tableRows += 1
    }

    /// Sentences end at `.`, `!` or `?` followed by a space or the end of the line.
    static func sentences(in line: String) -> [String] {
        var sentences: [String] = []
        var current = ""
        var previous: Character?
        for ch in line {
            if ch == " ", let previous, ".!?".contains(previous) {
                sentences.append(current)
                current = ""
            } else {
                current.append(ch)
            }
            previous = ch
        }
        if !current.isEmpty { sentences.append(current) }
        return sentences
    }
}
