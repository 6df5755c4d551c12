import MessagesAPI
import Testing

@Suite("RFC 3339 from Unix seconds")
struct RFC3339Tests {
    @Test func datesAcrossEpochsLeapDaysAndTheirEnds() {
        #expect(RFC3339.string(unixSeconds: 0) == "1970-01-01T00:00:00Z")
        #expect(RFC3339.string(unixSeconds: 1_767_225_605, fraction: ".000000") == "2026-01-01T00:00:05.000000Z")
        #expect(RFC3339.string(unixSeconds: 951_825_599) == "2000-02-29T11:59:59Z")
        #expect(RFC3339.string(unixSeconds: -1) == "1969-12-31T23:59:59Z")
        #expect(RFC3339.string(unixSeconds: .max) == "9999-12-31T23:59:59Z")
        #expect(RFC3339.string(unixSeconds: .min) == "1-01-01T00:00:00Z")
    }
}
