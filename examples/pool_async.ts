// The tutorial's next steps: map_async, apply and apply_async.
//
//   deno run -R examples/pool_async.ts

import { Pool } from "@parallel/multiprocessing";

/** x cubed. */
export function cube(x: number): number {
  return x * x * x;
}

/** x to the power n. */
export function power(x: number, n: number): number {
  return x ** n;
}

if (import.meta.main) {
  await using pool = new Pool(5);

  // map_async: returns at once; get() waits for the list.
  const cubes = pool.mapAsync(cube, [0, 1, 2, 3], {
    callback: (values) => console.log("map_async callback:", values),
  });
  console.log("map_async:", await cubes.get(10_000));

  // apply: one call, waits for its result.
  console.log("apply:", await pool.apply(power, [2, 10]));

  // apply_async: several calls in flight, results collected afterwards.
  const results = [1, 2, 3].map((x) =>
    pool.applyAsync(power, [x, 2], {
      errorCallback: (err) => console.error("failed:", err),
    })
  );
  const squares = [];
  for (const r of results) squares.push(await r.get(10_000));
  console.log("apply_async:", squares);
}
