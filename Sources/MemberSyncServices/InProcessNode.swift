import Dispatch
import Synchronization

/// A node run in this process without a `ServiceGroup`, by the daemon's own `ReactorService`
/// (a dedicated thread that makes the node, runs its loop and closes it again): for tests and
/// tools that talk to a real node through its control socket from blocking code. `init`
/// returns once the node runs and throws why it could not start; `stop` returns once the
/// thread has made its last commit and the data directory is free again.
public final class InProcessNode: Sendable {
    public let reactor: ReactorService
    private let running: Task<Void, any Error>
    private let stopped = Atomic<Bool>(false)

    public init(makeNode: @escaping ReactorService.MakeNode) throws {
        let reactor = ReactorService(makeNode: makeNode)
        self.reactor = reactor
        running = Task.detached { try await reactor.run() }
        let started = Self.blocking { try await reactor.waitUntilStarted() }
        if case .failure(let error) = started {
            running.cancel()
            throw error
        }
    }

    /// Asks the loop to stop and waits until the reactor thread has ended; later calls do
    /// nothing.
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        reactor.requestStop()
        let reactor = reactor
        _ = Self.blocking { await reactor.waitUntilFinished() }
    }

    /// Waits on this thread for an async call (never call it from the cooperative pool).
    private static func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) -> Result<T, any Error> {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<T, any Error>?>(nil)
        Task.detached {
            let r: Result<T, any Error>
            do { r = .success(try await body()) } catch { r = .failure(error) }
            outcome.withLock { $0 = r }
            done.signal()
        }
        done.wait()
        return outcome.withLock { $0! }
    }
}
