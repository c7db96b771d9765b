import Foundation
import Logging
import ProcessSupport
import UsageStandard

/// Writes each log record as one JSON object per line on standard error, for log collectors:
/// `{"time":"...","level":"info","logger":"ferris-usage","message":"...","source":"UsageService","partition":"..."}`.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var json = JSONWriter()
        json.beginObject()
        json.field("time", Timestamp(milliseconds: WallClock.milliseconds()).rfc3339)
        json.field("level", event.level.rawValue)
        json.field("logger", label)
        json.field("message", "\(event.message)")
        json.field("source", event.source)
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) where !["time", "level", "logger", "message", "source"].contains(key) {
            json.field(key, "\(value)")
        }
        json.endObject()
        var line = json.bytes
        line.append(UInt8(ascii: "\n"))
        // One write(2) per line, so lines from several threads never interleave.
        line.withUnsafeBytes { buffer in _ = write(2, buffer.baseAddress, buffer.count) }
    }
}
