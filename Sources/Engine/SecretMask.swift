import Foundation

/// Replaces secrets in text a receiver sent back (the run's response excerpt) or an error
/// describes, before it is recorded: the secret as sent, trimmed, its credential without an
/// auth scheme (`Bearer …`), and each of those as JSON escapes it (with `\/`, with `\uXXXX`
/// for non-ASCII, and as UTF-8 read as Latin-1) and as a URL query encodes it.
///
/// Secrets of three characters or fewer are not masked (they would mask ordinary text), and
/// an echo in another form (base64, hex, a part of the secret) is not recognised.
struct SecretMask {
    /// The forms to replace, longest first (so a longer form is not half-replaced by a shorter).
    private let forms: [String]

    init(_ secrets: [String]) {
        var forms = Set<String>()
        for secret in secrets {
            let trimmed = secret.trimmingCharacters(in: .whitespaces)
            var bases = [secret, trimmed]
            if let space = trimmed.firstIndex(of: " ") {
                bases.append(trimmed[space...].trimmingCharacters(in: .whitespaces))
            }
            for base in bases where base.count > 3 {
                forms.insert(base)
                let json = JSONEscape.content(base, asciiOnly: false)
                forms.insert(json)
                forms.insert(json.replacingOccurrences(of: "/", with: "\\/"))
                let ascii = JSONEscape.content(base, asciiOnly: true)
                forms.insert(ascii)
                forms.insert(ascii.uppercasedHexEscapes())
                let latin1 = String(String.UnicodeScalarView(base.utf8.map { Unicode.Scalar($0) }))
                forms.insert(latin1)
                forms.insert(JSONEscape.content(latin1, asciiOnly: true))
                if let encoded = base.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) { forms.insert(encoded) }
                if let encoded = base.addingPercentEncoding(withAllowedCharacters: .alphanumerics) { forms.insert(encoded) }
            }
        }
        self.forms = forms.filter { $0.count > 3 }.sorted { $0.count != $1.count ? $0.count > $1.count : $0 < $1 }
    }

    /// Whether there is nothing to mask.
    var isEmpty: Bool { forms.isEmpty }

    /// `text` with every form replaced by `[secret]`.
    func apply(_ text: String) -> String {
        var result = text
        for form in forms where result.contains(form) { result = result.replacingAll(form, with: "[secret]") }
        return result
    }

    /// The longest form, in UTF-8 bytes: how far past an excerpt's end to read.
    var longestBytes: Int { forms.map(\.utf8.count).max() ?? 0 }
}

/// JSON string escaping, shared by what masks secrets and what writes JSON by hand.
public enum JSONEscape {
    /// `text` as a JSON string's content: quotes, backslashes and control characters escaped,
    /// and with `asciiOnly`, every non-ASCII scalar as `\uXXXX` (surrogate pairs beyond the BMP).
    public static func content(_ text: String, asciiOnly: Bool = false) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 || (asciiOnly && scalar.value > 0x7E) {
                    for unit in String(scalar).utf16 { result += "\\u" + String(format: "%04x", unit) }
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result
    }
}

private extension String {
    /// `\u00e4` written `\u00E4`, as some encoders do.
    func uppercasedHexEscapes() -> String {
        var result = ""
        var rest = self[...]
        while let range = rest.range(of: "\\u") {
            result += rest[..<range.upperBound]
            let digits = rest[range.upperBound...].prefix(4)
            result += digits.uppercased()
            rest = rest[range.upperBound...].dropFirst(digits.count)
        }
        return result + rest
    }
}
