/// A failed S3 request, saying what failed and what to do.
public struct S3Error: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public enum Kind: Sendable, Equatable {
        /// The configuration cannot work (bad endpoint, location or option).
        case configuration
        /// The store could not be reached or the transfer broke off (connection refused, TLS, timeout).
        case transport
        /// The store answered with an error status (its S3 error code is in `code`).
        case status
        /// The store's answer did not have the expected shape.
        case response
        /// The request was cancelled (the process is shutting down).
        case cancelled
    }

    /// What kind of failure this is.
    public let kind: Kind
    /// The HTTP status, for `.status`.
    public let status: Int?
    /// The store's error code, e.g. `SignatureDoesNotMatch`, `NoSuchBucket`.
    public let code: String?
    /// What was wrong and what to do.
    public let message: String

    /// Creates an error.
    public init(_ kind: Kind, status: Int? = nil, code: String? = nil, _ message: String) {
        self.kind = kind
        self.status = status
        self.code = code
        self.message = message
    }

    /// Whether the store refused the credentials (wrong key id, wrong secret, or a clock far off).
    public var isCredentialsError: Bool {
        ["SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken", "ExpiredToken", "RequestTimeTooSkewed"]
            .contains(code ?? "")
    }

    public var description: String { message }

    /// What an S3 error code usually means for the caller, as advice.
    static func advice(code: String, bucket: String) -> String? {
        switch code {
        case "SignatureDoesNotMatch":
            return "the secret access key does not belong to the access key id (or the region is wrong): check the credentials and the region"
        case "InvalidAccessKeyId":
            return "the store does not know this access key id: check the credentials"
        case "InvalidToken", "ExpiredToken":
            return "the session token is invalid or expired: renew the temporary credentials"
        case "RequestTimeTooSkewed":
            return "this machine's clock differs too much from the store's: synchronise the clock (NTP)"
        case "AccessDenied":
            return "the credentials may not do this: grant s3:GetObject, s3:PutObject, s3:ListBucket, s3:ListBucketMultipartUploads and s3:AbortMultipartUpload on bucket \(bucket)"
        case "NoSuchBucket":
            return "bucket \(bucket) does not exist: create it or fix the destination"
        case "AuthorizationHeaderMalformed", "AuthorizationQueryParametersError":
            return "the store expects another region: set the region the bucket is in"
        default:
            return nil
        }
    }
}
