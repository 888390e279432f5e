// Two processes increment one shared Value 100,000 times each, holding its
// lock around each read-modify-write (Python's `with counter.get_lock():`).
//
//   deno run -R examples/shared_counter.ts     # prints 200000

import { Process, Value } from "@parallel/multiprocessing";

/** Adds 1 to `counter`, `times` times, under its lock. */
export async function increment(
  counter: Value<"i">,
  times: number,
): Promise<void> {
  const lock = counter.getLock();
  for (let i = 0; i < times; i++) {
    using _held = await lock.hold();
    counter.value += 1;
  }
}

if (import.meta.main) {
  const counter = new Value("i", 0);
  const processes = [1, 2].map(() =>
    new Process({ target: increment, args: [counter, 100_000] })
  );
  for (const p of processes) p.start();
  for (const p of processes) await p.join();
  console.log(counter.value);
}
