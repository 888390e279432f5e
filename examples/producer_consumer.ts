// Producers and a consumer in separate processes, talking through a Queue,
// as in Python's multiprocessing.Queue examples. Each producer puts its jobs
// and a final null; the consumer stops after one null per producer.
//
//   deno run -R examples/producer_consumer.ts

import { Process, Queue } from "@parallel/multiprocessing";

type Job = { producer: string; n: number } | null;

/** Puts `count` jobs, then null to say it is done. */
export async function producer(
  queue: Queue<Job>,
  name: string,
  count: number,
): Promise<void> {
  for (let n = 1; n <= count; n++) await queue.put({ producer: name, n });
  await queue.put(null);
}

/** Squares each job's number until every producer is done; prints totals. */
export async function consumer(
  queue: Queue<Job>,
  producers: number,
): Promise<void> {
  const totals = new Map<string, number>();
  let done = 0;
  while (done < producers) {
    const job = await queue.get();
    if (job === null) {
      done++;
      continue;
    }
    totals.set(job.producer, (totals.get(job.producer) ?? 0) + job.n ** 2);
  }
  for (const [name, total] of [...totals].sort()) {
    console.log(`${name}: sum of squares ${total}`);
  }
}

if (import.meta.main) {
  const queue = new Queue<Job>();
  const names = ["alpha", "beta"];
  const processes = [
    new Process({ target: consumer, args: [queue, names.length] }),
    ...names.map((name) =>
      new Process({ target: producer, args: [queue, name, 1000] })
    ),
  ];
  for (const p of processes) p.start();
  for (const p of processes) await p.join();
  console.log("all done");
}
