import Foundation
import GRDB

/// Reads the columns of one `interaction` row, checking each value's storage type.
///
/// GRDB's typed row subscripts trap (they force the conversion) when a column holds a value they cannot convert, and its `decode`
/// methods convert through SQLite (`'abc'` read as an integer is 0). A cassette is a file anyone can edit with
/// `sqlite3`: a wrong-typed column must be a `DamagedRecording` that names the row, never a crash or a made-up value.
struct InteractionRow {
    let row: Row
    /// The row id, when the row has a readable one (an `INTEGER PRIMARY KEY` always holds an integer, but a
    /// query may not select it).
    let id: Int64?

    init(_ row: Row) {
        self.row = row
        id = row["id"] as? Int64
    }

    func damaged(_ reason: String) -> DamagedRecording { DamagedRecording(id: id, reason: reason) }

    func int(_ column: String) throws(DamagedRecording) -> Int {
        guard let value = row[column] as? Int64, let int = Int(exactly: value) else {
            throw damaged("column \(column) does not hold an integer")
        }
        return int
    }

    func optionalBool(_ column: String) throws(DamagedRecording) -> Bool? {
        guard let value = row[column] else { return nil }
        guard let int = value as? Int64, int == 0 || int == 1 else { throw damaged("column \(column) does not hold 0 or 1") }
        return int == 1
    }

    func bool(_ column: String) throws(DamagedRecording) -> Bool {
        guard let value = try optionalBool(column) else { throw damaged("column \(column) is empty") }
        return value
    }

    func optionalText(_ column: String) throws(DamagedRecording) -> String? {
        switch row[column] {
        case nil: return nil
        case let text as String: return text
        case let data as Data:
            guard let text = String(validating: Array(data), as: UTF8.self) else {
                throw damaged("column \(column) does not hold UTF-8 text")
            }
            return text
        default: throw damaged("column \(column) does not hold text")
        }
    }

    func text(_ column: String) throws(DamagedRecording) -> String {
        guard let value = try optionalText(column) else { throw damaged("column \(column) is empty") }
        return value
    }

    /// A body: bytes as stored (a blob, or text that SQLite kept as text).
    func bytes(_ column: String) throws(DamagedRecording) -> Data {
        switch row[column] {
        case let data as Data: return data
        case let text as String: return Data(text.utf8)
        default: throw damaged("column \(column) does not hold a body")
        }
    }
}
