extension String {
    /// Left-pads with zeros; used for fixed-width date components.
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
