import Cassette
import Foundation
import MessagesAPI
import NIOCore
import Synchronization
import Testing

@testable import TapedeckServer

@Suite("Recording streams")
struct StreamRecorderTests {
    let events = [
        #"event: message_start"# + "\n"
            + #"data: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","content":[]}}"# + "\n\n",
        "event: ping\ndata: {\"type\":\"ping\"}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    ]

    @Test func wholeEventsGoOnButTheTerminalOneWaitsForTheCommit() throws {
        var recorder = StreamRecorder(limit: 1 << 20)
        // The first event arrives in two pieces: nothing goes out until it is whole.
        let first = Array(events[0].utf8)
        #expect(recorder.take(ByteBuffer(bytes: first.prefix(10)), at: 1) == nil)
        #expect(recorder.take(ByteBuffer(bytes: first.dropFirst(10)), at: 2).map { String(buffer: $0) } == events[0])
        #expect(recorder.take(ByteBuffer(string: events[1] + events[2]), at: 3).map { String(buffer: $0) } == events[1])
        let finished = recorder.finish(at: 4)
        let (raw, recorded) = try #require(finished)
        #expect(String(decoding: raw, as: UTF8.self) == events.joined())
        #expect(recorded.map(\.name) == ["message_start", "ping", "message_stop"])
        #expect(recorder.unsent().map { String(buffer: $0) } == events[2], "the end goes out after the commit")
        #expect(recorder.unsent() == nil)
    }

    @Test func pastTheLimitEverythingPassesThroughAndNothingIsKept() {
        var recorder = StreamRecorder(limit: events[0].utf8.count + 5)
        _ = recorder.take(ByteBuffer(string: events[0]), at: 1)
        let passed = recorder.take(ByteBuffer(string: events[1]), at: 2)
        #expect(recorder.isOverLimit)
        #expect(passed.map { String(buffer: $0) } == events[1])
        #expect(recorder.take(ByteBuffer(string: events[2]), at: 3).map { String(buffer: $0) } == events[2])
        let finished = recorder.finish(at: 4)
        #expect(finished == nil)
        #expect(recorder.unsent() == nil)
    }

    @Test(arguments: [
        ("event: message_start\ndata: {\"type\":\"message_start\"}\n\n", "without message_stop"),
        ("event: message_stop\ndata: not json\n\n", "does not carry a JSON object"),
        (
            "event: content_block_delta\ndata: [1, 2, 3]\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
            "does not carry a JSON object"
        ),
        ("garbage without any event at all", "without message_stop"),
    ])
    func halfAStreamIsNotAWholeAnswer(text: String, problem: String) throws {
        var recorder = StreamRecorder(limit: 1 << 20)
        _ = recorder.take(ByteBuffer(string: text), at: 1)
        let finished = recorder.finish(at: 2)
        let (_, recorded) = try #require(finished)
        let found = Interaction.streamProblem(recorded.map { SSEEvent(name: $0.name, data: $0.data) })
        #expect(found?.contains(problem) == true, "\(String(describing: found))")
    }
}

@Suite("Waits built from input")
struct ClampedDurationTests {
    @Test(arguments: [
        (-5.0, Duration.zero), (.nan, .zero), (1e300, .seconds(86_400)), (.infinity, .seconds(86_400)), (1.5, .microseconds(1500)),
    ])
    func clampIntoADay(milliseconds: Double, expected: Duration) {
        #expect(Duration.clamped(milliseconds: milliseconds) == expected)
    }
}

@Suite("The per-test cassette pool")
struct ShelfTests {
    @Test func theLeastRecentlyUsedClosesAndReopensWithItsCounters() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("shelf-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let defaultTape = try await Tape(path: directory + "/default.sqlite", create: false)
        let shelf = Shelf(defaultTape: defaultTape, directory: directory, create: true, capacity: 2)
        let fingerprint = Fingerprint(method: "POST", path: "/v1/messages", body: .string("x"), ignoring: [])
        let a = try await shelf.tape(named: "a")
        #expect(a.nextOccurrence(of: fingerprint) == 1)
        _ = try await shelf.tape(named: "b")
        _ = try await shelf.tape(named: "c")
        #expect(await shelf.openTapes().map(\.name) == ["default", "b", "c"], "a, least recently used, was closed")
        let reopened = try await shelf.tape(named: "a")
        #expect(reopened !== a)
        #expect(reopened.nextOccurrence(of: fingerprint) == 2, "the run's counters survive closing")
        shelf.rewindAll()
        #expect(try await shelf.tape(named: "a").nextOccurrence(of: fingerprint) == 1)
        #expect(await shelf.openTapes().count == 3)
    }
}

@Suite("Watching the client")
struct ClientConnectionTests {
    @Test func aFinishedCallReturnsAndAHangUpCancelsTheWait() async throws {
        let client = ClientConnection()
        #expect(try await client.cancellingOnClose { 42 } == 42)
        #expect(!client.isAwaitingUpstream)
        let started = AsyncStream<Void>.makeStream()
        let waited = Task {
            try await client.cancellingOnClose {
                started.continuation.yield()
                try await Task.sleep(for: .seconds(60))
                return 1
            }
        }
        var iterator = started.stream.makeAsyncIterator()
        _ = await iterator.next()
        #expect(client.isAwaitingUpstream, "the guard closes a half-closed connection only while this is true")
        client.markClosed()
        await #expect(throws: ClientConnection.Closed.self) { try await waited.value }
        #expect(!client.isAwaitingUpstream)
        let ran = Mutex(false)
        await #expect(throws: ClientConnection.Closed.self, "a call made after the hang-up is not started") {
            try await client.cancellingOnClose { ran.withLock { $0 = true } }
        }
        #expect(!ran.withLock { $0 })
    }

