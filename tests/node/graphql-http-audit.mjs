// Runs the GraphQL over HTTP conformance audits of `graphql-http` (`serverAudits`) against a
// GraphQL endpoint and reports every audit's outcome.
//
// Usage:
//   node graphql-http-audit.mjs --url <http url of the GraphQL endpoint>
//                               [--timeout-ms 10000]   (per request)
//
// stdout (one JSON object):
//   {"results": [{"id", "name", "status", "reason", "httpStatus", "contentType", "body"}, ...],
//    "versions": {"graphql-http": "...", "graphql": "..."}}
// `name` starts with the audit's requirement level (MUST / SHOULD / MAY); `status` is "ok",
// "notice", "warn" or "error"; `reason`, `httpStatus`, `contentType` and `body` (its first 2000
// characters) are null when the audit passed.
//
// Exit code 0 whatever the audits found; non-zero only when the harness itself fails (bad
// arguments, broken install, an audit that threw).

import { createRequire } from "node:module";
import { parseArgs } from "node:util";

import { serverAudits } from "graphql-http";

const require = createRequire(import.meta.url);

function packageVersion(name) {
  try {
    return require(`${name}/package.json`).version;
  } catch {
    return null;
  }
}

async function describeResponse(response) {
  if (!response || typeof response.status !== "number") {
    return { httpStatus: null, contentType: null, body: null };
  }
  let body = null;
  try {
    // The audit may already have read the body; a clone of a used response throws.
    body = (await response.clone().text()).slice(0, 2000);
  } catch {
    body = null;
  }
  return {
    httpStatus: response.status,
    contentType: response.headers.get("content-type"),
    body,
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      "timeout-ms": { type: "string", default: "10000" },
    },
  });
  if (!values.url) throw new Error("--url is required");
  const timeoutMs = Number(values["timeout-ms"]);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new Error("--timeout-ms: a number");

  // Every request gets a deadline, so a server that never answers fails the audit instead of
  // hanging the harness.
  const fetchFn = (input, init = {}) =>
    fetch(input, { ...init, signal: init.signal ?? AbortSignal.timeout(timeoutMs) });

  const results = [];
  for (const audit of serverAudits({ url: values.url, fetchFn })) {
    const result = await audit.fn();
    const entry = { id: result.id, name: result.name, status: result.status, reason: null };
    if (result.status === "ok") {
      Object.assign(entry, { httpStatus: null, contentType: null, body: null });
    } else {
      entry.reason = String(result.reason);
      Object.assign(entry, await describeResponse(result.response));
    }
    results.push(entry);
  }
  const versions = {
    "graphql-http": packageVersion("graphql-http"),
    graphql: packageVersion("graphql"),
  };
  process.stdout.write(JSON.stringify({ results, versions }) + "\n");
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
