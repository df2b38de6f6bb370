// Follows GET /api/notes/subscribe through a ticket. A ticket opens one stream once, so when the
// connection drops this page asks for a new one and resumes with `after=` the last event id it
// saw: the server replays exactly the events it missed.
const $ = (id) => document.getElementById(id);
let source = null;
let lastEventId = null;

function show(kind, data) {
  const id = `note-${data.id}`;
  let item = document.getElementById(id);
  if (!item) {
    item = document.createElement("li");
    item.id = id;
    $("notes").prepend(item);
  }
  item.className = kind;
  const note = data.record;
  item.textContent = note
    ? `${note.pinned ? "[pinned] " : ""}${note.body} — ${note.authorEmail ?? "?"} (${kind})`
    : `${item.textContent.split(" (")[0]} (${kind})`;
}

async function connect() {
  if (source) source.close();
  const api = $("api").value.replace(/\/$/, "");
  const answer = await fetch(`${api}/api/subscribe/ticket`, {
    method: "POST",
    headers: { Authorization: `Bearer ${$("token").value.trim()}` },
  });
  if (!answer.ok) {
    $("status").textContent = `refused: ${(await answer.json()).code}`;
    return;
  }
  const { ticket } = await answer.json();
  const after = lastEventId === null ? "" : `&after=${encodeURIComponent(lastEventId)}`;
  source = new EventSource(`${api}/api/notes/subscribe?ticket=${ticket}${after}`);
  source.onopen = () => ($("status").textContent = "live");
  source.onerror = () => {
    // The browser retries the same URL, whose ticket is spent: take a new one instead.
    $("status").textContent = "reconnecting…";
    source.close();
    setTimeout(connect, 1000);
  };
  for (const kind of ["insert", "update", "enter", "leave", "delete"]) {
    source.addEventListener(kind, (e) => {
      lastEventId = e.lastEventId;
      show(kind, JSON.parse(e.data));
    });
  }
  source.addEventListener("reset", () => {
    // Missed more than the server keeps: start from a fresh list.
    $("notes").replaceChildren();
  });
  for (const end of ["overflow", "gone", "auth-expired"]) {
    source.addEventListener(end, () => {
      $("status").textContent = end;
      source.close();
    });
  }
}

$("connect").addEventListener("click", connect);
