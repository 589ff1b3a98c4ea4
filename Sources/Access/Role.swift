/// What a token may do. Each role includes the ones below it.
public enum Role: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
    /// Reads tasks, runs, events and the stream; previews schedules.
    case viewer
    /// Also pauses, resumes and triggers tasks.
    case `operator`
    /// Also creates, replaces and deletes tasks, and manages tokens.
    case admin

    private var rank: Int {
        switch self {
        case .viewer: 0
        case .operator: 1
        case .admin: 2
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }

    /// Whether this role allows `permission`.
    public func allows(_ permission: Permission) -> Bool { self >= permission.minimumRole }
}

/// What a request needs.
public enum Permission: String, Sendable, Hashable, CaseIterable {
    /// Read anything.
    case read
    /// Pause, resume, trigger.
    case operate
    /// Create, replace, delete tasks.
    case write
    /// Create, list and revoke tokens.
    case manageTokens

    /// The least role that has it.
    public var minimumRole: Role {
        switch self {
        case .read: .viewer
        case .operate: .operator
        case .write, .manageTokens: .admin
        }
    }
}
