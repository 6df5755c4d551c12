import MessagesAPI
import Testing

@Suite("Lists paged by id")
struct ListPageTests {
    let ids = (1...7).map { "id\($0)" }

    func page(limit: Int, after: String? = nil, before: String? = nil) -> ([String], Bool)? {
        ListPage.of(ids, id: { $0 }, limit: limit, after: after, before: before).map { ($0.items, $0.hasMore) }
    }

    @Test func firstAfterAndBeforePagesSayWhetherMoreIsLeft() throws {
        #expect(try #require(page(limit: 3)) == (["id1", "id2", "id3"], true))
        #expect(try #require(page(limit: 7)) == (ids, false))
        #expect(try #require(page(limit: 3, after: "id4")) == (["id5", "id6", "id7"], false))
        #expect(try #require(page(limit: 2, after: "id4")) == (["id5", "id6"], true))
        // Before a cursor: the items just before it; more is left when the page does not reach the start.
        #expect(try #require(page(limit: 2, before: "id5")) == (["id3", "id4"], true))
        #expect(try #require(page(limit: 4, before: "id5")) == (["id1", "id2", "id3", "id4"], false))
        #expect(try #require(page(limit: 3, before: "id1")) == ([], false))
        #expect(page(limit: 3, after: "nope") == nil && page(limit: 3, before: "nope") == nil)
    }

    @Test func theLimitIsTwentyByDefaultAndTheAPIsRangeOtherwise() throws {
        #expect(try ListPage<String>.limit(nil) == 20)
        #expect(try ListPage<String>.limit("1000") == 1000)
        for bad in ["0", "1001", "x", "-1"] {
            #expect(throws: APIError.invalidRequest("limit: Input should be between 1 and 1000")) { try ListPage<String>.limit(bad) }
        }
    }
}
