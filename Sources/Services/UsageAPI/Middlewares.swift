import Foundation
import HTTPTypes
import Logging
import OpenAPIRuntime

/// How requests are authenticated.
enum Authentication: Sendable {
    /// Every request is an administrator's (`--auth none`, local use only).
    case none
    /// OIDC bearer tokens.
    case oidc(TokenVerifier)
}

/// Authenticates every usage and page request before its parameters are even read: the bearer token from the
/// `Authorization` header (for the page also from the token cookie) becomes the `Principal` of the request.
/// Probes need no token.
struct AuthenticationMiddleware: ServerMiddleware {
    let authentication: Authentication
    let tokenCookie: String

    func intercept(_ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
                   next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?))
        async throws -> (HTTPResponse, HTTPBody?) {
        if operationID == "liveness" || operationID == "readiness" {
            return try await next(request, body, metadata)
        }
        let principal: Principal
        switch authentication {
        case .none:
            principal = Principal(subject: "anonymous (--auth none)", scope: .allTenants)
        case .oidc(let verifier):
            guard let token = Self.bearer(request) ?? (operationID == "usagePage" ? Self.cookie(tokenCookie, request) : nil) else {
                throw APIProblem(.unauthorized, operationID == "usagePage"
                    ? "no token: send 'Authorization: Bearer <token>' or the cookie '\(tokenCookie)'"
                    : "no token: send 'Authorization: Bearer <token>' with an access token of the realm")
            }
            principal = try await verifier.principal(for: token)
        }
        return try await Principal.$current.withValue(principal) {
            try await next(request, body, metadata)
        }
    }

    static func bearer(_ request: HTTPRequest) -> String? {
        guard let value = request.headerFields[.authorization] else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    static func cookie(_ name: String, _ request: HTTPRequest) -> String? {
        for header in request.headerFields[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name {
                    let token = parts[1].trimmingCharacters(in: .whitespaces)
                    return token.isEmpty ? nil : token
                }
            }
        }
        return nil
    }
}

/// Turns every failure into a response the document describes: RFC 9457 problem details (an HTML page for the usage
/// page), 400 with the parameter's name for a value the generated code could not decode, and for anything
/// unexpected a 500 whose details go only to the log.
struct ProblemMiddleware: ServerMiddleware {
    let logger: Logger

    func intercept(_ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
                   next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?))
        async throws -> (HTTPResponse, HTTPBody?) {
        let problem: APIProblem
        do {
            if let refused = ParameterDiagnosis.emptyGroupBy(in: request) { throw refused }
            return try await next(request, body, metadata)
        } catch {
            problem = Self.problem(for: error, request: request)
            if problem.kind == .internalError {
                logger.error("request failed", metadata: ["operation": "\(operationID)", "error": "\(error)"])
            }
        }
        if operationID == "usagePage" {
            return (HTTPResponse(status: problem.status, headerFields: [.contentType: "text/html; charset=utf-8"]),
                    HTTPBody(UsagePage.errorPage(problem)))
        }
        return problem.response
    }

    static func problem(for error: any Error, request: HTTPRequest) -> APIProblem {
        if let problem = error as? APIProblem { return problem }
        guard let error = error as? ServerError else {
            return APIProblem(.internalError, "the request failed inside the server; its log says why")
        }
        if let problem = error.underlyingError as? APIProblem { return problem }
        guard (400..<500).contains(error.httpStatus.code) else {
            return APIProblem(.internalError, "the request failed inside the server; its log says why")
        }
        return ParameterDiagnosis.problem(in: request)
            ?? APIProblem(.invalidParameter, "the request is malformed (\(error.causeDescription)); docs/openapi.yaml describes the parameters")
    }
}
