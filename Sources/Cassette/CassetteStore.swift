import Foundation
import GRDB
import MessagesAPI

/// A cassette: one SQLite file (WAL) holding interactions, safe for several processes recording at once.
///
/// All database work goes through GRDB's async API, so it runs on GRDB's own queues, never on an event loop.
public final class CassetteStore: Sendable {
    /// Highest schema version this build understands.
    public static let schemaVersion = 3

    public let path: String
    /// Whether this store was opened for looking only (an upload then needs a writable one: `Tape.writableStore()`).
    public let isReadOnly: Bool
    /// A pool for writing and for files others may be writing; a queue over an immutable file for reading a
    /// cassette that nobody is writing, so looking never creates `-wal` or `-shm` files beside it.
    let pool: any DatabaseWriter
    /// Recordings made at the same time share a transaction.
    private let commits: GroupCommit

    /// The part of a storage error a person can act on ("database or disk is full"), without SQL or codes.
    public static func reason(_ error: any Error) -> String {
        if let error = error as? DatabaseError { return error.message ?? "\(error.resultCode)" }
        return "\(error)"
    }

    /// Opens the cassette at `path`, bringing an older schema up to date.
    /// - Parameters:
    ///   - create: Create the file (and its directory) when absent.
    ///   - readOnly: Open without writing when the schema is current, so looking at a cassette (replay, `list`,
    ///     `export`) never changes the file. An older schema is still upgraded, once.
    public init(path: String, create: Bool = true, readOnly: Bool = false) throws {
        self.path = path
        let fileManager = FileManager.default
        var isNew = false
        if !fileManager.fileExists(atPath: path) {
            guard create else { throw StoreError.noSuchCassette(path) }
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty { try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true) }
            isNew = true
        } else if let handle = FileHandle(forReadingAtPath: path) {
            // Refuse files that are not SQLite before SQLite gets a chance to misread them.
            let header = (try? handle.read(upToCount: 16)) ?? Data()
            try? handle.close()
            if header.isEmpty && !create {
                throw StoreError.notACassette(path, "the file is empty")
            }
            if !header.isEmpty && header != Data("SQLite format 3\0".utf8) {
                throw StoreError.notACassette(path, "not an SQLite database")
            }
        }
        if readOnly && !isNew {
            let pool = try Self.openReader(path: path)
            switch try Self.schemaState(pool, path: path) {
            case .current:
                self.pool = pool
                self.isReadOnly = true
                commits = GroupCommit(writer: pool)
                return
            case .missing where !create:
                throw StoreError.notACassette(path, "no tapedeck tables in it")
            case .missing, .older:
                break  // Upgrade below, with a writable connection.
            }
        }
        try Self.prepareForWriting(path: path)
        pool = try Self.openPool(path: path, readOnly: false)
        isReadOnly = false
        commits = GroupCommit(writer: pool)
    }

    /// Opens the cassette off the cooperative pool: opening may wait up to the busy timeout for other processes.
    public static func open(path: String, create: Bool = true, readOnly: Bool = false) async throws -> CassetteStore {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try CassetteStore(path: path, create: create, readOnly: readOnly) })
            }
        }
    }

    /// A read-only connection. Without a write-ahead log beside the file, nobody is writing it: SQLite may then
    /// treat it as immutable, which needs no locks and no `-shm` file.
    static func openReader(path: String) throws -> any DatabaseWriter {
        guard !FileManager.default.fileExists(atPath: path + "-wal") else { return try openPool(path: path, readOnly: true) }
        var configuration = Configuration()
        configuration.readonly = true
        var escaped = ""
        for ch in path {
            switch ch {
            case "%": escaped += "%25"
            case "?": escaped += "%3f"
            case "#": escaped += "%23"
            default: escaped.append(ch)
            }
        }
        do {
            return try DatabaseQueue(path: "file:\(escaped)?immutable=1", configuration: configuration)
        } catch let error as DatabaseError {
            throw StoreError.opening(path, error, writing: false)
        }
    }

    static func openPool(path: String, readOnly: Bool) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.readonly = readOnly
        // Other processes may be writing; wait for them rather than failing.
        configuration.busyMode = .timeout(busyTimeout)
        if !readOnly {
            configuration.prepareDatabase { db in
                // WAL + NORMAL: a committed transaction survives a process crash, and writers never block readers.
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
        }
        do {
            return try DatabasePool(path: path, configuration: configuration)
        } catch let error as DatabaseError {
            throw StoreError.opening(path, error, writing: true)
        }
    }

    /// Seconds a connection waits for another process's lock before giving up.
    static let busyTimeout: TimeInterval = 15

    /// Whether this process may write `path` and create files beside it, file systems mounted read-only included.
    static func isWritable(_ path: String) -> Bool {
        let directory = (path as NSString).deletingLastPathComponent
        return access(path, W_OK) == 0 && access(directory.isEmpty ? "." : directory, W_OK) == 0
    }

    enum SchemaState { case current, older, missing }

    /// The schema, one migration a step. Applied steps are listed in `grdb_migrations`, the table GRDB's own
    /// migrator keeps, so cassettes written by earlier versions read the same.
    ///
    /// GRDB's `DatabaseMigrator` reads which steps are applied outside the transaction that applies them, so
    /// two processes creating one cassette at once both run `v1` ("table interaction already exists"). These
    /// steps run inside one exclusive transaction instead (see `prepareForWriting`).
    static let migrations: [(identifier: String, sql: String)] = [
        (
            "v1",
            """
            CREATE TABLE interaction (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                recorded_at TEXT NOT NULL,
                method TEXT NOT NULL,
                path TEXT NOT NULL,
                query TEXT,
                fingerprint TEXT NOT NULL,
                occurrence INTEGER NOT NULL,
                request_headers TEXT NOT NULL,
                request_body BLOB NOT NULL,
                status INTEGER NOT NULL,
                response_headers TEXT NOT NULL,
                response_body BLOB NOT NULL,
                is_stream INTEGER NOT NULL,
                events TEXT,
                message TEXT,
                model TEXT,
                UNIQUE (fingerprint, occurrence)
            );
            CREATE INDEX interaction_path ON interaction (method, path);
            CREATE TABLE cassette_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO cassette_meta (key, value) VALUES ('schema_version', '1');
            """
        ),
        (
            "v2: fixtures",
            """
            ALTER TABLE interaction ADD COLUMN matcher TEXT;
            ALTER TABLE interaction ADD COLUMN is_fixture INTEGER NOT NULL DEFAULT 0;
            UPDATE cassette_meta SET value = '2' WHERE key = 'schema_version';
            """
        ),
        ("v3: files", CassetteStore.filesSchema),
    ]

    /// Where a file's schema stands against `migrations`; throws when it is not a cassette this build can use.
    /// A file with no tapedeck step applied is a cassette only if it holds no tables at all: another program's
    /// database (GRDB's migrations table included) is refused before anything is written to it.
    static func schemaState(_ db: Database, path: String) throws -> SchemaState {
        let tables = try String.fetchAll(
            db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        let applied =
            tables.contains("grdb_migrations")
            ? Set(try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")) : []
        let known = Set(migrations.map(\.identifier))
        if applied.isEmpty {
            let others = tables.filter { $0 != "grdb_migrations" }
            guard others.isEmpty else {
                throw StoreError.foreignDatabase(
                    path,
                    "it holds other tables: \(others.prefix(5).joined(separator: ", "))); "
                        + "point --cassette at a new file or an existing cassette")
            }
            return .missing
        }
        guard applied.contains("v1"), tables.contains("interaction"), tables.contains("cassette_meta") else {
            throw StoreError.foreignDatabase(path, "its migrations are another program's")
        }
        if !applied.isSubset(of: known) {
            throw StoreError.newerSchema(path)
        }
        return applied == known ? .current : .older
    }

    static func schemaState(_ reader: any DatabaseReader, path: String) throws -> SchemaState {
        do {
            return try reader.read { db in try schemaState(db, path: path) }
        } catch let error as DatabaseError {
            throw StoreError.opening(path, error, verb: "not a usable cassette", writing: false)
        }
    }

    /// Brings the file to the current schema and to WAL mode, safely while other processes do the same.
    ///
    /// The schema check and every missing step run in one exclusive transaction, so exactly one process applies
    /// each step and the others see it done; a file that is not a cassette is refused before anything is
    /// written to it. WAL is switched on once, afterwards, only when the file is not in WAL mode yet.
    static func prepareForWriting(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.writeWithoutTransaction { db in
                try db.inTransaction(.exclusive) {
                    guard try schemaState(db, path: path) != .current else { return .commit }
                    let applied =
                        try db.tableExists("grdb_migrations")
                        ? Set(try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")) : []
                    try db.execute(sql: "CREATE TABLE IF NOT EXISTS grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
                    for step in migrations where !applied.contains(step.identifier) {
                        try db.execute(sql: step.sql)
                        try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES (?)", arguments: [step.identifier])
                    }
                    return .commit
                }
                if try String.fetchOne(db, sql: "PRAGMA journal_mode")?.lowercased() != "wal" {
                    try switchToWAL(db)
                }
            }
            try queue.close()
        } catch let error as DatabaseError {
            throw StoreError.opening(path, error, writing: true)
        }
    }

    /// `PRAGMA journal_mode = WAL` needs the file to itself; SQLite answers "database is locked" at once, without
    /// waiting, while another process is reading it, so this asks again for up to the busy timeout.
    static func switchToWAL(_ db: Database) throws {
        let deadline = Date(timeIntervalSinceNow: busyTimeout)
        while true {
            do {
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                return
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
    }

    // MARK: - Reading

    private typealias Columns = InteractionRecord.Columns

    /// The occurrences recorded for one fingerprint, ascending, with their row ids (an indexed lookup).
    public func occurrences(fingerprint: String) async throws -> [(occurrence: Int, id: Int64)] {
        try await pool.read { db in
            let request = InteractionRecord.select(Columns.occurrence, Columns.id)
                .filter(Columns.fingerprint == fingerprint).order(Columns.occurrence)
            return try Row.fetchAll(db, request.asRequest(of: Row.self)).map { row throws(DamagedRecording) in
                // Decoding an `Int` would take SQLite's conversion of a hand-edited column: read it checked.
                let reader = InteractionRow(row)
                guard let id = reader.id else { throw reader.damaged("column id does not hold an integer") }
                return (occurrence: try reader.int(Columns.occurrence.rawValue), id: id)
            }
        }
    }

    /// The interaction with row id `id`.
    public func interaction(id: Int64) async throws -> Interaction? {
        try await pool.read { db in try InteractionRecord.fetchOne(db, key: id)?.interaction() }
    }

    /// The recorded interactions for one fingerprint, by occurrence.
    public func interactions(fingerprint: String) async throws -> [Interaction] {
        try await pool.read { db in
            try InteractionRecord.filter(Columns.fingerprint == fingerprint).order(Columns.occurrence).fetchAll(db)
                .map { record throws(DamagedRecording) in try record.interaction() }
        }
    }

    /// The recording on `method` and `path` whose request body scores lowest (the first among equals), read one
    /// request at a time: explaining a miss never loads the cassette, nor any response body.
    public func closestRequest<Score: Comparable & Sendable>(
        method: String, path: String, by score: @escaping @Sendable ([UInt8]) -> Score
    ) async throws -> (id: Int64, body: [UInt8])? {
        try await pool.read { db in
            let rows = try Row.fetchCursor(
                db, sql: "SELECT id, request_body FROM interaction WHERE method = ? AND path = ? ORDER BY id", arguments: [method, path])
            var best: (id: Int64, body: [UInt8], score: Score)?
            while let row = try rows.next() {
                // Checked reads: a damaged row explains nothing, and must not trap.
                guard let id = row[0] as? Int64 else { continue }
                let body = (row[1] as? Data).map(Array.init) ?? (row[1] as? String).map { Array($0.utf8) } ?? []
                let value = score(body)
                if let current = best, value >= current.score { continue }
                best = (id, body, value)
            }
            return best.map { ($0.id, $0.body) }
        }
    }

    /// What `interactions(matching:)` selects: equal model and status, text anywhere in the request or the
    /// response (case-insensitive for ASCII), ids after `afterID`; at most `limit`, in id order.
    public struct Query: Sendable {
        public var model: String?
        public var status: Int?
        public var text: String?
        public var afterID: Int64?
        public var limit: Int

        public init(model: String? = nil, status: Int? = nil, text: String? = nil, afterID: Int64? = nil, limit: Int = 50) {
            self.model = model
            self.status = status
            self.text = text
            self.afterID = afterID
            self.limit = limit
        }
    }

    /// One page of interactions, and whether more match beyond it.
    public func interactions(matching query: Query) async throws -> (page: [Interaction], hasMore: Bool) {
        var request = InteractionRecord.filter(Columns.id > (query.afterID ?? 0))
        if let model = query.model { request = request.filter(Columns.model == model) }
        if let status = query.status { request = request.filter(Columns.status == status) }
        if let text = query.text, !text.isEmpty {
            let pattern = "%" + text.replacing("\\", with: "\\\\").replacing("%", with: "\\%").replacing("_", with: "\\_") + "%"
            request = request.filter(
                cast(Columns.requestBody, as: .text).like(pattern, escape: "\\")
                    || cast(Columns.responseBody, as: .text).like(pattern, escape: "\\")
                    || Columns.path.like(pattern, escape: "\\"))
        }
        let page = request.order(Columns.id).limit(query.limit + 1)
        let rows = try await pool.read { db in
            try page.fetchAll(db).map { record throws(DamagedRecording) in try record.interaction() }
        }
        return (Array(rows.prefix(query.limit)), rows.count > query.limit)
    }

    /// Interactions with loose matchers, in id (file) order; damaged ones are left out (they match nothing).
    public func looseInteractions() async throws -> [Interaction] {
        try await pool.read { db in
            try Row.fetchAll(db, InteractionRecord.filter(Columns.matcher != nil).order(Columns.id).asRequest(of: Row.self))
                .compactMap { row in
                    guard let interaction = try? InteractionRecord.interaction(from: row), interaction.damage == nil else { return nil }
                    return interaction
                }
        }
    }

    /// The schema version recorded in the file.
    public func storedSchemaVersion() async throws -> Int {
        try await pool.read { db in
            Int(try String.fetchOne(db, sql: "SELECT value FROM cassette_meta WHERE key = 'schema_version'") ?? "0") ?? 0
        }
    }

    /// Every row, in id order, each read or found damaged: what `tapedeck cassette verify` looks at.
    public func scan() async throws -> [Result<Interaction, DamagedRecording>] {
        try await pool.read { db in
            // Rows, not records: one damaged row must not stop the others being read.
            try Row.fetchAll(db, InteractionRecord.order(Columns.id).asRequest(of: Row.self)).map { row in
                Result { () throws(DamagedRecording) in try InteractionRecord.interaction(from: row) }
            }
        }
    }

    /// Every interaction, in id order; throws `DamagedRecording` for the first row that cannot be read.
    public func all() async throws -> [Interaction] {
        try await pool.read { db in
            try InteractionRecord.order(Columns.id).fetchAll(db).map { record throws(DamagedRecording) in try record.interaction() }
        }
    }

    public func count() async throws -> Int {
        try await pool.read { db in try InteractionRecord.fetchCount(db) }
    }

    /// `PRAGMA integrity_check`'s verdict: `"ok"` for a sound file.
    public func integrityCheck() async throws -> String {
        try await pool.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ") }
    }

    // MARK: - Writing

    /// Saves an interaction in one transaction; a stored interaction with the same fingerprint and occurrence is
    /// replaced (keeping its id), so re-recording a suite does not grow the cassette. Returns the row id.
    @discardableResult
    public func save(_ interaction: Interaction) async throws -> Int64 {
        try await saveReportingInsert(interaction).id
    }

    /// Like `save`, also telling whether the interaction was new (rather than replacing an occurrence).
    public func saveReportingInsert(_ interaction: Interaction) async throws -> (id: Int64, inserted: Bool) {
        try await commits.save(interaction)
    }

    /// Saves many interactions in one transaction (all or nothing), keeping their ids when the slots are free.
    public func saveAll(_ interactions: [Interaction]) async throws {
        try await pool.write { db in
            for interaction in interactions { _ = try Self.write(interaction, keepingID: true, in: db) }
        }
    }

    /// The one way rows are written: replace the same fingerprint and occurrence in place, or insert.
    static func write(_ interaction: Interaction, keepingID: Bool, in db: Database) throws -> (id: Int64, inserted: Bool) {
        // Statements prepared once per connection: building the query interface's SQL for every row was a third
        // of a recording's time on the writer.
        let slot = try db.cachedStatement(
            sql:
                "SELECT \(Columns.id.rawValue) FROM \(InteractionRecord.databaseTableName) WHERE \(Columns.fingerprint.rawValue) = ? AND \(Columns.occurrence.rawValue) = ?"
        )
        // `id` is the rowid (`INTEGER PRIMARY KEY`): SQLite stores nothing but integers there.
        let existing = try Int64.fetchOne(slot, arguments: [interaction.fingerprint, interaction.occurrence])
        var record = InteractionRecord(interaction)
        record.id = existing
        if existing == nil, keepingID, let wanted = interaction.id, try !InteractionRecord.exists(db, key: wanted) {
            record.id = wanted
        }
        if let existing {
            let delete = try db.cachedStatement(
                sql: "DELETE FROM \(InteractionRecord.databaseTableName) WHERE \(Columns.id.rawValue) = ?")
            try delete.execute(arguments: [existing])
        }
        try db.cachedStatement(sql: InteractionRecord.insertSQL).execute(arguments: record.insertArguments)
        return (record.id ?? db.lastInsertedRowID, existing == nil)
    }

    /// Folds the write-ahead log into the main file, so the cassette is one self-contained file.
    public func checkpoint() async throws {
        try await pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
    }

    /// Deletes interactions by id; returns how many existed.
    @discardableResult
    public func delete(ids: [Int64]) async throws -> Int {
        try await pool.write { db in try InteractionRecord.deleteAll(db, keys: ids) }
    }
}
