import Foundation
import JWTKit
import Logging

/// How OIDC bearer tokens are checked: as ferrisDX's Keycloak issues them.
public struct OIDCConfiguration: Sendable {
    /// The realm's JWKS URL (Keycloak: `<issuer>/protocol/openid-connect/certs`).
    public var jwksURL: URL
    /// The required `iss` (Keycloak: `https://<host>/realms/<realm>`).
    public var issuer: String
    /// A value the token's `aud` must contain.
    public var audience: String
    /// The claim holding the caller's tenant; a dotted path reaches into objects (e.g. `ferris.tenant`).
    public var tenantClaim = "tenant"
    /// The role that sees every tenant, looked up in `realm_access.roles` and `resource_access.<audience>.roles`.
    public var adminRole = "ferris-usage-admin"
    /// How long fetched keys are used before the JWKS is fetched again.
    public var keyCacheTimeToLive: Duration = .seconds(300)
    /// The shortest time between two fetches caused by an unknown key id (key rotation) or a failed fetch.
    public var minimumRefetchInterval: Duration = .seconds(10)
    /// Clock skew allowed when checking `exp` and `nbf`, in seconds.
    public var leewaySeconds: Double = 30

    /// Creates a configuration.
    public init(jwksURL: URL, issuer: String, audience: String) {
        self.jwksURL = jwksURL
        self.issuer = issuer
        self.audience = audience
    }
}

/// Checks a bearer token (RS256 signature against the cached JWKS, expiry, not-before, issuer, audience) and
/// tells who it is for. Every refusal is a 401 naming the reason, except a valid token that names no tenant and
/// lacks the admin role (403).
final class TokenVerifier: Sendable {
    private let configuration: OIDCConfiguration
    private let keys: JWKSCache

    init(configuration: OIDCConfiguration, keys: JWKSCache) {
        self.configuration = configuration
        self.keys = keys
    }

    /// The principal of `token`, or the problem with it.
    func principal(for token: String, now: Date = Date()) async throws(APIProblem) -> Principal {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerData = Self.base64URL(parts[0]),
              let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw APIProblem(.unauthorized, "the bearer token is not a JWT (header.payload.signature)")
        }
        guard let algorithm = header["alg"] as? String, algorithm == "RS256" else {
            throw APIProblem(.unauthorized, "the token's algorithm '\(header["alg"] as? String ?? "none")' is not accepted: tokens must be signed with RS256")
        }
        guard let keyID = header["kid"] as? String else {
            throw APIProblem(.unauthorized, "the token has no key id (kid) in its header")
        }
        let collection = try await keys.keys(for: keyID)
        let claims: Claims
        do {
            claims = try await collection.verify(token, as: Claims.self)
        } catch {
            throw APIProblem(.unauthorized, "the token's signature does not verify with the realm's key '\(keyID)'")
        }
        try check(claims.values, now: now)
        return try principal(claims.values)
    }

    private func check(_ claims: [String: ClaimValue], now: Date) throws(APIProblem) {
        let seconds = now.timeIntervalSince1970
        guard let expiry = claims["exp"]?.number else {
            throw APIProblem(.unauthorized, "the token has no expiry (exp)")
        }
        guard seconds <= expiry + configuration.leewaySeconds else {
            throw APIProblem(.unauthorized, "the token expired at \(Date(timeIntervalSince1970: expiry)): get a new one")
        }
        if let notBefore = claims["nbf"]?.number, seconds + configuration.leewaySeconds < notBefore {
            throw APIProblem(.unauthorized, "the token is not valid before \(Date(timeIntervalSince1970: notBefore))")
        }
        guard claims["iss"]?.string == configuration.issuer else {
            throw APIProblem(.unauthorized, "the token's issuer '\(claims["iss"]?.string ?? "")' is not '\(configuration.issuer)'")
        }
        let audiences = claims["aud"]?.strings ?? []
        guard audiences.contains(configuration.audience) else {
            throw APIProblem(.unauthorized, "the token's audience \(audiences) does not include '\(configuration.audience)'")
        }
    }

    /// The principal a checked token's claims describe.
    func principal(_ claims: [String: ClaimValue]) throws(APIProblem) -> Principal {
        let subject = claims["sub"]?.string ?? "unknown"
        let roles = (claims["realm_access"]?["roles"]?.strings ?? [])
            + (claims["resource_access"]?[configuration.audience]?["roles"]?.strings ?? [])
        if roles.contains(configuration.adminRole) { return Principal(subject: subject, scope: .allTenants) }
        var value: ClaimValue? = .object(claims)
        for name in configuration.tenantClaim.split(separator: ".") { value = value?[String(name)] }
        guard let tenant = value?.string ?? value?.strings?.first, !tenant.isEmpty else {
            throw APIProblem(.forbidden, "the token has no '\(configuration.tenantClaim)' claim and not the '\(configuration.adminRole)' role, so it may see no tenant's usage")
        }
        return Principal(subject: subject, scope: .tenant(tenant))
    }

    static func base64URL(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}

/// Every claim of a token, checked by `TokenVerifier` after jwt-kit verified the signature.
struct Claims: JWTPayload {
    var values: [String: ClaimValue]

    init(from decoder: any Decoder) throws {
        values = try decoder.singleValueContainer().decode([String: ClaimValue].self)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(values)
    }

    /// The claims are checked by `TokenVerifier`, with messages of its own.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// A JSON value of a token's claims.
enum ClaimValue: Codable, Sendable, Equatable {
    case string(String), number(Double), bool(Bool), array([ClaimValue]), object([String: ClaimValue]), null

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([ClaimValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: ClaimValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    subscript(key: String) -> ClaimValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    var string: String? { if case .string(let value) = self { value } else { nil } }
    var number: Double? { if case .number(let value) = self { value } else { nil } }
    /// A string, or the strings of an array (as `aud` and role lists come).
    var strings: [String]? {
        switch self {
        case .string(let value): [value]
        case .array(let values): values.compactMap(\.string)
        default: nil
        }
    }
}
