import MessagesAPI
import Testing

@Suite("Message Batches: the create body, the state machine, ids, times and results")
struct BatchTests {
    static func body(_ requests: [JSONValue]) -> JSONValue { ["requests": .array(requests)] }
    static func request(_ id: JSONValue, params: JSONValue = ["model": "claude-sonnet-4-5"]) -> JSONValue {
        ["custom_id": id, "params": params]
    }

    func refusal(_ body: JSONValue?) -> String? {
        do {
            _ = try BatchCreateRequest(parsing: body)
            return nil
        } catch {
            #expect(error.status == 400)
            #expect(error.type == .invalidRequest)
            return error.message
        }
    }

    @Test func createRefusesWhatTheAPIRefusesWhole() {
        #expect(refusal(["other": 1]) == "requests: Field required")
        #expect(refusal(["requests": "x"]) == "requests: Input should be a valid list")
        #expect(refusal(Self.body([])) == "requests: List should have at least 1 item after validation, not 0")
        #expect(
            refusal(Self.body([Self.request(.string(String(repeating: "a", count: 65)))]))
                == "requests.0.custom_id: String should have at most 64 characters")
        #expect(refusal(Self.body([Self.request("")])) == "requests.0.custom_id: String should have at least 1 character")
        #expect(
            refusal(Self.body([Self.request("ok"), Self.request("no spaces")]))
                == "requests.1.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'")
        #expect(refusal(Self.body([Self.request(3)])) == "requests.0.custom_id: Input should be a valid string")
        #expect(refusal(Self.body([["custom_id": "a"]])) == "requests.0.params: Field required")
        #expect(
            refusal(Self.body([Self.request("a"), Self.request("b"), Self.request("a")]))?.hasPrefix(
                "requests.2.custom_id: Duplicate custom_id 'a'") == true)
        let tooMany = Self.body((0...BatchCreateRequest.maxRequests).map { Self.request(.string("r\($0)")) })
        #expect(refusal(tooMany) == "requests: List should have at most 100000 items after validation, not 100001")
    }

    @Test func invalidParamsAreNotTheCreatesBusiness() throws {
        // `params` is checked request by request when the batch is processed: an errored result, not a failed create.
        let create = try BatchCreateRequest(parsing: Self.body([Self.request("a", params: [:]), Self.request("b-2_C")]))
        #expect(create.items.map(\.customID) == ["a", "b-2_C"])
    }

    static func batch(
        delay: Int, results: [JSONValue] = [MessageBatch.succeeded(["id": "msg_1"]), MessageBatch.errored(["type": "error"])]
    )
        -> MessageBatch
    {
        MessageBatch(id: "msgbatch_x", createdAt: MessageBatch.epoch, customIDs: ["a", "b"], processed: results, delay: delay)
    }

    @Test(arguments: [0, 1, 3]) func endsAfterTheDelaysRetrieves(_ delay: Int) {
        var batch = Self.batch(delay: delay)
        #expect(batch.status == .inProgress)
        for _ in 0..<delay {
            batch.retrieve()
            #expect(batch.status == .inProgress)
            #expect(batch.json(resultsBase: "http://h")["results_url"] == .null)
            #expect(batch.requestCounts["processing"] == 2)
        }
        batch.retrieve()
        #expect(batch.status == .ended)
        #expect(batch.endedAt == MessageBatch.epoch + delay + 1)
        #expect(batch.requestCounts == ["processing": 0, "succeeded": 1, "errored": 1, "canceled": 0, "expired": 0])
        #expect(
            batch.json(resultsBase: "http://h/cassettes/t")["results_url"] == "http://h/cassettes/t/v1/messages/batches/msgbatch_x/results")
        batch.retrieve()
        #expect(batch.endedAt == MessageBatch.epoch + delay + 1, "an ended batch stays as it ended")
    }

    @Test func cancelGoesThroughCancelingAndCancelsEveryRequest() throws {
        var batch = Self.batch(delay: 2)
        batch.retrieve()
        try batch.cancel()
        #expect(batch.status == .canceling)
        #expect(batch.cancelInitiatedAt == MessageBatch.epoch + 1)
        try batch.cancel()
        #expect(batch.status == .canceling, "canceling twice changes nothing")
        #expect(throws: APIError.self) { try batch.checkDeletable() }
        #expect(throws: APIError.self) { try batch.resultsJSONL() }
        batch.retrieve()
        #expect(batch.status == .ended)
        #expect(batch.requestCounts == ["processing": 0, "succeeded": 0, "errored": 0, "canceled": 2, "expired": 0])
        let lines = String(decoding: try batch.resultsJSONL(), as: UTF8.self)
        #expect(
            lines == #"{"custom_id":"a","result":{"type":"canceled"}}"# + "\n" + #"{"custom_id":"b","result":{"type":"canceled"}}"# + "\n")
        do {
            try batch.cancel()
            Issue.record("an ended batch cannot be canceled")
        } catch {
            #expect(error.status == 400)
        }
        try batch.checkDeletable()
    }

    @Test func deleteAndResultsWaitForTheEnd() throws {
        var batch = Self.batch(delay: 0)
        do {
            try batch.checkDeletable()
            Issue.record("an in-progress batch cannot be deleted")
        } catch {
            #expect(error.status == 400)
            #expect(error.message.contains("msgbatch_x"))
        }
        batch.retrieve()
        try batch.checkDeletable()
        let lines = try batch.resultsJSONL().split(separator: UInt8(ascii: "\n")).map { try JSONParser.parse($0) }
        #expect(lines.map { $0["custom_id"] } == ["a", "b"])
        #expect(lines.map { $0["result"]?["type"] } == ["succeeded", "errored"])
        #expect(MessageBatch.deleted("msgbatch_x") == ["id": "msgbatch_x", "type": "message_batch_deleted"])
    }

    @Test func idsAreDerivedFromTheRequestAndItsOccurrence() {
        let id = MessageBatch.makeID(fingerprint: [1, 2, 3], occurrence: 1)
        #expect(Identifier.isWellFormed(id, prefix: "msgbatch_"))
        #expect(id == MessageBatch.makeID(fingerprint: [1, 2, 3], occurrence: 1))
        #expect(id != MessageBatch.makeID(fingerprint: [1, 2, 3], occurrence: 2))
        #expect(id != MessageBatch.makeID(fingerprint: [1, 2, 4], occurrence: 1))
    }

    @Test(arguments: [
        (0, "1970-01-01T00:00:00.000000Z"), (MessageBatch.epoch, "2026-01-01T00:00:00.000000Z"),
        (MessageBatch.epoch + MessageBatch.lifetime + 3661, "2026-01-02T01:01:01.000000Z"), (951_782_400, "2000-02-29T00:00:00.000000Z"),
    ])
    func timesAreRFC3339(_ seconds: Int, _ text: String) {
        #expect(MessageBatch.timestamp(seconds) == text)
    }

    @Test func theBatchObjectHasTheAPIsFields() {
        let json = Self.batch(delay: 0).json(resultsBase: "http://h")
        #expect(
            json.objectValue?.keys == [
                "id", "type", "processing_status", "request_counts", "ended_at", "created_at", "expires_at", "archived_at",
                "cancel_initiated_at", "results_url",
            ])
        #expect(json["type"] == "message_batch")
        #expect(json["expires_at"] == "2026-01-02T00:00:00.000000Z")
    }

    @Test func resultsURLsArePointedAtTheServerAndNothingElseChanges() throws {
        let upstream =
            #"{"data":[{"id":"msgbatch_1","results_url": "https://api.anthropic.com/v1/messages/batches/msgbatch_1/results"},"#
            + #"{"id":"msgbatch_2","results_url":null}],"note":"results_url"}"#
        let rewritten = try #require(ResultsURL.rewrite(Array(upstream.utf8), base: "http://127.0.0.1:4010/cassettes/t"))
        #expect(
            String(decoding: rewritten, as: UTF8.self)
                == #"{"data":[{"id":"msgbatch_1","results_url": "http://127.0.0.1:4010/cassettes/t/v1/messages/batches/msgbatch_1/results"},"#
                + #"{"id":"msgbatch_2","results_url":null}],"note":"results_url"}"#)
        #expect(ResultsURL.rewrite(Array(#"{"results_url":null}"#.utf8), base: "http://x") == nil)
        #expect(ResultsURL.rewrite(Array(#"{"a":"results_url"}"#.utf8), base: "http://x") == nil)
        #expect(ResultsURL.rewrite([], base: "http://x") == nil)
    }
}
