import Cassette
import MessagesAPI

/// The web inspector's pages, built on the server from the same views the admin API returns. This file only makes
/// plain values; the markup is in `Resources/Inspector/*.mustache`, rendered by ``InspectorTemplates``.
///
/// Every string here is text, never markup: the templates print each with `{{name}}`, which HTML-escapes it
/// (`&`, `<`, `>`, `"`, `'`). Links are built here with their query already percent-encoded.
///
/// Mustache looks a name that is absent (a `nil` optional) up in the enclosing values, so the names of a view's
/// optional parts (`closest`, `diff`, `message`, `folded`...) are used nowhere above them.
enum Inspector {
    /// The templates a resources folder must have, by file name less `.mustache`.
    enum Template: String, CaseIterable, Sendable {
        case layout, nav, interactions, interaction, headers, blocks, timeline, journal, misses, batches, files
    }

    /// What a page's content is rendered with.
    protocol View: Sendable {
        static var template: Template { get }
    }

    /// Query parameters every link keeps: the cassette looked at, and the admin token when there is one.
    struct Context: Sendable {
        var cassette: String?
        var token: String?

        func link(_ path: String, _ extra: [(String, String)] = []) -> String {
            var pairs = extra
            if let cassette { pairs.append(("cassette", cassette)) }
            if let token { pairs.append(("token", token)) }
            let query = pairs.map { "\($0.0)=\(percentEncoded($0.1))" }.joined(separator: "&")
            return "/_tapedeck/ui" + path + (query.isEmpty ? "" : "?" + query)
        }

        /// The same parameters as a form's hidden fields.
        var hiddenFields: [Field] {
            [cassette.map { Field(name: "cassette", value: $0) }, token.map { Field(name: "token", value: $0) }]
                .compactMap { $0 }
        }
    }

    struct Field: Sendable {
        let name: String
        let value: String
    }

    // MARK: The page

    /// A whole page: the layout's title and header, and one view as its body.
    struct Page<Content: View>: Sendable {
        let title: String
        let cassette: String
        let tabs: [Tab]
        let content: Content
    }

    struct Tab: Sendable {
        let label: String
        let href: String
        let isActive: Bool
    }

    /// `active` is the label of the tab to highlight ("" for none).
    static func page<Content: View>(title: String, context: Context, active: String, content: Content) -> Page<Content> {
        let tabs = [("", "Interactions"), ("/journal", "Journal"), ("/misses", "Misses"), ("/batches", "Batches"), ("/files", "Files")].map
        {
            path, label in
            Tab(label: label, href: context.link(path), isActive: label == active)
        }
        return Page(title: title, cassette: context.cassette ?? Shelf.defaultName, tabs: tabs, content: content)
    }

    // MARK: Interactions

    struct InteractionsView: View {
        static let template = Template.interactions
        let filterText: String
        let filterModel: String
        let filterStatus: String
        let hiddenFields: [Field]
        let rows: [Row]
        let hasRows: Bool
        /// The next page's link, when there is one.
        let nextPage: String?

        struct Row: Sendable {
            let id: Int64
            let href: String
            let method: String
            let path: String
            let model: String
            let status: Int
            let statusClass: String
            /// fixture, stream or json.
            let form: String
            let kinds: [String]
            let prompt: String
            let answer: String
            let recordedAt: String
        }
    }

    static func interactions(
        _ rows: [Interaction], hasMore: Bool, query: CassetteStore.Query, context: Context
    ) -> InteractionsView {
        let views = rows.map { row in
            let summary = row.summaryJSON
            let id = row.id ?? 0
            return InteractionsView.Row(
                id: id, href: context.link("/interactions/\(id)"), method: row.method, path: row.path,
                model: row.model ?? "", status: row.status, statusClass: statusClass(row.status),
                form: row.isFixture ? "fixture" : row.isStream ? "stream" : "json", kinds: row.blockKinds,
                prompt: summary["prompt"]?.stringValue ?? "", answer: summary["answer"]?.stringValue ?? "",
                recordedAt: row.recordedAt)
        }
        var nextPage: String?
        if hasMore, let last = rows.last?.id {
            var extra: [(String, String)] = [("after_id", String(last))]
            if let q = query.text { extra.append(("q", q)) }
            if let model = query.model { extra.append(("model", model)) }
            if let status = query.status { extra.append(("status", String(status))) }
            nextPage = context.link("", extra)
        }
        return InteractionsView(
            filterText: query.text ?? "", filterModel: query.model ?? "", filterStatus: query.status.map(String.init) ?? "",
            hiddenFields: context.hiddenFields, rows: views, hasRows: !views.isEmpty, nextPage: nextPage)
    }

    // MARK: One interaction

