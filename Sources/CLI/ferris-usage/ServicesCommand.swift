import ArgumentParser
import DevelopmentServices
import Foundation
import Logging

/// `ferris-usage services start|stop`: the local broker and PostgreSQL of `DevelopmentServices`.
struct ServicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "services",
        abstract: "Start or stop a local Tansu broker and PostgreSQL on free loopback ports (for development and tests).",
        subcommands: [Start.self, Stop.self])

    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start both; print their addresses as shell exports.")
        @Option(help: "Directory for their state, logs and the env file.") var dir: String
        @Flag(help: "Start only PostgreSQL (again on its earlier port and data, if it ran in --dir before).")
        var postgresOnly = false
        func run() throws {
            let logger = LogOptions.makeLogger(label: "ferris-usage.services")
            let directory = URL(fileURLWithPath: dir)
            if postgresOnly {
                let services = try LocalServices.startPostgresOnly(in: directory, logger: logger)
                print("export FERRIS_DATABASE_URL='\(services.databaseURL)'")
                return
            }
            let services = try LocalServices.start(in: directory, logger: logger)
            print("export FERRIS_BROKERS=\(services.brokers)")
            print("export FERRIS_DATABASE_URL='\(services.databaseURL)'")
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the services started in --dir.")
        @Option(help: "The directory given to start.") var dir: String
        @Flag(help: "Stop only PostgreSQL (e.g. to simulate a database outage).") var postgresOnly = false
        func run() throws {
            let logger = LogOptions.makeLogger(label: "ferris-usage.services")
            let directory = URL(fileURLWithPath: dir)
            guard !LocalServices.read(from: directory).isEmpty else { throw CLIError("no services were started in \(dir)") }
            LocalServices(directory: directory, brokerPort: 0, databasePort: 0)
                .stop(postgresOnly: postgresOnly, logger: logger)
        }
    }
}
