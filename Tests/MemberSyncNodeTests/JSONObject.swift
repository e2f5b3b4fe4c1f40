/// A control request or result as Foundation values, the way these tests write and read them
/// (`Node.handleControl` serves them as the control socket serves a frame).
typealias JSONObject = [String: Any]
