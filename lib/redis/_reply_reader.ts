// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The coordinator's reader of its reply stream: a loop of blocking reads
// that runs while chunks are in flight, hands each entry's result records to
// the coordinator, and deletes the entries it read.

import type { Buffer } from "node:buffer";
import { sleep } from "./_client.ts";
import type { Link } from "./_link.ts";
import { parseResults, type ResultRecord } from "./_protocol.ts";

/** Most reply entries read at once. */
const READ_COUNT = 256;
/** ms a read of the reply stream blocks. */
const READ_BLOCK_MS = 1000;
/** ms to wait before reading again after a failed read. */
const READ_RETRY_MS = 100;

type Entries = [Buffer, [Buffer, Buffer[]][]][];

/** What the reader tells its coordinator. */
export interface ReplyEvents {
  /** Whether results are awaited: the loop runs while they are. */
  awaiting(): boolean;
  /** The records of one entry read. */
  records(records: ResultRecord[]): void;
  /** `count` results read were malformed (or handling them threw): they
   * were dropped. */
  malformed(count: number): void;
  /** A batch of entries was read and handled. */
  read(): void;
}

/** Reads one coordinator's reply stream. */
export class ReplyReader {
  readonly #link: Link;
  readonly #stream: string;
  readonly #events: ReplyEvents;
  #reading = false;
  #lastId = "0-0";

  constructor(link: Link, stream: string, events: ReplyEvents) {
    this.#link = link;
    this.#stream = stream;
    this.#events = events;
  }

  /** Starts the loop, unless it runs or the link is not ready. */
  start(): void {
    if (this.#reading || !this.#link.ready) return;
    this.#reading = true;
    this.#loop().finally(() => {
      this.#reading = false;
      if (this.#events.awaiting() && this.#link.ready) this.start();
    });
  }

  async #loop(): Promise<void> {
    while (this.#events.awaiting()) {
      const blk = this.#link.blk;
      if (blk === null) return;
      let res: Entries | null;
      try {
        res = await blk.xreadBuffer(
          "COUNT",
          READ_COUNT,
          "BLOCK",
          READ_BLOCK_MS,
          "STREAMS",
          this.#stream,
          this.#lastId,
        ) as Entries | null;
      } catch (err) {
        this.#link.lastError = err;
        await sleep(READ_RETRY_MS, this.#link.active);
        continue;
      }
      if (res === null) continue;
      const ids: string[] = [];
      for (const [, entries] of res) {
        for (const [id, fields] of entries) {
          const key = id.toString();
          this.#lastId = key;
          ids.push(key);
          // Anything may be written to the stream: a bad entry is dropped
          // and counted, and never stops this loop.
          try {
            const { records, malformed } = parseResults(fields);
            if (malformed > 0) this.#events.malformed(malformed);
            this.#events.records(records);
          } catch {
            this.#events.malformed(1);
          }
        }
      }
      this.#link.cmd?.xdel(this.#stream, ...ids).catch(() => {});
      this.#events.read();
    }
  }
}
