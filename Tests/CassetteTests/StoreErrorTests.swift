import Cassette
import Foundation
import GRDB
import TapedeckTestSupport
import Testing

@Suite("Store errors, matched by code")
struct StoreErrorTests {
    typealias StoreError = CassetteStore.StoreError

    /// The error opening `path` throws, or `nil` when it opens.
    func openingError(_ path: String, create: Bool = false, readOnly: Bool = true) -> StoreError? {
        do {
            _ = try CassetteStore(path: path, create: create, readOnly: readOnly)
            return nil
        } catch {
            return error as? StoreError
        }
    }

    func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test func anAbsentFileIsNoSuchCassette() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("absent.sqlite")
        let error = try #require(openingError(path))
        #expect(error == .noSuchCassette)
        #expect(error != .notACassette)
        #expect(error.path == path)
        #expect(error.description == "\(path): no such cassette")
        #expect(!FileManager.default.fileExists(atPath: path), "looking creates nothing")
    }

    @Test(arguments: [
        ([UInt8](), "the file is empty"),
        (Array("hello, not sqlite at all".utf8), "not an SQLite database"),
    ])
    func aFileThatIsNotSQLiteIsNotACassette(bytes: [UInt8], why: String) throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("bogus.sqlite")
        try writeFile(path, bytes)
        let error = try #require(openingError(path))
        #expect(error == .notACassette)
        #expect(error.description == "\(path): not a cassette (\(why))")
    }

    @Test func anSQLiteFileWithNoTablesIsNotACassetteForLooking() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("bare.sqlite")
        let queue = try DatabaseQueue(path: path)
        try queue.write { try $0.execute(sql: "PRAGMA user_version = 7") }
        try queue.close()
        #expect(openingError(path) == .notACassette)
        #expect(openingError(path, create: true, readOnly: false) == nil, "recording may make it one")
    }

    @Test func anotherProgramsDatabaseIsForeign() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("app.sqlite")
        let queue = try DatabaseQueue(path: path)
        try queue.write { try $0.execute(sql: "CREATE TABLE users (id INTEGER PRIMARY KEY)") }
        try queue.close()
        for (create, readOnly) in [(false, true), (true, false)] {
            let error = try #require(openingError(path, create: create, readOnly: readOnly))
            #expect(error == .foreignDatabase)
            #expect(error.description.hasPrefix("\(path): not a tapedeck cassette (it holds other tables: users)"))
        }
    }

    @Test func aCassetteFromANewerTapedeckSaysSo() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("newer.sqlite")
        _ = try CassetteStore(path: path)
        let queue = try DatabaseQueue(path: path)
        try queue.write { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v3: from the future')") }
        try queue.close()
        for (create, readOnly) in [(false, true), (true, false)] {
            let error = try #require(openingError(path, create: create, readOnly: readOnly))
            #expect(error == .newerSchema)
            #expect(error.description.contains("upgrade tapedeck"))
        }
    }

    @Test func codesAreDistinctAndIgnoreTheFile() {
        let codes: [StoreError] = [.noSuchCassette, .notACassette, .foreignDatabase, .newerSchema, .readOnly, .cannotOpen]
        for (i, a) in codes.enumerated() {
            for (j, b) in codes.enumerated() { #expect((a == b) == (i == j), "\(a) vs \(b)") }
            #expect(a.path == nil)
        }
    }

    /// Replay of a cassette nobody has recorded yet: the code, not the words, tells the tape it is empty.
    @Test func aTapeOverAnAbsentFileIsEmptyAndCreatesNothing() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("later.sqlite")
        let tape = try await Tape(path: path, create: false)
        #expect(tape.count == 0 && !tape.isPresent)
        #expect(!FileManager.default.fileExists(atPath: path))
        let bogus = directory.file("bogus.sqlite")
        try writeFile(bogus, Array("not sqlite".utf8))
        await #expect { try await Tape(path: bogus, create: false) } throws: { ($0 as? StoreError) == .notACassette }
    }
}
