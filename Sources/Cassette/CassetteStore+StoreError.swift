import Foundation
import GRDB

extension CassetteStore {
    /// Why a cassette could not be used: a code to match, and words a person can act on.
    ///
    /// Errors compare equal when their codes are, whatever file and words they carry, so callers match by code:
    /// `catch let error as CassetteStore.StoreError where error == .noSuchCassette`.
    public struct StoreError: Error, CustomStringConvertible, Equatable, Sendable {
        private enum Code: Equatable, Sendable {
            case noSuchCassette
            case notACassette
            case foreignDatabase
            case newerSchema
            case readOnly
            case cannotOpen
        }

        private let code: Code
        /// The file the error is about; `nil` in the values callers match against.
        public let path: String?
        /// What happened, said so a person can act on it (the file first, when known).
        public let description: String

        private init(_ code: Code, path: String? = nil, _ message: String) {
            self.code = code
            self.path = path
            description = path.map { "\($0): \(message)" } ?? message
        }

        public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }

        /// The file does not exist, and was not to be created.
        public static let noSuchCassette = Self(.noSuchCassette, "no such cassette")
        /// The file is empty, not SQLite, or an SQLite file SQLite cannot read.
        public static let notACassette = Self(.notACassette, "not a cassette")
        /// The file is another program's SQLite database: it is left as it is.
        public static let foreignDatabase = Self(.foreignDatabase, "not a tapedeck cassette")
        /// The file was written by a newer tapedeck, with migrations this build does not know.
        public static let newerSchema = Self(.newerSchema, "written by a newer tapedeck")
        /// Recording needs to write the file, and it or its directory is read-only.
        public static let readOnly = Self(.readOnly, "the cassette is read-only")
        /// SQLite could not open or prepare the file for another reason (its message says which).
        public static let cannotOpen = Self(.cannotOpen, "cannot open cassette")

        static func noSuchCassette(_ path: String) -> Self { Self(.noSuchCassette, path: path, "no such cassette") }

        /// - Parameter why: What is in the file instead ("the file is empty").
        static func notACassette(_ path: String, _ why: String) -> Self { Self(.notACassette, path: path, "not a cassette (\(why))") }

        /// - Parameter why: What the file holds instead, and what to do.
        static func foreignDatabase(_ path: String, _ why: String) -> Self {
            Self(.foreignDatabase, path: path, "not a tapedeck cassette (\(why))")
        }

        static func newerSchema(_ path: String) -> Self {
            Self(
                .newerSchema, path: path,
                "written by a newer tapedeck (schema newer than version \(CassetteStore.schemaVersion)); upgrade tapedeck")
        }

        /// What SQLite's refusal to open `path` means, by its result code: a file that is not a database, one that
        /// may not be written, or another failure in SQLite's own words.
        /// - Parameters:
        ///   - verb: How the message starts ("cannot open cassette", "not a usable cassette").
        ///   - writing: Whether the connection was to write: only then is a read-only file the reason.
        static func opening(_ path: String, _ error: DatabaseError, verb: String = "cannot open cassette", writing: Bool) -> Self {
            let words = "\(verb): \(error.message ?? "\(error)")"
            switch error.resultCode {
            case .SQLITE_NOTADB, .SQLITE_CORRUPT:
                return Self(.notACassette, path: path, words)
            case .SQLITE_READONLY where writing:
                return readOnly(path)
            default:
                // SQLite says "unable to open database file" for a file it may read but not write: say which.
                if writing, FileManager.default.fileExists(atPath: path), !CassetteStore.isWritable(path) { return readOnly(path) }
                return Self(.cannotOpen, path: path, words)
            }
        }

        static func readOnly(_ path: String) -> Self {
            Self(
                .readOnly, path: path,
                "cannot open cassette: the file or its directory is read-only (recording needs to write the cassette and its -wal file)")
        }
    }
}
