import Hummingbird
import TapedeckTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `tapedeck-fake-upstream [--port N]`: the test suites' fake API as a process, for the interop suite.
@main
enum FakeUpstreamMain {
    static func main() async throws {
        var port = 0
        let arguments = CommandLine.arguments
        if let i = arguments.firstIndex(of: "--port"), i + 1 < arguments.count, let n = Int(arguments[i + 1]) { port = n }
        let fake = FakeUpstream()
        let app = fake.buildApplication(port: port) { bound in
            // Unbuffered, so a parent process reading a pipe sees the line at once.
            var line = "fake upstream on http://127.0.0.1:\(bound)\n"
            line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
        }
        try await app.runService()
    }
}
