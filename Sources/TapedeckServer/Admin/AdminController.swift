import Cassette
import Foundation
import HTTPTypes
import Hummingbird
import MessagesAPI
import NIOCore

/// Tapedeck's own endpoints under `/_tapedeck/`: health, reset, interactions, journal, misses, faults and the
/// inspector. Admin calls pick a cassette with `?cassette=NAME` or the `tapedeck-cassette` header.
struct AdminController: Sendable {
    let pipeline: Pipeline
    /// The inspector's pages (`/_tapedeck/ui`), loaded at start-up.
    let inspector: InspectorTemplates
    let startedAt = ContinuousClock.now

    func addRoutes(to router: Router<TapedeckRequestContext>) {
        // Health stays open even with --admin-token: container health checks and load balancers call it bare.
        router.on(.health, .get) { _, _ in try await health() }
        let admin = router.group().add(middleware: AdminTokenMiddleware(token: pipeline.configuration.adminToken))
        admin.on(.reset, .post) { request, _ in
            let name = try Self.cassetteName(request)
            if let name {
                try pipeline.shelf.rewind(named: name == Shelf.defaultName ? nil : name)
            } else {
                pipeline.shelf.rewindAll()
            }
            pipeline.journal.clear(cassette: name)
            pipeline.caches.clear(cassette: name)
            pipeline.limiter?.reset(cassette: name)
            return Self.json(["status": "reset", "cassette": name.map(JSONValue.string) ?? "all"])
        }
        admin.on(.clock, .get) { _, _ in Self.json(Self.clockJSON(pipeline.clock)) }
        admin.on(.clock, .post) { request, _ in
            pipeline.clock.advance(by: try await Self.advance(request))
            return Self.json(Self.clockJSON(pipeline.clock))
        }
        admin.on(.settings, .get) { request, _ in try settings(request) }
        admin.on(.settings, .put) { request, _ in
            let name = try Self.cassetteName(request) ?? Shelf.defaultName
            let body = try RequestValidator.parseBody(try await request.bodyBytes(upTo: Limits.adminBodyBytes))
            try pipeline.settings.set(try CassetteSettings(json: body), for: name)
            return try settings(request)
        }
        admin.on(.settings, .delete) { request, _ in
            pipeline.settings.clear(try Self.cassetteName(request) ?? Shelf.defaultName)
            return try settings(request)
        }
        admin.on(.interactions, .get) { request, _ in try await interactions(request) }
        admin.on(.interaction, .get) { request, context in
            Self.json(try await interaction(request, id: context.parameters.get("id")).detailJSON)
        }
        admin.on(.journal, .get) { request, _ in
            let (name, limit) = (try Self.cassetteName(request) ?? Shelf.defaultName, try Self.limit(request, default: 100))
            let entries = pipeline.journal.entries(cassette: name, limit: limit)
            return Self.json(["cassette": .string(name), "data": .array(entries.map(\.json))])
        }
        admin.on(.misses, .get) { request, _ in try await misses(request) }
        admin.on(.adminFiles, .get) { request, _ in try await files(request) }
        admin.on(.inspectorFiles, .get) { request, _ in try await filesPage(request) }
        admin.on(.faults, .get) { _, _ in Self.json(pipeline.faults.json) }
        admin.on(.faults, .post) { request, _ in
            pipeline.faults.set(try await Self.faultPlan(request))
            return Self.json(pipeline.faults.json)
        }
        admin.on(.faults, .delete) { _, _ in
            pipeline.faults.set(nil)
            return Self.json(pipeline.faults.json)
        }
        admin.on(.inspector, .get) { request, _ in
            let tape = try await tape(for: request)
            let query = try Self.interactionQuery(request)
            let (rows, hasMore) = tape.isPresent ? try await tape.store().interactions(matching: query) : ([], false)
            let context = Self.inspectorContext(request)
            return Self.html(
                try inspector.render(
                    Inspector.page(
                        title: "Interactions", context: context, active: "Interactions",
                        content: Inspector.interactions(rows, hasMore: hasMore, query: query, context: context))))
        }
        admin.on(.inspectorInteraction, .get) { request, context in
            let interaction = try await interaction(request, id: context.parameters.get("id"))
            let links = Self.inspectorContext(request)
            return Self.html(
                try inspector.render(
                    Inspector.page(
                        title: "Interaction \(interaction.id ?? 0)", context: links, active: "",
                        content: Inspector.interaction(interaction, context: links))))
        }
        admin.on(.inspectorJournal, .get) { request, _ in
            _ = try Self.cassetteName(request)
            let context = Self.inspectorContext(request)
            let entries = pipeline.journal.entries(
                cassette: context.cassette ?? Shelf.defaultName, limit: try Self.limit(request, default: 200))
            return Self.html(
                try inspector.render(
                    Inspector.page(
                        title: "Journal", context: context, active: "Journal", content: Inspector.journal(entries, context: context))))
        }
        admin.on(.inspectorMisses, .get) { request, _ in
            let context = Self.inspectorContext(request)
            let misses = try await missesJSON(request)
            return Self.html(
                try inspector.render(
                    Inspector.page(
                        title: "Misses", context: context, active: "Misses", content: Inspector.misses(misses, context: context))))
        }
    }

