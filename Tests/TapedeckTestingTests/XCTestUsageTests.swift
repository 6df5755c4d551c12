import Foundation
import TapedeckTestSupport
import TapedeckTesting
import XCTest

/// `withTapedeck` from an XCTest case: an `async` test method calls it directly, asserting with XCTest's functions.
final class WithTapedeckXCTests: XCTestCase {
    func testReplaysTheDemoCassette() async throws {
        try await withTemporaryDirectory { directory in
            let cassette = try demoCassette(in: directory)
            let recording = try await firstRecording(in: cassette)
            let expected = try XCTUnwrap(recording)
            try await withTapedeck(cassette: cassette, mode: .replay) { baseURL in
                let reply = try await post(baseURL, expected.path, body: expected.requestBody)
                XCTAssertEqual(reply.status, expected.status)
                XCTAssertEqual(reply.body, expected.responseBody)
            }
        }
    }
}
