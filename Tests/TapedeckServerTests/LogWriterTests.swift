import Foundation
import Logging
import Testing

@testable import TapedeckServer

@Suite("Log lines written in batches")
struct LogWriterTests {
    /// A pipe the writer writes to; its read end, drained after `flush`.
    final class Pipe {
        let read: Int32
        let write: Int32

        init() throws {
            var ends: [Int32] = [0, 0]
            guard pipe(&ends) == 0 else { throw TestFailure("pipe failed") }
            (read, write) = (ends[0], ends[1])
            // Non-blocking reads: after a flush everything written is already in the pipe.
            _ = fcntl(read, F_SETFL, fcntl(read, F_GETFL) | O_NONBLOCK)
        }

        func drain() -> String {
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { Foundation.read(read, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                bytes += chunk.prefix(n)
            }
            return String(decoding: bytes, as: UTF8.self)
        }

        deinit {
            close(read)
            close(write)
        }
    }

    @Test func everyLineArrivesWholeAndInOrderOnceFlushed() async throws {
        let pipe = try Pipe()
        let writer = LogWriter(descriptor: pipe.write)
        // Many tasks at once, as event loops log: lines may interleave between tasks, never within one.
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<4 {
                group.addTask {
                    for i in 0..<500 { writer.append("task \(task) line \(i)\n", urgent: false) }
                }
            }
        }
        writer.flush()
        let lines = pipe.drain().split(separator: "\n")
        #expect(lines.count == 2000)
        for task in 0..<4 {
            let mine = lines.filter { $0.hasPrefix("task \(task) ") }
            #expect(mine.map(String.init) == (0..<500).map { "task \(task) line \($0)" })
        }
    }

    @Test func linesLookLikeStreamLogHandlersAndKeepTheLevel() throws {
        let pipe = try Pipe()
        let writer = LogWriter(descriptor: pipe.write)
        var logger = Logger(label: "tapedeck") { LogLineHandler(label: $0, level: .info, writer: writer) }
        logger[metadataKey: "hb.request.id"] = "abc"
        logger.info("POST /v1/messages 200", metadata: ["source": "recorded", "ms": "0.4"])
        logger.debug("not at info")
        logger.warning("model inferred")
        writer.flush()
        let lines = pipe.drain().split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        let first = try #require(lines.first)
        let shape = try Regex(
            #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} info tapedeck: hb\.request\.id=abc ms=0\.4 source=recorded \[\w+\] POST /v1/messages 200$"#
        )
        #expect(first.wholeMatch(of: shape) != nil, "\(first)")
        #expect(lines.last?.hasSuffix("warning tapedeck: hb.request.id=abc [TapedeckServerTests] model inferred") == true, "\(lines)")
    }

    /// A request's line skips the generic event (`LogLineHandler.log(_:)`) but must read exactly as that event
    /// would, including a handler field that sorts between the line's own and one that the line overrides.
    @Test func aRequestsLineReadsAsTheSameEventWould() throws {
        let pipe = try Pipe()
        let writer = LogWriter(descriptor: pipe.write)
        var handler = LogLineHandler(label: "tapedeck", level: .info, writer: writer)
        handler.metadata = ["hb.request.id": "abc", "path": "x", "source": "shadowed", "zeta": "z", "alpha": "1"]
        let configured = handler
        let logger = Logger(label: "tapedeck") { _ in configured }
        let line = AccessLine(
            method: "POST", path: "/v1/messages", status: 200, source: "recorded", milliseconds: Milliseconds(value: 12.34))
        handler.log(line)
        logger.log(
            level: .info, "POST /v1/messages 200", metadata: ["source": "recorded", "ms": .stringConvertible(line.milliseconds)],
            source: AccessLine.module)
        handler.logLevel = .warning
        handler.log(line)
        writer.flush()
        let lines = pipe.drain().split(separator: "\n").map { $0.drop { $0 != " " } }
        #expect(lines.count == 2)
        #expect(lines.first == lines.last)
        #expect(
            lines.first
                == " info tapedeck: alpha=1 hb.request.id=abc ms=12.3 path=x source=recorded zeta=z [TapedeckServer] POST /v1/messages 200")
    }

    @Test func millisecondsPrintAsTheRoundedDoubleWould() {
        for value in [0, 0.04, 0.05, 0.3, 1.25, 9.99, 12.34, 999.96, 123_456.7] {
            #expect(Milliseconds(value: value).description == "\((value * 10).rounded() / 10)", "\(value)")
        }
    }
}
