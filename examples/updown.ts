// Port of the Python tutorial: two processes count up and down, each
// sleeping a random 1-3 s between lines; both are started, then joined.
//
//   deno run -R examples/updown.ts

import { Process } from "@parallel/multiprocessing";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function randomSeconds(): number {
  return 1000 + Math.random() * 2000;
}

/** Prints Up: 0 … 3, sleeping 1-3 s between lines. */
export async function countUp(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    await sleep(randomSeconds());
    console.log(`Up:\t${i}`);
  }
}

/** Prints Down: 3 … 0, sleeping 1-3 s between lines. */
export async function countDown(): Promise<void> {
  for (let i = 3; i >= 0; i--) {
    await sleep(randomSeconds());
    console.log(`Down:\t${i}`);
  }
}

if (import.meta.main) {
  const up = new Process({ target: countUp });
  const down = new Process({ target: countDown });
  up.start();
  down.start();
  await up.join();
  await down.join();
}
