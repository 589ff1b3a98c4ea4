import Engine
import Scheduling

/// Seals the secrets of one request for one task as the request is read.
///
/// A secret given again unchanged keeps the sealed value the task already holds (sealing
/// picks a random nonce, so sealing it afresh would make an unchanged definition look
/// changed — a repeated request must stay a no-op). `{"secret": true}` keeps the stored value.
struct SecretSealer {
    /// The server's secrets key.
    let box: SecretBox
    /// The task the secrets belong to (bound into each seal).
    let task: TaskID
    /// The task's current action, if it exists.
    let existing: WebhookAction?

    /// The sealed value of `field`: the stored one when it opens to `secret`, else a new one.
    func seal(_ secret: String, field: String) -> SealedSecret {
        if let stored = stored(field: field), (try? box.open(stored, task: task, field: field)) == secret { return stored }
        return box.seal(secret, task: task, field: field)
    }

    /// What keeping the stored value of a field finds.
    enum Kept {
        /// Nothing is stored for the field.
        case none
        /// The stored sealed value, which this server's key opens.
        case stored(SealedSecret)
        /// A stored value this server's key cannot open (sealed with a lost key): keeping it
        /// would keep a task that cannot call; the reason says to give the value again.
        case unopenable(String)
    }

    /// The sealed value `field` holds now, checked to open with this server's key.
    func kept(field: String) -> Kept {
        guard let stored = stored(field: field) else { return .none }
        do {
            _ = try box.open(stored, task: task, field: field)
            return .stored(stored)
        } catch {
            return .unopenable("the stored secret cannot be kept: \(error.message)")
        }
    }

    /// The sealed value `field` holds now, if any.
    private func stored(field: String) -> SealedSecret? {
        guard let existing else { return nil }
        if field == WebhookAction.signingSecretField { return existing.signingSecret }
        for header in existing.headers where WebhookAction.sealingField(header: header.name) == field {
            if case .sealed(let sealed) = header.value { return sealed }
        }
        return nil
    }
}
