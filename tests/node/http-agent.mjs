// Runs a stock @ag-ui/client HttpAgent against an AG-UI endpoint and reports what it saw.
//
// Usage:
//   node http-agent.mjs --url <POST endpoint> --token <bearer> --thread <thread id>
//                       --run <run id> --message <text>
//                       [--tools-json '<json list of tools>'] [--resume-json '<json list>']
//                       [--context-json '<json list>'] [--forwarded-props-json '<json>']
//                       [--timeout-ms 30000]
//
// stdout (one JSON object):
//   success: {"ok": true, "events": [type, ...], "rawEvents": [event, ...],
//             "newMessages": [...], "result": ..., "runFinished": {...} | null,
//             "runError": {...} | null, "messages": [...], "state": ...,
//             "pendingInterrupts": [...], "warnings": [...], "versions": {...}}
//   failure: {"ok": false, "error": "...", "status": <http status> | null, "payload": ...,
//             "events": [...], "rawEvents": [...], "warnings": [...], "versions": {...}}
//
// Exit code 0 in both cases; non-zero only when the harness itself fails (bad arguments,
// broken install).

import { createRequire } from "node:module";
import { parseArgs } from "node:util";

import { HttpAgent } from "@ag-ui/client";

const require = createRequire(import.meta.url);

function packageVersion(name) {
  try {
    return require(`${name}/package.json`).version;
  } catch {
    return null;
  }
}

function parseJsonOption(values, name, fallback) {
  const raw = values[name];
  if (raw === undefined) return fallback;
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new Error(`--${name} is not valid JSON: ${error.message}`);
  }
}

function jsonSafe(value) {
  if (value === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(value));
  } catch {
    return String(value);
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      token: { type: "string" },
      thread: { type: "string" },
      run: { type: "string" },
      message: { type: "string" },
      "message-id": { type: "string" },
      "tools-json": { type: "string" },
      "resume-json": { type: "string" },
      "context-json": { type: "string" },
      "forwarded-props-json": { type: "string" },
      "timeout-ms": { type: "string" },
    },
    strict: true,
  });
  for (const required of ["url", "thread", "run", "message"]) {
    if (values[required] === undefined) throw new Error(`--${required} is required`);
  }
  const tools = parseJsonOption(values, "tools-json", undefined);
  const resume = parseJsonOption(values, "resume-json", undefined);
  const context = parseJsonOption(values, "context-json", undefined);
  const forwardedProps = parseJsonOption(values, "forwarded-props-json", undefined);
  const timeoutMs = Number(values["timeout-ms"] ?? "30000");

  const versions = {
    node: process.versions.node,
    "@ag-ui/client": packageVersion("@ag-ui/client"),
    "@ag-ui/core": packageVersion("@ag-ui/core"),
  };

  // The client reports stripped material and protocol-version mismatches via console.warn;
  // keep them in the report rather than on stderr. console.error carries the client's
  // "Agent execution failed" log, which duplicates the rejection handled below.
  const warnings = [];
  const errorsLogged = [];
  const stringify = (args) =>
    args
      .map((arg) =>
        typeof arg === "string" ? arg : arg instanceof Error ? arg.message : JSON.stringify(arg),
      )
      .join(" ");
  console.warn = (...args) => warnings.push(stringify(args));
  console.error = (...args) => errorsLogged.push(stringify(args));

  const headers = {};
  if (values.token !== undefined) headers.Authorization = `Bearer ${values.token}`;

  const agent = new HttpAgent({ url: values.url, headers, threadId: values.thread });
  agent.addMessage({
    id: values["message-id"] ?? `user-${values.run}`,
    role: "user",
    content: values.message,
  });

  const rawEvents = [];
  let runFinished = null;
  let runError = null;
  const subscriber = {
    onEvent: ({ event }) => {
      rawEvents.push(jsonSafe(event));
    },
    onRunFinishedEvent: (params) => {
      runFinished = {
        outcome: params.outcome,
        result: jsonSafe(params.result),
        pendingToolCallIds: params.pendingToolCallIds ?? null,
        interrupts: jsonSafe(params.interrupts) ?? null,
      };
    },
    onRunErrorEvent: ({ event }) => {
      runError = jsonSafe(event);
    },
  };

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    agent.abortRun();
  }, timeoutMs);

  const parameters = { runId: values.run };
  if (tools !== undefined) parameters.tools = tools;
  if (resume !== undefined) parameters.resume = resume;
  if (context !== undefined) parameters.context = context;
  if (forwardedProps !== undefined) parameters.forwardedProps = forwardedProps;

  let output;
  try {
    const result = await agent.runAgent(parameters, subscriber);
    output = timedOut
      ? { ok: false, error: `timed out after ${timeoutMs} ms`, status: null, payload: null }
      : {
          ok: true,
          newMessages: jsonSafe(result.newMessages),
          result: jsonSafe(result.result),
          runFinished,
          runError,
          messages: jsonSafe(agent.messages),
          state: jsonSafe(agent.state),
          pendingInterrupts: jsonSafe(agent.pendingInterrupts),
        };
  } catch (error) {
    output = {
      ok: false,
      error: error instanceof Error ? error.message : String(error),
      status: typeof error?.status === "number" ? error.status : null,
      payload: jsonSafe(error?.payload),
      runError,
    };
  } finally {
    clearTimeout(timer);
  }

  output.events = rawEvents.map((event) => event?.type ?? null);
  output.rawEvents = rawEvents;
  output.warnings = warnings;
  output.errorsLogged = errorsLogged;
  output.versions = versions;
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`http-agent.mjs: ${error?.stack ?? error}\n`);
    process.exit(2);
  },
);
