// The raw-Worker baseline: a bare web Worker, no library.
import { cube, spin } from "./_targets.ts";

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(msg: unknown): void;
};

scope.onmessage = (e: MessageEvent) => {
  const m = e.data;
  if (typeof m === "number") scope.postMessage(cube(m));
  else if (Array.isArray(m)) scope.postMessage(m.map(cube));
  else if (m instanceof Uint8Array) scope.postMessage(m.byteLength);
  else if (m.spin !== undefined) scope.postMessage(spin(m.spin));
  else scope.postMessage(null);
};
