// The manager's shared table is writable by every thread holding a proxy,
// including a scoped worker running untrusted code. The server must answer
// malformed requests with an error and keep serving, allocate nothing a
// request claims, and never block the main thread.
import assert from "node:assert/strict";
import { Manager, Process } from "@parallel/multiprocessing";
import { scribble } from "./fixtures/targets.ts";
import { finish, until, within } from "../fixtures/harness.ts";
import * as P from "../../lib/managers/_protocol.ts";
import {
  BELL,
  DOWN,
  growTable,
  MAX_MESSAGE,
  MORE,
  REPLY,
  REQUEST,
  S_LEN,
  S_OWNER,
  S_STATE,
  S_TICKET,
  S_TOTAL,
  SLOT_DATA,
  slotCount,
  slotData,
  slotWord,
  type Table,
  tableOf,
} from "../../lib/managers/_table.ts";

const module = new URL("./fixtures/targets.ts", import.meta.url);
/** A pid that owns the slots this test writes by hand. */
const FAKE_PID = 0x7ee00001;

interface Raw {
  readonly t: Table;
  readonly slot: number;
}

function tableOfProxy(proxy: object): Table {
  return tableOf((proxy as { $table: SharedArrayBuffer }).$table);
}

/** Takes a free slot by hand, as a client would. */
function claim(t: Table): Raw {
  for (;;) {
    const n = slotCount(t);
    for (let i = 0; i < n; i++) {
      if (
        Atomics.compareExchange(t.w, slotWord(i, S_OWNER), 0, FAKE_PID) === 0
      ) {
        return { t, slot: i };
      }
    }
    if (!growTable(t, n)) throw new Error("no free slot");
  }
}

/** Writes a frame into the slot as given (lengths unchecked), sets
 * `state`, rings the bell, and waits for the server to move the state. */
async function post(
  raw: Raw,
  bytes: Uint8Array,
  { len = bytes.length, total = len, state = REQUEST }: {
    len?: number;
    total?: number;
    state?: number;
  } = {},
): Promise<number> {
  const { t, slot } = raw;
  t.b.set(bytes.subarray(0, Math.min(bytes.length, SLOT_DATA)), slotData(slot));
  Atomics.store(t.w, slotWord(slot, S_LEN), len);
  Atomics.store(t.w, slotWord(slot, S_TOTAL), total);
  Atomics.store(t.w, slotWord(slot, S_TICKET), Atomics.add(t.w, 3, 1));
  Atomics.store(t.w, slotWord(slot, S_STATE), state);
  Atomics.add(t.w, BELL, 1);
  Atomics.notify(t.w, BELL);
  return await until(() => {
    const s = Atomics.load(t.w, slotWord(slot, S_STATE));
    return s === state || s === 4 ? 0 : s;
  }, { what: "the server to answer", timeout: 5_000, interval: 1 });
}

/** The reply now in the slot. */
function replyIn(raw: Raw): P.Reply {
  const { t, slot } = raw;
  const len = Atomics.load(t.w, slotWord(slot, S_LEN));
  const at = slotData(slot);
  return P.readReply(t.b.slice(at, at + len));
}

function request(
  op: number,
  id: number,
  items: Uint8Array[] = [],
  a: number = P.NONE,
): Uint8Array {
  const w = new P.Writer().request(op, id, a, P.NONE, FAKE_PID, items.length);
  for (const item of items) w.item(item);
  return w.view().slice();
}

