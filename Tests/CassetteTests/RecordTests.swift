import Cassette
import Foundation
import GRDB
import MessagesAPI
import TapedeckTestSupport
import Testing

@Suite("Interaction records")
struct RecordTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func edit(_ path: String, _ sql: String, _ arguments: StatementArguments = []) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { try $0.execute(sql: sql, arguments: arguments) }
        try queue.close()
    }

    func row(_ path: String, _ sql: String, _ arguments: StatementArguments = []) throws -> Row? {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { try Row.fetchOne($0, sql: sql, arguments: arguments) }
    }

    @Test func everyKindReadsBackEqual() async throws {
        let directory = try TemporaryDirectory()
        let store = try CassetteStore(path: directory.file("c.sqlite"))
        var saved: [Interaction] = []
        for sample in try Samples.all() {
            var stored = sample
            stored.id = try await store.save(sample)
            #expect(try await store.interaction(id: try #require(stored.id)) == stored, "\(sample.path) \(sample.status)")
            saved.append(stored)
        }
        #expect(try await store.all() == saved)
        #expect(try await store.count() == saved.count)
        let first = saved[0]
        #expect(try await store.interactions(fingerprint: first.fingerprint) == [first])
        #expect(try await store.occurrences(fingerprint: first.fingerprint).map(\.id) == [first.id])
        #expect(try await store.scan().map { try $0.get() } == saved)
    }

    /// The columns hold what the 18-argument INSERT wrote before records: blobs for bodies, 0/1 for flags,
    /// `JSONWriter` text for JSON, NULL for what is absent. Old and new rows read the same.
    @Test func rowsHoldTheColumnsTheSchemaAlwaysHad() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("c.sqlite")
        let store = try CassetteStore(path: path)
        let stream = try Samples.stream("a_text.sse", prompt: "text")
        let json = try Samples.all()[6]
        let streamID = try await store.save(stream)
        let jsonID = try await store.save(json)
        let typed = try #require(
            try row(
                path,
                """
                SELECT typeof(id), typeof(request_body), typeof(response_body), typeof(is_stream), typeof(status),
                    typeof(occurrence), typeof(events), typeof(message), typeof(matcher), typeof(query), is_fixture,
                    request_headers, events, message FROM interaction WHERE id = ?
                """, [streamID]))
        #expect(
            Array(typed.databaseValues.prefix(10))
                == [
                    "integer", "blob", "blob", "integer", "integer", "integer", "text", "text", "null", "null",
                ].map(\.databaseValue))
        #expect((typed[10] as Int64?) == 0)
        #expect((typed[11] as String?) == "[[\"anthropic-version\",\"2023-06-01\"]]")
        #expect(
            (typed[12] as String?)
                == JSONWriter.string(
                    .array(
                        stream.events.map {
                            [
                                "t": .int($0.offsetMilliseconds), "end": .int($0.byteEnd), "event": .string($0.name),
                                "data": .string($0.data),
                            ]
                        })))
        #expect((typed[13] as String?) == stream.message.map(JSONWriter.string))
        let plain = try #require(try row(path, "SELECT events, is_stream, response_body FROM interaction WHERE id = ?", [jsonID]))
        #expect((plain[0] as String?) == nil)
        #expect((plain[1] as Int64?) == 0)
        #expect((plain[2] as Data?) == Data(json.responseBody))
    }

    /// Saves made at once share transactions (GroupCommit), yet each succeeds or fails alone: a row the database
    /// refuses fails its own save only, and every other one is kept with an id of its own.
    @Test func concurrentSavesAreKeptEachOnItsOwn() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("c.sqlite")
        let store = try CassetteStore(path: path)
        try edit(
            path,
            """
            CREATE TRIGGER refuse BEFORE INSERT ON interaction WHEN NEW.fingerprint = 'refused'
            BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
            """)
        let sample = try Samples.all()[0]
        let outcomes = await withTaskGroup(of: (Int, Int64?).self) { group in
            for i in 0..<200 {
                group.addTask {
                    var interaction = sample
                    interaction.fingerprint = i == 77 ? "refused" : "fp\(i % 100)"
                    interaction.occurrence = i / 100 + 1
                    return (i, try? await store.saveReportingInsert(interaction).id)
                }
            }
            var outcomes: [Int: Int64?] = [:]
            for await (i, id) in group { outcomes[i] = id }
            return outcomes
        }
        #expect(outcomes.count == 200)
        #expect(outcomes[77] == .some(nil), "the refused row fails its save")
        let ids = outcomes.compactMap { $0.value }
        #expect(ids.count == 199 && Set(ids).count == 199)
        #expect(try await store.count() == 199)
    }

    @Test func savingReplacesAnOccurrenceAndImportKeepsFreeIDs() async throws {
        let directory = try TemporaryDirectory()
        let store = try CassetteStore(path: directory.file("c.sqlite"))
        var sample = try Samples.all()[0]
        let first = try await store.saveReportingInsert(sample)
        #expect(first.inserted)
        sample.status = 201
        let again = try await store.saveReportingInsert(sample)
        #expect(again.id == first.id && !again.inserted)
        #expect(try await store.interaction(id: first.id)?.status == 201)
        var imported = try Samples.all()[1]
        imported.id = 40
        var taken = try Samples.all()[2]
        taken.id = first.id
        try await store.saveAll([imported, taken])
        #expect(try await store.interaction(id: 40)?.fingerprint == imported.fingerprint)
        #expect(try await store.all().map(\.id) == [first.id, 40, 41], "a taken id is not overwritten: the row gets a new one")
        #expect(try await store.delete(ids: [40, 40, 999]) == 1)
        #expect(try await store.count() == 2)
    }

    /// Values GRDB's `Decodable` decoding would convert without a word (SQLite's conversions: text to 0, an
    /// integer to its digits, any non-zero to `true`) are damage here, through every way a row is read.
    @Test(arguments: [
        // Text columns have text affinity (SQLite stores `42` there as '42'): bytes that are not UTF-8 instead.
        ("method = X'FF'", "column method does not hold UTF-8 text"),
        ("status = 200.5", "column status does not hold an integer"),
        ("is_fixture = 2", "column is_fixture does not hold 0 or 1"),
        ("request_body = 1.5", "column request_body does not hold a body"),
        ("events = 'not json'", "column events is not JSON"),
        ("events = '[{\"t\":1}]'", "column events: event 0 needs t, end, event and data"),
        ("message = 'not json'", "column message is not JSON"),
        ("request_headers = '[[\"a\",1]]'", "column request_headers holds something that is not a [name, value] pair"),
    ])
    func wrongTypesAreDamageOnEveryRead(change: String, reason: String) async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("c.sqlite")
        let stream = try Samples.stream("a_text.sse", prompt: "text")
        let store = try CassetteStore(path: path)
        let id = try await store.save(stream)
        try edit(path, "UPDATE interaction SET \(change) WHERE id = ?", [id])
        let edited = try CassetteStore(path: path, create: false, readOnly: true)
        func isDamage(_ error: any Error) -> Bool {
            guard let damaged = error as? DamagedRecording else { return false }
            return damaged.id == id && damaged.reason == reason
        }
        await #expect { try await edited.interaction(id: id) } throws: { isDamage($0) }
        await #expect { try await edited.all() } throws: { isDamage($0) }
        await #expect { try await edited.interactions(fingerprint: stream.fingerprint) } throws: { isDamage($0) }
        await #expect { try await edited.interactions(matching: CassetteStore.Query()) } throws: { isDamage($0) }
        let scanned = try await edited.scan()
        #expect(scanned.count == 1)
        if case .failure(let damaged) = scanned[0] { #expect(damaged.reason == reason) } else { Issue.record("read as whole") }
        #expect(try await edited.occurrences(fingerprint: stream.fingerprint).map(\.id) == [id], "the index needs only two columns")
    }

    /// A JSON answer's row is read without its `events` column, so nothing there is damage.
    @Test func aJSONAnswersEventsColumnIsNotRead() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("c.sqlite")
        let json = try Samples.all()[6]
        let id = try await CassetteStore(path: path).save(json)
        try edit(path, "UPDATE interaction SET events = X'FF' WHERE id = ?", [id])
        var expected = json
        expected.id = id
        #expect(try await CassetteStore(path: path, create: false, readOnly: true).interaction(id: id) == expected)
    }

    /// The cassette in the repository (written before records) opens without being changed and reads whole,
    /// and exports to the committed JSON Lines.
    @Test func theRepositorysDemoCassetteStillReads() async throws {
        let path = Self.repository.appendingPathComponent("cassettes/demo.sqlite").path
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let store = try CassetteStore(path: path, create: false, readOnly: true)
        let all = try await store.all()
        #expect(all.count == 6)
        #expect(all.allSatisfy { $0.damage == nil })
        let committed = try String(contentsOf: Self.repository.appendingPathComponent("cassettes/demo.jsonl"), encoding: .utf8)
        #expect(InteractionCodec.export(all) == committed)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }
}
