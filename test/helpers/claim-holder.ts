// A replica that claims one job's submission and then hangs, as one would mid-submit: the test kills
// it with SIGKILL and checks who may take the claim over.
//
//   node --import tsx claim-holder.ts <postgres url> <schema> <job id>
import { openPostgresStore } from "../../src/server/store";

async function main(): Promise<void> {
  const [url, schema, jobId] = process.argv.slice(2);
  if (!url || !schema || !jobId) throw new Error("usage: claim-holder.ts <postgres url> <schema> <job id>");
  const store = await openPostgresStore(url, { schema });
  const claimed = await store.claimSubmit(jobId, 60_000);
  process.stdout.write(claimed ? "claimed\n" : "not claimed\n");
  // Holds the claim (and its connections) until killed.
  setInterval(() => {}, 60_000);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
