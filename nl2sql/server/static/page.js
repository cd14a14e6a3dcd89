// The nl2sql web page: ask a question, watch the answer stream in, see the rows and the SQL.
//
// Everything the server sends (answers, cells, SQL, column names, errors) is data, so it only
// ever reaches the page through textContent / createTextNode, never innerHTML. No inline
// scripts or handlers: the server's Content-Security-Policy is default-src 'self'.
"use strict";

const KEY_STORAGE = "nl2sql.api-key"; // sessionStorage: a reload keeps the key, a new tab does not

let conversationId = null; // sent with the next question so follow-ups keep their context
let asking = false;

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- small DOM helpers

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function showNotice(message) {
  const notice = $("notice");
  notice.textContent = message;
  notice.hidden = !message;
}

function setAsking(on) {
  asking = on;
  $("ask").disabled = on;
  $("question").readOnly = on; // readOnly, not disabled: the caret and focus stay put
  $("new-conversation").disabled = on;
}

// ---------------------------------------------------------------- one turn of the transcript

function startTurn(question) {
  const turn = element("article", "turn");
  turn.dataset.state = "asking";
  turn.setAttribute("aria-busy", "true");
  turn.append(element("p", "question", question));
  turn.append(element("p", "answer"));
  $("transcript").append(turn);
  turn.scrollIntoView({ block: "end" });
  return turn;
}

function appendDelta(turn, delta) {
  // A text node per delta: the answer grows in place without re-rendering what came before.
  turn.querySelector(".answer").append(document.createTextNode(delta));
}

function finishTurn(turn, state) {
  turn.dataset.state = state;
  turn.removeAttribute("aria-busy");
}

// `refused`: the model declined or asked something back; shown as an error, but calmer.
function showError(turn, message, refused = false) {
  const answer = turn.querySelector(".answer");
  if (!answer.textContent) answer.remove(); // nothing streamed: no empty answer box
  turn.append(element("p", refused ? "error refused" : "error", message));
  finishTurn(turn, "failed");
}

function showResult(turn, result) {
  const answer = turn.querySelector(".answer");
  // The result's answer is the authoritative text; it normally equals what streamed in.
  if (answer.textContent !== result.answer) answer.textContent = result.answer ?? "";
  if (result.understood) {
    turn.append(element("p", "understood", "understood: " + result.understood));
  }
  const columns = Array.isArray(result.columns) ? result.columns : [];
  if (columns.length) {
    turn.append(rowCount(result));
    turn.append(table(columns, result.rows || []));
  }
  if (result.sql) {
    const details = element("details", "sql"); // collapsed until the reader opens it
    details.append(element("summary", null, "SQL"));
    const pre = element("pre");
    pre.append(element("code", null, result.sql));
    details.append(pre);
    turn.append(details);
  }
  finishTurn(turn, "answered");
}

function rowCount(result) {
  const count = result.row_count ?? (result.rows || []).length;
  let text = count === 1 ? "1 row" : `${count} rows`;
  if (result.truncated) text += " (truncated: there are more than shown)";
  return element("p", "row-count", text);
}

function table(columns, rows) {
  // The wrapper scrolls sideways on its own, so a wide table never widens the page.
  const wrap = element("div", "table-wrap");
  wrap.tabIndex = 0; // keyboard users can scroll it too
  const tableNode = element("table");
  const head = tableNode.createTHead().insertRow();
  for (const name of columns) {
    const th = element("th", null, name);
    th.scope = "col";
    head.append(th);
  }
  const body = tableNode.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const cell of row) {
      const td = tr.insertCell();
      td.textContent = cell === null ? "NULL" : String(cell);
      if (typeof cell === "number") td.className = "number";
      if (cell === null) td.className = "null";
    }
  }
  wrap.append(tableNode);
  return wrap;
}

// ---------------------------------------------------------------- talking to the server

