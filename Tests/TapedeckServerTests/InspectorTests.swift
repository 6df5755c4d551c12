import Cassette
import Foundation
import MessagesAPI
import TapedeckTestSupport
import Testing

@testable import TapedeckServer

/// Text that would run a script, close an attribute or start an entity if it reached the page unescaped.
private let hostile = #"</td><script>pwn("1&2")</script>'"#
private let escapedHostile = "&lt;/td&gt;&lt;script&gt;pwn(&quot;1&amp;2&quot;)&lt;/script&gt;&#39;"
/// A token that needs percent-encoding in a link, and HTML-escaping as a form value.
private let token = #"t&k"n<"#

/// The templates as shipped (`Sources/TapedeckServer/Resources/Inspector`), found from this file.
private let resourcesFolder = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Sources/TapedeckServer/Resources/Inspector")

@Suite("Inspector: templates, escaping and links")
struct InspectorTests {
    // MARK: Loading

    @Test func everyFileInTheResourcesFolderIsATemplateOrAStaticFileAndLoads() async throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: resourcesFolder.path).sorted()
        let expected = (Inspector.Template.allCases.map { $0.rawValue + ".mustache" } + InspectorTemplates.staticFiles.map(\.file))
        #expect(files == expected.sorted(), "a template the code does not know of would never be checked at start-up")
        _ = try await InspectorTemplates.load(from: resourcesFolder)
        _ = try await InspectorTemplates.loadBundled()
    }

    @Test func templatesNameOnlyPartialsThatExist() throws {
        for template in Inspector.Template.allCases {
            let text = try String(contentsOf: resourcesFolder.appendingPathComponent(template.rawValue + ".mustache"), encoding: .utf8)
            #expect(!text.contains("{{{") && !text.contains("{{&"), "\(template).mustache prints something unescaped")
        }
        #expect(InspectorTemplates.partials(in: "a{{> nav}}b{{<layout}}{{$body}}{{/body}}{{/layout}}{{name}}") == ["nav", "layout"])
    }

    /// A folder with one thing wrong, and what the start-up error must say.
    static let brokenFolders: [(change: String, file: String, contents: String?, message: String)] = [
        ("missing template", "nav.mustache", nil, "nav.mustache is missing"),
        ("unclosed section", "journal.mustache", "{{#entries}}never closed", "journal.mustache, line"),
        ("unknown partial", "misses.mustache", "{{>nowhere}}", "misses.mustache uses the partial nowhere"),
        ("missing stylesheet", "inspector.css", nil, "inspector.css is missing"),
        ("tags in a static file", "inspector.js", "var x = '{{x}}';", "inspector.js contains Mustache tags"),
    ]

    @Test(arguments: brokenFolders.indices)
    func aBrokenResourcesFolderFailsToLoadNamingTheFile(_ index: Int) async throws {
        let broken = Self.brokenFolders[index]
        try await withTemporaryDirectory { directory in
            let folder = URL(fileURLWithPath: directory.file("Inspector"))
            try FileManager.default.copyItem(at: resourcesFolder, to: folder)
            let file = folder.appendingPathComponent(broken.file)
            if let contents = broken.contents {
                try contents.write(to: file, atomically: true, encoding: .utf8)
            } else {
                try FileManager.default.removeItem(at: file)
            }
            let error = await #expect(throws: ConfigurationError.self, "\(broken.change)") {
                _ = try await InspectorTemplates.load(from: folder)
            }
            #expect(error?.code == .brokenInspectorTemplates)
            #expect(error?.description.contains(broken.message) == true, "\(broken.change): \(error?.description ?? "")")
            #expect(error?.description.contains(folder.path) == true)
        }
    }

    @Test func aMissingFolderFailsToLoad() async {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tapedeck-no-such-\(UUID().uuidString)")
        let error = await #expect(throws: ConfigurationError.self) { _ = try await InspectorTemplates.load(from: folder) }
        #expect(error?.description.contains("no such folder") == true)
    }

    // MARK: Pages

    @Test func theInteractionsPageEscapesWhatItShowsAndItsLinksKeepCassetteAndToken() async throws {
        let context = Inspector.Context(cassette: "mine", token: token)
        var query = CassetteStore.Query(limit: 1)
        query.text = hostile
        let row = Self.interaction(id: 7, prompt: hostile, answer: hostile, model: hostile)
        let html = try await Self.render(
            Inspector.page(
                title: hostile, context: context, active: "Interactions",
                content: Inspector.interactions([row], hasMore: true, query: query, context: context)))

        Self.expectNoMarkupFromData(html)
        // title, the q field's value, model, prompt and answer cells.
        #expect(Self.count(escapedHostile, in: html) == 5)
        #expect(html.contains("<title>\(escapedHostile) · tapedeck</title>"))
        #expect(html.contains(#"value="\#(escapedHostile)""#))
        #expect(Self.count("<td>\(escapedHostile)</td>", in: html) == 3, "the model, prompt and answer cells")
        // Links: the query percent-encoded, then the whole href HTML-escaped (& as &amp;).
        let encodedToken = "t%26k%22n%3C"
        #expect(html.contains(#"<a href="/_tapedeck/ui/interactions/7?cassette=mine&amp;token=\#(encodedToken)">7</a>"#))
        #expect(html.contains(#"<a class="tab active" href="/_tapedeck/ui?cassette=mine&amp;token=\#(encodedToken)">Interactions</a>"#))
        #expect(html.contains(#"<a class="tab" href="/_tapedeck/ui/journal?cassette=mine&amp;token=\#(encodedToken)">Journal</a>"#))
        let next = "/_tapedeck/ui?after_id=7&amp;q=%3C%2Ftd%3E%3Cscript%3Epwn%28%221%262%22%29%3C%2Fscript%3E%27"
        #expect(html.contains(#"<a class="more" href="\#(next)&amp;cassette=mine&amp;token=\#(encodedToken)">"#))
        // The form keeps both as hidden fields, escaped as values.
        #expect(html.contains(#"<input type="hidden" name="cassette" value="mine">"#))
        #expect(html.contains(#"<input type="hidden" name="token" value="t&amp;k&quot;n&lt;">"#))
        #expect(html.contains(#"<span class="badge">cassette: mine</span>"#))
        #expect(html.contains(#"<tr class="interaction" data-id="7">"#))
        #expect(html.contains(#"<span class="kind text">text</span>"#))
        #expect(!html.contains("No interactions match"))
        // The stylesheet and the script are inlined from the resources.
        #expect(html.contains(".tab.active,.tab:hover{") && html.contains("querySelectorAll('input[data-filter]')"))
    }

    @Test func anEmptyListSaysSoWithoutATableOrANextLink() async throws {
        let context = Inspector.Context()
        let html = try await Self.render(
            Inspector.page(
                title: "Interactions", context: context, active: "Interactions",
                content: Inspector.interactions([], hasMore: false, query: .init(limit: 50), context: context)))
        #expect(html.contains(#"<p class="empty">No interactions match.</p>"#))
        #expect(!html.contains(#"<table id="interactions">"#) && !html.contains(#"class="more""#))
        #expect(!html.contains(#"type="hidden""#), "no cassette, no token: no hidden fields")
        #expect(html.contains(#"<span class="badge">cassette: default</span>"#))
        #expect(html.contains(#"<a class="tab" href="/_tapedeck/ui/misses">Misses</a>"#))
    }

    @Test func theDetailPageEscapesHeadersBodiesBlocksAndTheTimeline() async throws {
        let context = Inspector.Context(cassette: nil, token: token)
        var json = Self.interaction(id: 3, prompt: hostile, answer: hostile, model: "m", header: hostile)
        json.status = 529
        let jsonPage = try await Self.render(
            Inspector.page(
                title: "Interaction 3", context: context, active: "", content: Inspector.interaction(json, context: context)))
        Self.expectNoMarkupFromData(jsonPage)
        #expect(!jsonPage.contains("tab active"))
        #expect(jsonPage.contains("<tr><td>x-note</td><td>\(escapedHostile)</td></tr>"))
        #expect(jsonPage.contains("<summary>headers (1)</summary>"))
        #expect(jsonPage.contains(#"<span class="status s5">529</span>"#))
        #expect(jsonPage.contains(#"<div class="block text"><div class="label">text</div><pre>\#(escapedHostile)</pre></div>"#))
        // The body is JSON: its strings keep their JSON escapes (\") and are HTML-escaped on top.
        #expect(jsonPage.contains(#"&lt;script&gt;pwn(\&quot;1&amp;2\&quot;)"#))
        #expect(jsonPage.contains("<details><summary>body</summary>"), "a message answer keeps its body folded")
        #expect(!jsonPage.contains(#"id="timeline""#))

        let stream = Self.stream(id: 4, delta: hostile)
        let streamPage = try await Self.render(
            Inspector.page(
                title: "Interaction 4", context: context, active: "", content: Inspector.interaction(stream, context: context)))
        Self.expectNoMarkupFromData(streamPage)
        #expect(streamPage.contains("Stream timeline <span class=\"muted\">4 events</span>"))
        #expect(
            streamPage.contains(
                #"<tr class="event folded"><td>20</td><td>content_block_delta ×2</td><td><span class="muted">block 0 text_delta:</span> \#(escapedHostile)\#(escapedHostile)</td></tr>"#
            ))
        #expect(streamPage.contains(#"<tr class="event message_stop"><td>40</td><td>message_stop</td><td class="mono"></td></tr>"#))
        #expect(!streamPage.contains("<summary>body</summary>"), "a stream shows its timeline, not a body")
        #expect(!streamPage.contains("<summary>headers"), "no headers, no headers box")
    }

    @Test func theJournalPageEscapesEntriesNewestFirst() async throws {
        let entries = [
            JournalEntry(
                seq: 1, time: Date(timeIntervalSince1970: 0), method: "POST", path: "/v1/messages", cassette: "default",
                fingerprint: "0123456789abcdef", source: "recorded", occurrence: 1, status: 200, latencyMilliseconds: 1.5,
                fault: nil, stream: true),
            JournalEntry(
                seq: 2, time: Date(timeIntervalSince1970: 1), method: "POST", path: "/v1/" + hostile, cassette: "default",
                fingerprint: nil, source: hostile, occurrence: nil, status: 404, latencyMilliseconds: 2,
                fault: hostile, stream: false),
        ]
        let context = Inspector.Context(cassette: "mine", token: nil)
        let html = try await Self.render(
            Inspector.page(
                title: "Journal", context: context, active: "Journal", content: Inspector.journal(entries, context: context)))
        Self.expectNoMarkupFromData(html)
        #expect(html.contains(#"<a class="tab active" href="/_tapedeck/ui/journal?cassette=mine">Journal</a>"#))
        // The hostile source is a class and a cell; the path and the fault are cells.
        #expect(html.contains(#"<tr class="entry \#(escapedHostile)"><td>2</td>"#))
        #expect(Self.count(escapedHostile, in: html) == 4)
        let newest = try #require(html.range(of: "<td>2</td>")), oldest = try #require(html.range(of: "<td>1</td>"))
        #expect(newest.lowerBound < oldest.lowerBound)
        #expect(html.contains(#"<td>POST /v1/messages <span class="kind">stream</span></td>"#))
        #expect(html.contains(#"<td class="mono muted">0123456789ab</td>"#))
        #expect(html.contains(#"<td class="status s4">404</td>"#))

        let empty = try await Self.render(
            Inspector.page(
                title: "Journal", context: context, active: "Journal", content: Inspector.journal([], context: context)))
        #expect(empty.contains(#"<p class="empty">No requests yet.</p>"#) && !empty.contains(#"<table id="journal">"#))
    }

    @Test func theMissesPageEscapesTheDiffAndLinksTheClosestRecording() async throws {
        let misses: [JSONValue] = [
            [
                "method": "POST", "path": "/v1/messages", "answered": .string(hostile), "closest_id": 9,
                "diff": [
                    "path": .string(hostile), "expected": .string(hostile), "got": 1024,
                    "expected_present": true, "got_present": true,
                ],
            ],
            ["method": "POST", "path": "/v1/messages/count_tokens", "answered": "error", "closest_id": .null, "diff": .null],
        ]
        let context = Inspector.Context(cassette: "mine", token: token)
        let html = try await Self.render(
            Inspector.page(
                title: "Misses", context: context, active: "Misses", content: Inspector.misses(misses, context: context)))
        Self.expectNoMarkupFromData(html)
        #expect(html.contains(#"<span class="muted">answered: \#(escapedHostile)</span>"#))
        #expect(html.contains(#"<a href="/_tapedeck/ui/interactions/9?cassette=mine&amp;token=t%26k%22n%3C">interaction 9</a>"#))
        #expect(html.contains(#"<td class="mono">\#(escapedHostile)</td>"#))
        // Values as JSON: the string quoted (and its quotes escaped), the number bare.
        #expect(
            html.contains(
                #"<td><pre>&quot;&lt;/td&gt;&lt;script&gt;pwn(\&quot;1&amp;2\&quot;)&lt;/script&gt;&#39;&quot;</pre></td><td><pre>1024</pre></td>"#
            ))
        #expect(html.contains(#"<p class="muted">The cassette has no recordings for this endpoint.</p>"#))
        // Newest first: the second miss is shown first.
        let second = try #require(html.range(of: "count_tokens")), first = try #require(html.range(of: "interaction 9"))
        #expect(second.lowerBound < first.lowerBound)

        let empty = try await Self.render(
            Inspector.page(
                title: "Misses", context: context, active: "Misses", content: Inspector.misses([], context: context)))
        #expect(empty.contains(#"<p class="empty">No misses: every request matched a recording.</p>"#))
        #expect(!empty.contains(#"<section class="miss">"#))
    }

    @Test func linksPercentEncodeTheirParameters() {
        #expect(Inspector.Context(cassette: "a b", token: "t&x").link("/journal") == "/_tapedeck/ui/journal?cassette=a%20b&token=t%26x")
        #expect(Inspector.Context().link("") == "/_tapedeck/ui")
        #expect(Inspector.Context(token: "é").link("", [("q", "1+1=2")]) == "/_tapedeck/ui?q=1%2B1%3D2&token=%C3%A9")
    }

    // MARK: Helpers

    static func render(_ page: Inspector.Page<some Inspector.View>) async throws -> String {
        try await InspectorTemplates.loadBundled().render(page)
    }

    /// None of the hostile text's markup reached the page as markup, and nothing was escaped twice.
    static func expectNoMarkupFromData(_ html: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!html.contains("<script>pwn"), sourceLocation: sourceLocation)
        #expect(!html.contains("</td><script>"), sourceLocation: sourceLocation)
        #expect(!html.contains("&amp;lt;") && !html.contains("&amp;amp;"), "escaped twice", sourceLocation: sourceLocation)
        #expect(count("<script>", in: html) == 1, "only the inspector's own script", sourceLocation: sourceLocation)
    }

    static func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    /// A JSON interaction asking `prompt` and answering `answer`.
    static func interaction(id: Int64, prompt: String, answer: String, model: String, header: String? = nil) -> Interaction {
        let request: JSONValue = ["model": .string(model), "max_tokens": 16, "messages": [["role": "user", "content": .string(prompt)]]]
        let response: JSONValue = [
            "type": "message", "role": "assistant", "content": [["type": "text", "text": .string(answer)]],
            "stop_reason": "end_turn", "usage": ["input_tokens": 3, "output_tokens": 5],
        ]
        return Interaction(
            id: id, recordedAt: "2026-12-01T10:00:00Z", method: "POST", path: "/v1/messages", query: nil, fingerprint: "f1",
            occurrence: 1, requestHeaders: header.map { [HeaderPair("x-note", $0)] } ?? [],
            requestBody: JSONWriter.bytes(request), status: 200, responseHeaders: [], responseBody: JSONWriter.bytes(response),
            isStream: false, events: [], message: nil, model: model)
    }

    /// A stream of one text block whose two deltas are each `delta`.
    static func stream(id: Int64, delta: String) -> Interaction {
        func data(_ value: JSONValue) -> String { JSONWriter.string(value) }
        let events = [
            Interaction.Event(
                offsetMilliseconds: 10, byteEnd: 0, name: "content_block_start",
                data: data(["type": "content_block_start", "index": 0, "content_block": ["type": "text", "text": ""]])),
            Interaction.Event(
                offsetMilliseconds: 20, byteEnd: 0, name: "content_block_delta",
                data: data(["type": "content_block_delta", "index": 0, "delta": ["type": "text_delta", "text": .string(delta)]])),
            Interaction.Event(
                offsetMilliseconds: 30, byteEnd: 0, name: "content_block_delta",
                data: data(["type": "content_block_delta", "index": 0, "delta": ["type": "text_delta", "text": .string(delta)]])),
            Interaction.Event(offsetMilliseconds: 40, byteEnd: 0, name: "message_stop", data: data(["type": "message_stop"])),
        ]
        let request: JSONValue = ["model": "m", "max_tokens": 16, "stream": true, "messages": [["role": "user", "content": "hi"]]]
        return Interaction(
            id: id, recordedAt: "", method: "POST", path: "/v1/messages", query: nil, fingerprint: "f2", occurrence: 2,
            requestHeaders: [], requestBody: JSONWriter.bytes(request), status: 200, responseHeaders: [], responseBody: [],
            isStream: true, events: events, message: nil, model: "m")
    }
}
