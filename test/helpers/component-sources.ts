import * as path from "node:path";
import ts from "typescript";
import { REPO_ROOT } from "./provider-host";

// What a cloud folder's TypeScript declares, read with the TypeScript compiler on its own: every exported
// class extending `pulumi.ComponentResource`, its args interface (inherited fields included) and its public
// fields, each with its JSDoc. The component schema test compares Pulumi's inferred schema against this.

/** One declared input or output of a component. */
export interface DeclaredProperty {
  name: string;
  optional: boolean;
  doc: string;
}

/** One component class as its source declares it. */
export interface DeclaredComponent {
  name: string;
  doc: string;
  inputs: DeclaredProperty[];
  outputs: DeclaredProperty[];
}

function docOf(symbol: ts.Symbol, checker: ts.TypeChecker): string {
  return ts.displayPartsToString(symbol.getDocumentationComment(checker));
}

/** The components `src/<folder>/index.ts` exports, in name order. */
export function declaredComponents(folder: string): DeclaredComponent[] {
  const entry = path.join(REPO_ROOT, "src", folder, "index.ts");
  const config = ts.readConfigFile(path.join(REPO_ROOT, "tsconfig.json"), ts.sys.readFile);
  const options = ts.parseJsonConfigFileContent(config.config, ts.sys, REPO_ROOT).options;
  const program = ts.createProgram({ rootNames: [entry], options });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entry);
  if (!source) throw new Error(`no source file ${entry}`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (!moduleSymbol) throw new Error(`no module symbol for ${entry}`);
  const components: DeclaredComponent[] = [];
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const decl = symbol.declarations?.find(ts.isClassDeclaration);
    if (!decl?.name) continue;
    const base = decl.heritageClauses?.[0]?.types[0]?.expression.getText();
    if (base !== "pulumi.ComponentResource") continue;
    const ctor = decl.members.find(ts.isConstructorDeclaration);
    const argsParam = ctor?.parameters.find((p) => p.name.getText() === "args");
    if (!argsParam?.type) throw new Error(`${decl.name.text}: no typed args parameter`);
    const argsType = checker.getTypeFromTypeNode(argsParam.type);
    const inputs = checker.getPropertiesOfType(argsType).map((p) => ({
      name: p.name,
      optional: (p.flags & ts.SymbolFlags.Optional) !== 0,
      doc: docOf(p, checker),
    }));
    const outputs = decl.members
      .filter(ts.isPropertyDeclaration)
      .filter((m) => !m.modifiers?.some((k) => k.kind === ts.SyntaxKind.PrivateKeyword))
      .map((m) => {
        const s = checker.getSymbolAtLocation(m.name);
        if (!s) throw new Error(`${decl.name?.text}: no symbol for ${m.name.getText()}`);
        return { name: s.name, optional: m.questionToken !== undefined, doc: docOf(s, checker) };
      });
    components.push({ name: decl.name.text, doc: docOf(symbol, checker), inputs, outputs });
  }
  return components.sort((a, b) => a.name.localeCompare(b.name));
}
