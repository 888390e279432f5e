// Port of the Python tutorial's Pool(5).map(cube, [0, 1, 2, 3]).
//
//   deno run -R examples/pool_map.ts
//
// The pool is never closed, as in the Python example: idle workers do not
// keep the program alive, so it exits once the map is done.

import { Pool } from "@parallel/multiprocessing";

/** x cubed. */
export function cube(x: number): number {
  return x * x * x;
}

if (import.meta.main) {
  const pool = new Pool(5);
  const result = await pool.map(cube, [0, 1, 2, 3]);
  console.log(result);
}