    struct InteractionView: View {
        static let template = Template.interaction
        let id: Int64
        let method: String
        let path: String
        let occurrence: Int
        /// When it was recorded, or `fixture` for a hand-written line.
        let recorded: String
        let fingerprint: String
        let requestHeaders: HeadersView?
        let requestBody: String
        let status: Int
        let statusClass: String
        let responseHeaders: HeadersView?
        /// The answer as content blocks, when the response is a message.
        let message: MessageView?
        /// The response body, for a response that is not a stream.
        let responseBody: BodyView?
        /// The events, for a stream.
        let timeline: TimelineView?
    }

    struct HeadersView: Sendable {
        let count: Int
        let pairs: [Field]
    }

    struct BodyView: Sendable {
        let isOpen: Bool
        let text: String
    }

    static func interaction(_ interaction: Interaction, context: Context) -> InteractionView {
        let detail = interaction.detailJSON
        let answer = interaction.answerJSON.flatMap { $0["content"]?.arrayValue != nil ? $0 : nil }
        return InteractionView(
            id: interaction.id ?? 0, method: interaction.method, path: interaction.path, occurrence: interaction.occurrence,
            recorded: interaction.recordedAt.isEmpty ? "fixture" : interaction.recordedAt,
            fingerprint: interaction.fingerprint,
            requestHeaders: headers(detail["request"]?["headers"]), requestBody: pretty(detail["request"]?["body"]),
            status: interaction.status, statusClass: statusClass(interaction.status),
            responseHeaders: headers(detail["response"]?["headers"]),
            message: answer.map(message),
            responseBody: interaction.isStream ? nil : BodyView(isOpen: answer == nil, text: pretty(detail["response"]?["body"])),
            timeline: interaction.isStream ? timeline(interaction) : nil)
    }

    /// `nil` when there are none (the page then shows no headers box).
    static func headers(_ headers: JSONValue?) -> HeadersView? {
        let pairs = (headers?.arrayValue ?? []).map { pair in
            Field(name: pair.arrayValue?.first?.stringValue ?? "", value: pair.arrayValue?.last?.stringValue ?? "")
        }
        return pairs.isEmpty ? nil : HeadersView(count: pairs.count, pairs: pairs)
    }

    /// A message's content blocks, each in its own box: thinking, text, tool calls.
    struct MessageView: Sendable {
        let blocks: [Block]
        let stopReason: String
        /// ` · tokens in N · out M`, and ` · cache K` when some were cached; "" without usage.
        let usage: String

        struct Block: Sendable {
            let type: String
            let text: String
        }
    }

    static func message(_ message: JSONValue) -> MessageView {
        let blocks = (message["content"]?.arrayValue ?? []).compactMap(ContentBlock.init(json:)).map { block in
            let text =
                switch block {
                case .text(let text): text.text
                case .thinking(let thinking): thinking.thinking
                case .toolUse(let tool): "\(tool.name)(\(pretty(tool.input)))"
                case .redactedThinking: "(redacted)"
                default: pretty(block.json)
                }
            return MessageView.Block(type: block.type.isEmpty ? "?" : block.type, text: text)
        }
        var usage = ""
        if let tokens = message["usage"] {
            usage = " · tokens in \(tokens["input_tokens"]?.intValue ?? 0) · out \(tokens["output_tokens"]?.intValue ?? 0)"
            let cached = (tokens["cache_read_input_tokens"]?.intValue ?? 0) + (tokens["cache_creation_input_tokens"]?.intValue ?? 0)
            if cached > 0 { usage += " · cache \(cached)" }
        }
        return MessageView(blocks: blocks, stopReason: message["stop_reason"]?.stringValue ?? "null", usage: usage)
    }

    /// A stream as its events: offset, type, and what each adds (deltas folded into their text).
    struct TimelineView: Sendable {
        let eventCount: Int
        let events: [Row]

        /// One row: either a run of deltas (`folded`) or one other event (`single`).
        struct Row: Sendable {
            let offset: Int
            let folded: Folded?
            let single: Single?
        }

        /// Consecutive deltas of one block and one kind, their text joined.
        struct Folded: Sendable {
            let deltas: Int
            let block: String
            let kind: String
            let text: String
        }

        struct Single: Sendable {
            let name: String
            let detail: String
        }
    }

