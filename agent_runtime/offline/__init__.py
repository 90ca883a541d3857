"""The offline chat model (`AGENT_MODEL=offline`): deterministic, no network, English and Chinese.

What is where, from the model down to the rules it reads requests with:

- `model`: the `ChatModel` (`OfflineModel`); decides a turn, then streams it in chunks.
- `turn`: one turn: a request becomes a tool call or a text answer; a listing made to find an
  item becomes the call that changes it.
- `conversation`: reading the messages, tool calls, tool results and the JSON in them.
- `replies`: the reply types and the fixed answers (help, a tool not offered, …).
- `summaries`: tool results in words, in the user's language.
- `intents`: what a message asks for (`parse_intent` → `Intent`).
- `dates`: dates and times of day in words (`parse_when` → `When`).
- `recurrence`: "every Monday", "每周一", "all day" in words; `repeat`: the series (`Repeat`) and
  its RRULE; `rule_text`: an RRULE back in words.
- `titles`: titles and the words naming an item; `numbers`, `days`, `language`: shared helpers.

Everything below `turn` is pure: "today" comes from the caller.
"""
