/**
 * The credit protocol behind queue policy 'block': the engine grants the source one credit per
 * request it can hold, and one more each time a request is answered; a credit source emits only
 * as many requests as it holds credits, so nothing piles up in memory however fast it could go.
 *
 * The engine hands its credit port to the source while it subscribes (synchronously), so
 * synchronous operators between them (`map`, `filter`, ...) keep the link.
 */
import { Observable } from 'rxjs';

/** What a credit source listens to. */
export interface CreditPort {
  /** Called by the source while it subscribes: `grant(n)` lets it emit n more items. */
  connect(grant: (credits: number) => void): void;
}

let pendingPort: CreditPort | undefined;

/** Runs `subscribe` with `port` visible to a credit source subscribing inside it. */
export function withCreditPort<T>(port: CreditPort, subscribe: () => T): T {
  const outer = pendingPort;
  pendingPort = port;
  try {
    return subscribe();
  } finally {
    pendingPort = outer;
  }
}

/**
 * A source that emits the items of an iterable (sync or async) only as credits are granted,
 * then completes. Without a consumer that grants credits (any operator but a compiled topology
 * with `queue.policy: 'block'`), it emits everything at once.
 * @example
 * creditSource(readQuestions()).pipe(compile(t, { queue: { capacity: 16, policy: 'block' } }))
 */
export function creditSource<T>(items: Iterable<T> | AsyncIterable<T>): Observable<T> {
  return new Observable<T>((subscriber) => {
    const port = pendingPort;
    pendingPort = undefined; // only the innermost credit source takes the port
    const iterator =
      Symbol.asyncIterator in items
        ? (items as AsyncIterable<T>)[Symbol.asyncIterator]()
        : (items as Iterable<T>)[Symbol.iterator]();
    let credits = 0;
    let pulling = false;
    let done = false;
    const pull = async () => {
      if (pulling) return;
      pulling = true;
      try {
        while (!done && !subscriber.closed && (port === undefined || credits > 0)) {
          const step = await iterator.next();
          if (step.done) {
            done = true;
            subscriber.complete();
            break;
          }
          credits--;
          subscriber.next(step.value);
        }
      } catch (error) {
        subscriber.error(error);
      } finally {
        pulling = false;
      }
    };
    if (port === undefined) {
      void pull();
    } else {
      port.connect((n) => {
        credits += n;
        void pull();
      });
    }
    return () => {
      done = true;
      void iterator.return?.();
    };
  });
}
