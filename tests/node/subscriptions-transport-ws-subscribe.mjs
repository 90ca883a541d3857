// A stock subscriptions-transport-ws `SubscriptionClient` on the legacy graphql-ws protocol,
// with `ws` as Node's WebSocket.
//
// stdin and stdout: as graphql-ws-subscribe.mjs ("ready" once the server acked the connection).

import subscriptionsTransportWs from "subscriptions-transport-ws";
import WebSocket from "ws";

import { deadline, emit, runScript, versions } from "./lib/lines.mjs";

const { SubscriptionClient } = subscriptionsTransportWs; // a CommonJS package

async function main({ url, token, query, variables = {}, count = 1, timeoutMs = 15000 }) {
  emit({ type: "versions", ...versions("subscriptions-transport-ws", "ws", "graphql") });
  const client = new SubscriptionClient(
    url,
    {
      reconnect: false,
      connectionParams: { Authorization: `Bearer ${token}` },
      // The default 1 s to open the socket is too short on a loaded CI machine: past it the
      // client closes a socket still connecting, and `ws` throws outside any promise.
      minTimeout: 10000,
      timeout: 30000,
    },
    WebSocket,
  );
  client.onConnected((ack) => emit({ type: "ready", ack: ack ?? null }));
  const limit = deadline(timeoutMs, `${count} result(s)`);
  let ended;
  try {
    ended = await Promise.race([
      limit.promise,
      new Promise((resolve, reject) => {
        let received = 0;
        const subscription = client.request({ query, variables }).subscribe({
          next: (value) => {
            emit({ type: "next", value });
            received += 1;
            if (received >= count) {
              subscription.unsubscribe();
              resolve("count");
            }
          },
          error: reject,
          complete: () => resolve("complete"),
        });
      }),
    ]);
  } finally {
    limit.cancel();
    client.close();
  }
  emit({ type: "done", ended });
}

runScript("subscriptions-transport-ws-subscribe.mjs", main);
