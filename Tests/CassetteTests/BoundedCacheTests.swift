import Cassette
import Testing

@Suite("Bounded cache")
struct BoundedCacheTests {
    @Test func neverHoldsMoreThanItsBudgetAndKeepsWhatIsInUse() {
        let cache = BoundedCache<Int, [UInt8]>(budget: 10_000)
        for i in 0..<1_000 {
            cache.set([UInt8](repeating: 0, count: 100), for: i, cost: 100)
            // Key 0 is asked for all along: it must survive every generation change.
            #expect(cache.value(for: 0) != nil, "after \(i) inserts")
            #expect(cache.totalCost <= 10_000)
        }
        #expect(cache.value(for: 999) != nil)
        #expect(cache.value(for: 1) == nil, "long unused entries are gone")
    }

    @Test func aValueLargerThanHalfTheBudgetIsNotKept() {
        let cache = BoundedCache<String, Int>(budget: 100)
        cache.set(1, for: "big", cost: 51)
        #expect(cache.value(for: "big") == nil && cache.totalCost == 0)
        cache.set(2, for: "small", cost: 50)
        cache.set(3, for: "small", cost: 10)
        #expect(cache.value(for: "small") == 3 && cache.totalCost == 10, "replacing a key replaces its cost")
    }
}
