public import Cassette
import MessagesAPI

/// What `tapedeck cassette …` shows, as functions from interactions to text; the commands only read and print.
public enum CassettePresentation {
    // MARK: list / show / stats

    /// One line per interaction: id, method, path, model, status, form, occurrence, size, time, first words.
    public static func list(_ interactions: [Interaction]) -> String {
        var rows = [["ID", "METHOD", "PATH", "MODEL", "STATUS", "FORM", "OCC", "SIZE", "RECORDED", "LAST USER MESSAGE"]]
        for i in interactions {
            let words = i.matcher.map { "(fixture) " + JSONWriter.string($0) } ?? i.requestJSON.map { Fixture.lastUserText($0) } ?? ""
            let summary = words.split(whereSeparator: { $0.isWhitespace }).prefix(8).joined(separator: " ")
            rows.append([
                "\(i.id ?? 0)", i.method, i.path, i.model ?? "-", "\(i.status)",
                i.isFixture ? "fixture" : (i.isStream ? "stream" : "json"), i.matcher == nil ? "\(i.occurrence)" : "loose",
                size(i.responseBody.count + i.requestBody.count), String(i.recordedAt.prefix(19)),
                summary.count > 48 ? String(summary.prefix(47)) + "…" : summary,
            ])
        }
        return table(rows)
    }

    /// One interaction for people: request and response pretty-printed, a stream as its events with offsets.
    public static func show(_ i: Interaction) -> String {
        var out = "interaction \(i.id ?? 0): \(i.method) \(i.path)\(i.query.map { "?" + $0 } ?? "")\n"
        out += "recorded \(i.recordedAt), occurrence \(i.occurrence), fingerprint \(i.fingerprint)\n"
        if let matcher = i.matcher { out += "matches loosely: \(JSONWriter.string(matcher))\n" }
        if let damage = i.damage { out += "damaged: \(damage) (replay answers 500 for it; fix it or record it again)\n" }
        out += "\n── request\n"
        for header in i.requestHeaders { out += "\(header.name): \(header.value)\n" }
        out += (i.requestJSON.map { JSONWriter.pretty($0) } ?? String(decoding: i.requestBody, as: UTF8.self)) + "\n"
        out += "\n── response \(i.status)\n"
        for header in i.responseHeaders { out += "\(header.name): \(header.value)\n" }
        if i.isStream {
            for event in i.events {
                let offset = String(repeating: " ", count: max(0, 6 - "\(event.offsetMilliseconds)".count)) + "\(event.offsetMilliseconds)"
                out += "+\(offset) ms  \(event.name)  \(compactData(event.data))\n"
            }
            if let message = i.message { out += "\nassembled message:\n" + JSONWriter.pretty(message) + "\n" }
        } else if i.isFixture, let message = i.message {
            out += "fixture message (completed per request):\n" + JSONWriter.pretty(message) + "\n"
        } else if let json = try? JSONParser.parse(i.responseBody) {
            out += JSONWriter.pretty(json) + "\n"
        } else {
            out += String(decoding: i.responseBody, as: UTF8.self) + "\n"
        }
        return out
    }

    static func compactData(_ data: String) -> String {
        guard let json = try? JSONParser.parse(data) else { return data }
        if let delta = json["delta"] {
            for key in ["text", "thinking", "partial_json"] {
                if let text = delta[key]?.stringValue { return "\(delta["type"]?.stringValue ?? key) \(JSONWriter.string(.string(text)))" }
            }
        }
        return JSONWriter.string(json)
    }

    /// Counts by model, status and endpoint, and sizes.
    public static func stats(_ interactions: [Interaction], fileSize: Int?) -> String {
        func counts(_ key: (Interaction) -> String) -> String {
            var tally: [String: Int] = [:]
            for i in interactions { tally[key(i), default: 0] += 1 }
            return tally.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .map { "  \($0.key): \($0.value)" }.joined(separator: "\n")
        }
        let bytes = interactions.reduce(0) { $0 + $1.requestBody.count + $1.responseBody.count }
        var out =
            "interactions: \(interactions.count) (\(interactions.filter(\.isStream).count) streamed, \(interactions.filter { $0.matcher != nil }.count) loose fixtures)\n"
        out += "bodies: \(size(bytes))" + (fileSize.map { ", file: \(size($0))" } ?? "") + "\n"
        if !interactions.isEmpty {
            out += "by model:\n" + counts { $0.model ?? "-" } + "\n"
            out += "by status:\n" + counts { "\($0.status)" } + "\n"
            out += "by endpoint:\n" + counts { "\($0.method) \($0.path)" } + "\n"
        }
        return out
    }

