import Foundation
import MemberSyncModel
import SwiftProtobuf

/// Why a frame or message was refused. Decoding never traps: every bad input ends here.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    case wrongFrameCount(Int)
    case badSignature
    case unsupportedVersion(String)
    case oversized(Int)
    case malformed(String)
    case emptyEnvelope
    case invalidField(path: String, reason: String)

    public var description: String {
        switch self {
        case .wrongFrameCount(let n): return "expected 2 frames (signature, envelope), got \(n)"
        case .badSignature: return "first frame is not an MSP signature"
        case .unsupportedVersion(let v): return "unsupported protocol frame version \(v)"
        case .oversized(let n): return "message of \(n) bytes exceeds the limit of \(WireLimits.maxMessageBytes)"
        case .malformed(let why): return "malformed envelope: \(why)"
        case .emptyEnvelope: return "envelope carries no message"
        case .invalidField(let path, let reason): return "invalid \(path): \(reason)"
        }
    }
}

/// An op and its encoding (`WireCodec.encodeOp`), made once: the bytes the store keeps, the
/// chain hash covers (MSP 5.9) and the envelopes that carry the op embed. A local op gets
/// its bytes when it is signed (`WireCodec.sealed`).
public struct EncodedOp: Sendable, Equatable {
    public let op: Op
    public let bytes: [UInt8]

    /// `op` with its encoding.
    public init(_ op: Op) { self.init(op: op, bytes: WireCodec.encodeOp(op)) }

    /// `op` with `encoding` when one was made on the way (a received op encoded to hash its
    /// chain link, MSP 5.9), else encoded now: either way the op is encoded once. `encoding`
    /// must be `WireCodec.encodeOp(op)`; debug builds check it.
    public init(_ op: Op, encoding: [UInt8]?) {
        guard let encoding else { self.init(op); return }
        assert(encoding == WireCodec.encodeOp(op), "the encoding given for \(op.dot) is not its own")
        self.init(op: op, bytes: encoding)
    }

    init(op: Op, bytes: [UInt8]) {
        self.op = op
        self.bytes = bytes
    }
}

/// Turns messages into MSP/1 frames and back, strictly.
public enum WireCodec {
    /// `[signature, envelope]`, ready for a ZeroMQ multipart send.
    public static func encode(_ message: Message) -> [[UInt8]] {
        [ProtocolVersion.signature, encodeEnvelope(message)]
    }

    /// `[signature, Envelope{op}]` for an op encoded already: what `encode(.op(op.op))` gives.
    public static func encode(publishing op: EncodedOp) -> [[UInt8]] {
        [ProtocolVersion.signature, encodeEnvelope(publishing: op)]
    }

    /// `[signature, Envelope{push}]` for ops encoded already: what `encode(.push(...))` gives.
    public static func encode(pushing ops: [EncodedOp]) -> [[UInt8]] {
        [ProtocolVersion.signature, encodeEnvelope(pushing: ops)]
    }

    public static func encodeEnvelope(publishing op: EncodedOp) -> [UInt8] { DirectEncoding.envelope(publishing: op) }

    public static func encodeEnvelope(pushing ops: [EncodedOp]) -> [UInt8] { DirectEncoding.envelope(pushing: ops) }

    public static func encodeEnvelope(_ message: Message) -> [UInt8] {
        // Ops, pushes and op batches (the bulk of the traffic) skip the generated types.
        if let bytes = DirectEncoding.envelope(message) { return bytes }
        let env = ProtoConvert.envelope(message)
        // Serialising a fully built message cannot fail; an empty frame would be rejected
        // by the receiver rather than crash anything.
        return (try? env.serializedBytes()) ?? []
    }

    /// Decodes `[signature, envelope]`.
    public static func decode(_ frames: [[UInt8]]) throws(WireError) -> Message {
        guard frames.count == 2 else { throw .wrongFrameCount(frames.count) }
        try checkSignature(frames[0])
        return try decodeEnvelope(frames[1])
    }

