/** Fan-out of run events to every subscriber (the Electron window, browser event streams). */
import type { EventName, EventPayload, StreamMessage } from '../../shared/ipc.js';
import { moduleLogger } from '../log.js';

const log = moduleLogger('app.events');

export type BusListener = (message: StreamMessage) => void;

export class EventBus {
  private readonly listeners = new Set<BusListener>();

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: BusListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    const message = { event, payload } as StreamMessage;
    for (const listener of this.listeners) {
      try {
        listener(message);
      } catch (error) {
        // One failing subscriber (a closed window) must not stop the others.
        log.error({ err: error, event }, 'event listener failed');
      }
    }
  }

  get size(): number {
    return this.listeners.size;
  }
}
