import Foundation
import ProcessSupport
import TestSupport
import UsageService

/// Runs an installed tool (Chromium, schemathesis) as a child process with a time limit.
enum Tool {
    /// The project's tools directory (as scripts/setup.sh chooses it).
    static var toolsDirectory: String {
        let environment = ProcessInfo.processInfo.environment
        if let tools = environment["FERRIS_USAGE_TOOLS"], !tools.isEmpty { return tools }
        let cache = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.cache")
        return cache + "/ferris-usage"
    }

    /// The first of `candidates` that is an executable file, or one found on PATH.
    static func find(_ candidates: [String]) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for candidate in candidates {
            if candidate.hasPrefix("/") {
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            } else if let found = path.split(separator: ":").map({ "\($0)/\(candidate)" })
                        .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
                return found
            }
        }
        throw TestSetupError("none of \(candidates) is installed: run scripts/setup.sh")
    }

    /// Runs `executable` with `arguments`; returns its exit status and its output (stdout and stderr together).
    /// Killed after `seconds`.
    static func run(_ executable: String, _ arguments: [String], seconds: Int) async throws -> (status: Int32, output: String) {
        try await DedicatedThread.run(name: "tool") {
            let output = FileManager.default.temporaryDirectory.appendingPathComponent("tool-\(UUID().uuidString).log")
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            defer { try? FileManager.default.removeItem(at: output) }
            let handle = try FileHandle(forWritingTo: output)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            // Tools may leave caches in their working directory (schemathesis): not in the package.
            process.currentDirectoryURL = FileManager.default.temporaryDirectory
            try process.run()
            let deadline = Date().addingTimeInterval(TimeInterval(seconds))
            while process.isRunning && Date() < deadline { usleep(100_000) }
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
                try handle.close()
                throw TestSetupError("\(executable) did not finish within \(seconds) s: \(try String(contentsOf: output, encoding: .utf8).suffix(4000))")
            }
            process.waitUntilExit()
            try handle.close()
            return (process.terminationStatus, try String(contentsOf: output, encoding: .utf8))
        }
    }
}
