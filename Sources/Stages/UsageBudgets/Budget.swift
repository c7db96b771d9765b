import UsagePricing
import UsageStandard
import YAMLFiles

/// A budget: how much a tenant may use (or spend) per day or month, and the thresholds at which someone is told
/// (standard, section 15).
public struct Budget: Sendable, Equatable {
    /// The budget's id, unique among budgets: the record key on the budgets topic and part of every alert id.
    public var id: String
    /// Counts the budget's publications: the highest revision is the current budget.
    public var revision: Int64
    /// The tenant whose usage counts.
    public var tenant: String
    /// What of the tenant's usage counts (everything when empty).
    public var scope: BudgetScope
    /// The period the limit is for.
    public var period: BudgetPeriod.Kind
    /// The IANA time zone the periods begin in (`UTC` unless named).
    public var timeZone: String
    /// The limit: a quantity of one metric, or a cost.
    public var limit: BudgetLimit
    /// Thresholds in percent of the limit, ascending, each once (default 50, 80 and 100).
    public var thresholds: [ExactDecimal]
    /// Whether to alert when the period's projected figure reaches the limit before the figure does.
    public var forecast: Bool
    /// Where alerts are also delivered, if anywhere.
    public var webhook: BudgetWebhook?
    /// For people.
    public var summary: String
    /// Where the budget starts in its file.
    public var location: FilePosition?
    /// Where each of its fields stands in its file (by field name: `tenant`, `timeZone`, `limit`, ...), so that a
    /// problem found after parsing points at the field.
    public var fieldLocations: [String: FilePosition] = [:]

    /// The thresholds when a budget names none.
    public static let defaultThresholds: [ExactDecimal] = [ExactDecimal(50), ExactDecimal(80), ExactDecimal(100)]

    /// Creates a budget.
    public init(id: String, revision: Int64, tenant: String, scope: BudgetScope = BudgetScope(), period: BudgetPeriod.Kind,
                timeZone: String = "UTC", limit: BudgetLimit, thresholds: [ExactDecimal] = Budget.defaultThresholds,
                forecast: Bool = true, webhook: BudgetWebhook? = nil, summary: String = "", location: FilePosition? = nil) {
        self.id = id
        self.revision = revision
        self.tenant = tenant
        self.scope = scope
        self.period = period
        self.timeZone = timeZone
        self.limit = limit
        self.thresholds = thresholds
        self.forecast = forecast
        self.webhook = webhook
        self.summary = summary
        self.location = location
    }
}

/// What of a tenant's usage a budget counts: optionally one instance, one component, one metric (each nil for all).
public struct BudgetScope: Sendable, Equatable {
    public var instance: String?
    public var component: String?
    public var metric: String?

    /// Creates a scope.
    public init(instance: String? = nil, component: String? = nil, metric: String? = nil) {
        self.instance = instance
        self.component = component
        self.metric = metric
    }
}

/// A budget's limit.
public enum BudgetLimit: Sendable, Equatable {
    /// A quantity in the unit of the scope's metric.
    case quantity(ExactDecimal, unit: String)
    /// A cost in a currency (rated with the tenant's price book, which must be in that currency).
    case cost(Money)

    /// The limit's amount.
    public var amount: ExactDecimal {
        switch self {
        case .quantity(let amount, _): return amount
        case .cost(let money): return money.amount
        }
    }
}

/// Where a budget's alerts are delivered: an http(s) URL, signed with a secret the service holds (never in the
/// budget: budgets are published on a topic).
public struct BudgetWebhook: Sendable, Equatable {
    /// The receiver.
    public var url: String
    /// The name of the signing secret: the service reads it from `FERRIS_WEBHOOK_SECRET_<NAME>` (upper case, `-`
    /// as `_`), e.g. from a Kubernetes Secret.
    public var secret: String

    /// Creates a webhook.
    public init(url: String, secret: String) {
        self.url = url
        self.secret = secret
    }
}
