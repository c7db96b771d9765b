import Foundation
import Logging

/// A throwaway Kafka-protocol broker (Tansu) and PostgreSQL on free loopback ports, for the demo, local development
/// and tests (never for production: no authentication, no durability). State lives in one directory; `stop` ends both.
public struct LocalServices: Sendable {
    /// Where the services keep their state, logs and pid files.
    public let directory: URL
    /// The broker's loopback port.
    public let brokerPort: Int
    /// PostgreSQL's loopback port.
    public let databasePort: Int

    /// The broker's bootstrap address.
    public var brokers: String { "127.0.0.1:\(brokerPort)" }
    /// PostgreSQL's connection URL.
    public var databaseURL: String { "postgresql://postgres@127.0.0.1:\(databasePort)/postgres?sslmode=disable" }

    /// Names services already running (or stopped) in `directory`, for `stop`.
    public init(directory: URL, brokerPort: Int = 0, databasePort: Int = 0) {
        self.directory = directory
        self.brokerPort = brokerPort
        self.databasePort = databasePort
    }

    /// Starts both services with their state in `directory` (created if needed). Refuses while services started
    /// there earlier still run (a second start would orphan them); pid files of processes that are gone do not count.
    public static func start(in directory: URL, logger: Logger) throws -> LocalServices {
        let files = FileManager.default
        try files.createDirectory(at: directory, withIntermediateDirectories: true)
        try refuseIfRunning(in: directory, postgresOnly: false)
        let services = LocalServices(directory: directory, brokerPort: try freePort(), databasePort: try freePort())
        try services.startBroker(logger: logger)
        do {
            try services.startPostgres(logger: logger)
        } catch {
            services.stop(logger: logger)
            throw error
        }
        let env = "FERRIS_BROKERS=\(services.brokers)\nFERRIS_DATABASE_URL=\(services.databaseURL)\n"
        try env.write(to: directory.appendingPathComponent("env"), atomically: true, encoding: .utf8)
        return services
    }

