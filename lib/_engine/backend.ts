// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// Where a pool's chunks run, other than local module Workers. A backend
// entry point (such as ../redis/) registers a factory for the objects it
// hands to users; `Pool` looks it up, so the core imports no backend code.

import type { PoolEngine } from "./dispatcher.ts";

/** What a backend's engine is told when a pool is made. */
export interface BackendInit {
  /** The default module of the pool's targets. */
  readonly module: string;
}

const factories = new WeakMap<object, (init: BackendInit) => PoolEngine>();

/** Makes `backend` usable as `new Pool({ backend })`. */
export function defineBackend<T extends object>(
  backend: T,
  factory: (init: BackendInit) => PoolEngine,
): T {
  factories.set(backend, factory);
  return backend;
}

/** The engine factory of `backend`, or undefined if it is not a backend. */
export function backendFactory(
  backend: unknown,
): ((init: BackendInit) => PoolEngine) | undefined {
  if (backend === null || typeof backend !== "object") return undefined;
  return factories.get(backend);
}
