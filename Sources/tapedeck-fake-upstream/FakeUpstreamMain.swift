import Hummingbird
import TapedeckTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `tapedeck-fake-upstream [--port N]`: the test suites' fake API as a process, for the interop suite.
@main
enum FakeUpstreamMain {
    static func main() async {
        var port = 0
        let arguments = CommandLine.arguments
        if let i = arguments.firstIndex(of: "--port"), i + 1 < arguments.count, let n = Int(arguments[i + 1]) { port = n }
        let fake = FakeUpstream()
        let app = fake.buildApplication(port: port) { bound in
            // Unbuffered, so a parent process reading a pipe sees the line at once.
            var line = "fake upstream on http://127.0.0.1:\(bound)\n"
            line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
        }
        do {
            try await app.runService()
        } catch {
            // A port already taken is the usual cause; the scripts that start this read one line, not a backtrace.
            var line = "tapedeck-fake-upstream: cannot serve on port \(port): \(error)\n"
            line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
            exit(1)
        }
    }
}
