// A stock graphql-ws client (`createClient`, the library Apollo and urql use) on the
// graphql-transport-ws protocol, with `ws` as Node's WebSocket.
//
// stdin: {"url": "ws://…/graphql", "token": "…", "query": "subscription …", "variables": {},
//         "count": 1, "timeoutMs": 15000}
// stdout lines: {"type": "versions", …}, {"type": "ready", "ack": …} once the server acked the
// connection (the subscribe message follows at once), {"type": "next", "value": {data, errors}}
// per result, then {"type": "done", "ended": "count" | "complete"}.

import { createClient } from "graphql-ws";
import WebSocket from "ws";

import { deadline, emit, runScript, versions } from "./lib/lines.mjs";

async function main({ url, token, query, variables = {}, count = 1, timeoutMs = 15000 }) {
  emit({ type: "versions", ...versions("graphql-ws", "ws", "graphql") });
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
    on: { connected: (_socket, ack) => emit({ type: "ready", ack: ack ?? null }) },
  });
  const limit = deadline(timeoutMs, `${count} result(s)`);
  let ended;
  try {
    ended = await Promise.race([
      limit.promise,
      new Promise((resolve, reject) => {
        let received = 0;
        const unsubscribe = client.subscribe(
          { query, variables },
          {
            next: (value) => {
              emit({ type: "next", value });
              received += 1;
              if (received >= count) {
                unsubscribe();
                resolve("count");
              }
            },
            error: reject,
            complete: () => resolve("complete"),
          },
        );
      }),
    ]);
  } finally {
    limit.cancel();
    await client.dispose();
  }
  emit({ type: "done", ended });
}

runScript("graphql-ws-subscribe.mjs", main);
