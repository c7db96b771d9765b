import Foundation
import Hummingbird
import HummingbirdTesting
import ProcessSupport
import Testing

@Suite("Process support")
struct ProcessSupportTests {
    @Test("retry backoff: the first wait, doubling to the maximum, back to the first after a success")
    func backoff() {
        var backoff = RetryBackoff(initial: .milliseconds(500), maximum: .seconds(10))
        #expect(backoff.delay == .zero)
        let waits = (0..<8).map { _ in backoff.failed() }
        #expect(waits == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(10), .seconds(10), .seconds(10)])
        #expect(backoff.failures == 8)
        backoff.succeeded()
        #expect(backoff.failures == 0 && backoff.delay == .zero)
        #expect(backoff.failed() == .milliseconds(500))
    }

    @Test("retries wait 5 s, 10 s, 20 s ... up to the maximum, and start over after a success")
    func backoffExport() {
        var backoff = RetryBackoff(initial: .seconds(5), maximum: .seconds(60))
        #expect((1...6).map { _ in backoff.failed() } == [.seconds(5), .seconds(10), .seconds(20), .seconds(40), .seconds(60), .seconds(60)])
        backoff.succeeded()
        #expect(backoff.failed() == .seconds(5))
    }

    @Test("retry backoff: a maximum that is not a doubling of the first wait is reached, never passed")
    func backoffOddMaximum() {
        var backoff = RetryBackoff(initial: .seconds(1), maximum: .seconds(30))
        let waits = (0..<7).map { _ in backoff.failed() }
        #expect(waits == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30)])
    }

    @Test("blocking work runs on a thread of its own and returns its value or its typed error")
    func dedicatedThread() async throws {
        // (The thread's name is not checked: on Linux a new thread may report the name of the thread that made it.)
        let (value, onMain) = await DedicatedThread.run(name: "support-test") { (6 * 7, Thread.isMainThread) }
        #expect(value == 42 && !onMain)
        struct Refused: Error, Equatable {}
        await #expect(throws: Refused()) {
            try await DedicatedThread.run(name: "support-test") { () throws(Refused) -> Int in throw Refused() }
        }
    }

    @Test("the wall clock is Unix time in whole milliseconds")
    func wallClock() {
        let before = Int64(Date().timeIntervalSince1970 * 1000) - 1
        let now = WallClock.milliseconds()
        let after = Int64(Date().timeIntervalSince1970 * 1000) + 1
        #expect(before <= now && now <= after)
    }

    @Test("durations in seconds and whole milliseconds")
    func durations() {
        #expect(Duration.milliseconds(1500).secondsValue == 1.5)
        #expect(Duration.microseconds(2999).wholeMilliseconds == 2)
        #expect(Duration.seconds(3).wholeMilliseconds == 3000)
    }

    @Test("readiness: a contributor's problem makes the process not ready and says why; every summary is a line")
    func readiness() {
        let fine = ProbeContributor(notReadyReason: { nil }, summary: { "export: idle" }, samples: { [] })
        let failing = ProbeContributor(notReadyReason: { "export failing" }, summary: { "export: failed 3 times" }, samples: { [] })
        let ready = Readiness(ready: true, reason: "joined").including([fine])
        #expect(ready == Readiness(ready: true, reason: "joined", details: ["export: idle"]))
        #expect(ready.body == "ready: joined\nexport: idle\n")
        let notReady = Readiness(ready: true, reason: "joined").including([fine, failing])
        #expect(!notReady.ready)
        #expect(notReady.body == "not ready: joined; export failing\nexport: idle\nexport: failed 3 times\n")
    }

    @Test("the probes answer /healthz, /readyz (200 or 503 with the reason) and /metrics, in process")
    func probes() async throws {
        let state = ReadyFlag()
        let router = ProbesServer.router(readiness: { Readiness(ready: state.ready, reason: state.ready ? "fine" : "stalled") },
                                         metrics: { Array("ferris_test_up 1\n".utf8) })
        let app = Application(router: router)
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "ok\n")
            }
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(String(buffer: response.body) == "not ready: stalled\n")
            }
            state.ready = true
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "ready: fine\n")
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
                #expect(String(buffer: response.body) == "ferris_test_up 1\n")
            }
        }
    }
}

/// A readiness the test flips.
private final class ReadyFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var ready: Bool {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}
