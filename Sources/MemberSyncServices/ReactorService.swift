import Foundation
import Logging
import MemberSyncNode
import ServiceLifecycle
import Synchronization

/// The node's reactor as a service of the daemon's `ServiceGroup`.
///
/// It owns a dedicated thread, which creates the `Node` (opening its store and making every
/// ZeroMQ socket), runs its poll loop and, when it stops, closes the sockets and terminates
/// the ZeroMQ context: no socket is ever touched by another thread, and none of this blocks
/// the cooperative thread pool. Graceful shutdown (SIGTERM, SIGINT) and cancellation only set
/// a flag the loop checks at least every 25 ms; `run` returns once the thread has finished its
/// last commit, never before.
public final class ReactorService: Service, Sendable, CustomStringConvertible {
    /// Creates the node; called on the reactor thread.
    public typealias MakeNode = @Sendable () throws -> Node

    private let makeNode: MakeNode
    private let stopRequested = Atomic<Bool>(false)
    private let launched = Atomic<Bool>(false)
    private let started = OneShot<Result<Void, any Error>>()
    private let finished = OneShot<Void>()

    public init(makeNode: @escaping MakeNode) {
        self.makeNode = makeNode
    }

    public var description: String { "reactor" }

    public func run() async throws {
        launch()
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                _ = await finished.wait()
            } onCancel: {
                self.requestStop()
            }
        } onGracefulShutdown: {
            self.requestStop()
        }
        // Cancelled: still let the thread finish what it is committing.
        if finished.value == nil { await waitUntilFinished() }
        if case .failure(let error)? = started.value { throw error }
    }

    /// Returns once the node runs; throws why it could not start; returns false when the
    /// waiting task is cancelled or the group shuts down first.
    public func waitUntilStarted() async throws -> Bool {
        let outcome = await cancelWhenGracefulShutdown { await self.started.wait() }
        switch outcome {
        case .success?: return true
        case .failure(let error)?: throw error
        case nil: return false
        }
    }

    /// Asks the loop to stop (it checks at least every 25 ms).
    public func requestStop() {
        stopRequested.store(true, ordering: .relaxed)
    }

    /// Waits, even through cancellation, until the reactor thread has ended (or was never
    /// launched).
    public func waitUntilFinished() async {
        guard launched.load(ordering: .acquiring) else { return }
        // An unstructured task: the caller's cancellation does not end its wait.
        _ = await Task { await self.finished.wait() }.value
    }

    private func launch() {
        guard !launched.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in
            do {
                let node: Node
                do { node = try makeNode() } catch {
                    started.set(.failure(error))
                    finished.set(())
                    return
                }
                started.set(.success(()))
                node.run { self.stopRequested.load(ordering: .relaxed) }
            }
            // The node is gone (sockets closed, context terminated) on this thread.
            finished.set(())
        }
        thread.name = "reactor"
        // The stack the reactor had when it ran on the main thread.
        thread.stackSize = 8 << 20
        thread.start()
    }
}
