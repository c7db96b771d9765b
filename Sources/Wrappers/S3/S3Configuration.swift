/// Where an S3-compatible object store (MinIO in ferrisDX, AWS S3, SeaweedFS, ...) is and how to sign for it.
public struct S3Configuration: Sendable {
    /// The store's base URL: scheme, host and port, e.g. `http://minio.ferris.svc:9000` (no path).
    public var endpoint: String
    /// The signing region (SigV4), e.g. `us-east-1`; MinIO accepts its configured region, by default `us-east-1`.
    public var region: String
    /// The bucket every request goes to.
    public var bucket: String
    /// Path-style addressing (`endpoint/bucket/key`, what MinIO and SeaweedFS expect) rather than virtual-hosted
    /// (`bucket.endpoint/key`).
    public var pathStyle: Bool
    /// The access key and secret the requests are signed with.
    public var credentials: S3Credentials
    /// A PEM file of certificate authorities to trust for `https` endpoints (e.g. a cluster-internal CA); nil: the
    /// system's.
    public var caFile: String?
    /// How long connecting may take.
    public var connectTimeout: Duration
    /// A transfer that moves no byte for this long is aborted.
    public var stallTimeout: Duration

    /// Creates a configuration.
    public init(endpoint: String, region: String = "us-east-1", bucket: String, pathStyle: Bool = true,
                credentials: S3Credentials, caFile: String? = nil, connectTimeout: Duration = .seconds(10),
                stallTimeout: Duration = .seconds(60)) {
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.pathStyle = pathStyle
        self.credentials = credentials
        self.caFile = caFile
        self.connectTimeout = connectTimeout
        self.stallTimeout = stallTimeout
    }

    /// The URL of `key` (nil: the bucket itself) with `query` appended. The path is percent-encoded byte by byte
    /// (RFC 3986 unreserved characters and `/` kept) and the query sorted by name with names and values fully encoded:
    /// exactly SigV4's canonical form, so that what libcurl signs is what the store recomputes (libcurl 7.x signs the
    /// URL as given).
    func url(key: String?, query: [(String, String)]) throws(S3Error) -> String {
        guard let schemeEnd = endpoint.firstRange(of: "://") else {
            throw S3Error(.configuration, "S3 endpoint '\(endpoint)' has no scheme: use e.g. http://minio:9000 or https://s3.eu-central-1.amazonaws.com")
        }
        let scheme = endpoint[..<schemeEnd.lowerBound]
        var host = String(endpoint[schemeEnd.upperBound...])
        while host.hasSuffix("/") { host.removeLast() }
        guard scheme == "http" || scheme == "https", !host.isEmpty, !host.contains("/") else {
            throw S3Error(.configuration, "S3 endpoint '\(endpoint)' must be http(s)://host[:port] without a path")
        }
        var path = pathStyle ? "/" + Self.encode(bucket, keepSlash: false) : ""
        if !pathStyle { host = bucket + "." + host }
        if let key { path += "/" + Self.encode(key, keepSlash: true) }
        if path.isEmpty { path = "/" }
        let sorted = query.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
        let queryText = sorted.map { Self.encode($0.0, keepSlash: false) + "=" + Self.encode($0.1, keepSlash: false) }
            .joined(separator: "&")
        return "\(scheme)://\(host)\(path)" + (queryText.isEmpty ? "" : "?" + queryText)
    }

    /// Percent-encodes every byte but RFC 3986's unreserved characters (and `/` when `keepSlash`), upper-case hex.
    static func encode(_ text: String, keepSlash: Bool) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                bytes.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                bytes.append(byte)
            default:
                bytes.append(UInt8(ascii: "%"))
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// An access key and its secret (and, for temporary credentials, a session token). Never printed.
public struct S3Credentials: Sendable, CustomStringConvertible {
    /// The access key id.
    public var accessKeyID: String
    /// The secret access key.
    public var secretAccessKey: String
    /// The session token of temporary credentials, if any.
    public var sessionToken: String?

    /// Creates credentials.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// The access key id only; the secret never appears in text.
    public var description: String { "access key \(accessKeyID) (secret hidden)" }
}

/// A bucket and key prefix, as written `s3://bucket/prefix/`.
public struct S3Location: Sendable, Equatable, CustomStringConvertible {
    /// The bucket.
    public var bucket: String
    /// The key prefix without leading or trailing `/` (may be empty).
    public var prefix: String

    /// Parses `s3://bucket[/prefix][/]`.
    public init(_ text: String) throws(S3Error) {
        guard text.hasPrefix("s3://") else {
            throw S3Error(.configuration, "'\(text)' is not an s3:// location: write s3://bucket/prefix/")
        }
        let rest = text.dropFirst(5).split(separator: "/", omittingEmptySubsequences: true)
        guard let bucket = rest.first, Self.isValidBucket(bucket) else {
            throw S3Error(.configuration, "'\(text)' has no valid bucket name (3-63 lower-case letters, digits, '.' and '-')")
        }
        self.bucket = String(bucket)
        self.prefix = rest.dropFirst().joined(separator: "/")
    }

    /// `s3://bucket/prefix/`.
    public var description: String { "s3://\(bucket)/" + (prefix.isEmpty ? "" : prefix + "/") }

    /// `key` under the prefix.
    public func key(_ relative: String) -> String { prefix.isEmpty ? relative : prefix + "/" + relative }

    private static func isValidBucket(_ name: Substring) -> Bool {
        (3...63).contains(name.count) && name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "." || $0 == "-") }
    }
}
