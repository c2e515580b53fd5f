/** One statement of an IAM policy document, as tests read it back. */
export interface Statement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: unknown;
  Action: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

/** The statements of a policy document given as the JSON string a resource received. */
export function statementsOf(policy: string): Statement[] {
  const doc = JSON.parse(policy) as { Version: string; Statement: Statement[] };
  if (doc.Version !== "2012-10-17") throw new Error(`policy version is ${doc.Version}, not 2012-10-17`);
  return doc.Statement;
}

/** Every action the Allow statements grant, sorted. */
export function allowedActions(statements: Statement[]): string[] {
  return statements
    .filter((s) => s.Effect === "Allow")
    .flatMap((s) => [s.Action].flat())
    .sort();
}
