// A stock @apollo/client `ApolloClient` with the split link browsers use: `HttpLink` for
// queries and mutations, `GraphQLWsLink` (graphql-ws over `ws`) for subscriptions.
//
// stdin: {"httpUrl": "http://…/graphql", "wsUrl": "ws://…/graphql", "token": "…",
//         "query": "…", "mutation": "…", "mutationVariables": {}, "subscription": "…",
//         "timeoutMs": 15000}
// stdout lines: "versions"; {"type": "query", "data"}; {"type": "mutation", "data"};
// {"type": "ready"} once the subscription's socket is acked; {"type": "next", "value"} for the
// first subscription result; then {"type": "done"}.

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

import { deadline, emit, runScript, versions } from "./lib/lines.mjs";

async function main(input) {
  const { httpUrl, wsUrl, token, timeoutMs = 15000 } = input;
  emit({ type: "versions", ...versions("@apollo/client", "graphql-ws", "ws", "graphql") });
  const wsClient = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
    on: { connected: () => emit({ type: "ready" }) },
  });
  const link = ApolloLink.split(
    ({ operationType }) => operationType === "subscription",
    new GraphQLWsLink(wsClient),
    new HttpLink({ uri: httpUrl, headers: { Authorization: `Bearer ${token}` } }),
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  const limit = deadline(timeoutMs, "the Apollo operations");
  try {
    const queried = await Promise.race([
      limit.promise,
      client.query({ query: gql(input.query), fetchPolicy: "network-only" }),
    ]);
    emit({ type: "query", data: queried.data });
    const mutated = await Promise.race([
      limit.promise,
      client.mutate({ mutation: gql(input.mutation), variables: input.mutationVariables }),
    ]);
    emit({ type: "mutation", data: mutated.data });
    const value = await Promise.race([
      limit.promise,
      new Promise((resolve, reject) => {
        const subscription = client.subscribe({ query: gql(input.subscription) }).subscribe({
          next: (result) => {
            subscription.unsubscribe();
            resolve(result);
          },
          error: reject,
        });
      }),
    ]);
    const error = value.error?.message ?? null;
    emit({ type: "next", value: { data: value.data ?? null, error } });
  } finally {
    limit.cancel();
    client.stop();
    await wsClient.dispose();
  }
  emit({ type: "done" });
}

runScript("apollo-client.mjs", main);