    /// The wait runs in the caller's task (no child task per chunk): a hang-up cancels that task, and an error the
    /// cancelled call throws reaches the caller as `Closed`.
    @Test func aHangUpCancelsTheCallingTaskItself() async throws {
        let client = ClientConnection()
        let started = AsyncStream<Void>.makeStream()
        let waited = Task {
            do {
                _ = try await client.cancellingOnClose {
                    started.continuation.yield()
                    try await Task.sleep(for: .seconds(60))
                }
                return (closed: false, cancelled: Task.isCancelled)
            } catch is ClientConnection.Closed {
                return (closed: true, cancelled: Task.isCancelled)
            }
        }
        var iterator = started.stream.makeAsyncIterator()
        _ = await iterator.next()
        client.markClosed()
        let outcome = try await waited.value
        #expect(outcome.closed && outcome.cancelled)
    }

    /// A call that finished before the hang-up leaves its task alone; one the hang-up overtook reports `Closed` even
    /// though it finished, since its task is cancelled now.
    @Test func onlyAWaitUnderWayIsCancelled() async throws {
        let client = ClientConnection()
        #expect(try await client.cancellingOnClose { 7 } == 7)
        client.markClosed()
        #expect(!Task.isCancelled, "a finished call is not cancelled by a later hang-up")

        let overtaken = ClientConnection()
        let started = AsyncStream<Void>.makeStream()
        let (closedStream, closed) = AsyncStream<Void>.makeStream()
        let waited = Task {
            try await overtaken.cancellingOnClose {
                started.continuation.yield()
                // Ignores the cancel, as a call about to return its result would.
                for await _ in closedStream { break }
                return 1
            }
        }
        var iterator = started.stream.makeAsyncIterator()
        _ = await iterator.next()
        overtaken.markClosed()
        closed.yield()
        await #expect(throws: ClientConnection.Closed.self) { try await waited.value }
    }

    /// Cancelling the task from outside (the server shutting down) is not a hang-up.
    @Test func aCancelledTaskOnAnOpenConnectionIsNotAHangUp() async throws {
        let client = ClientConnection()
        let started = AsyncStream<Void>.makeStream()
        let waited = Task {
            try await client.cancellingOnClose {
                started.continuation.yield()
                try await Task.sleep(for: .seconds(60))
            }
        }
        var iterator = started.stream.makeAsyncIterator()
        _ = await iterator.next()
        waited.cancel()
        await #expect(throws: CancellationError.self) { try await waited.value }
        #expect(!client.isAwaitingUpstream)
    }
}

@Suite("Body limits")
struct BodyLimitTests {
    /// Each route's 413 names its own limit: the admin API's 64 KiB, not the messages route's 32 MiB.
    @Test func theFaultsEndpointNamesItsOwnLimit() async throws {
        try await withApp { client in
            let big = "{\"fault\":\"" + String(repeating: "x", count: 70_000) + "\"}"
            try await client.execute(uri: "/_tapedeck/faults", method: .post, headers: jsonHeaders, body: body(big)) { response in
                #expect(response.status.code == 413)
                #expect(response.body.json?["error"]?["message"]?.stringValue?.contains("(65536)") == true, "\(response.body.text)")
            }
        }
    }
}
