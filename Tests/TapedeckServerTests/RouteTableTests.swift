import HTTPTypes
import HummingbirdTesting
import Testing

@testable import TapedeckServer

/// Every path in the route table answers the methods it lists and refuses the others with the API's 405.
@Suite("Route table")
struct RouteTableTests {
    @Test func otherMethodsGetTheAPIs405() async throws {
        try await withApp { client in
            for route in Route.all {
                let path = route.path.replacing("{id}", with: "1")
                for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] where !route.methods.contains(method) {
                    for prefix in route.isAPI ? ["", "/cassettes/t1"] : [""] {
                        try await client.execute(uri: prefix + path, method: method) { response in
                            try expectEnvelope(
                                response, status: 405, type: "invalid_request_error",
                                message: "Method \(method.rawValue) not allowed for \(prefix + path)")
                        }
                    }
                }
            }
        }
    }

    @Test func everyListedMethodIsServed() async throws {
        try await withApp { client in
            // The unmodeled route's answer with nothing recorded is the API's 404, by design (UnmodeledPathTests).
            for route in Route.all where !route.path.contains("{id}") && !route.path.hasSuffix("**") {
                for method in route.methods {
                    try await client.execute(uri: route.path, method: method) { response in
                        #expect(response.status.code != 405, "\(method) \(route.path)")
                        #expect(response.status.code != 404, "\(method) \(route.path)")
                    }
                }
            }
        }
    }
}
