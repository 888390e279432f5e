// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The entry of a Manager's server thread (a node:worker_threads thread that
// manager.ts starts): it takes the table and the program's liveness table
// from workerData and serves until the manager is down, then ends.
//
// Imports the server, the table and lib/_shared/context.ts.

import { workerData } from "node:worker_threads";
import { context } from "../_shared/context.ts";
import { tableOf } from "./_table.ts";
import { Server } from "./_server.ts";

const data = workerData as {
  table: SharedArrayBuffer;
  liveness: Int32Array | null;
};
// Lock holders and slot owners are pids of this program's processes: the
// server tells ended ones by the program's liveness table.
context().liveness = data.liveness;
new Server(tableOf(data.table)).serve();