    static func timeline(_ interaction: Interaction) -> TimelineView {
        var rows: [TimelineView.Row] = []
        var folded: (name: String, index: String, text: String, first: Int, count: Int)?
        func flush() {
            guard let run = folded else { return }
            let view = TimelineView.Folded(deltas: run.count, block: run.index, kind: run.name, text: run.text)
            rows.append(TimelineView.Row(offset: run.first, folded: view, single: nil))
            folded = nil
        }
        for event in interaction.events {
            let json = try? JSONParser.parse(event.data)
            if event.name == "content_block_delta", let delta = json?["delta"] {
                let kind = delta["type"]?.stringValue ?? "delta"
                let text =
                    delta["text"]?.stringValue ?? delta["thinking"]?.stringValue ?? delta["partial_json"]?.stringValue
                    ?? delta["signature"].map { _ in "(signature)" } ?? ""
                let index = json?["index"].map { JSONWriter.string($0) } ?? "?"
                if let run = folded, run.index == index, run.name == kind {
                    folded = (kind, index, run.text + text, run.first, run.count + 1)
                } else {
                    flush()
                    folded = (kind, index, text, event.offsetMilliseconds, 1)
                }
                continue
            }
            flush()
            let detail: String
            switch event.name {
            case "content_block_start": detail = json?["content_block"].map { JSONWriter.string($0) } ?? event.data
            case "message_delta": detail = json.map { JSONWriter.string($0["delta"] ?? $0) } ?? event.data
            case "ping", "message_stop", "content_block_stop": detail = ""
            default: detail = event.data
            }
            let single = TimelineView.Single(name: event.name, detail: shorten(detail, to: 400))
            rows.append(TimelineView.Row(offset: event.offsetMilliseconds, folded: nil, single: single))
        }
        flush()
        return TimelineView(eventCount: interaction.events.count, events: rows)
    }

    // MARK: Journal

    struct JournalView: View {
        static let template = Template.journal
        /// Newest first.
        let entries: [Entry]
        let hasEntries: Bool

        struct Entry: Sendable {
            let seq: Int
            let time: String
            let method: String
            let path: String
            let isStream: Bool
            let source: String
            let occurrence: String
            let status: Int
            let statusClass: String
            let latency: String
            let fault: String
            /// Its first 12 characters.
            let fingerprint: String
        }
    }

    static func journal(_ entries: [JournalEntry], context: Context) -> JournalView {
        let views = entries.reversed().map { entry in
            let json = entry.json
            return JournalView.Entry(
                seq: entry.seq, time: json["time"]?.stringValue ?? "", method: entry.method, path: entry.path,
                isStream: entry.stream, source: entry.source, occurrence: entry.occurrence.map(String.init) ?? "",
                status: entry.status, statusClass: statusClass(entry.status),
                latency: JSONWriter.string(json["latency_ms"] ?? .null), fault: entry.fault ?? "",
                fingerprint: String((entry.fingerprint ?? "").prefix(12)))
        }
        return JournalView(entries: views, hasEntries: !views.isEmpty)
    }

    // MARK: Misses

    struct MissesView: View {
        static let template = Template.misses
        /// Newest first.
        let misses: [Miss]

        struct Miss: Sendable {
            let method: String
            let path: String
            let answered: String
            /// The recording most like the request, when the cassette has any for its endpoint.
            let closest: Closest?
            /// Where the request first differs from it.
            let diff: Diff?
        }

        struct Closest: Sendable {
            let id: Int
            let href: String
        }

        /// Values as JSON, strings quoted: "1024" and 1024 must look different.
        struct Diff: Sendable {
            let path: String
            let expected: String
            let got: String
        }
    }

    /// `misses` as the admin API's misses endpoint lists them.
    static func misses(_ misses: [JSONValue], context: Context) -> MissesView {
        let views = misses.reversed().map { miss in
            var diffView: MissesView.Diff?
            if let diff = miss["diff"], case .object = diff {
                let expected = diff["expected_present"] == .bool(true) ? (diff["expected"].map { JSONWriter.pretty($0) } ?? "") : "(absent)"
                let got = diff["got_present"] == .bool(true) ? (diff["got"].map { JSONWriter.pretty($0) } ?? "") : "(absent)"
                diffView = MissesView.Diff(
                    path: diff["path"]?.stringValue ?? "", expected: shorten(expected, to: 2000), got: shorten(got, to: 2000))
            }
            return MissesView.Miss(
                method: miss["method"]?.stringValue ?? "", path: miss["path"]?.stringValue ?? "",
                answered: miss["answered"]?.stringValue ?? "",
                closest: miss["closest_id"]?.intValue.map { MissesView.Closest(id: $0, href: context.link("/interactions/\($0)")) },
                diff: diffView)
        }
        return MissesView(misses: views)
    }

    // MARK: Helpers

    /// The class that colours a status: `s2`, `s4`, `s5`.
    static func statusClass(_ status: Int) -> String { "s\(status / 100)" }

    static func pretty(_ value: JSONValue?) -> String {
        guard let value else { return "" }
        if case .string(let text) = value { return text }
        return JSONWriter.pretty(value)
    }

    static func shorten(_ text: String, to limit: Int) -> String {
        text.count > limit ? String(text.prefix(limit - 1)) + "…" : text
    }

    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if c.isASCII && (c.isLetter || c.isNumber || "-._~".contains(c)) {
                out.append(c)
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
