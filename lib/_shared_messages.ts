// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Every error message of the communication and shared-state classes, once.
// Imported by both sides.

import { quote } from "./_messages.ts";

export const messages = {
  badArgument: (what: string, expected: string, value: unknown): string =>
    `Cannot use ${what}: it must be ${expected}, received ${quote(value)}`,
  ringBroken: (what: string, pid: number): string =>
    `Cannot use the ${what}: process ${pid} ended in the middle of a ${what} operation (it was terminated or ran out of memory) and may have left it half-updated; create a new ${what}`,
  tooLarge: (what: string, bytes: number, capacity: number): string =>
    `Cannot send an item of ${bytes} bytes through a ${what} of ${capacity} bytes: pass a larger "capacityBytes" when creating it`,
  queueClosed: (): string =>
    `Cannot put to the queue: it is closed; create a new queue for more items`,
  queueEnded: (): string =>
    `Cannot get from the queue: it is closed and empty, no more items will come`,
  empty: (ms?: number): string =>
    ms === undefined
      ? `Queue is empty`
      : `Queue is still empty: get() timed out after ${ms} ms`,
  full: (ms?: number): string =>
    ms === undefined
      ? `Queue is full`
      : `Queue is still full: put() timed out after ${ms} ms`,
  taskDoneTooMany: (): string =>
    `Cannot call taskDone(): it was called more times than items were put on the queue`,
  connectionClosed: (op: string): string =>
    `Cannot ${op}: this connection is closed`,
  receiveOnly: (): string =>
    `Cannot send on this connection: it is the receiving end of a one-way pipe (Pipe(false) returns [receiver, sender])`,
  sendOnly: (op: string): string =>
    `Cannot ${op} on this connection: it is the sending end of a one-way pipe (Pipe(false) returns [receiver, sender])`,
  peerClosed: (): string => `Cannot send: the other end of the pipe is closed`,
  pipeEnded: (): string =>
    `Cannot receive: the other end of the pipe is closed and everything it sent was read`,
  abandoned: (kind: string, pid: number): string =>
    `Process ${pid} ended while holding the ${kind}; the ${kind} is released now: check the state it guarded, then acquire it again`,
  notAcquired: (kind: string): string =>
    `Cannot release the ${kind}: it is not acquired`,
  notOwner: (owner: number, pid: number): string =>
    `Cannot release the RLock: process ${owner} holds it, not this process (${pid})`,
  overReleased: (bound: number): string =>
    `Cannot release the BoundedSemaphore: it was released more times than acquired (its initial value is ${bound})`,
  holdTimeout: (kind: string, ms: number): string =>
    `Could not acquire the ${kind} within ${ms} ms`,
  conditionNotHeld: (op: string): string =>
    `Cannot ${op} on the Condition: this process does not hold its lock; acquire it first`,
  barrierBroken: (): string =>
    `The barrier is broken: a party timed out, the barrier was aborted or reset, or the action threw; call reset() to use it again`,
  badTypecode: (value: unknown): string =>
    `Cannot use typecode ${
      quote(value)
    }: it must be one of "b", "B", "h", "H", "i", "I", "l", "L", "q", "Q", "f", "d"`,
  badElement: (typecode: string, expected: string, value: unknown): string =>
    `Cannot store ${
      quote(value)
    } with typecode "${typecode}": it takes ${expected}`,
  badIndex: (index: unknown, length: number): string =>
    `Cannot use index ${quote(index)}: it must be an integer from 0 to ${
      length - 1
    }`,
  noLock: (what: string): string =>
    `Cannot get the lock of this ${what}: it was made with lock: false`,
} as const;
