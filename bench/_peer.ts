// Runs a peer benchmark (a Python or Node script) and reads the JSON object
// on its last line of output. Shared by every bench file.

/**
 * `cmd args…`'s last line of output as JSON, or null (logged) when the peer
 * is missing, fails, or says `{ "skipped": why }`.
 */
export async function runPeer(
  cmd: string,
  args: string[],
  log: (message: string) => void,
): Promise<Record<string, number> | null> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    const last = JSON.parse(lines.at(-1) ?? "null");
    if (!out.success || last === null || last.skipped) {
      log(`${cmd} skipped: ${last?.skipped ?? `exit ${out.code}`}`);
      return null;
    }
    return last;
  } catch (err) {
    log(`${cmd} skipped: ${(err as Error).message}`);
    return null;
  }
}
