/// When to fetch the realm's JWKS again, as a state machine without I/O (`JWKSCache` is its driver).
///
/// Keys are used for `timeToLive` after a fetch. A token whose key id the cached set lacks (the realm rotated its
/// keys) makes the cache fetch at once, but at most once per `minimumInterval`, so that tokens with made-up key ids
/// cannot make it hammer the key server. A failed fetch keeps the keys it had (stale keys beat no keys while the key
/// server is briefly away). Concurrent callers share one fetch.
struct JWKSCacheState<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// What a caller should do to get a key.
    enum Decision: Equatable, Sendable {
        /// Use the cached keys: they have the key id.
        case useCached
        /// Fetch the key set (this caller does; report with `fetched` or `fetchFailed`).
        case fetch
        /// Another caller is fetching: wait for it, then ask again without fetching.
        case awaitFetch
        /// No cached key has this id, and fetching again is not allowed yet.
        case unknownKey
        /// There are no keys at all (the key server never answered), and fetching again is not allowed yet.
        case unavailable
    }

    /// How long fetched keys are used before the next fetch.
    let timeToLive: Duration
    /// The shortest time between two fetches caused by unknown key ids or failures.
    let minimumInterval: Duration

    private(set) var keyIDs: Set<String>?
    private var fetchedAt: Instant?
    private var lastAttempt: Instant?
    private(set) var fetching = false

    /// A cache that has fetched nothing yet.
    init(timeToLive: Duration, minimumInterval: Duration) {
        self.timeToLive = timeToLive
        self.minimumInterval = minimumInterval
    }

    /// What to do for a token signed with key `keyID` at `now`. `mayFetch` is false when the caller just waited for
    /// or made a fetch (so that it asks once more, and never loops).
    mutating func decide(keyID: String, now: Instant, mayFetch: Bool = true) -> Decision {
        let known = keyIDs?.contains(keyID) == true
        if known, let fetchedAt, now < fetchedAt.advanced(by: timeToLive) { return .useCached }
        let recentlyTried = lastAttempt.map { now < $0.advanced(by: minimumInterval) } ?? false
        if fetching && mayFetch { return .awaitFetch }
        if !fetching && mayFetch && !recentlyTried {
            fetching = true
            lastAttempt = now
            return .fetch
        }
        if known { return .useCached }
        return keyIDs == nil ? .unavailable : .unknownKey
    }

    /// The fetch that `decide` asked for returned these key ids.
    mutating func fetched(keyIDs: Set<String>, at now: Instant) {
        self.keyIDs = keyIDs
        fetchedAt = now
        fetching = false
    }

    /// The fetch that `decide` asked for failed; the keys held so far stay in use.
    mutating func fetchFailed() {
        fetching = false
    }
}
