import Foundation
import GRDB
import MessagesAPI

/// One row of the `interaction` table, column for column as stored: header lists, events, messages and matchers
/// as their JSON text, bodies as blobs.
///
/// Rows are written by one prepared `INSERT` (`insertSQL` with `insertArguments`), not through GRDB's
/// `PersistableRecord`: that path encodes the record into a container and builds its statement for every row,
/// which was two fifths of the writer thread's time while recording. They are read by the checked `init(row:)`
/// below, not by `Decodable`: GRDB decodes `Int`, `Bool` and `String` properties through SQLite's conversions, so
/// a hand-edited `status = 'abc'` would read as 0 and `is_stream = 'maybe'` as `false`, and a text column holding
/// bytes that are not UTF-8 would come back repaired. That is why the type is not `Decodable` at all: no fetch can
/// take the converting path by accident.
struct InteractionRecord: FetchableRecord, TableRecord {
    static let databaseTableName = "interaction"

    var id: Int64?
    var recordedAt: String
    var method: String
    var path: String
    var query: String?
    var fingerprint: String
    var occurrence: Int
    var requestHeaders: String
    var requestBody: Data
    var status: Int
    var responseHeaders: String
    var responseBody: Data
    var isStream: Bool
    var events: String?
    var message: String?
    var model: String?
    var matcher: String?
    var isFixture: Bool

    /// The schema's column names (migrations `v1` and `v2`); also the columns of the query interface.
    enum Columns: String, ColumnExpression, CaseIterable {
        case id
        case recordedAt = "recorded_at"
        case method, path, query, fingerprint, occurrence
        case requestHeaders = "request_headers"
        case requestBody = "request_body"
        case status
        case responseHeaders = "response_headers"
        case responseBody = "response_body"
        case isStream = "is_stream"
        case events, message, model, matcher
        case isFixture = "is_fixture"
    }

    /// The row an interaction is stored as. JSON columns are written by `JSONWriter`, as they always were, so a
    /// cassette recorded again holds the same bytes.
    init(_ interaction: Interaction) {
        id = interaction.id
        recordedAt = interaction.recordedAt
        method = interaction.method
        path = interaction.path
        query = interaction.query
        fingerprint = interaction.fingerprint
        occurrence = interaction.occurrence
        requestHeaders = JSONWriter.string(interaction.requestHeaders.json)
        requestBody = Data(interaction.requestBody)
        status = interaction.status
        responseHeaders = JSONWriter.string(interaction.responseHeaders.json)
        responseBody = Data(interaction.responseBody)
        isStream = interaction.isStream
        events = interaction.isStream ? JSONWriter.string(interaction.events.json) : nil
        message = interaction.message.map(JSONWriter.string)
        model = interaction.model
        matcher = interaction.matcher.map(JSONWriter.string)
        isFixture = interaction.isFixture
    }

    /// Reads a stored row, every column checked (see `InteractionRow`); a value of the wrong type is a
    /// `DamagedRecording` naming the row.
    init(row: Row) throws(DamagedRecording) {
        let reader = InteractionRow(row)
        guard let id = reader.id else { throw reader.damaged("column id does not hold an integer") }
        self.id = id
        isStream = try reader.bool(Columns.isStream.rawValue)
        recordedAt = try reader.text(Columns.recordedAt.rawValue)
        method = try reader.text(Columns.method.rawValue)
        path = try reader.text(Columns.path.rawValue)
        query = try reader.optionalText(Columns.query.rawValue)
        fingerprint = try reader.text(Columns.fingerprint.rawValue)
        occurrence = try reader.int(Columns.occurrence.rawValue)
        requestHeaders = try reader.text(Columns.requestHeaders.rawValue)
        requestBody = try reader.bytes(Columns.requestBody.rawValue)
        status = try reader.int(Columns.status.rawValue)
        responseHeaders = try reader.text(Columns.responseHeaders.rawValue)
        responseBody = try reader.bytes(Columns.responseBody.rawValue)
        // Only a stream's events are ever read: whatever a JSON answer's row holds there is not its damage.
        events = isStream ? try reader.optionalText(Columns.events.rawValue) : nil
        message = try reader.optionalText(Columns.message.rawValue)
        model = try reader.optionalText(Columns.model.rawValue)
        matcher = try reader.optionalText(Columns.matcher.rawValue)
        // Files from before migration v2 have no such column: not a fixture.
        isFixture = try reader.optionalBool(Columns.isFixture.rawValue) ?? false
    }

