import Cassette
import Foundation
import GRDB
import MessagesAPI
import TapedeckTestSupport
import Testing

@Suite("Damaged recordings")
struct DamageTests {
    /// A cassette with one good JSON recording and one good stream, and a raw connection to edit it with.
    func cassette(in directory: TemporaryDirectory) async throws -> (path: String, json: Int64, stream: Int64) {
        let path = directory.file("c.sqlite")
        let store = try CassetteStore(path: path)
        let samples = try Samples.all()
        let json = try #require(samples.first { !$0.isStream && $0.status == 200 })
        let stream = try #require(samples.first { $0.isStream })
        return (path, try await store.save(json), try await store.save(stream))
    }

    func edit(_ path: String, _ sql: String, _ arguments: StatementArguments = []) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { try $0.execute(sql: sql, arguments: arguments) }
        try queue.close()
    }

    @Test(arguments: [
        ("status = 'abc'", "column status does not hold an integer"),
        ("occurrence = 'x'", "column occurrence does not hold an integer"),
        ("request_headers = X'00FF'", "column request_headers does not hold UTF-8 text"),
        ("response_headers = '{\"not\":\"a list\"}'", "column response_headers is not a JSON list of headers"),
        ("is_stream = 'maybe'", "column is_stream does not hold 0 or 1"),
        ("recorded_at = NULL", "column recorded_at is empty"),
        ("response_body = 42", "column response_body does not hold a body"),
    ])
    func aWrongTypedColumnIsAnErrorNamingTheRow(change: String, reason: String) async throws {
        let directory = try TemporaryDirectory()
        let (path, id, _) = try await cassette(in: directory)
        // NOT NULL columns need their constraint out of the way to hold a NULL: rebuild without it.
        if change.hasSuffix("NULL") {
            try edit(path, "PRAGMA writable_schema = ON")
        }
        do {
            try edit(path, "UPDATE interaction SET \(change) WHERE id = ?", [id])
        } catch {
            // SQLite refused the NULL itself; the other columns are what this test is about.
            #expect(change.hasSuffix("NULL"))
            return
        }
        let store = try CassetteStore(path: path, create: false, readOnly: true)
        await #expect { try await store.all() } throws: { error in
            guard let damaged = error as? DamagedRecording else { return false }
            return damaged.id == id && damaged.reason == reason
        }
        let rows = try await store.scan()
        #expect(rows.count == 2)
        #expect(rows.filter { (try? $0.get()) == nil }.count == 1, "the other row still reads")
    }

    @Test func replayThrowsDamagedForARowThatCannotBeServed() async throws {
        let directory = try TemporaryDirectory()
        let (path, id, streamID) = try await cassette(in: directory)
        try edit(path, "UPDATE interaction SET status = 4290 WHERE id = ?", [id])
        // A stream cut before message_stop: the bytes end early, and the stored events with them.
        let store = try CassetteStore(path: path, create: false, readOnly: true)
        let stream = try #require(try await store.interaction(id: streamID))
        let cut = stream.events.count - 1
        let keep = stream.events[cut - 1].byteEnd
        let events = Array(stream.events.prefix(cut)).map {
            ["t": JSONValue.int($0.offsetMilliseconds), "end": .int($0.byteEnd), "event": .string($0.name), "data": .string($0.data)]
                as JSONValue
        }
        try edit(
            path, "UPDATE interaction SET response_body = ?, events = ? WHERE id = ?",
            [Data(stream.responseBody.prefix(keep)), JSONWriter.string(.array(events)), streamID])
        let tape = try await Tape(path: path, create: false)
        for (rowID, reason) in [(id, "status 4290"), (streamID, "without message_stop")] {
            let interaction = try #require(try await store.interaction(id: rowID))
            let fingerprint = try #require(Fingerprint(hex: interaction.fingerprint))
            await #expect { try await tape.recording(for: fingerprint, occurrence: 1) } throws: { error in
                guard let damaged = error as? DamagedRecording else { return false }
                return damaged.id == rowID && damaged.reason.contains(reason) && damaged.cassette == path
            }
        }
        // A fresh look: the first store opened the file as immutable, before the edit.
        let edited = try CassetteStore(path: path, create: false, readOnly: true)
        // What `cassette verify` reports first (its text is tested in TapedeckCLITests).
        let problems = try await edited.all().filter { $0.id == streamID }.compactMap(\.damage)
        #expect(problems.count == 1 && problems.first?.contains("without message_stop") == true, "\(problems)")
    }

    @Test(arguments: [4290, 1000, -1, 99, 150])
    func importRefusesImpossibleStatuses(status: Int) {
        let line = #"{"request":{"body":{"model":"m","messages":[]}},"response":{"status":\#(status),"body":{}}}"#
        #expect {
            try InteractionCodec.decodeExport(line, file: "f.jsonl")
        } throws: { "\($0)".contains("f.jsonl:1: status \(status) is not an HTTP status") }
    }

    @Test(arguments: [204, 304])
    func bodylessStatusesImport(status: Int) throws {
        let line = #"{"request":{"body":{"model":"m","messages":[]}},"response":{"status":\#(status),"body":{}}}"#
        #expect(try InteractionCodec.decodeExport(line, file: "f.jsonl").first?.status == status)
        #expect(Interaction.isBodyless(status))
    }
}

