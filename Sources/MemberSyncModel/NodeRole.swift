/// Whether a node is an ordinary member office or the hub (the preferred rendezvous). Here,
/// not in the configuration, because the engine, the roster and the config all speak of it.
public enum NodeRole: String, Sendable, Codable {
    case member, hub
}
