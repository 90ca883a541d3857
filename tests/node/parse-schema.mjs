// Parses a value with one of @ag-ui/core's zod schemas (strict where the schema is).
//
// stdin:  {"schema": "AgentCapabilitiesSchema", "value": {...}}
// stdout: {"ok": bool, "errors": [string, ...], "parsed": <the parsed value or null>,
//          "version": "<@ag-ui/core version>"}
// Exit code 0 whenever the input could be processed; non-zero when the schema does not exist.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

import * as schemas from "@ag-ui/core/schemas";

const require = createRequire(import.meta.url);
const { schema: name, value } = JSON.parse(readFileSync(0, "utf8"));
const schema = schemas[name];
if (!schema || typeof schema.safeParse !== "function") {
  console.error(`@ag-ui/core/schemas has no schema named ${JSON.stringify(name)}`);
  process.exit(2);
}
const result = schema.safeParse(value);
const errors = result.success
  ? []
  : result.error.issues.map((issue) => `${(issue.path ?? []).join(".") || "(root)"}: ${issue.message}`);
console.log(
  JSON.stringify({
    ok: result.success,
    errors,
    parsed: result.success ? result.data : null,
    version: (() => {
      try {
        return require("@ag-ui/core/package.json").version;
      } catch {
        return null;
      }
    })(),
  }),
);