    static func inspectorContext(_ request: Request) -> Inspector.Context {
        Inspector.Context(cassette: (try? cassetteName(request)).flatMap { $0 }, token: query(request)["token"])
    }

    static func html(_ page: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page)))
    }

    func interaction(_ request: Request, id text: String?) async throws -> Interaction {
        let tape = try await tape(for: request)
        guard tape.isPresent, let id = text.flatMap({ Int64($0) }), let interaction = try await tape.store().interaction(id: id) else {
            throw APIError.notFound("No interaction \(text ?? "") in \(tape.path)")
        }
        return interaction
    }

    func health() async throws -> Response {
        let configuration = pipeline.configuration
        let elapsed = ContinuousClock.now - startedAt
        var cassettes: [JSONValue] = []
        for (name, tape) in await pipeline.shelf.openTapes() {
            cassettes.append(["name": .string(name), "path": .string(tape.path), "interactions": .int(tape.count)])
        }
        return Self.json([
            "status": "ok",
            "mode": .string(configuration.mode.rawValue),
            "cassette": .string(configuration.cassettePath),
            "cassette_dir": .string(pipeline.shelf.directory),
            "interactions": .int(pipeline.shelf.defaultTape.count),
            "cassettes": .array(cassettes),
            "on_miss": .string(configuration.onMiss.rawValue),
            "uptime_s": .int(Int(elapsed.components.seconds)),
            "version": .string(TapedeckVersion.current),
        ])
    }

    /// The cassette's settings in force (`GET`, and the answer to `PUT` and `DELETE`).
    func settings(_ request: Request) throws -> Response {
        let name = try Self.cassetteName(request) ?? Shelf.defaultName
        let overrides = pipeline.settings.overrides(for: name)
        let settings = overrides?.settings ?? CassetteSettings()
        var object = settings.json(server: pipeline.configuration, faults: overrides?.faults).objectValue ?? [:]
        object["cassette"] = .string(name)
        return Self.json(.object(object))
    }

    func interactions(_ request: Request) async throws -> Response {
        let tape = try await tape(for: request)
        let query = try Self.interactionQuery(request)
        guard tape.isPresent else {
            return Self.json(["data": [], "has_more": false, "first_id": .null, "last_id": .null])
        }
        let unused: Bool
        switch Self.query(request)["unused"] {
        case nil, "", "false": unused = false
        case "true": unused = true
        case let text?: throw APIError.invalidRequest("unused: Input should be a valid boolean, unable to interpret input '\(text)'")
        }
        let (page, hasMore) =
            unused
            ? try await Self.unusedInteractions(in: tape, matching: query)
            : try await tape.store().interactions(matching: query)
        return Self.json([
            "data": .array(page.map(\.summaryJSON)),
            "has_more": .bool(hasMore),
            "first_id": page.first?.id.map { .int(Int($0)) } ?? .null,
            "last_id": page.last?.id.map { .int(Int($0)) } ?? .null,
        ])
    }

    /// A page of the recordings this run has not used (neither replayed nor recorded): what `--tapedeck-strict`
    /// reports as stale. Filtered in memory, page by page, since the used set can be larger than SQLite's limit
    /// on bound parameters.
    static func unusedInteractions(in tape: Tape, matching query: CassetteStore.Query) async throws -> (page: [Interaction], hasMore: Bool)
    {
        let used = tape.counters.used
        var scan = query
        scan.limit = 500
        var found: [Interaction] = []
        while true {
            let (rows, more) = try await tape.store().interactions(matching: scan)
            for row in rows where !used.contains(row.id ?? 0) {
                if found.count == query.limit { return (found, true) }
                found.append(row)
            }
            guard more, let last = rows.last?.id else { return (found, false) }
            scan.afterID = last
        }
    }

    static func interactionQuery(_ request: Request) throws -> CassetteStore.Query {
        let parameters = query(request)
        var query = CassetteStore.Query(limit: try Self.limit(request, default: 50))
        query.model = parameters["model"].flatMap { $0.isEmpty ? nil : $0 }
        query.text = parameters["q"].flatMap { $0.isEmpty ? nil : $0 }
        if let text = parameters["status"], !text.isEmpty {
            guard let status = Int(text) else { throw APIError.invalidRequest("status: Input should be a valid integer") }
            query.status = status
        }
        if let text = parameters["after_id"], !text.isEmpty {
            guard let id = Int64(text) else { throw APIError.invalidRequest("after_id: Input should be a valid integer") }
            query.afterID = id
        }
        return query
    }

    func misses(_ request: Request) async throws -> Response {
        Self.json(["cassette": .string(try Self.cassetteName(request) ?? Shelf.defaultName), "data": .array(try await missesJSON(request))])
    }

    func missesJSON(_ request: Request) async throws -> [JSONValue] {
        let name = try Self.cassetteName(request) ?? Shelf.defaultName
        let tape = try await tape(for: request)
        var data: [JSONValue] = []
        for miss in pipeline.journal.misses(cassette: name, limit: try Self.limit(request, default: 100)) {
            var object: JSONObject = [
                "seq": .int(miss.seq),
                "method": .string(miss.method),
                "path": .string(miss.path),
                "cassette": .string(miss.cassette),
                "fingerprint": .string(miss.fingerprint),
                "answered": .string(miss.answered),
            ]
            let explained = try await tape.explainMiss(
                method: miss.method, path: miss.path, body: miss.body, matcher: miss.matcher)
            object["closest_id"] = explained.closestID.map { .int(Int($0)) } ?? .null
            object["diff"] =
                explained.path.map { path in
                    [
                        "path": .string(path.description), "expected": explained.expected ?? .null, "got": explained.got ?? .null,
                        "expected_present": .bool(explained.expected != nil), "got_present": .bool(explained.got != nil),
                    ]
                } ?? .null
            object["explanation"] = .string(explained.description)
            object["request"] = miss.body ?? .null
            data.append(.object(object))
        }
        return data
    }

    /// The cassette an admin call looks at, never created by looking.
    func tape(for request: Request) async throws -> Tape {
        let name = try Self.cassetteName(request)
        return try await pipeline.shelf.existingTape(named: name == Shelf.defaultName ? nil : name)
    }

    /// `?cassette=NAME`, else the `tapedeck-cassette` header; `nil` when neither is given. A name other than
    /// `default` must be a valid cassette name.
    static func cassetteName(_ request: Request) throws -> String? {
        let name =
            query(request)["cassette"].flatMap { $0.isEmpty ? nil : $0 }
            ?? request.headers[RequestReader.cassetteHeader].flatMap { $0.isEmpty ? nil : $0 }
        if let name, name != Shelf.defaultName { try Shelf.validate(name) }
        return name
    }

    static func query(_ request: Request) -> [String: String] { QueryParameters.parse(request.uri.query) }

    static func limit(_ request: Request, default value: Int) throws(APIError) -> Int {
        guard let text = query(request)["limit"] else { return value }
        guard let n = Int(text), (1...Limits.adminPageRows).contains(n) else {
            throw .invalidRequest("limit: Input should be between 1 and \(Limits.adminPageRows)")
        }
        return n
    }

    /// `{"fault": SPEC, "count": N}` or `{"fault": SPEC, "rate": R, "seed": S}`.
    static func faultPlan(_ request: Request) async throws -> FaultPlan {
        try FaultPlan(json: try RequestValidator.parseBody(try await request.bodyBytes(upTo: Limits.adminBodyBytes)))
    }

    /// The seconds a `POST /_tapedeck/clock` body `{"advance": SECONDS}` moves the clock on by.
    static func advance(_ request: Request) async throws -> Double {
        let body = try RequestValidator.parseBody(try await request.bodyBytes(upTo: Limits.adminBodyBytes))
        guard let value = body["advance"] else { throw APIError.invalidRequest("advance: Field required") }
        // A year at most: further is no TTL or window Tapedeck models, and keeps the clock's dates in range.
        guard let seconds = value.doubleValue, seconds.isFinite, (0...31_536_000).contains(seconds) else {
            throw APIError.invalidRequest("advance: Input should be a number of seconds from 0 to 31536000")
        }
        return seconds
    }

    /// The clock as `GET /_tapedeck/clock` shows it.
    static func clockJSON(_ clock: TestClock) -> JSONValue {
        let now = clock.now()
        return ["mode": .string(clock.mode.rawValue), "seconds": .number(.init(now)), "now": .string(clock.date(at: now))]
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: JSONWriter.bytes(value))))
    }
}

/// With `--admin-token`, admin calls need `Authorization: Bearer TOKEN` (or `?token=TOKEN`, for a browser on the
/// inspector).
struct AdminTokenMiddleware: RouterMiddleware {
    typealias Context = TapedeckRequestContext
    let token: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token else { return try await next(request, context) }
        let bearer = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        let given = bearer ?? AdminController.query(request)["token"]
        guard let given, Self.constantTimeEqual(given, token) else {
            throw APIError.authentication("The admin API needs Authorization: Bearer <--admin-token>.")
        }
        return try await next(request, context)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// The version `tapedeck --version` prints and `health` reports.
public enum TapedeckVersion {
    public static let current = "0.1.0"
}
