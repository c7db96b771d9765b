import Foundation
import HTTPTypes
import OpenAPIRuntime

/// A request the API refuses or cannot answer, rendered as RFC 9457 problem details
/// (`application/problem+json`). Its text says what was wrong and what to do; it never carries SQL or a stack trace.
public struct APIProblem: Error, Equatable, Sendable, CustomStringConvertible {
    /// The kinds of problem, each with its HTTP status and a URN for the `type` member.
    public enum Kind: String, Sendable {
        /// A parameter is invalid (400).
        case invalidParameter = "invalid-parameter"
        /// No usable token (401).
        case unauthorized
        /// The token may not see what was asked for (403).
        case forbidden
        /// PostgreSQL or the key server does not answer (503).
        case unavailable
        /// A fault of the server; the details are in its log (500).
        case internalError = "internal-error"
    }

    /// What kind of problem this is.
    public var kind: Kind
    /// What was wrong and what to do.
    public var detail: String
    /// The parameter at fault, for invalid parameters.
    public var parameter: String?

    /// Creates a problem.
    public init(_ kind: Kind, _ detail: String, parameter: String? = nil) {
        self.kind = kind
        self.detail = detail
        self.parameter = parameter
    }

    /// A 400 for `parameter`.
    static func invalid(_ parameter: String, _ detail: String) -> APIProblem {
        APIProblem(.invalidParameter, detail, parameter: parameter)
    }

    /// The HTTP status.
    public var status: HTTPResponse.Status {
        switch kind {
        case .invalidParameter: .badRequest
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .unavailable: .serviceUnavailable
        case .internalError: .internalServerError
        }
    }

    /// The short, fixed title of the kind.
    public var title: String {
        switch kind {
        case .invalidParameter: "Invalid parameter"
        case .unauthorized: "Unauthorized"
        case .forbidden: "Forbidden"
        case .unavailable: "Service unavailable"
        case .internalError: "Internal error"
        }
    }

    /// Status, title and detail on one line, for logs.
    public var description: String { "\(status.code) \(title): \(detail)" }

    /// The problem document as JSON.
    var json: Data {
        var object: [String: Any] = ["type": "urn:ferris-usage:problem:\(kind.rawValue)", "title": title,
                                     "status": status.code, "detail": detail]
        if let parameter { object["parameter"] = parameter }
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }

    /// The complete HTTP response: problem JSON, and for 401 the RFC 6750 `WWW-Authenticate` challenge.
    var response: (HTTPResponse, HTTPBody) {
        var fields = HTTPFields()
        fields[.contentType] = "application/problem+json"
        if kind == .unauthorized {
            let reason = detail.replacingOccurrences(of: "\\", with: "").replacingOccurrences(of: "\"", with: "'")
            fields[.wwwAuthenticate] = "Bearer realm=\"ferris-usage\", error=\"invalid_token\", error_description=\"\(reason)\""
        }
        return (HTTPResponse(status: status, headerFields: fields), HTTPBody(json))
    }
}
