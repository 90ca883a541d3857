// Shared plumbing of the client scripts: JSON in on stdin, JSON lines out on stdout.
//
// Every script reads one JSON object from stdin and prints one JSON object per line, each with a
// "type" ("ready", "next", ..., and "done" last). A harness failure goes to stderr with a
// non-zero exit. An unhandled rejection or uncaught exception is reported as an "unhandled" line
// and exit code 3: the tests treat it as a client that did not end cleanly.

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

export function emit(line) {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

export function packageVersion(name) {
  try {
    return require(`${name}/package.json`).version;
  } catch {
    return null;
  }
}

export function versions(...names) {
  const found = { node: process.versions.node };
  for (const name of names) found[name] = packageVersion(name);
  return found;
}

export async function readInput() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString("utf8");
  return text.trim() ? JSON.parse(text) : {};
}

export function describeError(error) {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  if (Array.isArray(error)) return JSON.stringify(error); // graphql-ws: a list of GraphQL errors
  if (error && typeof error === "object" && "code" in error && "reason" in error) {
    return `socket closed ${error.code} ${error.reason}`; // a CloseEvent
  }
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}

// Runs `main(input)`; exits 0 after it resolves (sockets a client forgot would keep Node alive).
export function runScript(name, main) {
  const unhandled = (kind) => (error) => {
    emit({ type: "unhandled", kind, error: describeError(error), stack: error?.stack ?? null });
    process.exit(3);
  };
  process.on("unhandledRejection", unhandled("unhandledRejection"));
  process.on("uncaughtException", unhandled("uncaughtException"));
  readInput()
    .then(main)
    .then(
      () => process.exit(0),
      (error) => {
        process.stderr.write(`${name}: ${error?.stack ?? describeError(error)}\n`);
        process.exit(2);
      },
    );
}

// A promise that rejects after `ms`, so a silent server cannot hang a script.
export function deadline(ms, what) {
  let timer;
  const promise = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}