Deno.test("the manager's server answers malformed requests with an error and keeps serving", async () => {
  await using manager = new Manager();
  const d = manager.dict<string, number>();
  const l = manager.list<number>();
  const lock = manager.lock();
  await d.set("a", 1);
  await l.append(1);
  const t = tableOfProxy(d);
  const dictId = (d as unknown as { $id: number }).$id;
  const listId = (l as unknown as { $id: number }).$id;
  const lockId = (lock as unknown as { $id: number }).$id;
  const raw = claim(t);
  const key = new Uint8Array([1, 0x22, 0x61, 0x22]); // JSON "a"
  const good = request(P.DICT_GET, dictId, [key]);

  const cases: [string, () => Promise<number>][] = [
    [
      "a frame longer than a slot",
      () => post(raw, good, { len: SLOT_DATA + 1 }),
    ],
    ["a negative length", () => post(raw, good, { len: -5 })],
    [
      "a total beyond the largest message",
      () => post(raw, good, { total: MAX_MESSAGE + 1 }),
    ],
    ["a total that does not match", () => post(raw, good, { total: 1000 })],
    ["a request too short", () => post(raw, good.subarray(0, 8))],
    ["an unknown operation", () => post(raw, request(200, dictId, [key]))],
    [
      "a count of 2 ** 31 items",
      () => {
        const bytes = good.slice();
        new DataView(bytes.buffer).setUint32(28, 2 ** 31 - 1, true);
        return post(raw, bytes);
      },
    ],
    [
      "an item with a negative length",
      () => {
        const bytes = good.slice();
        new DataView(bytes.buffer).setInt32(P.REQUEST_HEADER, -7, true);
        return post(raw, bytes);
      },
    ],
    [
      "an item past the end",
      () => {
        const bytes = good.slice();
        new DataView(bytes.buffer).setInt32(P.REQUEST_HEADER, 1000, true);
        return post(raw, bytes);
      },
    ],
    ["no such object", () => post(raw, request(P.DICT_GET, 0xffffffff, [key]))],
    [
      "a list operation on a dict",
      () => post(raw, request(P.LIST_GET, dictId, [], 0)),
    ],
    [
      "a missing item",
      () => post(raw, request(P.DICT_SET, dictId, [key])),
    ],
    [
      "an index that is not an integer",
      () => post(raw, request(P.LIST_GET, listId, [], 1.5)),
    ],
    [
      "a timeout below zero",
      () => post(raw, request(P.LOCK_ACQUIRE, lockId, [], -1)),
    ],
    [
      "a creation of an object that exists",
      () => post(raw, request(P.CREATE_DICT, dictId)),
    ],
    [
      "frames whose totals disagree",
      async () => {
        const big = new Uint8Array(SLOT_DATA);
        const s = await post(raw, big, { total: SLOT_DATA * 3, state: MORE });
        assert.equal(s, 3, "the first frame is taken (ACK)");
        return post(raw, good, { total: SLOT_DATA * 2 });
      },
    ],
  ];
  for (const [what, send] of cases) {
    const state = await send();
    assert.equal(state, REPLY, what);
    const reply = replyIn(raw);
    assert.equal(reply.status, P.BAD_REQUEST, what);
  }
  // A reply acknowledgement with no reply under way: the slot is dropped.
  Atomics.store(t.w, slotWord(raw.slot, S_STATE), 7);
  Atomics.add(t.w, BELL, 1);
  Atomics.notify(t.w, BELL);
  await until(() => Atomics.load(t.w, slotWord(raw.slot, S_STATE)) === 0, {
    what: "the slot to be dropped",
    timeout: 5_000,
  });
  // A well-formed request in the same slot is served.
  assert.equal(await post(raw, good), REPLY);
  const reply = replyIn(raw);
  assert.equal(reply.status, P.OK);
  Atomics.store(t.w, slotWord(raw.slot, S_OWNER), 0);
  // So are the proxies'.
  assert.equal(await within(d.get("a"), 5_000), 1);
  assert.deepEqual(await within(l.toArray(), 5_000), [1]);
  assert.equal(Atomics.load(t.w, DOWN), 0);
});

Deno.test("a scoped worker scribbling over the table cannot take the server down or block the main thread", async () => {
  await using manager = new Manager();
  const d = manager.dict<string, number>();
  await d.set("a", 1);
  const t = tableOfProxy(d);
  // The main thread's timers run on time meanwhile.
  let worst = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 5);
  try {
    for (const seed of [1, 2, 3]) {
      const p = new Process({
        target: scribble,
        args: [d, 2_000, seed],
        module,
        permissions: "none",
      });
      p.start();
      await finish(p, 20_000);
      assert.equal(p.exitCode, 0, String((p.error as Error)?.stack));
    }
  } finally {
    clearInterval(ticker);
  }
  assert.ok(worst < 1_000, `the main thread stalled for ${worst} ms`);
  // The server still runs: it answers a well-formed request in a slot the
  // scribbler did not leave busy.
  assert.equal(Atomics.load(t.w, DOWN), 0, "the server did not end");
  const raw = claim(t);
  const key = new Uint8Array([1, 0x22, 0x62, 0x22]); // JSON "b"
  const id = (d as unknown as { $id: number }).$id;
  assert.equal(await post(raw, request(P.DICT_GET, id, [key])), REPLY);
  const reply = replyIn(raw);
  assert.ok(
    reply.status === P.OK || reply.status === P.MISSING,
    `status ${reply.status}`,
  );
  Atomics.store(t.w, slotWord(raw.slot, S_OWNER), 0);
});
