// The raw node:worker_threads baseline: answers one message.
import { parentPort } from "node:worker_threads";

parentPort!.once("message", (x: number) => parentPort!.postMessage(x * x * x));