    // MARK: diff

    /// What changed from cassette `a` to cassette `b`: interactions added, removed, or changed and where; and
    /// whether anything differs.
    public static func diff(_ a: [Interaction], _ b: [Interaction]) -> (text: String, differs: Bool) {
        // Recordings pair up by fingerprint and occurrence; loose fixtures by matcher and their order among
        // fixtures with the same matcher.
        func keyed(_ interactions: [Interaction]) -> [(String, Interaction)] {
            var seen: [String: Int] = [:]
            return interactions.map { i in
                guard let matcher = i.matcher else { return ("\(i.fingerprint)#\(i.occurrence)", i) }
                let base = "match " + JSONWriter.string(matcher)
                let number = seen[base, default: 0] + 1
                seen[base] = number
                return ("\(base)#\(number)", i)
            }
        }
        func label(_ i: Interaction) -> String {
            if let matcher = i.matcher { return "\(i.method) \(i.path) fixture matching \(JSONWriter.string(matcher))" }
            let words =
                i.requestJSON.map { Fixture.lastUserText($0) }?.split(whereSeparator: { $0.isWhitespace }).prefix(8).joined(separator: " ")
                ?? ""
            return "\(i.method) \(i.path) #\(i.occurrence) \"\(words)\""
        }
        func comparable(_ i: Interaction) -> JSONValue {
            var ignored = [JSONPath(parsing: "id"), JSONPath(parsing: "recorded_at"), JSONPath(parsing: "response.stream.*.t")]
            if i.matcher != nil { ignored.append(JSONPath(parsing: "fingerprint")) }
            return ((try? JSONParser.parse(InteractionCodec.encode(i))) ?? .null).removing(ignored)
        }
        let left = keyed(a)
        let right = keyed(b)
        let leftKeys = Dictionary(left.map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
        let rightKeys = Dictionary(right.map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first })
        var lines: [String] = []
        for (key, i) in left where rightKeys[key] == nil { lines.append("- removed \(label(i))") }
        for (key, i) in right where leftKeys[key] == nil { lines.append("+ added   \(label(i))") }
        for (key, i) in left {
            guard let j = rightKeys[key] else { continue }
            if let d = comparable(i).firstDifference(from: comparable(j)) {
                func show(_ v: JSONValue?) -> String {
                    guard let v else { return "(absent)" }
                    let text = JSONWriter.string(v)
                    return text.count > 60 ? String(text.prefix(57)) + "..." : text
                }
                lines.append("~ changed \(label(i)) at \(d.path): \(show(d.mine)) → \(show(d.theirs))")
            }
        }
        return lines.isEmpty ? ("no differences\n", false) : (lines.joined(separator: "\n") + "\n", true)
    }

    // MARK: verify

    /// Problems with a cassette's contents: streams that do not parse back into their events or do not
    /// assemble to their stored Message. Empty when all is well.
    public static func verify(_ interactions: [Interaction]) -> [String] {
        var problems: [String] = []
        for i in interactions {
            if let damage = i.damage {
                problems.append("interaction \(i.id ?? 0): \(damage)")
                continue
            }
            guard i.isStream else { continue }
            if let problem = i.parseProblem {
                problems.append("interaction \(i.id ?? 0): \(problem)")
            } else if MessageAssembler.assemble(i.events.map { SSEEvent(name: $0.name, data: $0.data) }).assembled != i.message {
                problems.append("interaction \(i.id ?? 0): its events do not assemble to its stored message")
            }
        }
        return problems
    }

    // MARK: helpers

    static func size(_ bytes: Int) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        if bytes < 1024 * 1024 { return "\((bytes * 10 / 1024) / 10).\((bytes * 10 / 1024) % 10) KB" }
        return "\((bytes * 10 / (1024 * 1024)) / 10).\((bytes * 10 / (1024 * 1024)) % 10) MB"
    }

    static func table(_ rows: [[String]]) -> String {
        let widths = (0..<(rows.first?.count ?? 0)).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
