// Ping-pong over a Pipe between the main program and a process, as in
// Python's multiprocessing.Pipe example.
//
//   deno run -R examples/pipe_ping_pong.ts

import { type Connection, Pipe, Process } from "@parallel/multiprocessing";

/** Answers each "ping n" with "pong n" until the pipe ends. */
export async function ponger(conn: Connection<string>): Promise<void> {
  for (;;) {
    const msg = await conn.recv();
    if (msg === "bye") break;
    await conn.send(msg.replace("ping", "pong"));
  }
  conn.close();
}

if (import.meta.main) {
  const [mine, theirs] = Pipe<string>();
  const p = new Process({ target: ponger, args: [theirs] });
  p.start();
  for (let i = 1; i <= 3; i++) {
    await mine.send(`ping ${i}`);
    console.log(await mine.recv());
  }
  const rounds = 10_000;
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) {
    await mine.send(`ping ${i}`);
    await mine.recv();
  }
  const us = ((performance.now() - t0) * 1000) / rounds;
  console.error(`${rounds} round trips, ${us.toFixed(1)} µs each`);
  await mine.send("bye");
  await p.join();
  mine.close();
}
