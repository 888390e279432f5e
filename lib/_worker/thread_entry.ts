// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The entry of a node:worker_threads worker: identity and port come in
// workerData, and the target module is imported dynamically (a thread worker
// shares its parent's permissions, so it may).

import { workerData } from "node:worker_threads";
import { attach, identify, loaded } from "./bootstrap.ts";
import type { WorkerIdentity } from "../_shared/wire.ts";

const data = workerData as {
  identity: WorkerIdentity;
  module: string;
  port: MessagePort;
};
identify(data.identity, data.module, false);
attach(data.port);
try {
  loaded(await import(data.module));
} catch (err) {
  loaded(null, err);
}
