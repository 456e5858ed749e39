/** A stand-in for the browser's WebSocket that a test drives by hand: it records what the client sends and delivers the frames the test gives it. */
import { decode } from "@msgpack/msgpack";

export class FakeSocket {
  static made: FakeSocket[] = [];
  readonly url: string;
  readyState = 0;
  binaryType = "blob";
  sent: Uint8Array[] = [];
  closedWith: number | null = null;
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;

  constructor(url: string) {
    this.url = url;
    FakeSocket.made.push(this);
  }

  static factory = (url: string) => new FakeSocket(url) as unknown as WebSocket;

  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event("open"));
  }

  deliver(data: Uint8Array): void {
    const buf = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    this.onmessage?.({ data: buf } as MessageEvent);
  }

  /** The server closes. */
  serverClose(code: number, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason } as CloseEvent);
  }

  send(data: Uint8Array): void {
    this.sent.push(data);
  }

  close(code = 1000): void {
    if (this.readyState === 3) return;
    this.closedWith = code;
    this.readyState = 3;
    queueMicrotask(() => this.onclose?.({ code: 1005, reason: "" } as CloseEvent));
  }

  messages(): Record<string, unknown>[] {
    return this.sent.map((b) => decode(b) as Record<string, unknown>);
  }
}

export const fromHex = (hex: string) => new Uint8Array(hex.match(/../g)!.map((h) => parseInt(h, 16)));
