import Foundation
import Testing

/// Bearer tokens signed by the test realm's keys, served as a JWKS over HTTP: each failure is a 401 (no data), a
/// tenant's token never returns another tenant's rows on any endpoint or the page, and naming another tenant's
/// data is a 403, never an empty 200.
@Suite("OIDC bearer auth and tenant isolation")
struct AuthTests {
    static let protected = ["/v1/usage", "/v1/usage/focus", "/v1/metrics", "/v1/instances", "/"]

    @Test("no token, a forged, expired, not yet valid, foreign, unsigned or garbage token: 401 everywhere, with a reason")
    func refusedTokens() async throws {
        let fixture = try await Fixture.shared.value
        let realm = fixture.realm
        let valid = try await realm.token(tenant: "solo")
        let parts = valid.split(separator: ".").map(String.init)
        let forgedPayload = TestRealm.base64URL(Data(String(decoding: try #require(Self.base64URL(parts[1])), as: UTF8.self)
            .replacingOccurrences(of: "\"solo\"", with: "\"team-analytics\"").utf8))
        try await realm.addKey("rogue", serve: false)
        let unsignedHeader = TestRealm.base64URL(Data(#"{"alg":"none","typ":"JWT"}"#.utf8))
        let hmacHeader = TestRealm.base64URL(Data(#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#.utf8))
        let cases: [(String, String?, String)] = [
            ("no token", nil, "no token"),
            ("forged tenant", [parts[0], forgedPayload, parts[2]].joined(separator: "."), "signature does not verify"),
            ("expired", try await realm.token(tenant: "solo", expiresIn: -120), "expired"),
            ("not yet valid", try await realm.token(tenant: "solo", notBefore: 600), "not valid before"),
            ("wrong audience", try await realm.token(tenant: "solo", audience: "billing"), "audience"),
            ("wrong issuer", try await realm.token(tenant: "solo", issuer: "https://evil.test/realms/ferris"), "issuer"),
            ("unknown key", try await realm.token(tenant: "solo", kid: "rogue"), "key id 'rogue'"),
            ("alg none", [unsignedHeader, parts[1], ""].joined(separator: "."), "must be signed with RS256"),
            ("HS256", [hmacHeader, parts[1], parts[2]].joined(separator: "."), "must be signed with RS256"),
            ("garbage", "not-a-token", "not a JWT"),
        ]
        for (name, token, reason) in cases {
            for path in Self.protected {
                let reply = try await HTTP.get(fixture.api + path + "?tenant=solo", token: token)
                #expect(reply.status == 401, "\(name) on \(path): \(reply.status)")
                #expect(!reply.text.contains("cpu_core_seconds"), "\(name) on \(path) leaked data")
                if path == "/" {
                    #expect(reply.header("Content-Type")?.hasPrefix("text/html") == true)
                } else {
                    #expect(reply.header("WWW-Authenticate")?.hasPrefix("Bearer realm=\"ferris-usage\"") == true)
                    #expect((reply.json["detail"] as? String)?.contains(reason) == true, "\(name): \(reply.text)")
                }
            }
        }
        #expect(try await HTTP.get(fixture.api + "/v1/usage?tenant=solo", token: valid).status == 200)
    }

    @Test("a tenant's token sees only its tenant on every endpoint and the page; another tenant's data is 403")
    func isolation() async throws {
        let fixture = try await Fixture.shared.value
        let solo = try await fixture.realm.token(tenant: "solo")
        for path in ["/v1/usage", "/v1/usage/focus"] {
            let (rows, _) = try await fixture.allRows("window=hour&groupBy=tenant,instance&pageSize=10000", path: path, token: solo)
            let tenants = Set(rows.compactMap { ($0["tenant"] ?? $0["SubAccountId"]) as? String })
            #expect(tenants == ["solo"], "\(path): \(tenants)")
            #expect(Set(rows.compactMap { ($0["instance"] ?? $0["ResourceId"]) as? String }) == ["solo-gcp"])
            for query in ["tenant=team-analytics", "instance=team-gcp", "tenant=hybrid-corp&window=day", "tenant=nobody"] {
                let reply = try await HTTP.get(fixture.api + path + "?" + query, token: solo)
                #expect(reply.status == 403, "\(path)?\(query): \(reply.status) \(reply.text)")
                #expect(reply.json["title"] as? String == "Forbidden")
            }
        }
        // Ungrouped sums are the tenant's own sums, not everyone's.
        let (ungrouped, _) = try await fixture.allRows("window=total", token: solo)
        let own = try await fixture.expectedRows(window: "total", groupBy: [], filters: ["tenant": "solo"])
        #expect(Set(try Fixture.comparable(ungrouped, groupBy: [])) == Set(own))
        let instances = try await HTTP.get(fixture.api + "/v1/instances", token: solo).json["instances"] as? [[String: Any]] ?? []
        #expect(instances.compactMap { $0["tenant"] as? String } == ["solo"])
        #expect(try await HTTP.get(fixture.api + "/v1/instances?tenant=team-analytics", token: solo).status == 403)
        let page = try await HTTP.get(fixture.api + "/", token: solo)
        #expect(page.status == 200 && page.text.contains("id=\"tenant\">solo<"))
        #expect(!page.text.contains("team-analytics") && !page.text.contains("hybrid-corp"))
        let other = try await HTTP.get(fixture.api + "/?tenant=team-analytics", token: solo)
        #expect(other.status == 403 && other.header("Content-Type")?.hasPrefix("text/html") == true)
        #expect(!other.text.contains("<svg"))
        // The same page through the cookie.
        let cookie = try await HTTP.get(fixture.api + "/", headers: ["Cookie": "theme=dark; ferris-usage-token=\(solo)"])
        #expect(cookie.status == 200 && cookie.text.contains("id=\"tenant\">solo<"))
        // The cookie is for the page only.
        #expect(try await HTTP.get(fixture.api + "/v1/usage", headers: ["Cookie": "ferris-usage-token=\(solo)"]).status == 401)
    }

    @Test("the admin role sees every tenant; a token with neither tenant nor admin role is refused with 403")
    func adminAndNoTenant() async throws {
        let fixture = try await Fixture.shared.value
        let admin = try await fixture.realm.token(tenant: "solo", roles: [TestRealm.adminRole])
        let (rows, _) = try await fixture.allRows("window=day&groupBy=tenant&pageSize=10000", token: admin)
        #expect(Set(rows.compactMap { $0["tenant"] as? String }) == ["solo", "team-analytics", "hybrid-corp"])
        let nobody = try await fixture.realm.token(tenant: nil)
        for path in Self.protected {
            let reply = try await HTTP.get(fixture.api + path, token: nobody)
            #expect(reply.status == 403, "\(path): \(reply.status)")
        }
    }

    @Test("keys are fetched once and cached; a rotated key is fetched on first sight; the retired key stops working")
    func keyRotation() async throws {
        let fixture = try await Fixture.shared.value
        let realm = try await TestRealm.start()
        let api = try await Fixture.startAPI(realm: realm, databaseURL: fixture.databaseURL, table: fixture.table,
                                             minimumRefetch: .zero)
        let first = try await realm.token(tenant: "solo")
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<12 { group.addTask { try await HTTP.get(api + "/v1/metrics", token: first).status } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 200, count: 12))
        #expect(realm.fetches == 1, "concurrent first requests share one fetch, later ones use the cache")

        try await realm.addKey("k2")
        realm.serveOnly(["k2"])
        let rotated = try await realm.token(tenant: "solo", kid: "k2")
        #expect(try await HTTP.get(api + "/v1/metrics", token: rotated).status == 200)
        #expect(realm.fetches == 2)
        #expect(try await HTTP.get(api + "/v1/metrics", token: rotated).status == 200)
        #expect(realm.fetches == 2)
        let retired = try await HTTP.get(api + "/v1/metrics", token: first)
        #expect(retired.status == 401 && (retired.json["detail"] as? String)?.contains("'k1'") == true)
    }

    @Test("tokens with made-up key ids cannot make the server hammer the key server")
    func unknownKeysAreRateLimited() async throws {
        let fixture = try await Fixture.shared.value
        let realm = try await TestRealm.start()
        let api = try await Fixture.startAPI(realm: realm, databaseURL: fixture.databaseURL, table: fixture.table,
                                             minimumRefetch: .seconds(3600))
        #expect(try await HTTP.get(api + "/v1/metrics", token: try await realm.token(tenant: "solo")).status == 200)
        for index in 0..<10 {
            try await realm.addKey("made-up-\(index)", serve: false)
            let reply = try await HTTP.get(api + "/v1/metrics", token: try await realm.token(tenant: "solo", kid: "made-up-\(index)"))
            #expect(reply.status == 401)
        }
        #expect(realm.fetches == 1)
    }

    static func base64URL(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
