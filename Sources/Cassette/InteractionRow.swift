import Foundation
import GRDB
import MessagesAPI

/// Reads an `interaction` row into an `Interaction`, checking every column's type.
///
/// GRDB's typed row subscripts trap when a column holds another type, and a cassette is a file anyone can edit
/// with `sqlite3`: a wrong-typed column must be a `DamagedRecording` that names the row, not a crash.
struct InteractionRow {
    let row: Row
    let id: Int64?

    init(_ row: Row) {
        self.row = row
        id = row["id"] as? Int64
    }

    static func decode(_ row: Row) throws(DamagedRecording) -> Interaction {
        let reader = InteractionRow(row)
        return try reader.interaction()
    }

    func interaction() throws(DamagedRecording) -> Interaction {
        guard let id else { throw damaged("column id does not hold an integer") }
        let isStream = try bool("is_stream")
        return Interaction(
            id: id, recordedAt: try text("recorded_at"), method: try text("method"), path: try text("path"),
            query: try optionalText("query"), fingerprint: try text("fingerprint"), occurrence: try int("occurrence"),
            requestHeaders: try headers("request_headers"), requestBody: try bytes("request_body"),
            status: try int("status"), responseHeaders: try headers("response_headers"),
            responseBody: try bytes("response_body"), isStream: isStream,
            events: isStream ? try events() : [], message: try optionalJSON("message"), model: try optionalText("model"),
            matcher: try optionalJSON("matcher"), isFixture: try optionalBool("is_fixture") ?? false)
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
    func bytes(_ column: String) throws(DamagedRecording) -> [UInt8] {
        switch row[column] {
        case let data as Data: return Array(data)
        case let text as String: return Array(text.utf8)
        default: throw damaged("column \(column) does not hold a body")
        }
    }

    func optionalJSON(_ column: String) throws(DamagedRecording) -> JSONValue? {
        guard let text = try optionalText(column) else { return nil }
        do { return try JSONParser.parse(text) } catch { throw damaged("column \(column) is not JSON") }
    }

    func headers(_ column: String) throws(DamagedRecording) -> [HeaderPair] {
        guard case .array(let items)? = try optionalJSON(column) else { throw damaged("column \(column) is not a JSON list of headers") }
        var pairs: [HeaderPair] = []
        for item in items {
            guard let pair = item.arrayValue, pair.count == 2, let name = pair[0].stringValue, let value = pair[1].stringValue else {
                throw damaged("column \(column) holds something that is not a [name, value] pair")
            }
            pairs.append(HeaderPair(name, value))
        }
        return pairs
    }

    func events() throws(DamagedRecording) -> [Interaction.Event] {
        guard case .array(let items)? = try optionalJSON("events") else { throw damaged("column events is not a JSON list of events") }
        var events: [Interaction.Event] = []
        for (i, item) in items.enumerated() {
            guard let offset = item["t"]?.intValue, let end = item["end"]?.intValue, let name = item["event"]?.stringValue,
                let data = item["data"]?.stringValue
            else { throw damaged("column events: event \(i) needs t, end, event and data") }
            events.append(Interaction.Event(offsetMilliseconds: offset, byteEnd: end, name: name, data: data))
        }
        return events
    }
}
