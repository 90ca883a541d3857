// The npm `eventsource` package (a spec-following EventSource for Node) on an agent thread's SSE
// stream, with the Authorization header added through its `fetch` option.
//
// stdin: {"url": "http://…/api/v1/agent/runs/<thread>/events", "token": "…",
//         "runs": 1, "dropAfter": null | n, "timeoutMs": 30000}
// With `dropAfter` n, the first connection is cut (the HTTP request aborted, the body ended)
// right after its n-th event, and the package reconnects by itself, sending Last-Event-ID.
// stdout lines: "versions"; {"type": "connect", "lastEventId": str | null} per request the
// package makes; {"type": "ready"} when the first connection is open; {"type": "drop"} when the
// cut happens; {"type": "event", "id", "event", "data"} per event; {"type": "done"} after
// `runs` RUN_FINISHED/RUN_ERROR events.

import { EventType } from "@ag-ui/core";
import { EventSource } from "eventsource";

import { deadline, emit, runScript, versions } from "./lib/lines.mjs";

const TERMINAL = new Set([EventType.RUN_FINISHED, EventType.RUN_ERROR]);

// The response, with its body ended and the request aborted after `events` complete SSE events
// (blocks with a data field; keep-alive comments do not count).
function cutAfter(response, events, abort) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let pending = "";
  let seen = 0;
  const body = new ReadableStream({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        controller.close();
        return;
      }
      pending += decoder.decode(value, { stream: true });
      let passed = "";
      let end;
      while ((end = pending.indexOf("\n\n")) !== -1) {
        const block = pending.slice(0, end + 2);
        pending = pending.slice(end + 2);
        passed += block;
        if (/^data:/m.test(block)) seen += 1;
        if (seen >= events) {
          controller.enqueue(encoder.encode(passed));
          emit({ type: "drop", after: seen });
          abort();
          controller.close();
          return;
        }
      }
      if (passed) controller.enqueue(encoder.encode(passed));
    },
    cancel() {
      abort();
    },
  });
  return new Response(body, { status: response.status, headers: response.headers });
}

async function main({ url, token, runs = 1, dropAfter = null, timeoutMs = 30000 }) {
  emit({ type: "versions", ...versions("eventsource", "@ag-ui/core") });
  let connections = 0;
  const source = new EventSource(url, {
    fetch: async (input, init) => {
      connections += 1;
      const headers = { ...init.headers, Authorization: `Bearer ${token}` };
      emit({ type: "connect", lastEventId: headers["Last-Event-ID"] ?? null });
      if (dropAfter === null || connections > 1) return fetch(input, { ...init, headers });
      // The first connection gets its own controller, so the cut is a real disconnect.
      const own = new AbortController();
      init.signal?.addEventListener("abort", () => own.abort());
      const response = await fetch(input, { ...init, headers, signal: own.signal });
      return response.ok ? cutAfter(response, dropAfter, () => own.abort()) : response;
    },
  });
  let opened = false;
  const limit = deadline(timeoutMs, `${runs} finished run(s)`);
  try {
    await Promise.race([
      limit.promise,
      new Promise((resolve, reject) => {
        let finished = 0;
        source.addEventListener("open", () => {
          if (!opened) emit({ type: "ready" });
          opened = true;
        });
        source.addEventListener("error", (error) => {
          // A dropped connection is retried by the package (readyState CONNECTING); only a
          // refusal it gives up on (CLOSED) ends the script.
          if (source.readyState === EventSource.CLOSED) {
            reject(new Error(`EventSource failed: ${error.message ?? ""} ${error.code ?? ""}`));
          }
        });
        for (const kind of Object.values(EventType)) {
          source.addEventListener(kind, (message) => {
            emit({
              type: "event",
              id: message.lastEventId,
              event: message.type,
              data: JSON.parse(message.data),
            });
            if (TERMINAL.has(kind)) {
              finished += 1;
              if (finished >= runs) resolve();
            }
          });
        }
      }),
    ]);
  } finally {
    limit.cancel();
    source.close();
  }
  emit({ type: "done", connections });
}

runScript("eventsource-thread.mjs", main);
