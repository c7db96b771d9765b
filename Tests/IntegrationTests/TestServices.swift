import Testing
import TestSupport
import UsageService

extension TestServices {
    /// Runs the pipeline until it has caught up, failing the test if that takes longer than `seconds`.
    static func runUntilCaughtUp(_ pipeline: UsagePipeline, seconds: Int = 90) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await pipeline.run(); return true }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                pipeline.requestStop()
                return false
            }
            let finished = try await group.next() ?? false
            group.cancelAll()
            if !finished {
                Issue.record("pipeline did not catch up within \(seconds) s")
                _ = try await group.next()
            }
        }
    }
}
