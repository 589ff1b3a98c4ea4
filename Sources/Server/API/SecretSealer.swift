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
        if let stored = kept(field: field), (try? box.open(stored, task: task, field: field)) == secret { return stored }
        return box.seal(secret, task: task, field: field)
    }

    /// The sealed value `field` holds now, if any.
    func kept(field: String) -> SealedSecret? {
        guard let existing else { return nil }
        if field == WebhookAction.signingSecretField { return existing.signingSecret }
        for header in existing.headers where WebhookAction.sealingField(header: header.name) == field {
            if case .sealed(let sealed) = header.value { return sealed }
        }
        return nil
    }
}