    public static func checkSignature(_ frame: [UInt8]) throws(WireError) {
        if frame == ProtocolVersion.signature { return }
        let prefix = Array("MSP/".utf8)
        if frame.count > prefix.count, frame.count <= 16, Array(frame.prefix(prefix.count)) == prefix {
            throw .unsupportedVersion(String(decoding: frame.dropFirst(prefix.count), as: UTF8.self))
        }
        throw .badSignature
    }

    public static func decodeEnvelope(_ bytes: [UInt8]) throws(WireError) -> Message {
        guard bytes.count <= WireLimits.maxMessageBytes else { throw .oversized(bytes.count) }
        // Bulk messages in canonical form take the hand-written path; everything else (and
        // every error) goes through the generated decoder.
        if let message = DirectDecoding.attempt(bytes, DirectDecoding.envelope) { return message }
        return try decodeEnvelopeGenerated(bytes)
    }

    /// The generated (SwiftProtobuf) decoder: the reference the direct path must agree with.
    static func decodeEnvelopeGenerated(_ bytes: [UInt8]) throws(WireError) -> Message {
        guard bytes.count <= WireLimits.maxMessageBytes else { throw .oversized(bytes.count) }
        let env: Msp_V1_Envelope
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 32
            env = try Msp_V1_Envelope(serializedBytes: bytes, options: options)
        } catch {
            throw .malformed(String(describing: error))
        }
        return try ProtoConvert.message(env)
    }

    /// Encodes one op on its own (the store keeps ops in this form).
    public static func encodeOp(_ op: Op) -> [UInt8] {
        DirectEncoding.op(op)
    }

    /// The bytes an op's signature covers: the op encoded with an empty signature. The encoding
    /// is deterministic (fields, set elements, siblings and version-vector entries are written
    /// in sorted order, protobuf fields in number order) and the model forms are normalised on
    /// decoding, so a receiver recomputes exactly the bytes the origin signed.
    public static func canonicalBytes(_ op: Op) -> [UInt8] {
        var unsigned = op
        unsigned.signature = []
        return encodeOp(unsigned)
    }

    /// Signs a local op and encodes it, once: `sign` gets the op's canonical bytes, and its
    /// signature goes into them where the encoder writes it, so `bytes` is `encodeOp` of the
    /// signed op without a second encoding.
    public static func sealed(_ op: Op, sign: ([UInt8]) -> [UInt8]) -> EncodedOp {
        DirectEncoding.sealed(op, sign: sign)
    }

    public static func decodeOp(_ bytes: [UInt8]) throws(WireError) -> Op {
        if let op = DirectDecoding.attempt(bytes, DirectDecoding.op) { return op }
        return try decodeOpGenerated(bytes)
    }

    static func decodeOpGenerated(_ bytes: [UInt8]) throws(WireError) -> Op {
        let p: Msp_V1_Op
        do { p = try Msp_V1_Op(serializedBytes: bytes) } catch { throw .malformed(String(describing: error)) }
        return try ProtoConvert.op(p, path: "op")
    }

    /// Encodes one record's full state (the store keeps records in this form).
    public static func encodeRecord(_ key: RecordKey, _ record: Record) -> [UInt8] {
        DirectEncoding.record(key, record)
    }

    public static func decodeRecord(_ bytes: [UInt8]) throws(WireError) -> (key: RecordKey, record: Record) {
        if let record = DirectDecoding.attempt(bytes, DirectDecoding.memoisedRecordState) { return record }
        return try decodeRecordGenerated(bytes)
    }

    static func decodeRecordGenerated(_ bytes: [UInt8]) throws(WireError) -> (key: RecordKey, record: Record) {
        let p: Msp_V1_RecordState
        do { p = try Msp_V1_RecordState(serializedBytes: bytes) } catch { throw .malformed(String(describing: error)) }
        return try ProtoConvert.recordState(p, path: "record")
    }

    public static func encodeVersion(_ v: VersionVector) -> [UInt8] {
        (try? ProtoConvert.vv(v).serializedBytes()) ?? []
    }

    public static func decodeVersion(_ bytes: [UInt8]) throws(WireError) -> VersionVector {
        let p: Msp_V1_VersionVector
        do { p = try Msp_V1_VersionVector(serializedBytes: bytes) } catch { throw .malformed(String(describing: error)) }
        return try ProtoConvert.vv(p, path: "version")
    }
}
