import Foundation

extension TestServices {
    /// The package's root directory.
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The `ferris-usage` executable built next to the test bundle.
    public static var executable: String {
        get throws {
            let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            let path = directory.appendingPathComponent("ferris-usage").path
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw TestSetupError("\(path) is missing: build it with 'swift build' before the tests (scripts/test.sh does)")
            }
            return path
        }
    }

    /// Runs `argv` to its end (blocking); returns its exit status (128 + the signal when a signal ended it) and what
    /// it printed (stdout and stderr together). posix_spawn and waitpid rather than Foundation's `Process`, whose
    /// wait does not return while a server the child started in the background keeps its descriptors.
    public static func run(_ argv: [String], environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> (status: Int32, output: String) {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString).log").path
        defer { unlink(output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cArguments = argv.map { strdup($0) } + [nil]
        var cEnvironment = environment.map { strdup("\($0)=\($1)") } + [nil]
        defer { for pointer in cArguments + cEnvironment { free(pointer) } }
        var pid: pid_t = 0
        guard let program = argv.first, posix_spawn(&pid, program, &actions, nil, &cArguments, &cEnvironment) == 0 else {
            throw TestSetupError("could not start \(argv.first ?? "(nothing)")")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        // WIFEXITED / WEXITSTATUS, else 128 + WTERMSIG
        return ((status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f), text)
    }

    /// Runs `ferris-usage services ARGS` (a broker or PostgreSQL of a test's own) to completion; throws with its
    /// output when it fails.
    public static func services(_ arguments: [String]) throws {
        let (status, output) = try run([try executable, "services"] + arguments)
        guard status == 0 else {
            throw TestSetupError("ferris-usage services \(arguments.joined(separator: " ")) failed: \(output)")
        }
    }

    /// Starts `ferris-usage ARGUMENTS` in the background with `environment` added to the test's, its output appended
    /// to `logFile` (several processes of one test may share the file).
    public static func launch(_ arguments: [String], environment more: [String: String] = [:], logFile: URL) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(more) { $1 }
        let descriptor = open(logFile.path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard descriptor >= 0 else { throw TestSetupError("cannot open \(logFile.path)") }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }
}
