// A client of examples/tasks written the way a newcomer would: types generated from the served
// OpenAPI document (openapi-typescript → generated/tasks.d.ts), calls through openapi-fetch, and
// no casts, non-null assertions, `any` or `@ts-` comments. It compiles under `tsc --strict` only
// if the document describes the API precisely; every expectation is then checked at runtime.
//
// Environment: WARD_URL (default http://127.0.0.1:18601), ALICE and BOB (member tokens).
// Run by scripts/ts-client.sh.

import createClient from "openapi-fetch";
import type { components, paths } from "./generated/tasks.js";

type Task = components["schemas"]["tasks"];

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`${name} is not set`);
  }
  return value;
}

let checks = 0;

function check(condition: boolean, what: string): asserts condition {
  if (!condition) {
    throw new Error(`expectation failed: ${what}`);
  }
  checks += 1;
}

function same<T>(actual: T, expected: T, what: string): void {
  check(
    JSON.stringify(actual) === JSON.stringify(expected),
    `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
  );
}

const baseUrl = process.env["WARD_URL"] ?? "http://127.0.0.1:18601";

// The document declares `in`/`not-in` filters as `style: form, explode: false` (`id.in=a,b`);
// openapi-fetch's default would repeat the parameter instead.
function clientFor(token: string) {
  return createClient<paths>({
    baseUrl,
    headers: { Authorization: `Bearer ${token}` },
    querySerializer: { array: { style: "form", explode: false } },
  });
}

const alice = clientFor(env("ALICE"));
const bob = clientFor(env("BOB"));

// A unique word, so that repeated runs against one database list only this run's tasks.
const run = `r${Date.now().toString(36)}`;

async function createTask(title: string, isDone?: boolean): Promise<Task> {
  const { data, error, response } = await alice.POST("/api/tasks", {
    body: isDone === undefined ? { title } : { title, isDone },
  });
  if (error) {
    throw new Error(`create ${title}: ${response.status} ${error.code}: ${error.error}`);
  }
  same(response.status, 201, "create answers 201");
  same(data.data.title, title, "created title");
  same(data.data.ownerId, "alice", "the firewall stamps the owner");
  return data.data;
}

// --- create -------------------------------------------------------------------------------

const milkTitles = ["buy milk", "oat milk", "milkshake", "milk the cow", "spilt milk"].map(
  (title) => `${title} ${run}`,
);
const milk: Task[] = [];
for (const title of milkTitles) {
  milk.push(await createTask(title));
}
const bread = await createTask(`buy bread ${run}`);
const doneMilk = await createTask(`old milk ${run}`, true);
same(bread.isDone, false, "isDone defaults to false");
same(doneMilk.isDone, true, "isDone is what was sent");
const ids: string[] = milk.map((task) => task.id);
check(new Set([...ids, bread.id, doneMilk.id]).size === 7, "ids are distinct");

// --- list: typed filters, sort, limit, cursor, total ----------------------------------------

// `search` keeps this run's rows apart from earlier runs' in the same database.
const openMilk = { isDone: false, "title.like": "milk", search: run, sort: "title", limit: 2 };

const first = await alice.GET("/api/tasks", { params: { query: { ...openMilk, total: true } } });
if (first.error) {
  throw new Error(`list: ${first.response.status} ${first.error.code}`);
}
same(first.data.pagination.total, 5, "pagination.total with total=true");
same(first.data.pagination.count, 2, "pagination.count");
same(first.data.pagination.limit, 2, "pagination.limit");

const walked: Task[] = [...first.data.data];
let pages = 1;
let cursor = first.data.pagination.hasMore ? first.data.pagination.nextCursor : undefined;
while (cursor !== undefined) {
  const page = await alice.GET("/api/tasks", { params: { query: { ...openMilk, cursor } } });
  if (page.error) {
    throw new Error(`list page ${pages + 1}: ${page.response.status} ${page.error.code}`);
  }
  pages += 1;
  same(page.data.pagination.total, undefined, "no total without total=true");
  walked.push(...page.data.data);
  cursor = page.data.pagination.hasMore ? page.data.pagination.nextCursor : undefined;
  check(!page.data.pagination.hasMore || cursor !== undefined, "nextCursor when hasMore");
}
same(pages, 3, "5 rows at limit 2 are 3 pages");
same(
  walked.map((task) => task.title),
  [...milkTitles].sort(),
  "the cursor walks every open milk task once, sorted by title",
);
check(
  walked.every((task) => task.isDone === false && task.title.includes("milk")),
  "filters isDone=false and title.like=milk hold on every row",
);

// --- read, update, record action, standalone action --------------------------------------

const [target] = milk;
check(target !== undefined, "a task to work on");
const read = await alice.GET("/api/tasks/{id}", { params: { path: { id: target.id } } });
if (read.error) {
  throw new Error(`read: ${read.response.status} ${read.error.code}`);
}
same(read.data.data, target, "read by id returns the created row");

const renamed = `buy more milk ${run}`;
const patched = await alice.PATCH("/api/tasks/{id}", {
  params: { path: { id: target.id } },
  body: { title: renamed },
});
if (patched.error) {
  throw new Error(`update: ${patched.response.status} ${patched.error.code}`);
}
same(patched.data.data.title, renamed, "PATCH returns the updated row");
same(patched.data.data.isDone, false, "PATCH leaves other columns");

const toggled = await alice.POST("/api/tasks/{id}/toggleDone", {
  params: { path: { id: target.id } },
});
if (toggled.error) {
  throw new Error(`toggleDone: ${toggled.response.status} ${toggled.error.code}`);
}
same(toggled.response.status, 200, "toggleDone answers 200");
same(toggled.data.data.isDone, true, "toggleDone flips isDone");
same(toggled.data.data.id, target.id, "toggleDone returns the record");

const added = await alice.POST("/api/actions/addTask", { body: { title: `added ${run}` } });
if (added.error) {
  throw new Error(`addTask: ${added.response.status} ${added.error.code}`);
}
same(added.data.data.title, `added ${run}`, "addTask returns the inserted row");
same(added.data.data.ownerId, "alice", "addTask's row is the caller's");
same(added.data.data.isDone, false, "addTask's row has the default");

// --- view with its parameter ------------------------------------------------------------------

const view = await alice.GET("/api/tasks/views/myTasks", {
  params: { query: { done: true, search: run, limit: 10 } },
});
if (view.error) {
  throw new Error(`view: ${view.response.status} ${view.error.code}`);
}
same(
  view.data.data.map((row) => row.id).sort(),
  [target.id, doneMilk.id].sort(),
  "myTasks?done=true lists exactly the done tasks",
);
for (const row of view.data.data) {
  same(Object.keys(row).sort(), ["createdAt", "id", "isDone", "title"], "the view's fields");
}

// --- batch create (non-atomic, one bad record → 207) ------------------------------------------

const batch = await alice.POST("/api/tasks/batch", {
  body: {
    records: [{ title: `batch one ${run}` }, { title: "x".repeat(201) }, { title: `batch three ${run}` }],
    options: { atomic: false },
  },
});
if (batch.error) {
  throw new Error(`batch create: ${batch.response.status} ${batch.error.code}`);
}
same(batch.response.status, 207, "a partly failed non-atomic batch answers 207");
same(batch.data.meta.total, 3, "meta.total");
same(batch.data.meta.succeeded, 2, "meta.succeeded");
same(batch.data.meta.failed, 1, "meta.failed");
same(batch.data.meta.atomic, false, "meta.atomic");
const [failure] = batch.data.errors;
check(failure !== undefined, "one error");
same(failure.index, 1, "errors[0].index is the bad record");
same(failure.error.code, "VALIDATION_LENGTH", "errors[0].error.code");
same(failure.error.layer, "validation", "errors[0].error.layer");
const batchIds = batch.data.success.map((task) => task.id);
same(batchIds.length, 2, "two records created");

// --- batch update by id ------------------------------------------------------------------------

const batchUpdate = await alice.PATCH("/api/tasks/batch", {
  body: { records: batchIds.map((id) => ({ id, isDone: true })) },
});
if (batchUpdate.error) {
  throw new Error(`batch update: ${batchUpdate.response.status} ${batchUpdate.error.code}`);
}
same(batchUpdate.response.status, 200, "batch update answers 200");
same(batchUpdate.data.meta.succeeded, 2, "both updated");
check(batchUpdate.data.success.every((task) => task.isDone === true), "batch update applied");

const updated = await alice.GET("/api/tasks", {
  params: { query: { "id.in": batchIds, isDone: true, total: true } },
});
if (updated.error) {
  throw new Error(`list id.in: ${updated.response.status} ${updated.error.code}`);
}
same(updated.data.pagination.total, 2, "id.in finds the updated rows");

// --- errors: another owner's task, a guarded field ---------------------------------------------

const peek = await bob.GET("/api/tasks/{id}", { params: { path: { id: target.id } } });
if (peek.error === undefined) {
  throw new Error("Bob read Alice's task");
}
same(peek.response.status, 404, "another owner's task is not found");
same(peek.error.code, "NOT_FOUND", "error.code");
same(peek.error.layer, "firewall", "error.layer");

// A body that came from elsewhere, carrying a column the client may not write.
const fromAForm = { title: `stolen ${run}`, ownerId: "bob" };
const guarded = await alice.PATCH("/api/tasks/{id}", {
  params: { path: { id: target.id } },
  body: fromAForm,
});
if (guarded.error === undefined) {
  throw new Error("ownerId was writable");
}
same(guarded.response.status, 400, "a guarded field answers 400");
check(guarded.error.code.startsWith("GUARD_"), `GUARD_* code, got ${guarded.error.code}`);
same(guarded.error.layer, "guards", "error.layer");

const tooLong = await alice.POST("/api/tasks", { body: { title: "y".repeat(201) } });
if (tooLong.error === undefined) {
  throw new Error("a 201-character title was accepted");
}
same(tooLong.response.status, 400, "max-length answers 400");
same(tooLong.error.code, "VALIDATION_LENGTH", "error.code");

// --- delete -----------------------------------------------------------------------------------

const deleted = await alice.DELETE("/api/tasks/{id}", { params: { path: { id: bread.id } } });
if (deleted.error) {
  throw new Error(`delete: ${deleted.response.status} ${deleted.error.code}`);
}
same(deleted.data.data.deleted, true, "data.deleted");
same(deleted.data.data.id, bread.id, "data.id");
const gone = await alice.GET("/api/tasks/{id}", { params: { path: { id: bread.id } } });
same(gone.response.status, 404, "a deleted task is gone");
same(gone.error?.code, "NOT_FOUND", "its error code");

const cleanup = await alice.DELETE("/api/tasks/batch", {
  body: { ids: [...ids, doneMilk.id, added.data.data.id, ...batchIds] },
});
if (cleanup.error) {
  throw new Error(`batch delete: ${cleanup.response.status} ${cleanup.error.code}`);
}
same(cleanup.data.meta.succeeded, 9, "batch delete removes the rest");
check(cleanup.data.success.every((row) => row.deleted), "each row deleted");

console.log(
  `ts-client: ${checks} checks passed (create ×7, list ${pages} pages, read, update, toggleDone, ` +
    `addTask, view, batch 207/200, errors 404/400, delete)`,
);
