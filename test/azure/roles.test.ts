import { describe, expect, it } from "vitest";
import { AZURE_ROLES } from "../../src/azure";
import { published } from "../helpers/published";

// Against Microsoft's published built-in roles table (kept under test/fixtures/published/azure-docs).
const PUBLISHED = published<{ roles: Record<string, { id: string }> }>("azure-docs/built-in-roles.json");

describe("the built-in roles trainkit assigns", () => {
  it.each(Object.keys(PUBLISHED.roles))("uses the id Microsoft publishes for %s", (role) => {
    expect(AZURE_ROLES[role as keyof typeof AZURE_ROLES]).toBe(PUBLISHED.roles[role]!.id);
  });
});
