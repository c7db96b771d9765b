import ArgumentParser
import UsageTopology

struct TopologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology", abstract: "Check or explain topology files.", subcommands: [Check.self, Explain.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check topology files; print 'FILE:LINE:COLUMN: problem' for each problem and exit 1 if any.")

        @Argument(help: "Topology files.") var files: [String]

        func run() throws {
            var failed = false
            for file in files {
                do {
                    _ = try Topology.load(path: file)
                } catch {
                    failed = true
                    for problem in error.problems { print(problem) }
                }
            }
            if failed { throw ExitCode(1) }
        }
    }

    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a topology's stage graph.")

        @Argument(help: "A topology file.") var file: String

        func run() throws {
            do {
                print(try Topology.load(path: file).explain())
            } catch {
                for problem in error.problems { print(problem) }
                throw ExitCode(1)
            }
        }
    }
}