    /// Starts only PostgreSQL in `directory`: again on its earlier port with its data when it ran there before
    /// (to simulate a database outage and recovery), else a new one on a free port.
    public static func startPostgresOnly(in directory: URL, logger: Logger) throws -> LocalServices {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try refuseIfRunning(in: directory, postgresOnly: true)
        var env = read(from: directory)
        let earlier = env["FERRIS_DATABASE_URL"].flatMap { url in
            url.split(separator: ":").last?.split(separator: "/").first.flatMap { Int($0) }
        }
        let services = LocalServices(directory: directory, brokerPort: 0, databasePort: try earlier ?? freePort())
        try services.startPostgres(logger: logger)
        env["FERRIS_DATABASE_URL"] = services.databaseURL
        try env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)\n" }.joined()
            .write(to: directory.appendingPathComponent("env"), atomically: true, encoding: .utf8)
        return services
    }

    private func startBroker(logger: Logger) throws {
        guard let tansu = Self.findTansu() else {
            throw LocalServicesError("the Tansu broker was not found: run scripts/setup.sh (or set FERRIS_TANSU to its path)")
        }
        let url = "tcp://127.0.0.1:\(brokerPort)"
        let log = directory.appendingPathComponent("tansu.log")
        let pid = try Self.spawn([tansu, "broker", "--listener-url", url, "--advertised-listener-url", url], output: log.path)
        try String(pid).write(to: directory.appendingPathComponent("tansu.pid"), atomically: true, encoding: .utf8)
        try Self.waitForPort(brokerPort, what: "Tansu broker (log: \(log.path))")
        logger.info("started Tansu broker", metadata: ["brokers": "\(brokers)", "pid": "\(pid)"])
    }

    private func startPostgres(logger: Logger) throws {
        guard let bin = Self.findPostgresBin() else {
            throw LocalServicesError("PostgreSQL server binaries not found under /usr/lib/postgresql: run scripts/setup.sh")
        }
        let data = directory.appendingPathComponent("pgdata")
        let asRoot = getuid() == 0
        if asRoot { try Self.run("/bin/chown", ["postgres:postgres", directory.path]) }
        if !FileManager.default.fileExists(atPath: data.path) {
            try Self.run(bin + "/initdb", ["-D", data.path, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
                         asPostgres: asRoot)
        }
        try Self.run(bin + "/pg_ctl", ["-D", data.path, "-l", directory.appendingPathComponent("postgres.log").path, "-w",
                                       "-o", "-p \(databasePort) -k \(directory.path) -c listen_addresses=127.0.0.1 -c fsync=off",
                                       "start"], asPostgres: asRoot)
        logger.info("started PostgreSQL", metadata: ["url": "\(databaseURL)"])
    }

    /// Stops both services, or only PostgreSQL. Safe to call when either is not running.
    public func stop(postgresOnly: Bool = false, logger: Logger) {
        if let bin = Self.findPostgresBin() {
            let data = directory.appendingPathComponent("pgdata")
            if FileManager.default.fileExists(atPath: data.appendingPathComponent("postmaster.pid").path) {
                try? Self.run(bin + "/pg_ctl", ["-D", data.path, "-m", "fast", "-w", "stop"], asPostgres: getuid() == 0)
            }
        }
        guard !postgresOnly else { return }
        let pidFile = directory.appendingPathComponent("tansu.pid")
        if let text = try? String(contentsOf: pidFile, encoding: .utf8), let pid = Int32(text) {
            kill(pid, SIGTERM)
            // Wait up to 5 s for it to go (reaping it when this process started it, as the demo does), then kill it.
            var status: Int32 = 0
            for _ in 0..<250 {
                _ = waitpid(pid, &status, WNOHANG)
                guard kill(pid, 0) == 0 else { break }
                usleep(20_000)
            }
            if kill(pid, 0) == 0 {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
            }
            try? FileManager.default.removeItem(at: pidFile)
        }
        logger.info("stopped local services", metadata: ["directory": "\(directory.path)"])
    }

    /// Throws when the broker (unless `postgresOnly`) or PostgreSQL started earlier in `directory` still runs; otherwise
    /// clears PostgreSQL's stale lock file.
    private static func refuseIfRunning(in directory: URL, postgresOnly: Bool) throws {
        var running: [String] = []
        if !postgresOnly, let pid = livePid(in: directory.appendingPathComponent("tansu.pid")) {
            running.append("the broker (pid \(pid))")
        }
        if let pid = livePid(in: directory.appendingPathComponent("pgdata/postmaster.pid")) {
            running.append("PostgreSQL (pid \(pid))")
        }
        guard !running.isEmpty else {
            // A lock file of a server that is gone: PostgreSQL would take an unreaped (zombie) pid in it for a live server.
            try? FileManager.default.removeItem(at: directory.appendingPathComponent("pgdata/postmaster.pid"))
            return
        }
        throw LocalServicesError("""
            \(running.joined(separator: " and ")) started in \(directory.path) \(running.count == 1 ? "is" : "are") already running \
            (addresses in \(directory.appendingPathComponent("env").path)); use them, or stop them first with \
            `ferris-usage services stop --dir \(directory.path)`
            """)
    }

    /// The pid on the first line of `file` when that process is alive (a zombie is not).
    private static func livePid(in file: URL) -> pid_t? {
        guard let text = try? String(contentsOf: file, encoding: .utf8),
              let pid = text.split(whereSeparator: \.isNewline).first.flatMap({ pid_t($0.trimmingCharacters(in: .whitespaces)) }),
              pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return nil }
        // On Linux, a process that exited but was not reaped yet still answers kill(pid, 0).
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let end = stat.lastIndex(of: ")"),
           stat[stat.index(after: end)...].hasPrefix(" Z") { return nil }
        return pid
    }

    /// Reads the addresses of services started earlier in `directory`.
    public static func read(from directory: URL) -> [String: String] {
        guard let text = try? String(contentsOf: directory.appendingPathComponent("env"), encoding: .utf8) else { return [:] }
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
        }
        return result
    }

    static func findTansu() -> String? {
        var candidates: [String] = []
        if let explicit = environment("FERRIS_TANSU") { candidates.append(explicit) }
        let cache = environment("FERRIS_USAGE_TOOLS")
            ?? (environment("XDG_CACHE_HOME") ?? (NSHomeDirectory() + "/.cache")) + "/ferris-usage"
        candidates.append(cache + "/bin/tansu")
        for dir in (environment("PATH") ?? "").split(separator: ":") { candidates.append("\(dir)/tansu") }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func findPostgresBin() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return versions.compactMap(Int.init).sorted().reversed().map { "\(root)/\($0)/bin" }
            .first { FileManager.default.isExecutableFile(atPath: $0 + "/pg_ctl") }
    }

    /// Runs a command to completion with its output in a file. (posix_spawn and waitpid rather than Foundation's
    /// Process: `pg_ctl start` leaves a server behind that inherits descriptors, which keeps Process from
    /// noticing the exit.)
    static func run(_ executable: String, _ arguments: [String], asPostgres: Bool = false) throws {
        let argv = asPostgres ? ["/usr/sbin/runuser", "-u", "postgres", "--", executable] + arguments : [executable] + arguments
        let outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("ferris-usage-cmd-\(getpid()).log").path
        let pid = try spawn(argv, output: outputFile)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        defer { unlink(outputFile) }
        let exited = status & 0x7f == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            let text = (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
            throw LocalServicesError("\(argv.joined(separator: " ")) failed (status \(status)): \(text)")
        }
    }

    /// Starts `argv` with stdin from /dev/null and stdout and stderr appended to `output`; returns its pid.
    static func spawn(_ argv: [String], output: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        // The child starts with no blocked signals and default handlers: this process may block signals (signal
        // handling through dispatch sources), and a broker that inherits that mask would ignore the SIGTERM of `stop`.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let result = posix_spawn(&pid, argv[0], &actions, &attributes, &cArguments, environ)
        guard result == 0 else { throw LocalServicesError("could not start \(argv[0]): \(String(cString: strerror(result)))") }
        return pid
    }

    /// A free loopback TCP port (free when asked: a server should bind it soon).
    public static func freePort() throws(LocalServicesError) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LocalServicesError("socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        guard bound else { throw LocalServicesError("could not find a free loopback port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func waitForPort(_ port: Int, what: String) throws {
        for _ in 0..<100 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            let connected = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            close(fd)
            if connected { return }
            usleep(50_000)
        }
        throw LocalServicesError("\(what) did not accept connections on port \(port) within 5 s")
    }
}

/// A non-empty environment variable.
private func environment(_ name: String) -> String? {
    ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
}

/// Why the local services could not be started or stopped, and what to do.
public struct LocalServicesError: Error, CustomStringConvertible, Sendable {
    /// What was wrong and what to do.
    public let description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
