import ArgumentParser
import Foundation
import Logging
import UsageRegistry
import UsageStandard

struct RegistryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry", abstract: "Publish instance events to the instance registry topic, or show the registry.",
        subcommands: [Publish.self, Show.self])

    struct Publish: ParsableCommand, EnvironmentDefaults {
        static let configuration = CommandConfiguration(
            abstract: "Publish instance events: a file of structured-mode instance events (one JSON object per line), or with --from-wizard the deployment wizard's configuration message.")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var logging: LogOptions

        @Argument(help: "The file ('-' for standard input).") var file: String

        @Flag(help: "The file is the wizard's configuration message (JSON); it is translated into an instance event.")
        var fromWizard = false

        @Option(help: "The compacted instance topic (env FERRIS_INSTANCE_TOPIC).")
        var instanceTopic: String?

        static let environmentDefaults: [EnvironmentDefault<Self>] = [.string("FERRIS_INSTANCE_TOPIC", \.instanceTopic)]

        func run() throws {
            let logger = logging.makeLogger(label: "ferris-usage.registry")
            let brokers = try connection.requiredBrokers()
            let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: file)
            guard let data else { throw CLIError("cannot read \(file)") }
            var events: [InstanceEvent] = []
            if fromWizard {
                do {
                    events = [try WizardConfiguration.instanceEvent(from: Array(data))]
                } catch {
                    throw CLIError("\(file): \(error)")
                }
            } else {
                for (number, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated()
                where !line.allSatisfy(\.isWhitespace) {
                    // The key is the event's own instance id, so that a wrong key cannot be the problem reported.
                    let json = Array(line.utf8)
                    let key = (try? JSONValue.parse(json).get())?["data"]?["instance"]?.string ?? ""
                    switch InstanceEventDecoder.decode(key: Array(key.utf8), value: json,
                                                       headers: [("content-type", Array(UsageStandard.structuredContentType.utf8))]) {
                    case .success(.event(let event)): events.append(event)
                    case .success(.tombstone): throw CLIError("line \(number + 1): no event")
                    case .failure(let error): throw CLIError("line \(number + 1): \(error) (\(error.reason.rawValue))")
                    }
                }
            }
            let topic = instanceTopic ?? UsageStandard.instanceTopic
            try InstanceRegistryTopic.publish(events, kafka: try connection.kafkaConfiguration(brokers: brokers), topic: topic,
                                              logger: logger)
            for event in events { print("\(event.change.rawValue) \(event.instanceID) -> \(topic)") }
        }
    }

    struct Show: ParsableCommand, EnvironmentDefaults {
        static let configuration = CommandConfiguration(abstract: "Read the instance topic and print the live instances.")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var logging: LogOptions

        @Option(help: "The compacted instance topic (env FERRIS_INSTANCE_TOPIC).")
        var instanceTopic: String?

        static let environmentDefaults: [EnvironmentDefault<Self>] = [.string("FERRIS_INSTANCE_TOPIC", \.instanceTopic)]

        func run() throws {
            let logger = logging.makeLogger(label: "ferris-usage.registry")
            let brokers = try connection.requiredBrokers()
            let registry = try InstanceRegistryFollower.read(
                kafka: try connection.kafkaConfiguration(brokers: brokers),
                topic: instanceTopic ?? UsageStandard.instanceTopic, logger: logger)
            for instance in registry.instances.values.sorted(by: { $0.id < $1.id }) {
                let links = instance.links.map { "\($0.name) (\($0.component), \($0.accounted ? "accounted" : "not accounted"))" }
                print("\(instance.id)  tenant \(instance.tenant)  \(instance.provider)  \(instance.cluster)/\(instance.namespaces.joined(separator: ","))")
                print("  components: \(instance.components.joined(separator: ", "))")
                if !links.isEmpty { print("  links: \(links.joined(separator: "; "))") }
            }
        }
    }
}
