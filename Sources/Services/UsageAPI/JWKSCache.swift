import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JWTKit
import Logging

/// The realm's signing keys, fetched from its JWKS URL and cached (`JWKSCacheState` decides when to fetch).
/// Only RSA signing keys for RS256 are kept: Keycloak's JWKS also lists encryption keys (RSA-OAEP), which must not
/// verify tokens.
actor JWKSCache {
    /// Fetches the JWKS document.
    typealias Fetch = @Sendable () async throws -> Data

    private var state: JWKSCacheState<ContinuousClock.Instant>
    private var keys = JWTKeyCollection()
    private var running: Task<Void, Never>?
    private let fetch: Fetch
    private let logger: Logger

    /// A cache over `fetch`.
    init(timeToLive: Duration, minimumInterval: Duration, logger: Logger, fetch: @escaping Fetch) {
        state = JWKSCacheState(timeToLive: timeToLive, minimumInterval: minimumInterval)
        self.fetch = fetch
        self.logger = logger
    }

    /// A cache over an HTTP(S) JWKS URL (10 s timeout per fetch).
    init(url: URL, timeToLive: Duration, minimumInterval: Duration, logger: Logger) {
        self.init(timeToLive: timeToLive, minimumInterval: minimumInterval, logger: logger) {
            var request = URLRequest(url: url, timeoutInterval: 10)
            request.setValue("application/json", forHTTPHeaderField: "Accept")
            let (data, response) = try await URLSession.shared.data(for: request)
            guard let status = (response as? HTTPURLResponse)?.statusCode, status == 200 else {
                throw APIConfigurationError("the JWKS URL \(url) answered \((response as? HTTPURLResponse)?.statusCode ?? 0), not 200")
            }
            return data
        }
    }

    /// Keys that hold `keyID`: fetched again when it is not among them or they are older than the time to live.
    func keys(for keyID: String) async throws(APIProblem) -> JWTKeyCollection {
        var mayFetch = true
        while true {
            switch state.decide(keyID: keyID, now: .now, mayFetch: mayFetch) {
            case .useCached:
                return keys
            case .fetch:
                let task = Task { await self.refresh() }
                running = task
                await task.value
            case .awaitFetch:
                await running?.value
            case .unknownKey:
                throw APIProblem(.unauthorized, "the token's key id '\(keyID)' is not among the realm's signing keys")
            case .unavailable:
                throw APIProblem(.unavailable, "the realm's signing keys (JWKS) could not be fetched; try again shortly")
            }
            mayFetch = false
        }
    }

    private func refresh() async {
        do {
            let (collection, ids) = try await Self.collection(from: try await fetch())
            keys = collection
            state.fetched(keyIDs: ids, at: .now)
            logger.info("JWKS fetched", metadata: ["keys": "\(ids.sorted())"])
        } catch {
            state.fetchFailed()
            logger.warning("JWKS fetch failed; keeping the keys held so far", metadata: ["error": "\(error)"])
        }
    }

    /// The RS256 signing keys of a JWKS document, and their key ids.
    static func collection(from data: Data) async throws -> (JWTKeyCollection, Set<String>) {
        guard let document = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let all = document["keys"] as? [[String: Any]] else {
            throw APIConfigurationError("the JWKS document has no 'keys' array")
        }
        let signing = all.filter { key in
            key["kty"] as? String == "RSA" && key["kid"] is String && (key["use"] == nil || key["use"] as? String == "sig")
                && (key["alg"] == nil || key["alg"] as? String == "RS256")
        }.map { key -> [String: Any] in
            var key = key
            key["alg"] = "RS256"
            return key
        }
        let jwks = try JSONDecoder().decode(JWKS.self, from: try JSONSerialization.data(withJSONObject: ["keys": signing]))
        let collection = JWTKeyCollection()
        try await collection.add(jwks: jwks)
        return (collection, Set(signing.compactMap { $0["kid"] as? String }))
    }
}
