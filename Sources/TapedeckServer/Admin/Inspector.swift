import Cassette
import MessagesAPI

/// The web inspector's pages, rendered on the server from the same views the admin API returns: plain HTML, one
/// small stylesheet and a few lines of script, nothing fetched from elsewhere (it works offline).
enum Inspector {
    /// Query parameters every link keeps: the cassette looked at, and the admin token when there is one.
    struct Context {
        var cassette: String?
        var token: String?

        func link(_ path: String, _ extra: [(String, String)] = []) -> String {
            var pairs = extra
            if let cassette { pairs.append(("cassette", cassette)) }
            if let token { pairs.append(("token", token)) }
            let query = pairs.map { "\($0.0)=\(percentEncoded($0.1))" }.joined(separator: "&")
            return "/_tapedeck/ui" + path + (query.isEmpty ? "" : "?" + query)
        }
    }

    static func page(title: String, context: Context, active: String, body: String) -> String {
        let tabs = [("", "Interactions"), ("/journal", "Journal"), ("/misses", "Misses")].map { path, label in
            "<a class=\"tab\(label == active ? " active" : "")\" href=\"\(escape(context.link(path)))\">\(label)</a>"
        }.joined()
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title)) · tapedeck</title><link rel="icon" href="data:,"><style>\(stylesheet)</style></head>
            <body><header><strong>tapedeck</strong> <span class="badge">cassette: \(escape(context.cassette ?? Shelf.defaultName))</span>
            <nav>\(tabs)</nav></header><main>\(body)</main><script>\(script)</script></body></html>
            """
    }

    static func interactions(_ rows: [Interaction], hasMore: Bool, query: CassetteStore.Query, context: Context) -> String {
        var html = """
            <form class="filters" method="get" action="/_tapedeck/ui">
            <input name="q" placeholder="text in request or response" value="\(escape(query.text ?? ""))">
            <input name="model" placeholder="model" value="\(escape(query.model ?? ""))">
            <input name="status" placeholder="status" size="6" value="\(query.status.map(String.init) ?? "")">
            \(context.cassette.map { "<input type=\"hidden\" name=\"cassette\" value=\"\(escape($0))\">" } ?? "")
            \(context.token.map { "<input type=\"hidden\" name=\"token\" value=\"\(escape($0))\">" } ?? "")
            <button>Filter</button> <input id="quick" placeholder="quick filter this page" data-filter="#interactions tbody tr">
            </form>
            """
        guard !rows.isEmpty else { return html + "<p class=\"empty\">No interactions match.</p>" }
        html += "<table id=\"interactions\"><thead><tr><th>#</th><th>endpoint</th><th>model</th><th>status</th><th>form</th>"
        html += "<th>blocks</th><th>prompt</th><th>answer</th><th>recorded</th></tr></thead><tbody>"
        for row in rows {
            let summary = row.summaryJSON
            let id = row.id ?? 0
            let kinds = row.blockKinds.map { "<span class=\"kind \(escape($0))\">\(escape($0))</span>" }.joined(separator: " ")
            html += """
                <tr class="interaction" data-id="\(id)"><td><a href="\(escape(context.link("/interactions/\(id)")))">\(id)</a></td>
                <td>\(escape(row.method)) \(escape(row.path))</td><td>\(escape(row.model ?? ""))</td>
                <td class="status s\(row.status / 100)">\(row.status)</td><td>\(row.isFixture ? "fixture" : row.isStream ? "stream" : "json")</td>
                <td>\(kinds)</td><td>\(escape(summary["prompt"]?.stringValue ?? ""))</td>
                <td>\(escape(summary["answer"]?.stringValue ?? ""))</td><td class="muted">\(escape(row.recordedAt))</td></tr>
                """
        }
        html += "</tbody></table>"
        if hasMore, let last = rows.last?.id {
            var extra: [(String, String)] = [("after_id", String(last))]
            if let q = query.text { extra.append(("q", q)) }
            if let model = query.model { extra.append(("model", model)) }
            if let status = query.status { extra.append(("status", String(status))) }
            html += "<p><a class=\"more\" href=\"\(escape(context.link("", extra)))\">Next page →</a></p>"
        }
        return html
    }

    static func interaction(_ interaction: Interaction, context: Context) -> String {
        let detail = interaction.detailJSON
        let id = interaction.id ?? 0
        var html = "<h1>Interaction \(id) <span class=\"muted\">\(escape(interaction.method)) \(escape(interaction.path))"
        html += " · occurrence \(interaction.occurrence)\(interaction.recordedAt.isEmpty ? " · fixture" : " · " + escape(interaction.recordedAt))</span></h1>"
        html += "<p class=\"muted mono\">fingerprint \(escape(interaction.fingerprint))</p>"
        html += "<div class=\"sides\"><section class=\"side\" id=\"request\"><h2>Request</h2>"
        html += headersTable(detail["request"]?["headers"])
        html += "<pre class=\"json\">\(escape(pretty(detail["request"]?["body"])))</pre></section>"
        html += "<section class=\"side\" id=\"response\"><h2>Response <span class=\"status s\(interaction.status / 100)\">\(interaction.status)</span></h2>"
        html += headersTable(detail["response"]?["headers"])
        let message = interaction.answerJSON.flatMap { $0["content"]?.arrayValue != nil ? $0 : nil }
        if let message { html += blocks(message) }
        if !interaction.isStream {
            html += "<details\(message == nil ? " open" : "")><summary>body</summary>"
            html += "<pre class=\"json\">\(escape(pretty(detail["response"]?["body"])))</pre></details>"
        }
        html += "</section></div>"
        if interaction.isStream { html += timeline(interaction) }
        return html
    }

    /// A message's content blocks, each in its own box: thinking, text, tool calls.
    static func blocks(_ message: JSONValue) -> String {
        var html = "<div class=\"blocks\">"
        for block in message["content"]?.arrayValue ?? [] {
            let type = block["type"]?.stringValue ?? "?"
            let body: String
            switch type {
            case "text": body = block["text"]?.stringValue ?? ""
            case "thinking": body = block["thinking"]?.stringValue ?? ""
            case "tool_use": body = "\(block["name"]?.stringValue ?? "")(\(pretty(block["input"])))"
            case "redacted_thinking": body = "(redacted)"
            default: body = pretty(block)
            }
            html += "<div class=\"block \(escape(type))\"><div class=\"label\">\(escape(type))</div><pre>\(escape(body))</pre></div>"
        }
        let stop = message["stop_reason"]?.stringValue ?? "null"
        var usage = ""
        if let tokens = message["usage"] {
            usage = " · tokens in \(tokens["input_tokens"]?.intValue ?? 0) · out \(tokens["output_tokens"]?.intValue ?? 0)"
            let cached = (tokens["cache_read_input_tokens"]?.intValue ?? 0) + (tokens["cache_creation_input_tokens"]?.intValue ?? 0)
            if cached > 0 { usage += " · cache \(cached)" }
        }
        return html + "<p class=\"muted\">stop_reason \(escape(stop))\(escape(usage))</p></div>"
    }

    /// A stream as its events: offset, type, and what each adds (deltas folded into their text).
    static func timeline(_ interaction: Interaction) -> String {
        var html = "<section id=\"timeline\"><h2>Stream timeline <span class=\"muted\">\(interaction.events.count) events</span></h2>"
        html += "<table class=\"timeline\"><thead><tr><th>+ms</th><th>event</th><th>content</th></tr></thead><tbody>"
        var folded: (name: String, index: String, text: String, first: Int, count: Int)?
        func flush() {
            guard let run = folded else { return }
            html += "<tr class=\"event folded\"><td>\(run.first)</td><td>content_block_delta ×\(run.count)</td>"
            html += "<td><span class=\"muted\">block \(escape(run.index)) \(escape(run.name)):</span> \(escape(run.text))</td></tr>"
            folded = nil
        }
        for event in interaction.events {
            let json = try? JSONParser.parse(event.data)
            if event.name == "content_block_delta", let delta = json?["delta"] {
                let kind = delta["type"]?.stringValue ?? "delta"
                let text = delta["text"]?.stringValue ?? delta["thinking"]?.stringValue ?? delta["partial_json"]?.stringValue
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
            html += "<tr class=\"event \(escape(event.name))\"><td>\(event.offsetMilliseconds)</td><td>\(escape(event.name))</td>"
            html += "<td class=\"mono\">\(escape(Self.shorten(detail, to: 400)))</td></tr>"
        }
        flush()
        return html + "</tbody></table></section>"
    }

    static func journal(_ entries: [JournalEntry], context: Context) -> String {
        guard !entries.isEmpty else { return "<p class=\"empty\">No requests yet.</p>" }
        var html = "<table id=\"journal\"><thead><tr><th>#</th><th>time</th><th>request</th><th>source</th><th>occ.</th>"
        html += "<th>status</th><th>ms</th><th>fault</th><th>fingerprint</th></tr></thead><tbody>"
        for entry in entries.reversed() {
            let json = entry.json
            html += """
                <tr class="entry \(escape(entry.source))"><td>\(entry.seq)</td><td class="muted">\(escape(json["time"]?.stringValue ?? ""))</td>
                <td>\(escape(entry.method)) \(escape(entry.path))\(entry.stream ? " <span class=\"kind\">stream</span>" : "")</td>
                <td>\(escape(entry.source))</td><td>\(entry.occurrence.map(String.init) ?? "")</td>
                <td class="status s\(entry.status / 100)">\(entry.status)</td><td>\(escape(JSONWriter.string(json["latency_ms"] ?? .null)))</td>
                <td>\(escape(entry.fault ?? ""))</td><td class="mono muted">\(escape(String((entry.fingerprint ?? "").prefix(12))))</td></tr>
                """
        }
        return html + "</tbody></table>"
    }

    static func misses(_ misses: [JSONValue], context: Context) -> String {
        guard !misses.isEmpty else { return "<p class=\"empty\">No misses: every request matched a recording.</p>" }
        var html = ""
        for miss in misses.reversed() {
            html += "<section class=\"miss\"><h2>\(escape(miss["method"]?.stringValue ?? "")) \(escape(miss["path"]?.stringValue ?? ""))"
            html += " <span class=\"muted\">answered: \(escape(miss["answered"]?.stringValue ?? ""))</span></h2>"
            if let closest = miss["closest_id"]?.intValue {
                html += "<p>Closest recording: <a href=\"\(escape(context.link("/interactions/\(closest)")))\">interaction \(closest)</a></p>"
            } else {
                html += "<p class=\"muted\">The cassette has no recordings for this endpoint.</p>"
            }
            if let diff = miss["diff"], case .object = diff {
                // JSON, strings quoted: "1024" and 1024 must look different.
                let expected = diff["expected_present"] == .bool(true) ? (diff["expected"].map { JSONWriter.pretty($0) } ?? "") : "(absent)"
                let got = diff["got_present"] == .bool(true) ? (diff["got"].map { JSONWriter.pretty($0) } ?? "") : "(absent)"
                html += "<table class=\"diff\"><tr><th>JSON path</th><th>recorded</th><th>this request</th></tr>"
                html += "<tr><td class=\"mono\">\(escape(diff["path"]?.stringValue ?? ""))</td>"
                html += "<td><pre>\(escape(shorten(expected, to: 2000)))</pre></td><td><pre>\(escape(shorten(got, to: 2000)))</pre></td></tr></table>"
            }
            html += "</section>"
        }
        return html
    }

    static func headersTable(_ headers: JSONValue?) -> String {
        let rows = (headers?.arrayValue ?? []).map { pair in
            "<tr><td>\(escape(pair.arrayValue?.first?.stringValue ?? ""))</td><td>\(escape(pair.arrayValue?.last?.stringValue ?? ""))</td></tr>"
        }
        return rows.isEmpty ? "" : "<details><summary>headers (\(rows.count))</summary><table class=\"headers\">\(rows.joined())</table></details>"
    }

    static func pretty(_ value: JSONValue?) -> String {
        guard let value else { return "" }
        if case .string(let text) = value { return text }
        return JSONWriter.pretty(value)
    }

    static func shorten(_ text: String, to limit: Int) -> String {
        text.count > limit ? String(text.prefix(limit - 1)) + "…" : text
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
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

    static let stylesheet = """
        :root{--fg:#1d1f23;--muted:#6b7280;--line:#e5e7eb;--bg:#fafafa;--accent:#7c3aed}
        *{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
        header{display:flex;gap:1rem;align-items:center;padding:.6rem 1.2rem;background:#fff;border-bottom:1px solid var(--line);position:sticky;top:0}
        nav{margin-left:auto;display:flex;gap:.3rem}.tab{padding:.25rem .7rem;border-radius:6px;color:var(--fg);text-decoration:none}
        .tab.active,.tab:hover{background:#ede9fe;color:var(--accent)}main{padding:1rem 1.2rem;max-width:1400px}
        table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
        th{font-weight:600;color:var(--muted);font-size:12px;text-transform:uppercase}tbody tr:hover{background:#f5f3ff}
        .muted{color:var(--muted)}.mono,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}pre{white-space:pre-wrap;word-break:break-word;margin:.3rem 0}
        .filters{display:flex;gap:.4rem;margin-bottom:.8rem;flex-wrap:wrap}input,button{font:inherit;padding:.3rem .5rem;border:1px solid var(--line);border-radius:6px}
        button{background:var(--accent);color:#fff;border:0}#quick{margin-left:auto}
        .status.s2{color:#15803d}.status.s4{color:#b45309}.status.s5{color:#b91c1c;font-weight:600}
        .kind{display:inline-block;padding:0 .35rem;border-radius:4px;background:#f3f4f6;font-size:12px}.kind.thinking{background:#fef3c7}.kind.tool_use{background:#dbeafe}
        .sides{display:grid;grid-template-columns:1fr 1fr;gap:1rem}.side{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.6rem .9rem;min-width:0}
        .block{border-left:3px solid var(--line);padding:.2rem .6rem;margin:.4rem 0}.block .label{font-size:12px;color:var(--muted)}
        .block.thinking{border-color:#f59e0b;background:#fffbeb}.block.tool_use{border-color:#3b82f6;background:#eff6ff}.block.text{border-color:#10b981}
        #timeline{margin-top:1rem}.event.error td{color:#b91c1c}.event.folded td:last-child{white-space:pre-wrap}
        .miss{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.5rem .9rem;margin-bottom:.8rem}.empty{color:var(--muted)}
        h1{font-size:18px}h2{font-size:15px}@media (max-width:900px){.sides{grid-template-columns:1fr}}
        h1 .muted{font-weight:400;font-size:14px}.blocks>p{overflow-wrap:anywhere}
        .badge{padding:.1rem .5rem;border-radius:999px;background:#ede9fe;color:var(--accent);font-size:12px}
        #interactions td:nth-child(2),#interactions td:nth-child(3),#interactions td:last-child,#journal td:nth-child(2),
        .timeline td:nth-child(-n+2){white-space:nowrap}#journal td:nth-child(3){overflow-wrap:anywhere}
        .filters input[name=q]{min-width:18rem}.diff pre{margin:0}.diff td:first-child{width:14rem}
        """

    static let script = """
        document.querySelectorAll('input[data-filter]').forEach(function (box) {
          box.addEventListener('input', function () {
            var needle = box.value.toLowerCase();
            document.querySelectorAll(box.dataset.filter).forEach(function (row) {
              row.hidden = needle !== '' && row.textContent.toLowerCase().indexOf(needle) === -1;
            });
          });
        });
        """
}

extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
