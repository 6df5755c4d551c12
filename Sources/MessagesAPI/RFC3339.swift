/// RFC 3339 in UTC from Unix seconds, computed with Howard Hinnant's civil-from-days algorithm: Foundation's
/// formatter cost more than the rest of a rate-limit header set, and what Tapedeck writes into answers must not
/// depend on a locale or a time zone.
public enum RFC3339 {
    /// `2026-01-01T00:00:05Z`, or with `fraction` (such as `.000000`) before the `Z`.
    /// Seconds outside years 1 to 9999, which RFC 3339 cannot write, are taken as those years' ends.
    public static func string(unixSeconds: Int64, fraction: String = "") -> String {
        let seconds = min(max(unixSeconds, -62_135_596_800), 253_402_300_799)
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let (h, m, s) = (secondOfDay / 3_600, secondOfDay / 60 % 60, secondOfDay % 60)
        return "\(year)-\(two(month))-\(two(day))T\(two(h)):\(two(m)):\(two(s))\(fraction)Z"
    }
}