@Suite("Opening cassettes from several processes")
struct ConcurrentOpenTests {
    /// Recorders starting together on a new file used to race GRDB's migrator ("table interaction already
    /// exists", "duplicate column name") or the switch to WAL ("database is locked"). Separate connections in
    /// one process race the same way separate processes do.
    @Test func eightRecordersStartingAtOnceAllOpenTheSameNewCassette() async throws {
        for round in 0..<10 {
            let directory = try TemporaryDirectory()
            let path = directory.file("new-\(round).sqlite")
            let results = await withTaskGroup(of: String?.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        do {
                            let store = try await CassetteStore.open(path: path, create: true)
                            _ = try await store.count()
                            return nil
                        } catch {
                            return "\(error)"
                        }
                    }
                }
                var failures: [String] = []
                for await result in group { if let result { failures.append(result) } }
                return failures
            }
            #expect(results.isEmpty, "round \(round): \(results)")
            let store = try CassetteStore(path: path, create: false, readOnly: true)
            #expect(try await store.storedSchemaVersion() == CassetteStore.schemaVersion)
        }
    }

    @Test func aForeignSQLiteFileIsRefusedAndLeftAsItWas() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("app.sqlite")
        let queue = try DatabaseQueue(path: path)
        try queue.write {
            try $0.execute(sql: "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, 'ada')")
        }
        try queue.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect { try CassetteStore(path: path, create: true) } throws: {
            "\($0)".contains("not a tapedeck cassette (it holds other tables: users)")
        }
        #expect { try CassetteStore(path: path, create: false, readOnly: true) } throws: { "\($0)".contains("not a tapedeck cassette") }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    /// Another GRDB app's database has a `grdb_migrations` table too, even one with a step named `v1`.
    @Test(arguments: [[], ["v1"], ["v1", "v2: fixtures"]])
    func anotherGRDBAppsDatabaseIsRefused(steps: [String]) throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("grdb-app.sqlite")
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(
                sql: "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY); CREATE TABLE player (id INTEGER PRIMARY KEY)")
            for step in steps { try db.execute(sql: "INSERT INTO grdb_migrations VALUES (?)", arguments: [step]) }
        }
        try queue.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect { try CassetteStore(path: path, create: true) } throws: { "\($0)".contains("not a tapedeck cassette") }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test func anEmptyFileBecomesACassette() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("empty.sqlite")
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        _ = try CassetteStore(path: path, create: true)
        #expect(try CassetteStore(path: path, create: false, readOnly: true).path == path)
    }
}

@Suite("Query strings as stored")
struct QueryRedactionTests {
    @Test func secretParametersAndPatternsNeverReachTheCassette() throws {
        let redactor = try Redactor(patterns: ["sess-[0-9]+"])
        #expect(
            redactor.redact(query: "beta=true&api_key=SECRET123&Key=abc&x=sess-42")
                == "beta=true&api_key=%5BREDACTED%5D&Key=%5BREDACTED%5D&x=[REDACTED]")
        #expect(try Redactor().redact(query: "access%5Ftoken=t0k&beta=true") == "access%5Ftoken=%5BREDACTED%5D&beta=true")
        #expect(try Redactor().redact(query: "beta=true&flag") == "beta=true&flag")
    }
}
