import Foundation
import TestSupport
import Testing

/// `ferris-usage services start/stop`, the local broker and PostgreSQL of the demo and the tests.
@Suite("Local services: one set per directory")
struct LocalServicesTests {
    @Test("a second start in the same directory is refused and leaves the running services to stop; a stale directory starts")
    func secondStart() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestServices.unique("services"))
        defer {
            _ = try? Self.services(["stop", "--dir", directory.path])
            try? FileManager.default.removeItem(at: directory)
        }
        let first = try Self.services(["start", "--dir", directory.path])
        #expect(first.status == 0, "\(first.output)")
        let broker = try #require(Self.pid(directory, "tansu.pid"))
        let database = try #require(Self.pid(directory, "pgdata/postmaster.pid"))
        let env = try String(contentsOf: directory.appendingPathComponent("env"), encoding: .utf8)

        for arguments in [["start"], ["start", "--postgres-only"]] {
            let second = try Self.services(arguments + ["--dir", directory.path])
            #expect(second.status != 0, "a second start succeeded: \(second.output)")
            #expect(second.output.contains("already running"), "\(second.output)")
            #expect(second.output.contains("services stop --dir"), "the message says how to stop them: \(second.output)")
            // Untouched: the same processes run, with their pid files and addresses.
            #expect(Self.pid(directory, "tansu.pid") == broker)
            #expect(Self.pid(directory, "pgdata/postmaster.pid") == database)
            #expect(Self.isRunning(broker) && Self.isRunning(database))
            #expect(try String(contentsOf: directory.appendingPathComponent("env"), encoding: .utf8) == env)
        }

        let stop = try Self.services(["stop", "--dir", directory.path])
        #expect(stop.status == 0, "\(stop.output)")
        #expect(!Self.isRunning(broker), "the first broker was left behind")
        #expect(try Self.waitUntilGone(database), "PostgreSQL was left behind")

        // A directory whose services died without `stop` (e.g. after a reboot) keeps its pid files: start again.
        let restarted = try Self.services(["start", "--dir", directory.path])
        #expect(restarted.status == 0, "\(restarted.output)")
        let staleBroker = try #require(Self.pid(directory, "tansu.pid"))
        let staleDatabase = try #require(Self.pid(directory, "pgdata/postmaster.pid"))
        // The server's own processes too: they hold its shared memory until they notice it is gone.
        let stale = [staleBroker, staleDatabase] + Self.children(of: staleDatabase)
        for pid in stale { kill(pid, SIGKILL) }
        for pid in stale { #expect(try Self.waitUntilGone(pid), "pid \(pid) outlived SIGKILL") }
        #expect(Self.pid(directory, "tansu.pid") == staleBroker, "the test needs the stale pid files")
        let afterCrash = try Self.services(["start", "--dir", directory.path])
        #expect(afterCrash.status == 0, "a stale directory did not start: \(afterCrash.output)")
        let broker3 = try #require(Self.pid(directory, "tansu.pid"))
        #expect(broker3 != staleBroker && Self.isRunning(broker3))
        #expect(try Self.services(["stop", "--dir", directory.path]).status == 0)
        #expect(!Self.isRunning(broker3))
    }

    /// The first number in `file` under `directory` (a pid file), nil when there is none.
    static func pid(_ directory: URL, _ file: String) -> pid_t? {
        guard let text = try? String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8) else { return nil }
        return text.split(whereSeparator: \.isNewline).first.flatMap { pid_t($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// The processes whose parent is `pid` (Linux).
    static func children(of pid: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(pid_t.init).filter { child in
            guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == pid
        }
    }

    /// Whether `pid` is a live process (not a zombie).
    static func isRunning(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        return !stat[stat.index(after: close)...].hasPrefix(" Z")
    }

    static func waitUntilGone(_ pid: pid_t) throws -> Bool {
        for _ in 0..<250 where isRunning(pid) { usleep(20_000) }
        return !isRunning(pid)
    }

    /// Runs `ferris-usage services ARGS` to completion; its exit status and its output (stdout and stderr).
    /// (posix_spawn and waitpid: the database server started underneath inherits descriptors.)
    static func services(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try TestServices.run([try TestServices.executable, "services"] + arguments)
    }
}