    /// Inserts a row into every column, in `Columns.allCases` order; `insertArguments` are its values.
    static let insertSQL =
        "INSERT INTO \(databaseTableName) (\(Columns.allCases.map(\.rawValue).joined(separator: ", "))) "
        + "VALUES (\(Columns.allCases.map { _ in "?" }.joined(separator: ", ")))"

    /// This row's values for `insertSQL`. A `nil` id lets SQLite choose the rowid.
    var insertArguments: StatementArguments {
        StatementArguments(Columns.allCases.map(value(of:)))
    }

    private func value(of column: Columns) -> (any DatabaseValueConvertible)? {
        switch column {
        case .id: id
        case .recordedAt: recordedAt
        case .method: method
        case .path: path
        case .query: query
        case .fingerprint: fingerprint
        case .occurrence: occurrence
        case .requestHeaders: requestHeaders
        case .requestBody: requestBody
        case .status: status
        case .responseHeaders: responseHeaders
        case .responseBody: responseBody
        case .isStream: isStream
        case .events: events
        case .message: message
        case .model: model
        case .matcher: matcher
        case .isFixture: isFixture
        }
    }

    /// The interaction this row holds; its JSON columns must have the shapes written above.
    func interaction() throws(DamagedRecording) -> Interaction {
        Interaction(
            id: id, recordedAt: recordedAt, method: method, path: path, query: query, fingerprint: fingerprint,
            occurrence: occurrence, requestHeaders: try headers(requestHeaders, column: .requestHeaders),
            requestBody: Array(requestBody), status: status,
            responseHeaders: try headers(responseHeaders, column: .responseHeaders), responseBody: Array(responseBody),
            isStream: isStream, events: isStream ? try decodedEvents() : [],
            message: try json(message, column: .message), model: model,
            matcher: try json(matcher, column: .matcher), isFixture: isFixture)
    }

    /// Reads `row` straight into an interaction.
    static func interaction(from row: Row) throws(DamagedRecording) -> Interaction {
        try InteractionRecord(row: row).interaction()
    }

    func damaged(_ reason: String) -> DamagedRecording { DamagedRecording(id: id, reason: reason) }

    func json(_ text: String?, column: Columns) throws(DamagedRecording) -> JSONValue? {
        guard let text else { return nil }
        do { return try JSONParser.parse(text) } catch { throw damaged("column \(column.rawValue) is not JSON") }
    }

    func headers(_ text: String, column: Columns) throws(DamagedRecording) -> [HeaderPair] {
        guard case .array(let items)? = try json(text, column: column) else {
            throw damaged("column \(column.rawValue) is not a JSON list of headers")
        }
        var pairs: [HeaderPair] = []
        for item in items {
            guard let pair = item.arrayValue, pair.count == 2, let name = pair[0].stringValue, let value = pair[1].stringValue else {
                throw damaged("column \(column.rawValue) holds something that is not a [name, value] pair")
            }
            pairs.append(HeaderPair(name, value))
        }
        return pairs
    }

    func decodedEvents() throws(DamagedRecording) -> [Interaction.Event] {
        guard case .array(let items)? = try json(events, column: .events) else {
            throw damaged("column events is not a JSON list of events")
        }
        var decoded: [Interaction.Event] = []
        for (i, item) in items.enumerated() {
            guard let offset = item["t"]?.intValue, let end = item["end"]?.intValue, let name = item["event"]?.stringValue,
                let data = item["data"]?.stringValue
            else { throw damaged("column events: event \(i) needs t, end, event and data") }
            decoded.append(Interaction.Event(offsetMilliseconds: offset, byteEnd: end, name: name, data: data))
        }
        return decoded
    }
}
