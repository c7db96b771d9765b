import Foundation
import PostgreSQL
import Testing
import UsageSimulation
import UsageStandard

/// Every form libpq accepts a password in is hidden wherever a connection string can surface: the redacted string
/// itself, connection errors (whose libpq text may echo parts of the string), and the logs of a running service.
@Suite("PostgreSQL connection strings never show a password")
struct PostgresSecretTests {
    @Test("redacted hides the password of every libpq form and keeps the rest", arguments: [
        // URL userinfo.
        ("postgresql://u:pw1@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgres://u:pw1@h/db?sslmode=disable", "postgres://u:***@h/db?sslmode=disable"),
        ("postgresql://u:p%40w1@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:pw1@h1:5432,h2:5433/db", "postgresql://u:***@h1:5432,h2:5433/db"),
        ("postgresql://u:p@w1@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:@h/db", "postgresql://u:***@h/db"),
        // The query parameter, first or later, with an encoded name or value.
        ("postgresql://u@h/db?password=pw1", "postgresql://u@h/db?password=***"),
        ("postgresql://u@h/db?sslmode=disable&password=pw1&connect_timeout=2",
         "postgresql://u@h/db?sslmode=disable&password=***&connect_timeout=2"),
        ("postgresql://u@h/db?pass%77ord=pw1", "postgresql://u@h/db?pass%77ord=***"),
        ("postgresql://u@h/db?password=p%26w1=x", "postgresql://u@h/db?password=***"),
        ("postgresql://u:pw1@h/db?password=pw2", "postgresql://u:***@h/db?password=***"),
        // Keyword/value strings: plain, spaced, quoted, with escaped quotes and backslashes.
        ("host=h password=pw1 dbname=db", "host=h password=*** dbname=db"),
        ("password=pw1", "password=***"),
        ("host=h password = pw1", "host=h password = ***"),
        ("host=h password='p w1' user=u", "host=h password=*** user=u"),
        (#"host=h password='p\'w1' user=u"#, "host=h password=*** user=u"),
        (#"password='p\\' host=h"#, "password=*** host=h"),
        ("host=h\tpassword=pw1\nuser=u", "host=h\tpassword=***\nuser=u"),
        // Nothing to hide.
        ("postgresql://u@h:5432/db?sslmode=disable", "postgresql://u@h:5432/db?sslmode=disable"),
        ("host=h user=u passfile=/p dbname=db", "host=h user=u passfile=/p dbname=db"),
    ])
    func redaction(conninfo: String, expected: String) {
        #expect(PostgresConnection.redacted(conninfo) == expected)
    }

    /// Connection strings that fail, each with a password in one of libpq's forms. The password is `Zq7` and `Secret`
    /// around a separator, so that a fragment of it (libpq may echo part of a malformed string) shows too.
    static let failing = [
        "postgresql://u:Zq7Secret@127.0.0.1:1/db?connect_timeout=2",
        "postgresql://u@127.0.0.1:1/db?password=Zq7Secret&connect_timeout=2",
        "postgresql://u@127.0.0.1:1/db?connect_timeout=2&pass%77ord=Zq7Secret",
        "postgresql://u:Zq7%53ecret@127.0.0.1:1/db?connect_timeout=2",
        "postgresql://u:Zq7%zzSecret@127.0.0.1:1/db",  // libpq: invalid percent-encoded token: "<the password>"
        "postgresql://u@127.0.0.1:1/db?password=Zq7%zzSecret",
        "postgresql://u@127.0.0.1:1/db?password=Zq7=Secret",
        "postgresql://u:Zq7Secret@[::1/db",  // libpq echoes the whole URL
        "postgresql://u:Zq7@Secret@127.0.0.1:1/db",  // libpq would take "Secret@127.0.0.1" for the host
        "postgresql://u:Zq7Secret@127.0.0.1:1/db?sslmode=nonsense",
        "host=127.0.0.1 port=1 connect_timeout=2 password=Zq7Secret",
        "host=127.0.0.1 port=1 connect_timeout=2 password='Zq7 Secret'",
        #"host=127.0.0.1 port=1 connect_timeout=2 password='Zq7\'Secret'"#,
        "host=127.0.0.1 port=1 connect_timeout=2 password=Zq7 Secret",  // libpq: missing "=" after "Secret"
        #"host=127.0.0.1 port=1 password='Zq7\'Secret"#,  // unterminated
    ]

    @Test("a failing connection's error shows no part of the password", arguments: failing)
    func connectionErrors(conninfo: String) {
        do {
            _ = try PostgresConnection(url: conninfo)
            Issue.record("connected with \(conninfo)")
        } catch {
            #expect(error.kind == .connection)
            let text = "\(error)"
            #expect(!text.contains("Zq7") && !text.contains("Secret"), "\(text)")
            #expect(text.contains("***"), "the message names the connection string it tried: \(text)")
        }
    }

    @Test("the logs of `ferris-usage run` with failing database URLs show no part of the password")
    func serviceLogs() async throws {
        let world = World()
        let records = world.records(UsageSimulator(seed: 5, start: Timestamp(milliseconds: h13), hours: 1, samplesPerHour: 2),
                                    [Scenario.singleUserGCP])
        try await world.createTopics(Set(records.map(\.topic)).sorted(), partitions: 1)
        try await world.produce(records.map { $0.outgoing() })
        let topologyFile = try CrashTests.topologyFile(for: world)
        defer { try? FileManager.default.removeItem(at: topologyFile) }
        let urls = [
            "postgresql://ferris:Zq7Secret@127.0.0.1:1/db?password=Zq7Secret&connect_timeout=2",
            "postgresql://ferris:Zq7%zzSecret@127.0.0.1:1/db",
            "host=127.0.0.1 port=1 connect_timeout=2 password='Zq7 Secret'",
        ]
        let logFile = FileManager.default.temporaryDirectory.appendingPathComponent("\(world.id).log")
        defer { try? FileManager.default.removeItem(at: logFile) }
        for url in urls {
            let service = try CrashTests.start(topologyFile: topologyFile.path, log: world.id, member: nil, databaseURL: url)
            defer { if service.isRunning { kill(service.processIdentifier, SIGKILL) } }
            // The accounting loop commits totals; the sink then tries the database, fails and says so.
            let failures = { ((try? String(contentsOf: logFile, encoding: .utf8)) ?? "").components(separatedBy: "sink write failed").count - 1 }
            let before = failures()
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(90)
            while failures() == before && clock.now < deadline && service.isRunning {
                try await Task.sleep(for: .milliseconds(200))
            }
            kill(service.processIdentifier, SIGTERM)
            service.waitUntilExit()
            #expect(failures() > before, "the sink never reported a failed write for \(PostgresConnection.redacted(url))")
        }
        let log = try String(contentsOf: logFile, encoding: .utf8)
        #expect(log.contains("***"))
        #expect(!log.contains("Zq7") && !log.contains("Secret"), "\(log)")
    }
}
