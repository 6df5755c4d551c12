/// Writes a string that matches a JSON Schema `pattern`, for the regular-expression subset schemas use: literals
/// and escapes, `.`, classes (`[A-Z0-9_]`, `[^…]`, `\d`, `\w`, `\s`), groups with `|`, the quantifiers `?`, `*`,
/// `+`, `{n}`, `{n,}`, `{n,m}` (lazy or not), and the anchors `^`, `$`.
///
/// No package writes strings from a regex (Swift's `Regex` only matches), and a strict tool whose schema has
/// `"pattern": "^[A-Z]{3}$"` must get input that validates. A pattern outside the subset (lookarounds,
/// backreferences) gives `nil`, and the caller falls back to ordinary text. Repeats are capped so a hostile
/// pattern (`a{1000000000}`) costs nothing.
struct PatternString {
    indirect enum Node {
        case literal(Character)
        case set([ClosedRange<Character>], negated: Bool)
        case group([[Node]])
        case repeated(Node, min: Int, max: Int)
    }

    static let maxRepeat = 8
    static let maxLength = 4096

    /// A string matching `pattern`, or `nil` when the pattern is outside the subset.
    static func make(_ pattern: String, random: inout SeededGenerator) -> String? {
        var parser = Parser(characters: Array(pattern))
        guard let alternatives = parser.alternatives(), parser.index == parser.characters.count else { return nil }
        var out = ""
        write(.group(alternatives), into: &out, random: &random)
        return out.count <= maxLength ? out : nil
    }

    static func write(_ node: Node, into out: inout String, random: inout SeededGenerator) {
        guard out.count <= maxLength else { return }
        switch node {
        case .literal(let c): out.append(c)
        case .set(let ranges, let negated):
            if negated {
                // The first printable ASCII character outside every range.
                let excluded = { (c: Character) in ranges.contains { $0.contains(c) } }
                if let c = (0x21...0x7E).lazy.map({ Character(Unicode.Scalar(UInt8($0))) }).first(where: { !excluded($0) }) {
                    out.append(c)
                }
            } else if let range = ranges.isEmpty ? nil : random.pick(ranges) {
                let low = range.lowerBound.unicodeScalars.first?.value ?? 0x61
                let high = range.upperBound.unicodeScalars.first?.value ?? low
                let value = low + UInt32(random.int(in: 0...Int(min(high - low, 25))))
                out.append(Unicode.Scalar(value).map(Character.init) ?? range.lowerBound)
            }
        case .group(let alternatives):
            guard !alternatives.isEmpty else { return }
            for part in random.pick(alternatives) { write(part, into: &out, random: &random) }
        case .repeated(let node, let min, let max):
            let count = random.int(in: min...Swift.max(min, Swift.min(max, min + 3)))
            for _ in 0..<count { write(node, into: &out, random: &random) }
        }
    }

    struct Parser {
        let characters: [Character]
        var index = 0
        /// Groups open now: past `maxDepth` the pattern is refused, so `((((…` cannot exhaust the stack.
        var depth = 0
        static let maxDepth = 32

        init(characters: [Character]) { self.characters = characters }

        var peek: Character? { index < characters.count ? characters[index] : nil }

        mutating func next() -> Character? {
            defer { index += 1 }
            return peek
        }

        mutating func alternatives() -> [[Node]]? {
            var result: [[Node]] = []
            var current: [Node] = []
            while let c = peek, c != ")" {
                if c == "|" {
                    index += 1
                    result.append(current)
                    current = []
                    continue
                }
                guard let parsed = atom() else { return nil }
                // An anchor writes nothing.
                if let node = parsed { current.append(quantified(node) ?? node) }
            }
            result.append(current)
            return result
        }

        /// One atom; `.some(nil)` for an anchor (which writes nothing), `nil` for a pattern outside the subset.
        mutating func atom() -> Node?? {
            guard let c = next() else { return nil }
            switch c {
            case "^", "$": return .some(nil)
            case ".": return .some(.set(["a"..."z"], negated: false))
            case "(":
                if peek == "?" {
                    // Only non-capturing groups are in the subset.
                    guard index + 1 < characters.count, characters[index + 1] == ":" else { return nil }
                    index += 2
                }
                depth += 1
                defer { depth -= 1 }
                guard depth <= Self.maxDepth, let inner = alternatives(), next() == ")" else { return nil }
                return .some(.group(inner))
            case "[":
                guard let set = characterClass() else { return nil }
                return .some(set)
            case "\\":
                guard let escaped = escape(inClass: false) else { return nil }
                return .some(escaped)
            case "*", "+", "?", "{", ")", "|": return nil
            default: return .some(.literal(c))
            }
        }

        mutating func escape(inClass: Bool) -> Node? {
            guard let c = next() else { return nil }
            switch c {
            case "d": return .set(["0"..."9"], negated: false)
            case "w": return .set(["a"..."z", "A"..."Z", "0"..."9", "_"..."_"], negated: false)
            case "s": return .literal(" ")
            case "D", "W", "S": return .literal(c == "D" ? "x" : "-")
            case "n": return .literal("\n")
            case "t": return .literal("\t")
            case "b", "B": return inClass ? nil : .group([[]])
            default: return c.isLetter || c.isNumber ? nil : .literal(c)
            }
        }

        mutating func characterClass() -> Node? {
            var negated = false
            if peek == "^" {
                negated = true
                index += 1
            }
            var ranges: [ClosedRange<Character>] = []
            var first = true
            while let c = next() {
                if c == "]" && !first { return .set(ranges, negated: negated) }
                first = false
                var low = c
                if c == "\\" {
                    guard let escaped = escape(inClass: true) else { return nil }
                    switch escaped {
                    case .literal(let l): low = l
                    case .set(let more, _):
                        ranges += more
                        continue
                    default: return nil
                    }
                }
                if peek == "-", index + 1 < characters.count, characters[index + 1] != "]" {
                    index += 1
                    guard let high = next(), high != "\\", low <= high else { return nil }
                    ranges.append(low...high)
                } else {
                    ranges.append(low...low)
                }
            }
            return nil
        }

        /// `atom` with the quantifier that follows it, if any; `nil` when none follows.
        mutating func quantified(_ atom: Node) -> Node? {
            var bounds: (Int, Int)?
            switch peek {
            case "?": bounds = (0, 1)
            case "*": bounds = (0, PatternString.maxRepeat)
            case "+": bounds = (1, PatternString.maxRepeat)
            case "{":
                guard let close = characters[index...].firstIndex(of: "}") else { return nil }
                let parts = String(characters[(index + 1)..<close]).split(separator: ",", omittingEmptySubsequences: false)
                // Bounds come from a client's schema: clamped before any arithmetic, so `a{9223372036854775807,}`
                // or `a{-3}` cannot overflow or make a negative count.
                guard let given = Int(parts.first ?? ""), given >= 0, parts.count <= 2 else { return nil }
                let low = min(given, PatternString.maxLength)
                var high = low
                if parts.count == 2 {
                    if parts[1].isEmpty {
                        high = low + PatternString.maxRepeat
                    } else {
                        guard let upper = Int(parts[1]), upper >= given else { return nil }
                        high = min(upper, PatternString.maxLength)
                    }
                }
                bounds = (low, min(high, PatternString.maxLength))
                index = close
            default: return nil
            }
            index += 1
            if peek == "?" || peek == "+" { index += 1 }  // lazy or possessive: the same strings match
            guard let (low, high) = bounds else { return nil }
            return .repeated(atom, min: low, max: high)
        }
    }
}
