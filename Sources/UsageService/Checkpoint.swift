import UsageStandard

/// What the service stores with each committed offset (Kafka offset-commit metadata), so that a restart can
/// rebuild open windows: the offset to re-read from and the partition watermark at the commit.
/// Text form: `fu1 rebuild=<offset> wm=<epoch-ms>` (`wm=-` when no event was seen yet).
public struct Checkpoint: Sendable, Equatable {
    /// Re-reading the partition from this offset up to the committed offset rebuilds every open window.
    public var rebuildFrom: Int64
    /// The partition watermark at the commit.
    public var watermark: Timestamp?

    /// Creates a checkpoint.
    public init(rebuildFrom: Int64, watermark: Timestamp?) {
        self.rebuildFrom = rebuildFrom
        self.watermark = watermark
    }

    /// The metadata text.
    public var metadata: String {
        "fu1 rebuild=\(rebuildFrom) wm=\(watermark.map { String($0.milliseconds) } ?? "-")"
    }

    /// Parses metadata text; nil when it is not a checkpoint (e.g. committed by another tool).
    public init?(metadata: String) {
        let parts = metadata.split(separator: " ")
        guard parts.count == 3, parts[0] == "fu1", parts[1].hasPrefix("rebuild="), parts[2].hasPrefix("wm="),
              let rebuild = Int64(parts[1].dropFirst(8)) else { return nil }
        let wm = parts[2].dropFirst(3)
        if wm == "-" {
            self.init(rebuildFrom: rebuild, watermark: nil)
        } else if let ms = Int64(wm) {
            self.init(rebuildFrom: rebuild, watermark: Timestamp(milliseconds: ms))
        } else {
            return nil
        }
    }
}
