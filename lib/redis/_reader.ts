// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// A worker machine's reader: takes new task entries from the queue's
// consumer group, as many as it has room for, blocking while there are none.

import type { Buffer } from "node:buffer";
import { describe, ensureGroup, sleep } from "./_client.ts";
import { GROUP, type StreamEntries } from "./_protocol.ts";
import type { Intake } from "./_server.ts";

/** ms a read of the task stream blocks. */
const READ_BLOCK_MS = 1000;
/** ms to wait before reading again after a failed read. */
const READ_RETRY_MS = 200;

/** Reads task entries into `intake` until it stops. */
export async function readTasks(intake: Intake): Promise<void> {
  const { settings, keys, cmd, blk } = intake;
  while (!intake.stopping()) {
    const room = intake.room();
    if (room <= 0) {
      await intake.roomMade();
      continue;
    }
    let res: [Buffer, StreamEntries][] | null;
    try {
      res = await blk.callBuffer(
        "XREADGROUP",
        "GROUP",
        GROUP,
        settings.name,
        "COUNT",
        room,
        "BLOCK",
        READ_BLOCK_MS,
        "STREAMS",
        keys.tasks,
        ">",
      ) as [Buffer, StreamEntries][] | null;
    } catch (err) {
      if (intake.stopping()) break;
      if (describe(err).startsWith("NOGROUP")) {
        await ensureGroup(cmd, keys.tasks, GROUP).catch(() => {});
      }
      await sleep(READ_RETRY_MS);
      continue;
    }
    // Entries read while stopping stay pending: another worker takes them.
    if (res === null || intake.stopping()) continue;
    for (const [, entries] of res) intake.take(entries);
  }
}
