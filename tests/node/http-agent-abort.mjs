// A stock @ag-ui/client `HttpAgent` that starts a run on a POST endpoint and calls `abortRun()`
// as soon as a given event arrives mid-stream, to show the client ends cleanly.
//
// stdin: {"url": "http://…/api/v1/agent", "token": "…", "thread": "<uuid>", "run": "…",
//         "message": "…", "abortOn": "TEXT_MESSAGE_CONTENT", "timeoutMs": 30000,
//         "forwardedProps": {…} (optional, sent as the run's forwardedProps)}
// stdout lines: "versions"; {"type": "aborted", "after": [event type, …]} when abortRun() was
// called; then {"type": "done", "settled": "resolved" | "rejected", "error": str | null,
// "events": [type, …], "runError": {code, message} | null, "errorsLogged": [...],
// "warnings": [...]}. An unhandled rejection after
// the abort shows as an "unhandled" line (exit 3).

import { HttpAgent } from "@ag-ui/client";

import { deadline, describeError, emit, runScript, versions } from "./lib/lines.mjs";

// Long enough for a late rejection of the aborted fetch to surface as unhandled.
const SETTLE_MS = 300;

async function main({
  url,
  token,
  thread,
  run,
  message,
  abortOn,
  timeoutMs = 30000,
  forwardedProps = undefined,
}) {
  emit({ type: "versions", ...versions("@ag-ui/client", "@ag-ui/core") });
  const stringify = (args) => args.map((arg) => describeError(arg)).join(" ");
  const warnings = [];
  const errorsLogged = [];
  console.warn = (...args) => warnings.push(stringify(args));
  console.error = (...args) => errorsLogged.push(stringify(args));

  const headers = { Authorization: `Bearer ${token}` };
  const agent = new HttpAgent({ url, headers, threadId: thread });
  agent.addMessage({ id: `user-${run}`, role: "user", content: message });
  const events = [];
  let aborted = false;
  let runError = null;
  const subscriber = {
    onEvent: ({ event }) => {
      events.push(event.type);
      // The client reports its own abort as a local RUN_ERROR with code "abort".
      if (event.type === "RUN_ERROR") {
        runError = { code: event.code ?? null, message: event.message };
      }
      if (!aborted && event.type === abortOn) {
        aborted = true;
        emit({ type: "aborted", after: [...events] });
        agent.abortRun();
      }
    },
  };
  const limit = deadline(timeoutMs, "the aborted run to settle");
  let settled = "resolved";
  let error = null;
  try {
    await Promise.race([limit.promise, agent.runAgent({ runId: run, forwardedProps }, subscriber)]);
  } catch (caught) {
    settled = "rejected";
    error = describeError(caught);
  } finally {
    limit.cancel();
  }
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  emit({ type: "done", settled, error, aborted, events, runError, errorsLogged, warnings });
}

runScript("http-agent-abort.mjs", main);
