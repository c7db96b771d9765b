import CryptoExtras
import Foundation
import Hummingbird
import JWTKit
import Logging
import Synchronization
import TestSupport

/// A stand-in for the Keycloak realm: RSA signing keys, their JWKS served over real HTTP on loopback (it counts
/// fetches and can rotate keys), and tokens signed the way Keycloak signs them (RS256, kid in the header).
/// It also serves `/login?token=T&next=URL`, which sets the token cookie and redirects, as a sign-in gateway would:
/// the only way to hand a headless browser a token.
final class TestRealm: Sendable {
    static let issuer = "https://keycloak.test/realms/ferris"
    static let audience = "ferris-usage"
    static let adminRole = "ferris-usage-admin"

    let port: Int
    var jwksURL: URL { URL(string: "http://127.0.0.1:\(port)/certs")! }
    private let signers = JWTKeyCollection()
    private let served = Mutex<[String: [String: String]]>([:])
    private let fetchCount = Atomic<Int>(0)

    private init(port: Int) { self.port = port }

    /// A realm serving its JWKS on a free port, with one key, `k1`.
    static func start() async throws -> TestRealm {
        let realm = TestRealm(port: try TestServices.freePort())
        try await realm.addKey("k1")
        let router = Router()
        router.get("certs") { _, _ -> Response in
            realm.fetchCount.add(1, ordering: .relaxed)
            let keys = realm.served.withLock { Array($0.values) }
            let body = try JSONSerialization.data(withJSONObject: ["keys": keys])
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.get("healthz") { _, _ in "ok" }
        router.get("login") { request, _ -> Response in
            let token = request.uri.queryParameters["token"].map(String.init) ?? ""
            let next = request.uri.queryParameters["next"].map(String.init) ?? "/"
            return Response(status: .found, headers: [.setCookie: "ferris-usage-token=\(token); Path=/; HttpOnly", .location: next])
        }
        var logger = Logger(label: "test-realm")
        logger.logLevel = .warning
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: realm.port)),
                              logger: logger)
        Task { try await app.run() }
        try await waitUntilServing("http://127.0.0.1:\(realm.port)/healthz")
        return realm
    }

    /// How often the JWKS was fetched.
    var fetches: Int { fetchCount.load(ordering: .relaxed) }

    /// Makes a new signing key `kid` and serves it (`serve: false` keeps it out of the JWKS: a foreign key).
    func addKey(_ kid: String, serve: Bool = true) async throws {
        let key = try Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
        await signers.add(rsa: key, digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
        guard serve else { return }
        let (modulus, exponent) = try key.publicKey.getKeyPrimitives()
        let jwk = ["kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                   "n": Self.base64URL(modulus), "e": Self.base64URL(exponent)]
        served.withLock { $0[kid] = jwk }
    }

    /// Serves only the keys in `kids` from now on (key rotation), plus an encryption key, as Keycloak's JWKS has one.
    func serveOnly(_ kids: Set<String>) {
        served.withLock { keys in
            keys = keys.filter { kids.contains($0.key) }
            keys["enc"] = ["kty": "RSA", "kid": "enc", "use": "enc", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"]
        }
    }

    /// A token as Keycloak issues it for `tenant` (nil: no tenant claim), signed with `kid`.
    func token(tenant: String?, roles: [String] = [], kid: String = "k1", issuer: String = TestRealm.issuer,
               audience: String = TestRealm.audience, expiresIn: TimeInterval = 300,
               notBefore: TimeInterval? = nil) async throws -> String {
        let now = Date().timeIntervalSince1970
        var claims: [String: JSONClaim] = [
            "iss": .string(issuer), "aud": .array([.string(audience), .string("account")]), "sub": .string("user-\(tenant ?? "none")"),
            "exp": .number(now + expiresIn), "iat": .number(now - 5), "azp": .string(TestRealm.audience),
            "realm_access": .object(["roles": .array((roles + ["offline_access"]).map { .string($0) })]),
        ]
        if let tenant { claims["tenant"] = .string(tenant) }
        if let notBefore { claims["nbf"] = .number(now + notBefore) }
        return try await signers.sign(TestClaims(claims: claims), kid: JWKIdentifier(string: kid))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Polls `url` until it answers (any status).
    static func waitUntilServing(_ url: String, seconds: Int = 30) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(seconds)
        while clock.now < deadline {
            if (try? await HTTP.get(url)) != nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestSetupError("\(url) did not answer within \(seconds) s")
    }
}

/// A claim value for test tokens.
enum JSONClaim: Codable, Sendable {
    case string(String), number(Double), array([JSONClaim]), object([String: JSONClaim])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONClaim].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONClaim].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

struct TestClaims: JWTPayload {
    var claims: [String: JSONClaim]

    init(claims: [String: JSONClaim]) { self.claims = claims }
    init(from decoder: any Decoder) throws { claims = try decoder.singleValueContainer().decode([String: JSONClaim].self) }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(claims)
    }
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
