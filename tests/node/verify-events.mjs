// Checks AG-UI event sequences with the official @ag-ui JavaScript packages.
//
// stdin:  {"runs": [[event, ...], ...], "requireTerminal": true}
//         Each inner list is the events of one run (or of several consecutive runs),
//         as camelCase JSON objects exactly as they were sent on the wire.
// stdout: {"ok": bool, "versions": {...},
//          "runs": [{"ok": bool, "errors": [string, ...], "warnings": [string, ...]}]}
//
// Per run:
//   1. every event is validated against @ag-ui/core's zod union (EventSchemas);
//   2. every event is passed through @ag-ui/client's enforceEvents stage on its own,
//      capturing the console warnings it prints for material a stock client would strip
//      (unknown properties, unknown union members). These are reported as "warnings" and
//      do not make the run fail;
//   3. the whole sequence is piped through transformChunks + verifyEvents, the same
//      operators (in the same order) HttpAgent.runAgent uses; the first error is reported;
//   4. unless "requireTerminal" is false, the run must end with RUN_FINISHED or RUN_ERROR
//      (verifyEvents itself accepts a stream that simply stops).
//
// Exit code is 0 whenever the input could be processed, including when events are invalid;
// non-zero only when the harness itself fails (bad stdin, broken install, ...).

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

import { EventSchemas } from "@ag-ui/core/schemas";
import { enforceEvents, transformChunks, verifyEvents } from "@ag-ui/client";
import { from, lastValueFrom, of, toArray } from "rxjs";
import { tap } from "rxjs/operators";

const require = createRequire(import.meta.url);

function packageVersion(name) {
  try {
    return require(`${name}/package.json`).version;
  } catch {
    return null;
  }
}

function describe(event, index) {
  const type = event && typeof event === "object" ? event.type : undefined;
  return `event[${index}] ${typeof type === "string" ? type : JSON.stringify(type)}`;
}

function formatZodIssues(error) {
  const issues = error?.issues ?? [];
  if (issues.length === 0) return String(error?.message ?? error);
  return issues
    .map((issue) => {
      const path = (issue.path ?? []).map(String).join(".");
      let text = `${path || "(root)"}: ${issue.message}`;
      // Discriminated-union failures nest the real reason one level down.
      if (Array.isArray(issue.errors) && issue.errors.length > 0) {
        const nested = issue.errors
          .flat()
          .map((sub) => `${(sub.path ?? []).map(String).join(".") || "(root)"}: ${sub.message}`);
        text += ` [${nested.join("; ")}]`;
      }
      return text;
    })
    .join("; ");
}

function errorText(error) {
  if (error instanceof Error) return error.message;
  return String(error);
}

// Runs `fn` with console.warn captured; returns [result, warnings].
async function captureWarnings(fn) {
  const original = console.warn;
  const warnings = [];
  console.warn = (...args) => {
    warnings.push(args.map((arg) => (typeof arg === "string" ? arg : JSON.stringify(arg))).join(" "));
  };
  try {
    const result = await fn();
    return [result, warnings];
  } finally {
    console.warn = original;
  }
}

async function checkRun(events, requireTerminal) {
  const errors = [];
  const warnings = [];

  if (!Array.isArray(events)) {
    return { ok: false, errors: ["harness: a run must be a JSON array of events"], warnings };
  }
  if (events.length === 0) {
    return { ok: false, errors: ["harness: the run has no events"], warnings };
  }

  // 1. Schema validation, every event.
  events.forEach((event, index) => {
    const parsed = EventSchemas.safeParse(event);
    if (!parsed.success) {
      errors.push(`schema: ${describe(event, index)}: ${formatZodIssues(parsed.error)}`);
    }
  });

  // 2. What a stock client's enforcement stage would strip or drop, event by event.
  for (const [index, event] of events.entries()) {
    const [, captured] = await captureWarnings(async () => {
      try {
        await lastValueFrom(of(event).pipe(enforceEvents(false), toArray()));
      } catch {
        // Malformed known fields are already reported by the schema step.
      }
    });
    for (const warning of captured) warnings.push(`enforce: ${describe(event, index)}: ${warning}`);
  }

  // 3. Sequence verification, exactly as HttpAgent.runAgent orders it.
  let lastSeen = -1;
  const [, verifyWarnings] = await captureWarnings(async () => {
    try {
      await lastValueFrom(
        from(events).pipe(
          tap(() => {
            lastSeen += 1;
          }),
          transformChunks(false),
          verifyEvents(false),
          toArray(),
        ),
      );
    } catch (error) {
      const where = lastSeen >= 0 ? `${describe(events[lastSeen], lastSeen)}: ` : "";
      errors.push(`verifyEvents: ${where}${errorText(error)}`);
    }
  });
  for (const warning of verifyWarnings) warnings.push(`verify: ${warning}`);

  // 4. A run must be closed.
  if (requireTerminal) {
    const last = events[events.length - 1];
    const lastType = last && typeof last === "object" ? last.type : undefined;
    if (lastType !== "RUN_FINISHED" && lastType !== "RUN_ERROR") {
      errors.push(
        `harness: the run ends with ${describe(last, events.length - 1)}, not RUN_FINISHED or RUN_ERROR`,
      );
    }
  }

  return { ok: errors.length === 0, errors, warnings };
}

async function main() {
  const raw = readFileSync(0, "utf8");
  let input;
  try {
    input = JSON.parse(raw);
  } catch (error) {
    throw new Error(`stdin is not valid JSON: ${errorText(error)}`);
  }
  if (!input || typeof input !== "object" || !Array.isArray(input.runs)) {
    throw new Error('stdin must be a JSON object {"runs": [[event, ...], ...]}');
  }
  const requireTerminal = input.requireTerminal !== false;

  const runs = [];
  for (const events of input.runs) {
    runs.push(await checkRun(events, requireTerminal));
  }
  const output = {
    ok: runs.every((run) => run.ok),
    versions: {
      node: process.versions.node,
      "@ag-ui/client": packageVersion("@ag-ui/client"),
      "@ag-ui/core": packageVersion("@ag-ui/core"),
      rxjs: packageVersion("rxjs"),
      zod: packageVersion("zod"),
    },
    runs,
  };
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

main().catch((error) => {
  process.stderr.write(`verify-events.mjs: ${error?.stack ?? error}\n`);
  process.exit(2);
});
