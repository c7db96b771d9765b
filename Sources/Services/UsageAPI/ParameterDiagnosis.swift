import Foundation
import HTTPTypes

/// Names the parameter at fault when the generated code refused to decode a request. The generated decoder says
/// only what type it could not make; this looks at the typed query parameters (enums from the generated types,
/// times, integers) to name the first bad one and list what is allowed.
enum ParameterDiagnosis {
    /// The problem with the first typed parameter of `request` that does not decode, if any.
    static func problem(in request: HTTPRequest) -> APIProblem? {
        guard let path = request.path, let items = URLComponents(string: path)?.queryItems else { return nil }
        for item in items {
            let value = item.value ?? ""
            switch item.name {
            case "window":
                if Components.Parameters.Window(rawValue: value) == nil {
                    return choice("window", value, Components.Parameters.Window.allCases.map(\.rawValue))
                }
            case "status":
                if Components.Schemas.Status(rawValue: value) == nil {
                    return choice("status", value, Components.Schemas.Status.allCases.map(\.rawValue))
                }
            case "groupBy":
                for name in value.split(separator: ",", omittingEmptySubsequences: false)
                where Components.Parameters.GroupByPayload(rawValue: String(name)) == nil {
                    return choice("groupBy", String(name), Components.Parameters.GroupByPayload.allCases.map(\.rawValue))
                }
            case "from", "to":
                if !isTime(value) {
                    return .invalid(item.name, "'\(item.name)' (\(value)) is not an RFC 3339 time such as 2026-11-25T13:00:00Z")
                }
            case "pageSize":
                if Int32(value) == nil {
                    return .invalid("pageSize", "pageSize '\(value)' is not a whole number: ask for 1 to \(UsageQuery.maximumPageSize) rows")
                }
            default:
                continue
            }
        }
        return nil
    }

    /// The problem with `groupBy=` given without a column, if the request has one: the generated decoder takes it for
    /// an absent parameter, so the answer would silently be ungrouped.
    static func emptyGroupBy(in request: HTTPRequest) -> APIProblem? {
        guard let path = request.path, path.contains("groupBy"), let items = URLComponents(string: path)?.queryItems,
              items.contains(where: { $0.name == "groupBy" && ($0.value ?? "").isEmpty }) else { return nil }
        return .invalid("groupBy", "groupBy names no column: give one or more of tenant, instance, component, metric, provider or status, or leave it out")
    }

    private static func choice(_ name: String, _ value: String, _ allowed: [String]) -> APIProblem {
        .invalid(name, "\(name) '\(value)' is not allowed: use \(allowed.joined(separator: ", "))")
    }

    private static func isTime(_ text: String) -> Bool {
        let plain = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return plain.date(from: text) != nil || fractional.date(from: text) != nil
    }
}
