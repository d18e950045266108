/**
 * The renderer's one way to reach the backend. Two implementations share the
 * `Transport` interface: Electron's preload object (`window.alps`) and the
 * web mode's HTTP API on 127.0.0.1. `createTransport` picks one at start.
 */
import type { AlpsApi, Channel, EventName, EventPayload, InvokeResult, RequestOf, ResponseOf, StreamMessage } from '../../../shared/ipc.js';

/** An error that crossed the process boundary as data. */
export class BackendError extends Error {
  readonly code: string;

  constructor(name: string, message: string, code: string) {
    super(message);
    this.name = name;
    this.code = code;
  }
}

export interface Transport {
  readonly platform: 'electron' | 'web';
  invoke<C extends Channel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>>;
  /** Subscribes to a backend event and returns the function that unsubscribes. */
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
}

function unwrap<T>(envelope: InvokeResult<T>): T {
  if (envelope.ok) return envelope.value;
  const { name, message, code } = envelope.error;
  throw new BackendError(name, message, code);
}

function isEnvelope(value: unknown): value is InvokeResult<unknown> {
  return typeof value === 'object' && value !== null && 'ok' in value && typeof (value as { ok: unknown }).ok === 'boolean';
}

class ElectronTransport implements Transport {
  readonly platform = 'electron';

  constructor(private readonly api: AlpsApi) {}

  async invoke<C extends Channel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>> {
    return unwrap(await this.api.invoke(channel, request));
  }

  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    return this.api.on(event, listener);
  }
}

class WebTransport implements Transport {
  readonly platform = 'web';
  private source: EventSource | null = null;
  private readonly listeners = new Map<string, Set<(payload: unknown) => void>>();

  constructor(private readonly token: string) {}

  async invoke<C extends Channel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>> {
    let response: Response;
    try {
      response = await fetch(`/api/invoke/${channel}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-alps-token': this.token },
        body: JSON.stringify(request),
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new BackendError('NetworkError', `Request ${channel} failed: ${reason}. Check that \`alps-studio serve\` is still running.`, 'NETWORK');
    }
    const body: unknown = await response.json().catch(() => null);
    if (!isEnvelope(body)) {
      throw new BackendError('ProtocolError', `Request ${channel} returned HTTP ${response.status} without a JSON result.`, 'PROTOCOL');
    }
    return unwrap(body) as ResponseOf<C>;
  }

  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    this.connect();
    const wrapped = (payload: unknown) => listener(payload as EventPayload<E>);
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(wrapped);
    return () => set.delete(wrapped);
  }

  /** Opens the event stream once; EventSource reconnects by itself after a drop. */
  private connect(): void {
    if (this.source) return;
    this.source = new EventSource(`/api/events?token=${encodeURIComponent(this.token)}`);
    this.source.onmessage = (message: MessageEvent<string>) => {
      const data = JSON.parse(message.data) as StreamMessage;
      for (const listener of this.listeners.get(data.event) ?? []) listener(data.payload);
    };
  }
}

/**
 * Returns the Electron transport when the preload object exists, and the web
 * transport otherwise. The web mode needs the `token` query parameter that
 * `alps-studio serve` prints in its URL.
 */
export function createTransport(): Transport {
  const preload = (window as unknown as { alps?: AlpsApi }).alps;
  if (preload) return new ElectronTransport(preload);

  const token = new URLSearchParams(window.location.search).get('token');
  if (!token) {
    throw new BackendError(
      'MissingToken',
      'The page URL has no ?token= parameter. Open the full URL that `alps-studio serve` printed.',
      'MISSING_TOKEN',
    );
  }
  return new WebTransport(token);
}
