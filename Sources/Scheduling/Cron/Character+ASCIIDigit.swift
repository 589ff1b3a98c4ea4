extension Character {
    /// Whether this is one of `0`-`9` (not other Unicode digits).
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
