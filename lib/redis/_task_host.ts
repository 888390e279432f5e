// Copyright 2026 the @parallel/multiprocessing authors. MIT license.
// The module a worker machine's local Workers load when they start (see
// _runner.ts): it exports nothing and imports nothing, so it cannot fail to
// load. The modules of tasks are imported by name as their tasks come.

export {};
