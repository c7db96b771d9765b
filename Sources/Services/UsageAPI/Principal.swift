/// Who is asking, as their token says: a tenant's user, or an administrator who sees every tenant.
public struct Principal: Sendable, Equatable {
    /// Which tenants the caller may see.
    public enum Scope: Sendable, Equatable {
        /// Every tenant (the admin role, or `--auth none`).
        case allTenants
        /// Only this tenant.
        case tenant(String)
    }

    /// The token's subject (`sub`), for logs.
    public var subject: String
    /// Which tenants the caller may see.
    public var scope: Scope

    /// Creates a principal.
    public init(subject: String, scope: Scope) {
        self.subject = subject
        self.scope = scope
    }

    /// The caller's own tenant, nil for an administrator.
    public var ownTenant: String? {
        if case .tenant(let tenant) = scope { return tenant }
        return nil
    }

    /// The tenant a query must be limited to (nil: all tenants), given the tenant the request names.
    /// A tenant's user naming another tenant gets a 403, never an empty answer.
    public func tenantFilter(requested: String?) throws(APIProblem) -> String? {
        switch scope {
        case .allTenants:
            return requested
        case .tenant(let own):
            if let requested, requested != own {
                throw APIProblem(.forbidden, "this token may only see tenant '\(own)', not '\(requested)'")
            }
            return own
        }
    }

    /// The principal of the current request, set by the authentication middleware.
    @TaskLocal static var current: Principal?
}
