import Cassette
import MessagesAPI

/// The admin API's and the inspector's views of an interaction.
extension Interaction {
    /// One row of a listing: what was asked and answered, in a line each.
    var summaryJSON: JSONValue {
        let request = requestJSON
        return [
            "id": .int(Int(id ?? 0)),
            "recorded_at": .string(recordedAt),
            "method": .string(method),
            "path": .string(path),
            "model": model.map(JSONValue.string) ?? .null,
            "status": .int(status),
            "stream": .bool(isStream),
            "occurrence": .int(occurrence),
            "fingerprint": .string(fingerprint),
            "fixture": .bool(isFixture),
            "prompt": .string(Self.preview(request.map(Fixture.lastUserText) ?? "")),
            "answer": .string(Self.preview(answerText)),
            "kinds": .array(blockKinds.map(JSONValue.string)),
        ]
    }

    /// Everything stored, bodies parsed where they are JSON; a stream as its events with offsets and the text its
    /// deltas add up to.
    var detailJSON: JSONValue {
        func body(_ bytes: [UInt8]) -> JSONValue {
            if bytes.isEmpty { return .null }
            return (try? JSONParser.parse(bytes)) ?? .string(String(decoding: bytes, as: UTF8.self))
        }
        func headers(_ pairs: [HeaderPair]) -> JSONValue { .array(pairs.map { [.string($0.name), .string($0.value)] }) }
        var object = summaryJSON.objectValue ?? JSONObject()
        object["query"] = query.map(JSONValue.string) ?? .null
        object["matcher"] = matcher ?? .null
        object["request"] = ["headers": headers(requestHeaders), "body": body(requestBody)]
        object["response"] = [
            "status": .int(status), "headers": headers(responseHeaders),
            "body": isStream ? .null : (isFixture ? (message ?? .null) : body(responseBody)),
        ]
        object["events"] = .array(
            events.map { event in
                [
                    "t": .int(event.offsetMilliseconds),
                    "name": .string(event.name),
                    "data": (try? JSONParser.parse(event.data)) ?? .string(event.data),
                ]
            })
        object["message"] = message ?? .null
        return .object(object)
    }

    /// The answer's text: the message's text and thinking blocks, or an error's message.
    var answerText: String {
        let answer = answerJSON
        if let error = answer?["error"]?["message"]?.stringValue { return "error: " + error }
        if let error = events.last(where: { $0.name == "error" }).flatMap({ try? JSONParser.parse($0.data) }),
            let text = error["error"]?["message"]?.stringValue
        {
            return "error: " + text
        }
        return answerBlocks.compactMap { block -> String? in
            switch block {
            case .text(let text): text.text
            case .toolUse(let tool): "[tool_use \(tool.name)]"
            default: nil
            }
        }.joined(separator: " ")
    }

    /// The content block types of the answer (`thinking`, `text`, `tool_use`, ...), in order, each once.
    var blockKinds: [String] {
        var kinds: [String] = []
        for block in answerBlocks where !kinds.contains(block.type) { kinds.append(block.type) }
        return kinds
    }

    /// The Message (assembled for streams), or the JSON body a plain answer had.
    var answerJSON: JSONValue? { message ?? (isStream ? nil : try? JSONParser.parse(responseBody)) }

    /// The answer's content blocks, typed: also those of a hand-written fixture, which may be a partial Message.
    var answerBlocks: [ContentBlock] { (answerJSON?["content"]?.arrayValue ?? []).compactMap(ContentBlock.init(json:)) }

    static func preview(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return line.count > 120 ? String(line.prefix(119)) + "…" : line
    }
}
