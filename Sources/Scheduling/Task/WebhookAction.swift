/// What a task does at each occurrence: one HTTP request.
///
/// The body may hold the placeholders `{{taskId}}`, `{{runId}}`, `{{occurrenceId}}`,
/// `{{scheduledAt}}`, `{{firedAt}}` and `{{attempt}}`, filled in at each call.
public struct WebhookAction: Sendable, Hashable {
    /// The URL called (http or https).
    public var url: String
    /// The HTTP method, upper case.
    public var method: String
    /// Headers sent with every call, in order.
    public var headers: [Header]
    /// The request body, if any.
    public var body: String?
    /// How long a call may take in all before it counts as failed.
    public var timeout: Duration

    /// One request header.
    public struct Header: Sendable, Hashable {
        /// The header's name.
        public var name: String
        /// The header's value.
        public var value: String

        /// Creates a header.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Creates an action; the defaults are a POST with a 30-second timeout.
    public init(
        url: String,
        method: String = "POST",
        headers: [Header] = [],
        body: String? = nil,
        timeout: Duration = .seconds(30)
    ) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}