// An answer that failed before the stream started: a plain JSON response {"error": ...}.
// Returns the one line to show, and whether it is a refusal (the question was heard: its
// conversation is kept, so the user can answer the model's question back).
async function responseError(response) {
  let body = {};
  try {
    body = (await response.json()) || {};
  } catch {
    // not JSON (a proxy's error page, say): fall back to the status line below
  }
  const message = typeof body.error === "string" ? body.error : "";
  if (body.refused) {
    if (body.conversation_id) conversationId = body.conversation_id;
    return { message: message || "The question was not answered.", refused: true };
  }
  switch (response.status) {
    case 401:
      return { message: "The API key was refused." };
    case 404:
      if (conversationId !== null) {
        conversationId = null; // the server forgot it; the next question starts afresh
        return { message: "This conversation expired; ask again to start a new one." };
      }
      break;
    case 429: {
      const wait = response.headers.get("Retry-After");
      const later = wait ? ` Try again in ${wait} s.` : " Try again shortly.";
      return { message: (message || "Too many requests.") + later };
    }
  }
  const status = `The server answered ${response.status} ${response.statusText}`.trim();
  return { message: message || status };
}

// Read a text/event-stream body, calling onEvent(name, data) for each complete event.
// (EventSource cannot POST, so the stream is parsed here, per the SSE format.)
async function readEvents(body, onEvent) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let raw = ""; // decoded text whose line ends are not normalised yet
  try {
    for (;;) {
      const { value, done } = await reader.read();
      raw += decoder.decode(value || new Uint8Array(), { stream: !done });
      // SSE allows CRLF, CR or LF line ends. A CR at the very end may be half of a CRLF
      // split across chunks, so it waits for the next chunk.
      const cut = !done && raw.endsWith("\r") ? raw.length - 1 : raw.length;
      buffer += raw.slice(0, cut).replace(/\r\n?/g, "\n");
      raw = raw.slice(cut);
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (event && onEvent(event.name, event.data) === false) return;
      }
      if (done) return;
    }
  } finally {
    reader.cancel().catch(() => {}); // done with it (or it failed): let the connection go
  }
}

function parseEvent(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue; // comments are keep-alive pings
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return null;
  return { name, data: data.join("\n") };
}

async function ask(question) {
  const key = $("key").value.trim();
  if (!key) {
    showNotice("Enter your API key first.");
    $("key").focus();
    return;
  }
  showNotice("");
  const turn = startTurn(question);
  setAsking(true);
  try {
    const response = await fetch("v1/ask", {
      method: "POST",
      headers: {
        "Authorization": "Bearer " + key,
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
      },
      body: JSON.stringify({ question, conversation_id: conversationId, today: null }),
    });
    if (!response.ok) {
      const { message, refused } = await responseError(response);
      showError(turn, message, refused);
      // Nothing was answered: put the question back so it can be asked again as it was.
      if (!refused && !$("question").value) $("question").value = question;
      return;
    }
    let ended = false;
    await readEvents(response.body, (name, data) => {
      const payload = JSON.parse(data);
      if (name === "text") {
        appendDelta(turn, payload.delta ?? "");
        return true;
      }
      if (name === "result") {
        conversationId = payload.conversation_id ?? conversationId;
        showResult(turn, payload);
      } else if (name === "error") {
        // A refusal keeps the conversation: the user can answer the model's question back.
        if (payload.conversation_id) conversationId = payload.conversation_id;
        showError(turn, payload.error || "The question failed.", payload.refused === true);
      } else {
        return true; // an event this page does not know: skip it
      }
      ended = true;
      return false; // exactly one result or error ends the answer
    });
    if (!ended) showError(turn, "The answer stopped before it finished.");
  } catch (error) {
    showError(turn, error instanceof SyntaxError
      ? "The server sent something this page cannot read."
      : "Could not reach the server.");
  } finally {
    setAsking(false);
    $("question").focus();
  }
}

// ---------------------------------------------------------------- wiring

function newConversation() {
  conversationId = null;
  $("transcript").replaceChildren();
  showNotice("");
  $("question").focus();
}

function start() {
  const keyInput = $("key");
  keyInput.value = sessionStorage.getItem(KEY_STORAGE) || "";
  keyInput.addEventListener("input", () => sessionStorage.setItem(KEY_STORAGE, keyInput.value));
  // Enter in the key field moves on to the question rather than reloading the page.
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    $("question").focus();
  });

  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault(); // the form is only here so Enter submits
    const input = $("question");
    const question = input.value.trim();
    if (asking || !question) return;
    input.value = "";
    ask(question);
  });
  $("new-conversation").addEventListener("click", newConversation);
  (keyInput.value ? $("question") : keyInput).focus();
}

start();
