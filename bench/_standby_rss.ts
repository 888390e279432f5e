// The memory of warm standby threads, for bench.ts: a program that runs one
// Pool(2) and ends it, then, with the start method given as its argument,
// waits until the standby refilled (two threads that loaded the library)
// or not ("spawn"), and prints its RSS and how many threads wait.
import { Pool, setStartMethod, type StartMethod } from "../mod.ts";
import { standbyCount } from "../lib/_engine/standby.ts";
import { cube } from "./_targets.ts";

/** How long the threads get to load the library before the RSS is read. */
const SETTLE_MS = 1_000;
/** The most the refill may take, ms. */
const REFILL_MS = 10_000;

const method = (Deno.args[0] ?? "forkserver") as StartMethod;
setStartMethod(method);
const pool = new Pool({
  processes: 2,
  module: new URL("./_targets.ts", import.meta.url).href,
});
// Enough work for both workers to start.
await pool.map(cube, Array.from({ length: 1_000 }, (_, i) => i), 1);
pool.terminate();
await pool.join();
const deadline = Date.now() + REFILL_MS;
while (method === "forkserver" && standbyCount() < 2 && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 10));
}
await new Promise((r) => setTimeout(r, SETTLE_MS));
console.log(
  JSON.stringify({ rss: Deno.memoryUsage().rss, waiting: standbyCount() }),
);
