#!/usr/bin/env python3
"""Replays scripted, real requests against each example's served OpenAPI document.

Every request is checked with openapi-core's request validation and every answer with its
response validation, against the document the server itself serves (GET /openapi.json). The
scenarios are hard-coded per example (ids come from earlier answers); together they exercise
every path and method of the document with a success status, and each error status that a client
can provoke from outside (no faults: 500 and 503 are never provoked).

A request built to break the document (a guarded field, a wrong type, no token where the document
asks for one) is marked `invalid=`: the document must reject it. Every other request must pass it.

Usage (scripts/openapi-replay.sh starts the servers and mints the tokens):
    openapi-replay.py EXAMPLE BASE_URL TOKENS_FILE [EXAMPLE BASE_URL TOKENS_FILE ...]
TOKENS_FILE holds one `NAME TOKEN` per line. Exit 1 on any invalid answer, any valid request the
document rejects, any deliberately invalid request it accepts, any answer other than the scenario
expected, or any operation never answered with a success status.
"""

import copy
import json
import sys
import time
import traceback
import uuid
from urllib.parse import urlencode

import requests
from jsonschema.exceptions import best_match
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

BAD = "<bad token>"  # a present but unusable token: always 401, and valid for the document
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
FAULTS = {500, 503, 504}  # declared everywhere, provoked nowhere: faults, and the deadline


def oversized(body):
    """`body` as JSON padded with whitespace past 1 MiB: still a valid body for the document,
    too large for the server (413 PAYLOAD_TOO_LARGE)."""
    return json.dumps(body).encode() + b" " * (1024 * 1024 + 16)


def nowhere():
    """A well-formed uuid that names no row."""
    return str(uuid.uuid4())


# --- ?fields= projections --------------------------------------------------------------------
# The one documented exception to the schemas: the document's info.description says "`?fields=`
# answers only the keys it names", so the record of a projected answer lacks keys its schema
# marks `required`. Answers to requests with `fields=` are validated against a copy of the
# document whose GET answers point `data` at copies of the record schemas without `required`
# (every other constraint kept: types, formats, additionalProperties: false). Embedded rows
# (`_expand`) are not projected and keep their `required`.


def projected_document(spec):
    spec = copy.deepcopy(spec)
    schemas = spec["components"]["schemas"]
    prefix = "#/components/schemas/"

    def relax(ref_holder):
        ref = ref_holder.get("$ref", "")
        if not ref.startswith(prefix):
            return
        name = ref[len(prefix):]
        relaxed = name + "__projected"
        if relaxed not in schemas:
            copy_ = copy.deepcopy(schemas[name])
            copy_.pop("required", None)
            schemas[relaxed] = copy_
        ref_holder["$ref"] = prefix + relaxed

    for item in spec["paths"].values():
        op = item.get("get")
        if not op or not any(p.get("name") == "fields" for p in op.get("parameters", [])):
            continue
        for status, answer in op["responses"].items():
            if not status.startswith("2"):
                continue
            schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
            data = schema.get("properties", {}).get("data", {})
            relax(data.get("items", data))
    return spec


def validator_message(error):
    """openapi-core's message, with the schema errors that caused it."""
    cause = error.__cause__
    schema_errors = list(getattr(cause, "schema_errors", None) or [])
    if not schema_errors:
        text = f"{type(error).__name__}: {cause or error}"
        return text[:600]
    parts = []
    for e in schema_errors[:4]:
        deepest = best_match(e.context) if e.context else e
        where = "/".join(str(p) for p in deepest.absolute_path) or "(root)"
        parts.append(f"at {where}: {deepest.message[:300]}")
    return f"{type(error).__name__}: " + "; ".join(parts)


class Replay:
    """One example's server, document, tokens and tallies."""

    def __init__(self, name, base, tokens):
        self.name, self.base, self.tokens = name, base.rstrip("/"), tokens
        self.http = requests.Session()
        self.spec = self.http.get(self.base + "/openapi.json", timeout=10).json()
        self.app = OpenAPI.from_dict(self.spec)
        # The copy differs only in `required`; the document itself was checked just above.
        self.projected = OpenAPI.from_dict(
            projected_document(self.spec), config=Config(spec_validator_cls=None)
        )
        self.templates = self._templates()
        self.seen = {}  # (path template, method) -> statuses answered
        self.valid = self.invalid_rejected = self.invalid_accepted = self.valid_rejected = 0
        self.answers_valid = self.answers_invalid = 0
        self.failures = []
        self.dropped = []  # requests whose kept-alive connection the server closed unanswered
        self.last = None  # the previous request and its status

    def _templates(self):
        out = []
        for template in self.spec["paths"]:
            parts = template.strip("/").split("/")
            out.append((sum(p.startswith("{") for p in parts), template, parts))
        out.sort()  # literal segments win over parameters (`/batch` before `/{id}`)
        return out

    def template(self, path):
        parts = path.strip("/").split("/")
        for _, template, tparts in self.templates:
            if len(tparts) == len(parts) and all(
                t.startswith("{") or t == p for t, p in zip(tparts, parts)
            ):
                return template
        return path

    def call(self, method, path, who=None, *, query=None, body=None, raw=None, headers=None,
             multipart=None, expect, invalid=None):
        """Send one request as `who` (a token name, BAD, or None for no token), validate the
        request and the answer, and check the status is `expect` (an int or a tuple). `invalid`
        says why the document must reject the request. `multipart`: a form, field → text or
        (filename, bytes, content type) for a file part."""
        url = self.base + path
        if query:
            url += "?" + urlencode(query, safe=",:")
        hdrs = dict(headers or {})
        if who == BAD:
            hdrs["Authorization"] = "Bearer not.a.jwt"
        elif who is not None:
            hdrs["Authorization"] = "Bearer " + self.tokens[who]
        data = None
        if body is not None:
            data = json.dumps(body).encode()
        elif raw is not None:
            data = raw
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        if data is not None and len(data) > 1024 * 1024:
            # The server answers 413 without reading the whole body, and may then close the
            # connection without saying so (`Connection: close`): keep these off the shared one.
            hdrs["Connection"] = "close"
        if multipart is not None:
            parts = {k: (v if isinstance(v, tuple) else (None, str(v))) for k, v in multipart.items()}
            if any(isinstance(v, tuple) and len(v[1]) > 1024 * 1024 for v in multipart.values()):
                hdrs["Connection"] = "close"  # answered early, as an oversized body is
            prepared = requests.Request(method, url, headers=hdrs, files=parts).prepare()
        else:
            prepared = requests.Request(method, url, headers=hdrs, data=data).prepare()
        where = f"{method} {path}" + (f"?{urlencode(query, safe=',:')}" if query else "")
        if len(where) > 160:
            where = where[:157] + "..."
        if "Connection" in hdrs:
            with requests.Session() as once:
                response = once.send(prepared, timeout=30)
        else:
            try:
                response = self.http.send(prepared, timeout=30)
            except requests.ConnectionError:
                # The server closed the kept-alive connection without answering (it may do so
                # after an early answer that left a request body unread): the request was never
                # read, so it is sent again on a new connection, and the drop is reported.
                self.dropped.append(f"{where} (the answer before: {self.last})")
                self.http.close()
                self.http = requests.Session()
                response = self.http.send(prepared, timeout=30)
        excerpt = response.text[:240].replace("\n", " ")

        request = RequestsOpenAPIRequest(prepared)
        try:
            self.app.validate_request(request)
            rejected = None
        except Exception as e:  # noqa: BLE001 - every validator error is a verdict
            rejected = validator_message(e)
        if invalid:
            if rejected:
                self.invalid_rejected += 1
            else:
                self.invalid_accepted += 1
                self.fail("deliberately invalid request accepted by the document", where,
                          response.status_code, excerpt, f"built to be invalid: {invalid}")
        elif rejected:
            self.valid_rejected += 1
            self.fail("valid request rejected by the document", where, response.status_code,
                      excerpt, rejected)
        else:
            self.valid += 1

        app = self.projected if query and "fields" in query else self.app
        try:
            app.validate_response(request, RequestsOpenAPIResponse(response))
            self.answers_valid += 1
        except Exception as e:  # noqa: BLE001
            self.answers_invalid += 1
            self.fail("answer does not match the document", where, response.status_code,
                      excerpt, validator_message(e))

        expected = expect if isinstance(expect, tuple) else (expect,)
        if response.status_code not in expected:
            self.fail("unexpected status (scenario)", where, response.status_code, excerpt,
                      f"expected {'/'.join(map(str, expected))}")
        self.last = f"{where} -> {response.status_code}"
        key = (self.template(path), method.lower())
        self.seen.setdefault(key, set()).add(response.status_code)
        return response

    def fail(self, kind, where, status, excerpt, message):
        self.failures.append((kind, where, status, excerpt, message))

    def data(self, response):
        try:
            return response.json()["data"]
        except (ValueError, KeyError, TypeError):
            return None

    def id_of(self, response):
        d = self.data(response)
        return d.get("id") if isinstance(d, dict) else None

    def etag(self, response):
        return {"If-None-Match": response.headers.get("ETag", '"none"')}

    # --- checks shared by many operations ------------------------------------------------------

    def refusals(self, method, path, body=None, *, forbidden=None, query=None, too_large=True):
        """401 without a token (the document asks for one) and with a bad one, 403 for the
        `forbidden` caller, 413 for a body over 1 MiB."""
        self.call(method, path, None, query=query, body=body, expect=401,
                  invalid="no token where the document asks for one")
        self.call(method, path, BAD, query=query, body=body, expect=401)
        if forbidden:
            self.call(method, path, forbidden, query=query, body=body, expect=403)
        if too_large and body is not None:
            caller = too_large if isinstance(too_large, str) else next(iter(self.tokens))
            self.call(method, path, caller, query=query, raw=oversized(body), expect=413)

    # --- report ----------------------------------------------------------------------------

    def coverage(self):
        """(operations never answered with success, declared statuses never seen)."""
        never, unseen = [], []
        for template, item in self.spec["paths"].items():
            for method in METHODS:
                op = item.get(method)
                if op is None:
                    continue
                got = self.seen.get((template, method), set())
                declared = {int(s) for s in op["responses"] if s.isdigit()}
                # An operation no rule grants to anyone declares no success: it must be called,
                # and answer only what it declares.
                can_succeed = any(200 <= s < 300 for s in declared)
                if (can_succeed and not any(200 <= s < 300 for s in got)) or not got:
                    never.append(f"{method.upper()} {template} (answered: "
                                 f"{', '.join(map(str, sorted(got))) or 'never called'})")
                missing = sorted(declared - got - FAULTS)
                if missing:
                    unseen.append(f"{method.upper()} {template}: {', '.join(map(str, missing))}")
        return never, unseen


# --- tasks: one firewall scope (the caller), a view, a record action, a standalone action ------


def scenario_tasks(x):
    x.call("GET", "/healthz", expect=200)
    x.call("GET", "/readyz", expect=200)
    # Create.
    milk = x.id_of(x.call("POST", "/api/tasks", "ann", body={"title": "Buy milk"}, expect=201))
    bread = x.id_of(x.call("POST", "/api/tasks", "ann",
                           body={"title": "Bake bread", "isDone": True}, expect=201))
    x.call("POST", "/api/tasks", "ann", body={"title": "No state", "isDone": None},
           expect=400, invalid="isDone is required: not nullable")
    bobs = x.id_of(x.call("POST", "/api/tasks", "bob", body={"title": "Bob's"}, expect=201))
    x.call("POST", "/api/tasks", "ann", body={"title": "x", "ownerId": "bob"}, expect=400,
           invalid="ownerId is a scope column, not in tasks_create")
    x.call("POST", "/api/tasks", "ann", body={"title": 5}, expect=400,
           invalid="title is not a string")
    x.call("POST", "/api/tasks", "ann", body={}, expect=400, invalid="title is required")
    x.call("POST", "/api/tasks", "ann", body={"title": "x" * 201}, expect=400,
           invalid="title over maxLength")
    x.call("POST", "/api/tasks", "ann", raw=b'{"title":', expect=400, invalid="unparsable JSON")
    # Form-encoded bodies (SPEC §5) are served but not described by the document
    # (docs/decisions.md): they are tested in the runtime's own tests, not replayed here.
    x.refusals("POST", "/api/tasks", {"title": "x"}, forbidden="nobody", too_large="ann")

    # List: filters typed by their column, paging, projection, ETag.
    page = x.call("GET", "/api/tasks", "ann", expect=200)
    x.call("GET", "/api/tasks", "ann", headers=x.etag(page), expect=304)
    for query in (
        {"isDone": "false"},
        {"isDone.eq": "true"},
        {"isDone.ne": "true"},
        {"isDone.in": "true,false"},
        {"isDone.is": "not-null"},
        {"title.like": "milk"},
        {"title.in": "Buy milk,Bake bread"},
        {"title.not-in": "nothing"},
        {"title.gte": "B", "title.lt": "C"},
        {"title.is": "not-null"},
        {"id": milk},
        {"id.in": f"{milk},{bread}"},
        {"createdAt.gte": "2000-01-01T00:00:00Z"},
        {"createdAt.lt": "2999-01-01T00:00:00.000Z"},
        {"createdBy": "ann", "modifiedBy.ne": "bob"},
        {"sort": "title", "order": "asc"},
        {"sort": "-isDone,title"},
        {"search": "milk"},
        {"total": "true"},
        {"offset": "1", "limit": "1"},
        {"fields": "id,title"},
        {"fields": "title", "isDone": "false", "total": "true"},
    ):
        x.call("GET", "/api/tasks", "ann", query=query, expect=200)
    first = x.call("GET", "/api/tasks", "ann", query={"limit": "1", "sort": "title"}, expect=200)
    cursor = first.json()["pagination"].get("nextCursor", "")
    x.call("GET", "/api/tasks", "ann", query={"limit": "1", "sort": "title", "cursor": cursor},
           expect=200)
    x.call("GET", "/api/tasks", "ann", query={"limit": "1", "sort": "-title", "cursor": cursor},
           expect=400)  # a cursor made for another sort
    x.call("GET", "/api/tasks", "ann", query={"isDone": "maybe"}, expect=400,
           invalid="isDone is a boolean")
    x.call("GET", "/api/tasks", "ann", query={"limit": "-1"}, expect=400,
           invalid="limit below its minimum")
    x.call("GET", "/api/tasks", "ann", query={"order": "sideways"}, expect=400,
           invalid="order is asc or desc")
    x.call("GET", "/api/tasks", "ann", query={"createdAt.gt": "yesterday"}, expect=400,
           invalid="createdAt.gt is a date-time")
    x.call("GET", "/api/tasks", "ann", query={"sort": "nope"}, expect=400)
    x.call("GET", "/api/tasks", "ann", query={"expand": "nope"}, expect=400)
    # docs/errors.md: `deleted=only` on a hard-delete table is 400 VALIDATION_BAD_QUERY.
    x.call("GET", "/api/tasks", "ann", query={"deleted": "only"}, expect=400)
    x.refusals("GET", "/api/tasks", forbidden="nobody")

    # Read.
    one = x.call("GET", f"/api/tasks/{milk}", "ann", expect=200)
    x.call("GET", f"/api/tasks/{milk}", "ann", headers=x.etag(one), expect=304)
    x.call("GET", f"/api/tasks/{milk}", "ann", query={"fields": "title,isDone"}, expect=200)
    x.call("GET", f"/api/tasks/{milk}", "ann", query={"fields": "nope"}, expect=400)
    x.call("GET", f"/api/tasks/{milk}", "bob", expect=404)  # another owner's row
    x.call("GET", f"/api/tasks/{nowhere()}", "ann", expect=404)
    x.call("GET", "/api/tasks/not-a-uuid", "ann", expect=404, invalid="id is a uuid")
    x.refusals("GET", f"/api/tasks/{milk}", forbidden="nobody")

    # Update.
    x.call("PATCH", f"/api/tasks/{milk}", "ann", body={"title": "Buy oat milk"}, expect=200)
    x.call("PATCH", f"/api/tasks/{milk}", "ann", body={"isDone": False}, expect=200)
    x.call("PATCH", f"/api/tasks/{milk}", "ann", body={}, expect=200)
    x.call("PATCH", f"/api/tasks/{milk}", "ann", body={"ownerId": "bob"}, expect=400,
           invalid="ownerId is not in tasks_update")
    x.call("PATCH", f"/api/tasks/{milk}", "ann", body={"isDone": "yes"}, expect=400,
           invalid="isDone is a boolean")
    x.call("PATCH", f"/api/tasks/{milk}", "ann", raw=b"[1,2", expect=400,
           invalid="unparsable JSON")
    x.call("PATCH", f"/api/tasks/{milk}", "bob", body={"title": "mine"}, expect=404)
    x.refusals("PATCH", f"/api/tasks/{milk}", {"title": "t"}, forbidden="nobody",
               too_large="ann")

    # The record action.
    x.call("POST", f"/api/tasks/{milk}/toggleDone", "ann", expect=200)
    x.call("POST", f"/api/tasks/{milk}/toggleDone", "ann", body={}, expect=200)
    x.call("POST", f"/api/tasks/{milk}/toggleDone", "ann", body={"done": True}, expect=400,
           invalid="toggleDone has no inputs")
    x.call("POST", f"/api/tasks/{milk}/toggleDone", "bob", expect=404)
    x.refusals("POST", f"/api/tasks/{milk}/toggleDone", {}, forbidden="nobody",
               too_large="ann")

    # The view.
    view = "/api/tasks/views/myTasks"
    page = x.call("GET", view, "ann", expect=200)
    x.call("GET", view, "ann", headers=x.etag(page), expect=304)
    for query in (
        {"done": "false"},
        {"done": "true", "sort": "title"},
        {"sort": "createdAt", "order": "desc"},
        {"search": "bread"},
        {"total": "true", "offset": "1"},
        {"fields": "title"},
    ):
        x.call("GET", view, "ann", query=query, expect=200)
    first = x.call("GET", view, "ann", query={"limit": "1"}, expect=200)
    cursor = first.json()["pagination"].get("nextCursor", "")
    x.call("GET", view, "ann", query={"limit": "1", "cursor": cursor}, expect=200)
    x.call("GET", view, "ann", query={"done": "maybe"}, expect=400, invalid="done is a boolean")
    x.call("GET", view, "ann", query={"isDone": "true"}, expect=400)  # not filterable here
    x.call("GET", view, "ann", query={"sort": "isDone"}, expect=400)  # not sortable here
    x.refusals("GET", view, forbidden="nobody")

    # The table's JSON Schema.
    x.call("GET", "/api/tasks/schema", "ann", expect=200)
    x.refusals("GET", "/api/tasks/schema", forbidden="nobody")

    # The standalone action.
    x.call("POST", "/api/actions/addTask", "ann", body={"title": "From the action"}, expect=200)
    x.call("POST", "/api/actions/addTask", "ann", body={}, expect=400,
           invalid="title is required")
    x.call("POST", "/api/actions/addTask", "ann", body={"title": "t", "due": "now"},
           expect=400, invalid="due is not an input")
    x.refusals("POST", "/api/actions/addTask", {"title": "t"}, forbidden="nobody",
               too_large="ann")

    # Batches.
    r = x.call("POST", "/api/tasks/batch", "ann",
               body={"records": [{"title": "b1"}, {"title": "b2", "isDone": True}]}, expect=201)
    b1, b2 = (row["id"] for row in r.json()["success"])
    x.call("POST", "/api/tasks/batch", "ann", body={"records": []}, expect=201)
    x.call("POST", "/api/tasks/batch", "ann",
           body={"records": [{"title": "ok"}, {"title": "x" * 201}]}, expect=207,
           invalid="the second title is over maxLength")
    x.call("POST", "/api/tasks/batch", "ann",
           body={"records": [{"title": "ok"}, {"title": 7}], "options": {"atomic": True}},
           expect=400, invalid="the second title is not a string")
    x.call("POST", "/api/tasks/batch", "ann",
           body={"records": [{"title": f"t{i}"} for i in range(101)]}, expect=400)  # over max
    x.call("POST", "/api/tasks/batch", "ann", body={"records": "t"}, expect=400,
           invalid="records is an array")
    x.refusals("POST", "/api/tasks/batch", {"records": [{"title": "t"}]}, forbidden="nobody",
               too_large="ann")

    x.call("PATCH", "/api/tasks/batch", "ann",
           body={"records": [{"id": b1, "isDone": True}, {"id": b2, "title": "b2!"}]},
           expect=200)
    x.call("PATCH", "/api/tasks/batch", "ann",
           body={"records": [{"id": b1, "title": "b1!"}, {"id": bobs, "title": "mine"}]},
           expect=207)  # Bob's row is invisible to Ann: NOT_FOUND for that record
    x.call("PATCH", "/api/tasks/batch", "ann", body={"records": [{"title": "no id"}]},
           expect=400, invalid="batch update records need an id")
    x.refusals("PATCH", "/api/tasks/batch", {"records": [{"id": b1, "title": "t"}]},
               forbidden="nobody", too_large="ann")

    x.call("DELETE", "/api/tasks/batch", "ann", body={"ids": [b2]}, expect=200)
    x.call("DELETE", "/api/tasks/batch", "ann", body={"ids": [b1, nowhere()]}, expect=207)
    x.call("DELETE", "/api/tasks/batch", "ann", body={"ids": "all"}, expect=400,
           invalid="ids is an array")
    x.refusals("DELETE", "/api/tasks/batch", {"ids": [milk]}, forbidden="nobody",
               too_large="ann")

    # Delete (hard).
    x.call("DELETE", f"/api/tasks/{bread}", "ann", expect=200)
    x.call("DELETE", f"/api/tasks/{bread}", "ann", expect=404)
    x.call("DELETE", f"/api/tasks/{milk}", "bob", expect=404)
    x.refusals("DELETE", f"/api/tasks/{milk}", forbidden="nobody")



# --- rooms: tenants, a role ladder, conditions, guards, masking, soft delete, actions, a trigger --

FUTURE = "2031-05-01T10:00:00Z"
PAST = "2020-01-01T09:00:00Z"


def scenario_rooms(x):
    x.call("GET", "/healthz", expect=200)
    x.call("GET", "/readyz", expect=200)
    kind = rooms_room_types(x)
    rooms = rooms_rooms(x, kind)
    rooms_actions(x, rooms)
    rooms_bookings(x, rooms)
    rooms_batches(x, rooms)
    rooms_delete_restore(x, kind, rooms)


def rooms_room_types(x):
    path = "/api/room_types"
    kind = x.id_of(x.call("POST", path, "ada", body={"name": "Boardroom"}, expect=201))
    spare = x.id_of(x.call("POST", path, "ada", body={"name": "Spare"}, expect=201))
    x.call("POST", path, "ada", body={"name": "x" * 61}, expect=400,
           invalid="name over maxLength")
    x.call("POST", path, "ada", body={"name": "x", "organizationId": "globex"}, expect=400,
           invalid="organizationId is a scope column")
    x.call("POST", path, "ada", body={}, expect=400, invalid="name is required")
    x.refusals("POST", path, {"name": "t"}, forbidden="mia", too_large="ada")

    page = x.call("GET", path, "vic", expect=200)
    x.call("GET", path, "vic", headers=x.etag(page), expect=304)
    for query in ({"name.like": "board"}, {"fields": "name"}, {"sort": "name", "total": "true"},
                  {"createdBy.in": "ada,mia"}):
        x.call("GET", path, "vic", query=query, expect=200)
    x.call("GET", path, "vic", query={"name.is": "maybe"}, expect=400,
           invalid="name.is is null or not-null")
    x.call("GET", path, "vic", query={"sort": "nope"}, expect=400)
    x.call("GET", path, "drifter", expect=403)  # no org_id claim: FIREWALL_SCOPE_MISSING
    x.refusals("GET", path, forbidden="nobody")

    one = x.call("GET", f"{path}/{kind}", "vic", expect=200)
    x.call("GET", f"{path}/{kind}", "vic", headers=x.etag(one), expect=304)
    x.call("GET", f"{path}/{kind}", "vic", query={"fields": "id,name"}, expect=200)
    x.call("GET", f"{path}/{kind}", "vic", query={"fields": "nope"}, expect=400)
    x.call("GET", f"{path}/{kind}", "gus", expect=404)  # another organisation's row
    x.refusals("GET", f"{path}/{kind}", forbidden="nobody")

    x.call("PATCH", f"{path}/{spare}", "ada", body={"name": "Spare room"}, expect=200)
    x.call("PATCH", f"{path}/{spare}", "ada", body={"name": None}, expect=400,
           invalid="name is required, not nullable")
    x.call("PATCH", f"{path}/{spare}", "gus", body={"name": "mine"}, expect=404)
    x.refusals("PATCH", f"{path}/{spare}", {"name": "t"}, forbidden="mia", too_large="ada")

    x.call("GET", f"{path}/schema", "vic", expect=200)
    x.refusals("GET", f"{path}/schema", forbidden="nobody")

    r = x.call("POST", f"{path}/batch", "ada",
               body={"records": [{"name": "T1"}, {"name": "T2"}]}, expect=201)
    t1, t2 = (row["id"] for row in r.json()["success"])
    x.call("POST", f"{path}/batch", "ada",
           body={"records": [{"name": "ok"}, {"name": "x" * 61}]}, expect=207,
           invalid="the second name is over maxLength")
    x.call("POST", f"{path}/batch", "ada",
           body={"records": [{"name": "ok"}, {}], "options": {"atomic": True}}, expect=400,
           invalid="the second record lacks name")
    x.refusals("POST", f"{path}/batch", {"records": [{"name": "t"}]}, forbidden="mia",
               too_large="ada")
    x.call("PATCH", f"{path}/batch", "ada", body={"records": [{"id": t1, "name": "T1!"}]},
           expect=200)
    x.call("PATCH", f"{path}/batch", "ada",
           body={"records": [{"id": t1, "name": "T1?"}, {"id": nowhere(), "name": "?"}]},
           expect=207)
    x.call("PATCH", f"{path}/batch", "ada", body={"records": [{"name": "no id"}]}, expect=400,
           invalid="batch update records need an id")
    x.refusals("PATCH", f"{path}/batch", {"records": [{"id": t1, "name": "t"}]},
               forbidden="mia", too_large="ada")
    x.call("DELETE", f"{path}/batch", "ada", body={"ids": [t1]}, expect=200)
    x.call("DELETE", f"{path}/batch", "ada", body={"ids": [t2, nowhere()]}, expect=207)
    x.call("DELETE", f"{path}/batch", "ada", body={"ids": [t2], "options": {"atomic": "yes"}},
           expect=400, invalid="options.atomic is a boolean")
    x.refusals("DELETE", f"{path}/batch", {"ids": [t2]}, forbidden="mia", too_large="ada")

    x.call("DELETE", f"{path}/{spare}", "ada", expect=200)
    x.call("DELETE", f"{path}/{spare}", "ada", expect=404)
    x.refusals("DELETE", f"{path}/{kind}", forbidden="mia")
    return kind


def rooms_rooms(x, kind):
    path = "/api/rooms"
    room = x.id_of(x.call("POST", path, "ada", body={
        "name": "Everest", "capacity": 12, "roomTypeId": kind,
        "contactEmail": "facilities@acme.example", "accessCode": "4711"}, expect=201))
    hall = x.id_of(x.call("POST", path, "ada", body={"name": "Great Hall", "capacity": 300},
                          expect=201))
    attic = x.id_of(x.call("POST", path, "ada", body={"name": "Attic", "notes": None},
                           expect=201))
    x.call("POST", path, "ada", body={"name": "Nowhere", "roomTypeId": nowhere()}, expect=409)
    x.call("POST", path, "gus", body={"name": "Spy", "roomTypeId": kind}, expect=409)
    x.call("POST", path, "ada", body={"name": "x", "status": "archived"}, expect=400,
           invalid="status is protected: not in rooms_create")
    x.call("POST", path, "ada", body={"name": "x", "capacity": 0}, expect=400,
           invalid="capacity below its minimum")
    x.call("POST", path, "ada", body={"name": "x", "capacity": "big"}, expect=400,
           invalid="capacity is an integer")
    x.refusals("POST", path, {"name": "t"}, forbidden="mia", too_large="ada")

    page = x.call("GET", path, "vic", expect=200)
    x.call("GET", path, "vic", headers=x.etag(page), expect=304)
    for who, query in (
        ("vic", {"capacity.gte": "10"}),
        ("vic", {"capacity.lt": "100", "capacity.ne": "13"}),
        ("vic", {"status": "active"}),
        ("vic", {"status.in": "active,maintenance"}),
        ("vic", {"roomTypeId": kind}),
        ("vic", {"roomTypeId.is": "null"}),
        ("vic", {"name.like": "ever"}),
        ("vic", {"notes.is": "null"}),
        ("vic", {"search": "Everest"}),
        ("vic", {"sort": "-capacity,name", "total": "true"}),
        ("vic", {"fields": "name,capacity,contactEmail,accessCode,roomTypeId"}),
        ("mia", {"expand": "roomTypeId"}),
        ("vic", {"expand": "bookings"}),  # viewers may not list bookings: []
        ("mia", {"expand": "roomTypeId,bookings", "fields": "id,name"}),
        ("ada", {"contactEmail.like": "acme"}),
        ("gus", {}),
    ):
        x.call("GET", path, who, query=query, expect=200)
    first = x.call("GET", path, "vic", query={"limit": "1", "sort": "name"}, expect=200)
    cursor = first.json()["pagination"].get("nextCursor", "")
    x.call("GET", path, "vic", query={"limit": "1", "sort": "name", "cursor": cursor},
           expect=200)
    x.call("GET", path, "vic", query={"capacity.gte": "ten"}, expect=400,
           invalid="capacity.gte is an integer")
    x.call("GET", path, "vic", query={"deleted": "all"}, expect=400,
           invalid="deleted takes only `only`")
    x.call("GET", path, "mia", query={"contactEmail.like": "acme"}, expect=400)  # masked
    x.call("GET", path, "mia", query={"expand": "name"}, expect=400)  # not a reference
    x.call("GET", path, "vic", query={"deleted": "only"}, expect=403)  # restore is admin+
    x.call("GET", path, "drifter", expect=403)
    x.refusals("GET", path, forbidden="nobody")

    one = x.call("GET", f"{path}/{room}", "vic", expect=200)
    x.call("GET", f"{path}/{room}", "vic", headers=x.etag(one), expect=304)
    x.call("GET", f"{path}/{room}", "vic",
           query={"fields": "name,capacity,roomTypeId,contactEmail,accessCode"}, expect=200)
    x.call("GET", f"{path}/{room}", "ada", query={"expand": "roomTypeId,bookings"}, expect=200)
    x.call("GET", f"{path}/{room}", "vic", query={"expand": "nope"}, expect=400)
    x.call("GET", f"{path}/{room}", "gus", expect=404)
    x.call("GET", f"{path}/{nowhere()}", "vic", expect=404)
    x.refusals("GET", f"{path}/{room}", forbidden="drifter")

    x.call("PATCH", f"{path}/{room}", "mia", body={"capacity": 14}, expect=200)
    x.call("PATCH", f"{path}/{room}", "mia", body={"contactEmail": None}, expect=200)
    x.call("PATCH", f"{path}/{room}", "ada", body={"contactEmail": "desk@acme.example"},
           expect=200)
    x.call("PATCH", f"{path}/{room}", "mia", body={"roomTypeId": kind}, expect=400,
           invalid="roomTypeId is immutable: not in rooms_update")
    x.call("PATCH", f"{path}/{room}", "mia", body={"status": "archived"}, expect=400,
           invalid="status is protected")
    x.call("PATCH", f"{path}/{room}", "mia", body={"capacity": 9000}, expect=400,
           invalid="capacity over its maximum")
    x.call("PATCH", f"{path}/{hall}", "mia", body={"notes": "mine now"}, expect=403)  # > 50
    x.call("PATCH", f"{path}/{room}", "gus", body={"notes": "mine"}, expect=404)
    x.refusals("PATCH", f"{path}/{room}", {"notes": "n"}, forbidden="vic", too_large="ada")

    x.call("GET", f"{path}/schema", "vic", expect=200)
    x.refusals("GET", f"{path}/schema", forbidden="nobody")

    view = f"{path}/views/available"
    page = x.call("GET", view, "vic", query={"minCapacity": "10"}, expect=200)
    x.call("GET", view, "vic", query={"minCapacity": "10"}, headers=x.etag(page), expect=304)
    for query in (
        {},
        {"roomTypeId": kind},
        {"roomTypeId.in": f"{kind},{nowhere()}"},
        {"roomTypeId.is": "not-null"},
        {"sort": "name"},
        {"sort": "capacity", "order": "asc"},
        {"search": "ever"},
        {"total": "true", "offset": "0"},
        {"fields": "name"},
    ):
        x.call("GET", view, "vic", query=query, expect=200)
    first = x.call("GET", view, "vic", query={"limit": "1"}, expect=200)
    cursor = first.json()["pagination"].get("nextCursor", "")
    x.call("GET", view, "vic", query={"limit": "1", "cursor": cursor}, expect=200)
    x.call("GET", view, "vic", query={"minCapacity": "ten"}, expect=400,
           invalid="minCapacity is an integer")
    x.call("GET", view, "vic", query={"notes.like": "x"}, expect=400)  # not filterable
    x.call("GET", view, "vic", query={"sort": "notes"}, expect=400)  # not sortable
    x.call("GET", view, "drifter", expect=403)
    x.refusals("GET", view, forbidden="nobody")
    return {"room": room, "hall": hall, "attic": attic}


def rooms_actions(x, rooms):
    room, hall, attic = rooms["room"], rooms["hall"], rooms["attic"]
    path = f"/api/rooms/{room}"
    # maintain: members, rooms of <= 50 seats, notes needed (the project's own 409).
    x.call("POST", f"{path}/maintain", "mia", expect=409)  # NOTES_REQUIRED
    x.call("PATCH", path, "mia", body={"notes": "projector broken"}, expect=200)
    x.call("POST", f"{path}/maintain", "mia", body={"reason": "x"}, expect=400,
           invalid="maintain has no inputs")
    x.call("POST", f"{path}/maintain", "mia", expect=200)
    x.call("POST", f"/api/rooms/{hall}/maintain", "mia", expect=409)  # over 50 seats
    x.call("POST", f"{path}/maintain", "gum", expect=404)
    x.refusals("POST", f"{path}/maintain", {}, forbidden="vic", too_large="mia")
    # archive and reopen: transitions for admins.
    x.call("POST", f"{path}/archive", "ada", body={"reason": "moved out"}, expect=200)
    x.call("POST", f"{path}/archive", "ada", expect=409)  # already archived
    x.call("POST", f"{path}/archive", "ada", body={"reason": 5}, expect=400,
           invalid="reason is a string")
    x.call("POST", f"{path}/archive", "ada", body={"reason": "x" * 201}, expect=400,
           invalid="reason over maxLength")
    x.call("POST", f"{path}/archive", "gus", expect=404)
    x.refusals("POST", f"{path}/archive", {"reason": "r"}, forbidden="mia", too_large="ada")
    x.call("POST", f"{path}/reopen", "ada", expect=200)
    x.call("POST", f"{path}/reopen", "ada", expect=409)  # active is not a `from` state
    x.call("POST", f"{path}/reopen", "ada", body={"force": True}, expect=400,
           invalid="reopen has no inputs")
    x.call("POST", f"{path}/reopen", "gus", expect=404)
    x.refusals("POST", f"{path}/reopen", {}, forbidden="mia", too_large="ada")
    x.call("POST", f"/api/rooms/{attic}/archive", "ada", body={"reason": "leaking roof"},
           expect=200)


def rooms_bookings(x, rooms):
    room, attic = rooms["room"], rooms["attic"]
    path = "/api/bookings"
    standup = {"roomId": room, "title": "Standup", "startsAt": "2030-01-01T09:00:00+01:00"}
    mine = x.id_of(x.call("POST", path, "mia", body=standup, expect=201))
    theirs = x.id_of(x.call("POST", path, "max", body={**standup, "title": "Max's"},
                            expect=201))
    rooms["booking"] = mine
    x.call("POST", path, "mia", body={**standup, "startsAt": PAST}, expect=403)  # check
    x.call("POST", path, "mia", body={**standup, "roomId": attic}, expect=409)  # trigger
    x.call("POST", path, "mia", body={**standup, "roomId": nowhere()}, expect=409)
    x.call("POST", path, "mia", body={"roomId": room, "title": "t"}, expect=400,
           invalid="startsAt is required")
    x.call("POST", path, "mia", body={**standup, "startsAt": "tomorrow"}, expect=400,
           invalid="startsAt is a date-time")
    x.call("POST", path, "mia", body={**standup, "bookedBy": "max"}, expect=400,
           invalid="bookedBy is a scope column")
    x.refusals("POST", path, standup, forbidden="vic", too_large="mia")

    page = x.call("GET", path, "mia", expect=200)
    x.call("GET", path, "mia", headers=x.etag(page), expect=304)
    for who, query in (
        ("mia", {"expand": "roomId", "fields": "id,title,roomId"}),
        ("mia", {"startsAt.gt": "2025-01-01T00:00:00Z"}),
        ("mia", {"roomId": room, "title.like": "stand"}),
        ("ada", {"bookedBy.in": "mia,max", "total": "true"}),
    ):
        x.call("GET", path, who, query=query, expect=200)
    x.call("GET", path, "mia", query={"startsAt.gt": "soon"}, expect=400,
           invalid="startsAt.gt is a date-time")
    x.call("GET", path, "ada", query={"deleted": "only"}, expect=403)  # no restore rule
    x.refusals("GET", path, forbidden="vic")

    one = x.call("GET", f"{path}/{mine}", "mia", expect=200)
    x.call("GET", f"{path}/{mine}", "mia", headers=x.etag(one), expect=304)
    x.call("GET", f"{path}/{theirs}", "ada", query={"fields": "title,bookedBy"}, expect=200)
    x.call("GET", f"{path}/{mine}", "mia", query={"fields": "startsAt,nope"}, expect=400)
    x.call("GET", f"{path}/{theirs}", "mia", expect=404)  # bookedBy scope
    x.refusals("GET", f"{path}/{mine}", forbidden="vic")

    x.call("PATCH", f"{path}/{mine}", "mia", body={"title": "Daily standup"}, expect=200)
    x.call("PATCH", f"{path}/{mine}", "mia", body={"roomId": room}, expect=400,
           invalid="roomId is immutable")
    x.call("PATCH", f"{path}/{theirs}", "mia", body={"title": "mine"}, expect=404)
    x.refusals("PATCH", f"{path}/{mine}", {"title": "t"}, forbidden="vic", too_large="mia")

    view = f"{path}/views/upcoming"
    page = x.call("GET", view, "mia", expect=200)
    x.call("GET", view, "mia", headers=x.etag(page), expect=304)
    for query in ({"roomId": room}, {"roomId.ne": room}, {"fields": "title"},
                  {"total": "true"}):
        x.call("GET", view, "ada", query=query, expect=200)
    first = x.call("GET", view, "ada", query={"limit": "1"}, expect=200)
    cursor = first.json()["pagination"].get("nextCursor", "")
    x.call("GET", view, "ada", query={"limit": "1", "cursor": cursor}, expect=200)
    x.call("GET", view, "mia", query={"roomId": "room-1"}, expect=400,
           invalid="roomId is a uuid")
    x.call("GET", view, "mia", query={"sort": "title"}, expect=400)  # the view has no sortable
    x.refusals("GET", view, forbidden="vic")

    x.call("GET", f"{path}/schema", "mia", expect=200)
    x.refusals("GET", f"{path}/schema", forbidden="vic")

    # The standalone actions.
    retro = {"roomId": room, "title": "Retro", "startsAt": FUTURE}
    x.call("POST", "/api/actions/bookRoom", "mia", body=retro, expect=200)
    x.call("POST", "/api/actions/bookRoom", "gum", body=retro, expect=409)  # invisible room
    x.call("POST", "/api/actions/bookRoom", "mia", body={**retro, "roomId": attic}, expect=409)
    x.call("POST", "/api/actions/bookRoom", "mia", body={}, expect=400,
           invalid="the inputs are required")
    x.call("POST", "/api/actions/bookRoom", "mia", body={**retro, "startsAt": "soon"},
           expect=400, invalid="startsAt is a date-time")
    x.refusals("POST", "/api/actions/bookRoom", retro, forbidden="vic", too_large="mia")
    schedule = "/api/actions/roomSchedule"
    x.call("GET", schedule, "mia", query={"roomId": room}, expect=200)
    x.call("GET", schedule, "mia", query={"roomId": attic}, expect=200)
    x.call("GET", schedule, "mia", query={"roomId": "room-1"}, expect=400,
           invalid="roomId is a uuid")
    x.call("GET", schedule, "mia", expect=400, invalid="roomId is required")
    x.refusals("GET", schedule, query={"roomId": room}, forbidden="vic")


def rooms_batches(x, rooms):
    path = "/api/rooms/batch"
    r = x.call("POST", path, "ada", body={"records": [{"name": "R1"}, {"name": "R2",
                                                                         "capacity": 20}]},
               expect=201)
    r1, r2 = (row["id"] for row in r.json()["success"])
    x.call("POST", path, "ada", body={"records": [{"name": "ok"},
                                                  {"name": "typed", "roomTypeId": nowhere()}]},
           expect=207)  # REFERENCE_VIOLATION for the second record
    x.call("POST", path, "ada", body={"records": [{"name": f"R{i}"} for i in range(21)]},
           expect=400)  # batch max=20
    x.call("POST", path, "ada", body={"records": [{"name": "Alps"}, {"name": "Tiny",
                                                                     "capacity": 0}],
                                      "options": {"atomic": True}},
           expect=400, invalid="capacity below its minimum")
    x.refusals("POST", path, {"records": [{"name": "t"}]}, forbidden="mia", too_large="ada")
    x.call("PATCH", path, "ada", body={"records": [{"id": r1, "capacity": 30}]}, expect=200)
    x.call("PATCH", path, "mia", body={"records": [{"id": r1, "notes": "n"},
                                                   {"id": rooms["hall"], "notes": "n"}]},
           expect=207)  # the hall has over 50 seats: ACCESS_CONDITION_FAILED
    x.call("PATCH", path, "ada", body={"records": [{"capacity": 3}]}, expect=400,
           invalid="batch update records need an id")
    x.refusals("PATCH", path, {"records": [{"id": r1, "notes": "n"}]}, forbidden="vic",
               too_large="ada")
    x.call("DELETE", path, "ada", body={"ids": [r1]}, expect=200)
    x.call("DELETE", path, "ada", body={"ids": [r2, nowhere()]}, expect=207)
    x.call("DELETE", path, "ada", body={"ids": [r2], "extra": 1}, expect=400,
           invalid="unknown key in a batch body")
    x.refusals("DELETE", path, {"ids": [r2]}, forbidden="mia", too_large="ada")

    path = "/api/bookings/batch"
    room = rooms["room"]
    ok = {"roomId": room, "title": "Batch", "startsAt": FUTURE}
    r = x.call("POST", path, "mia", body={"records": [ok, {**ok, "title": "Batch 2"}]},
               expect=201)
    k1, k2 = (row["id"] for row in r.json()["success"])
    x.call("POST", path, "mia", body={"records": [ok, {**ok, "startsAt": PAST}]},
           expect=207)  # ACCESS_CHECK_FAILED for the second record
    x.call("POST", path, "mia", body={"records": [ok, {**ok, "startsAt": PAST}],
                                      "options": {"atomic": True}}, expect=400)
    x.call("POST", path, "mia", body={"records": [{**ok, "title": None}]}, expect=207,
           invalid="title is required, not nullable")
    x.refusals("POST", path, {"records": [ok]}, forbidden="vic", too_large="mia")
    x.call("PATCH", path, "mia", body={"records": [{"id": k1, "title": "Batch!"}]}, expect=200)
    x.call("PATCH", path, "max", body={"records": [{"id": k1, "title": "mine"}]},
           expect=207)  # Mia's booking is invisible to Max
    x.call("PATCH", path, "mia", body={"records": [{"id": None, "title": "t"}]}, expect=400,
           invalid="id is a uuid, not null")
    x.refusals("PATCH", path, {"records": [{"id": k1, "title": "t"}]}, forbidden="vic",
               too_large="mia")
    x.call("DELETE", path, "mia", body={"ids": [k1]}, expect=200)
    x.call("DELETE", path, "mia", body={"ids": [k2, nowhere()]}, expect=207)
    x.call("DELETE", path, "mia", body={}, expect=400, invalid="ids is required")
    x.refusals("DELETE", path, {"ids": [k2]}, forbidden="vic", too_large="mia")


def rooms_delete_restore(x, kind, rooms):
    room, booking = rooms["room"], rooms["booking"]
    x.call("DELETE", f"/api/room_types/{kind}", "ada", expect=409)  # a room uses it
    x.call("DELETE", f"/api/bookings/{booking}", "max", expect=404)
    x.refusals("DELETE", f"/api/bookings/{booking}", forbidden="vic")
    x.call("DELETE", f"/api/rooms/{room}", "gus", expect=404)
    x.refusals("DELETE", f"/api/rooms/{room}", forbidden="mia")
    x.call("DELETE", f"/api/rooms/{room}", "ada", expect=200)  # its bookings go along
    x.call("DELETE", f"/api/rooms/{room}", "ada", expect=404)
    x.call("GET", "/api/rooms", "ada", query={"deleted": "only"}, expect=200)
    x.call("GET", "/api/rooms", "ada", query={"deleted": "only", "fields": "id,name,deletedBy"},
           expect=200)
    x.call("GET", f"/api/bookings/{booking}", "mia", expect=404)
    x.call("POST", f"/api/rooms/{room}/restore", "gus", expect=404)
    x.refusals("POST", f"/api/rooms/{room}/restore", forbidden="mia")
    x.call("POST", f"/api/rooms/{room}/restore", "ada", expect=200)  # bookings come back
    x.call("POST", f"/api/rooms/{room}/restore", "ada", expect=404)  # live again
    # Its history: created, edited, deleted and restored; each version as the caller may read it.
    hist = f"/api/rooms/{room}/history"
    x.call("GET", hist, "ada", expect=200)
    x.call("GET", hist, "vic", query={"limit": "1"}, expect=200)
    x.call("GET", hist, "gus", expect=404)
    x.call("GET", hist, "ada", query={"limit": "x"}, expect=400, invalid="limit is an integer")
    x.call("GET", hist, "drifter", expect=403)  # no org claim: FIREWALL_SCOPE_MISSING
    x.refusals("GET", hist, forbidden="nobody")
    x.call("GET", f"/api/bookings/{booking}", "mia", expect=200)
    # bookings has no `restore` rule: nobody restores a booking directly.
    x.call("DELETE", f"/api/bookings/{booking}", "mia", expect=200)
    x.call("POST", f"/api/bookings/{booking}/restore", "ada", expect=403)
    x.refusals("POST", f"/api/bookings/{booking}/restore", forbidden="mia")


# --- pets: references and labels, expand, a junction table, unique, an upsert table --------------


def scenario_pets(x):
    x.call("GET", "/healthz", expect=200)
    x.call("GET", "/readyz", expect=200)
    people = pets_people(x)
    pets = pets_pets(x, people)
    tags = pets_tags(x, pets)
    pets_vets(x)
    pets_cleanup(x, people, pets, tags)


def pets_people(x):
    path = "/api/people"
    ann = x.id_of(x.call("POST", path, "ann", body={"name": "Ann Lee", "email": "ann@example.org",
                                                    "city": "Oslo"}, expect=201))
    ben = x.id_of(x.call("POST", path, "ben", body={"name": "Ben", "email": None}, expect=201))
    temp = x.id_of(x.call("POST", path, "root", body={"name": "Temp"}, expect=201))
    x.call("POST", path, "ann", body={"name": 1}, expect=400, invalid="name is a string")
    x.call("POST", path, "ann", body={"name": "x", "phone": "1"}, expect=400,
           invalid="phone is not a column of people")
    x.call("POST", path, "ann", body={"city": "Oslo"}, expect=400, invalid="name is required")
    x.refusals("POST", path, {"name": "t"}, forbidden="nobody", too_large="ann")

    page = x.call("GET", path, "ben", expect=200)
    x.call("GET", path, "ben", headers=x.etag(page), expect=304)
    for who, query in (
        ("ben", {"name.like": "lee"}),
        ("ben", {"city": "Oslo"}),
        ("ben", {"city.is": "null"}),
        ("ben", {"search": "ann", "total": "true"}),
        ("ben", {"fields": "id,name,email"}),
        ("ben", {"expand": "pets"}),
        ("root", {"email.like": "example"}),
        ("nobody", {"sort": "name", "order": "desc"}),
    ):
        x.call("GET", path, who, query=query, expect=200)
    first = x.call("GET", path, "ben", query={"limit": "1"}, expect=200)
    cursor = first.json()["pagination"].get("nextCursor", "")
    x.call("GET", path, "ben", query={"limit": "1", "cursor": cursor}, expect=200)
    x.call("GET", path, "ben", query={"city.is": "maybe"}, expect=400,
           invalid="city.is is null or not-null")
    x.call("GET", path, "ben", query={"email.like": "example"}, expect=400)  # masked for Ben
    x.call("GET", path, "root", query={"deleted": "only"}, expect=403)  # no restore rule
    x.refusals("GET", path)

    one = x.call("GET", f"{path}/{ann}", "ben", expect=200)
    x.call("GET", f"{path}/{ann}", "ben", headers=x.etag(one), expect=304)
    x.call("GET", f"{path}/{ann}", "ben", query={"expand": "pets", "fields": "id,name,email"},
           expect=200)
    x.call("GET", f"{path}/{ann}", "ann", query={"fields": "name,email"}, expect=200)
    x.call("GET", f"{path}/{ann}", "ben", query={"expand": "nope"}, expect=400)
    x.call("GET", f"{path}/{nowhere()}", "ben", expect=404)
    x.refusals("GET", f"{path}/{ann}")

    x.call("PATCH", f"{path}/{ann}", "ann", body={"city": "Bergen"}, expect=200)
    x.call("PATCH", f"{path}/{ann}", "root", body={"email": None}, expect=200)
    x.call("PATCH", f"{path}/{ann}", "ben", body={"city": "Mine"}, expect=403)  # not his row
    x.call("PATCH", f"{path}/{ann}", "ann", body={"name": None}, expect=400,
           invalid="name is required, not nullable")
    x.call("PATCH", f"{path}/{ann}", "ann", body={"createdBy": "ben"}, expect=400,
           invalid="createdBy is a system column")
    x.call("PATCH", f"{path}/{nowhere()}", "ann", body={"city": "X"}, expect=404)
    x.refusals("PATCH", f"{path}/{ann}", {"city": "c"}, forbidden="nobody", too_large="ann")

    x.call("GET", f"{path}/schema", "nobody", expect=200)
    x.refusals("GET", f"{path}/schema")

    batch = f"{path}/batch"
    r = x.call("POST", batch, "ann", body={"records": [{"name": "B1"}, {"name": "B2"}]},
               expect=201)
    b1, b2 = (row["id"] for row in r.json()["success"])
    x.call("POST", batch, "ann", body={"records": [{"name": "ok"}, {"name": None}]},
           expect=207, invalid="name is required, not nullable")
    x.call("POST", batch, "ann", body={"records": [{"name": f"P{i}"} for i in range(101)]},
           expect=400)  # over the default batch max
    x.call("POST", batch, "ann", body={"records": [{"name": "ok"}, {"nom": "x"}],
                                       "options": {"atomic": True}},
           expect=400, invalid="nom is not a column")
    x.refusals("POST", batch, {"records": [{"name": "t"}]}, forbidden="nobody",
               too_large="ann")
    x.call("PATCH", batch, "ann", body={"records": [{"id": b1, "city": "Oslo"}]}, expect=200)
    x.call("PATCH", batch, "ann", body={"records": [{"id": b1, "city": "Rome"},
                                                    {"id": ben, "city": "Rome"}]},
           expect=207)  # Ben's row: ACCESS_CONDITION_FAILED
    x.call("PATCH", batch, "ann", body={"records": [{"city": "Rome"}]}, expect=400,
           invalid="batch update records need an id")
    x.refusals("PATCH", batch, {"records": [{"id": b1, "city": "c"}]}, forbidden="nobody",
               too_large="ann")
    x.call("DELETE", batch, "root", body={"ids": [b1]}, expect=200)
    x.call("DELETE", batch, "root", body={"ids": [b2, nowhere()]}, expect=207)
    x.call("DELETE", batch, "root", body={"ids": [b2, {"id": b2}]}, expect=400,
           invalid="ids are strings")
    x.refusals("DELETE", batch, {"ids": [b2]}, forbidden="ann", too_large="root")
    return {"ann": ann, "ben": ben, "temp": temp}


def pets_pets(x, people):
    path = "/api/pets"
    owner = people["ann"]
    rex = x.id_of(x.call("POST", path, "ann", body={"name": "Rex", "species": "dog",
                                                    "ownerId": owner}, expect=201))
    tom = x.id_of(x.call("POST", path, "ann", body={"name": "Tom", "species": "cat",
                                                    "ownerId": owner, "born": "2020-02-29"},
                         expect=201))
    x.call("POST", path, "ben", body={"name": "Ghost", "species": "cat", "ownerId": nowhere()},
           expect=409)
    x.call("POST", path, "ben", body={"name": "Nemo", "species": "fish", "ownerId": owner},
           expect=400, invalid="species is not one of the enum")
    x.call("POST", path, "ben", body={"name": "Old", "species": "cat", "ownerId": owner,
                                      "born": "yesterday"}, expect=400,
           invalid="born is a date")
    x.call("POST", path, "ben", body={"name": "Stray", "species": "dog"}, expect=400,
           invalid="ownerId is required")
    x.refusals("POST", path, {"name": "t", "species": "dog", "ownerId": owner},
               forbidden="nobody", too_large="ann")

    page = x.call("GET", path, "ben", expect=200)
    x.call("GET", path, "ben", headers=x.etag(page), expect=304)
    for query in (
        {"expand": "tags", "fields": "name,species,ownerId", "sort": "name"},
        {"search": "re", "fields": "name", "total": "true"},
        {"species": "dog"},
        {"species.in": "dog,cat"},
        {"born.lt": "2021-01-01"},
        {"born.is": "null"},
        {"ownerId": owner},
        {"expand": "ownerId,tags"},
    ):
        x.call("GET", path, "ben", query=query, expect=200)
    x.call("GET", path, "ben", query={"born.gt": "yesterday"}, expect=400,
           invalid="born.gt is a date")
    x.call("GET", path, "ben", query={"name.between": "a,b"}, expect=400)  # no such operator
    x.call("GET", path, "ann", query={"deleted": "only"}, expect=403)  # no restore rule
    x.refusals("GET", path)

    one = x.call("GET", f"{path}/{rex}", "ben", expect=200)
    x.call("GET", f"{path}/{rex}", "ben", headers=x.etag(one), expect=304)
    x.call("GET", f"{path}/{rex}", "ben", query={"expand": "ownerId,tags"}, expect=200)
    x.call("GET", f"{path}/{rex}", "ben", query={"fields": "name,ownerId"}, expect=200)
    x.call("GET", f"{path}/{rex}", "ben", query={"expand": "ownerId,ownerId"}, expect=400)
    x.call("GET", f"{path}/{nowhere()}", "ben", expect=404)
    x.refusals("GET", f"{path}/{rex}")

    pets_photos(x, path, owner, rex, tom)

    x.call("PATCH", f"{path}/{rex}", "ann", body={"name": "Rex II", "born": "2019-01-01"},
           expect=200)
    x.call("PATCH", f"{path}/{rex}", "ann", body={"born": None}, expect=200)
    x.call("PATCH", f"{path}/{rex}", "ben", body={"name": "Max"}, expect=403)  # not his pet
    x.call("PATCH", f"{path}/{rex}", "ann", body={"species": "cat"}, expect=400,
           invalid="species is not updatable")
    x.call("PATCH", f"{path}/{rex}", "ann", body={"ownerId": people["ben"]}, expect=400,
           invalid="ownerId is not updatable")
    x.call("PATCH", f"{path}/{nowhere()}", "ann", body={"name": "X"}, expect=404)
    x.refusals("PATCH", f"{path}/{rex}", {"name": "n"}, forbidden="nobody", too_large="ann")

    x.call("GET", f"{path}/schema", "ben", expect=200)
    x.refusals("GET", f"{path}/schema")

    batch = f"{path}/batch"
    ok = {"name": "Pip", "species": "bird", "ownerId": owner}
    r = x.call("POST", batch, "ann", body={"records": [ok, {**ok, "name": "Pop"}]}, expect=201)
    k1, k2 = (row["id"] for row in r.json()["success"])
    x.call("POST", batch, "ann", body={"records": [ok, {**ok, "ownerId": nowhere()}]},
           expect=207)  # REFERENCE_VIOLATION for the second record
    x.call("POST", batch, "ann", body={"records": [ok, {**ok, "ownerId": nowhere()}],
                                       "options": {"atomic": True}}, expect=400)
    x.refusals("POST", batch, {"records": [ok]}, forbidden="nobody", too_large="ann")
    x.call("PATCH", batch, "ann", body={"records": [{"id": k1, "born": "2024-04-01"}]},
           expect=200)
    x.call("PATCH", batch, "ben", body={"records": [{"id": k1, "name": "Mine"}]},
           expect=207)  # Ann's pet: ACCESS_CONDITION_FAILED
    x.call("PATCH", batch, "ann", body={"records": [{"id": k1, "species": "cat"}]},
           expect=207, invalid="species is not updatable")
    x.call("PATCH", batch, "ann", body={"records": [{"name": "Nobody's"}]}, expect=400,
           invalid="batch update records need an id")
    x.refusals("PATCH", batch, {"records": [{"id": k1, "name": "n"}]}, forbidden="nobody",
               too_large="ann")
    x.call("DELETE", batch, "ann", body={"ids": [k1]}, expect=200)
    x.call("DELETE", batch, "ben", body={"ids": [k2]}, expect=207)  # not his pet
    x.call("DELETE", batch, "ann", body={"records": [k2]}, expect=400,
           invalid="a delete batch carries ids")
    x.refusals("DELETE", batch, {"ids": [k2]}, forbidden="nobody", too_large="ann")
    return {"rex": rex, "tom": tom}


def png(extra=0):
    """A 1×1 PNG: what content sniffing reads is its signature and IHDR."""
    return (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde"
            + b"\x07" * extra)


def pets_photos(x, path, owner, rex, tom):
    """The `photo` file column: multipart uploads, downloads, ranges, signed URLs."""
    created = x.call("POST", path, "ann", multipart={
        "name": "Max", "species": "dog", "ownerId": owner,
        "photo": ("max.png", png(100), "image/jpeg"),
    }, expect=201)
    x.call("DELETE", f"{path}/{x.id_of(created)}", "ann", expect=200)
    x.call("PATCH", f"{path}/{rex}", "ann", multipart={"photo": ("rex.png", png(2000), "image/png")},
           expect=200)
    x.call("PATCH", f"{path}/{rex}", "ann",
           multipart={"photo": ("cat.png", b"<script>alert(1)</script>", "image/png")}, expect=415)
    x.call("PATCH", f"{path}/{rex}", "ann",
           multipart={"photo": ("big.png", png(2 * 1024 * 1024), "image/png")}, expect=413)
    x.call("PATCH", f"{path}/{rex}", "ben", multipart={"photo": ("b.png", png(), "image/png")},
           expect=403)  # not his pet
    photo = f"{path}/{rex}/file/photo"
    got = x.call("GET", photo, "ben", expect=200)
    x.call("GET", photo, "ben", headers={"If-None-Match": got.headers.get("ETag", "")}, expect=304)
    x.call("GET", photo, "ben", query={"inline": "1"}, expect=200)
    x.call("GET", photo, "ben", headers={"Range": "bytes=0-7"}, expect=206)
    x.call("GET", photo, "ben", headers={"Range": "bytes=99999-"}, expect=416)
    x.call("GET", f"{path}/{tom}/file/photo", "ben", expect=404)  # Tom has no photo
    x.call("GET", f"{path}/{nowhere()}/file/photo", "ben", expect=404)
    x.call("GET", photo, BAD, expect=401)
    signed = x.data(x.call("POST", f"{photo}/url", "ben", expect=201)) or {}
    where, _, token = signed.get("url", "?token=").partition("?token=")
    x.call("GET", where, None, query={"token": token}, expect=200)
    x.call("GET", where, None, query={"token": token + "x"}, expect=404)
    x.call("POST", f"{path}/{tom}/file/photo/url", "ben", expect=404)
    x.refusals("POST", f"{photo}/url")


def pets_tags(x, pets):
    path = "/api/tags"
    tag = x.id_of(x.call("POST", path, "root", body={"label": "friendly"}, expect=201))
    shy = x.id_of(x.call("POST", path, "root", body={"label": "shy"}, expect=201))
    x.call("POST", path, "root", body={"label": "friendly"}, expect=409)  # unique
    x.call("POST", path, "root", body={"label": "x" * 31}, expect=400,
           invalid="label over maxLength")
    x.refusals("POST", path, {"label": "t"}, forbidden="ann", too_large="root")
    page = x.call("GET", path, "ben", expect=200)
    x.call("GET", path, "ben", headers=x.etag(page), expect=304)
    x.call("GET", path, "ben", query={"label.in": "friendly,shy", "expand": "pets"}, expect=200)
    x.call("GET", path, "ben", query={"fields": "label", "label.ne": "shy"}, expect=200)
    x.call("GET", path, "ben", query={"label.is": "maybe"}, expect=400,
           invalid="label.is is null or not-null")
    x.call("GET", path, "ben", query={"sort": "-nope"}, expect=400)
    # docs/errors.md: `deleted=only` on a hard-delete table is 400 VALIDATION_BAD_QUERY.
    x.call("GET", path, "ben", query={"deleted": "only"}, expect=400)
    x.refusals("GET", path)
    one = x.call("GET", f"{path}/{tag}", "ben", expect=200)
    x.call("GET", f"{path}/{tag}", "ben", headers=x.etag(one), expect=304)
    x.call("GET", f"{path}/{tag}", "ben", query={"expand": "pets", "fields": "label"},
           expect=200)
    x.call("GET", f"{path}/{tag}", "ben", query={"fields": ""}, expect=400)
    x.call("GET", f"{path}/{nowhere()}", "ben", expect=404)
    x.refusals("GET", f"{path}/{tag}")
    # tags has no `update` rule: every caller is refused.
    x.call("PATCH", f"{path}/{tag}", "root", body={}, expect=403)
    x.refusals("PATCH", f"{path}/{tag}", {}, too_large=False)
    x.call("GET", f"{path}/schema", "ben", expect=200)
    x.refusals("GET", f"{path}/schema")
    batch = f"{path}/batch"
    r = x.call("POST", batch, "root", body={"records": [{"label": "t1"}, {"label": "t2"}]},
               expect=201)
    t1, t2 = (row["id"] for row in r.json()["success"])
    x.call("POST", batch, "root", body={"records": [{"label": "t3"}, {"label": "t1"}]},
           expect=207)  # UNIQUE_VIOLATION for the second record
    x.call("POST", batch, "root", body={"records": [{"label": "t4"}, {"label": "t1"}],
                                        "options": {"atomic": True}}, expect=400)
    x.refusals("POST", batch, {"records": [{"label": "t"}]}, forbidden="ann",
               too_large="root")
    x.call("PATCH", batch, "root", body={"records": [{"id": t1}]}, expect=403)
    x.refusals("PATCH", batch, {"records": [{"id": t1}]}, too_large=False)
    x.call("DELETE", batch, "root", body={"ids": [t1]}, expect=200)
    x.call("DELETE", batch, "root", body={"ids": [t2, nowhere()]}, expect=207)
    x.call("DELETE", batch, "root", body={"ids": None}, expect=400, invalid="ids is an array")
    x.refusals("DELETE", batch, {"ids": [t2]}, forbidden="ann", too_large="root")
    x.call("DELETE", f"{path}/{shy}", "ann", expect=403)
    x.call("DELETE", f"{path}/{shy}", "root", expect=200)
    x.call("DELETE", f"{path}/{shy}", "root", expect=404)
    x.refusals("DELETE", f"{path}/{tag}", forbidden="ann")

    path = "/api/pet_tags"
    rex, tom = pets["rex"], pets["tom"]
    link = x.id_of(x.call("POST", path, "ann", body={"petId": rex, "tagId": tag}, expect=201))
    x.call("POST", path, "ben", body={"petId": rex, "tagId": tag}, expect=409)  # unique pair
    x.call("POST", path, "ben", body={"petId": rex, "tagId": nowhere()}, expect=409)
    x.call("POST", path, "ben", body={"petId": rex}, expect=400, invalid="tagId is required")
    x.refusals("POST", path, {"petId": tom, "tagId": tag}, forbidden="nobody", too_large="ann")
    page = x.call("GET", path, "ben", expect=200)
    x.call("GET", path, "ben", headers=x.etag(page), expect=304)
    x.call("GET", path, "ben", query={"expand": "petId,tagId", "petId": rex}, expect=200)
    x.call("GET", path, "ben", query={"fields": "petId", "tagId.in": f"{tag},{nowhere()}"},
           expect=200)
    x.call("GET", path, "ben", query={"petId": "rex"}, expect=400, invalid="petId is a uuid")
    x.refusals("GET", path)
    one = x.call("GET", f"{path}/{link}", "ben", expect=200)
    x.call("GET", f"{path}/{link}", "ben", headers=x.etag(one), expect=304)
    x.call("GET", f"{path}/{link}", "ben", query={"expand": "petId", "fields": "id"},
           expect=200)
    x.call("GET", f"{path}/{link}", "ben", query={"expand": "tags"}, expect=400)
    x.call("GET", f"{path}/{nowhere()}", "ben", expect=404)
    x.refusals("GET", f"{path}/{link}")
    # pet_tags has no `update` rule either.
    x.call("PATCH", f"{path}/{link}", "ann", body={}, expect=403)
    x.refusals("PATCH", f"{path}/{link}", {}, too_large=False)
    x.call("GET", f"{path}/schema", "ben", expect=200)
    x.refusals("GET", f"{path}/schema")
    batch = f"{path}/batch"
    r = x.call("POST", batch, "ann", body={"records": [{"petId": tom, "tagId": tag}]},
               expect=201)
    l2 = r.json()["success"][0]["id"]
    x.call("POST", batch, "ben", body={"records": [{"petId": tom, "tagId": tag}]},
           expect=207)  # UNIQUE_VIOLATION
    x.call("POST", batch, "ben", body={"records": [{"petId": tom, "tagId": tag}],
                                       "options": {"atomic": True}}, expect=400)
    x.refusals("POST", batch, {"records": [{"petId": tom, "tagId": tag}]}, forbidden="nobody",
               too_large="ann")
    x.call("PATCH", batch, "ann", body={"records": [{"id": l2}]}, expect=403)
    x.refusals("PATCH", batch, {"records": [{"id": l2}]}, too_large=False)
    x.call("DELETE", batch, "ben", body={"ids": [l2]}, expect=207)  # not his link
    x.call("DELETE", batch, "ann", body={"ids": [l2]}, expect=200)
    x.call("DELETE", batch, "ann", body={"ids": [l2], "options": {}, "more": []}, expect=400,
           invalid="unknown key in a batch body")
    x.refusals("DELETE", batch, {"ids": [l2]}, forbidden="nobody", too_large="ann")
    x.call("DELETE", f"{path}/{link}", "ben", expect=403)  # not his link
    x.call("DELETE", f"{path}/{link}", "ann", expect=200)
    x.call("DELETE", f"{path}/{link}", "ann", expect=404)
    x.refusals("DELETE", f"{path}/{link}", forbidden="nobody")
    return {"tag": tag}


def pets_vets(x):
    path = "/api/vets"
    x.call("POST", path, "root", body={"id": "LIC-1", "name": "Dr Vet", "phone": "555-0100",
                                       "emergency": True}, expect=201)
    x.call("POST", path, "root", body={"id": "LIC-1", "name": "Again"}, expect=409)
    x.call("POST", path, "root", body={"name": "No licence"}, expect=400,
           invalid="id is required on this id-text table")
    x.call("POST", path, "root", body={"id": "LIC-9", "name": "x", "emergency": "no"},
           expect=400, invalid="emergency is a boolean")
    x.refusals("POST", path, {"id": "LIC-8", "name": "t"}, forbidden="ann", too_large="root")

    # Upsert: 201 creates, 200 updates.
    x.call("PUT", f"{path}/LIC-2", "root", body={"name": "Dr New"}, expect=201)
    x.call("PUT", f"{path}/LIC-2", "root", body={"name": "Dr New", "emergency": True},
           expect=200)
    x.call("PUT", f"{path}/LIC-2", "root", body={"id": "LIC-2", "phone": None}, expect=200)
    x.call("PUT", f"{path}/LIC-2", "root", body={"id": "LIC-3", "name": "Moved"},
           expect=400)  # a different id: GUARD_SYSTEM_MANAGED
    x.call("PUT", f"{path}/LIC-4", "root", body={"phone": "1"}, expect=400)  # create lacks name
    x.call("PUT", f"{path}/LIC-4", "root", body={"name": 5}, expect=400,
           invalid="name is a string")
    x.refusals("PUT", f"{path}/LIC-2", {"name": "t"}, forbidden="ann", too_large="root")

    page = x.call("GET", path, "ben", expect=200)
    x.call("GET", path, "ben", headers=x.etag(page), expect=304)
    for query in ({"emergency": "true"}, {"id.like": "LIC"}, {"id.in": "LIC-1,LIC-2"},
                  {"fields": "id,name", "sort": "id"}, {"phone.is": "not-null"}):
        x.call("GET", path, "ben", query=query, expect=200)
    x.call("GET", path, "ben", query={"emergency": "sometimes"}, expect=400,
           invalid="emergency is a boolean")
    x.refusals("GET", path)
    one = x.call("GET", f"{path}/LIC-1", "ben", expect=200)
    x.call("GET", f"{path}/LIC-1", "ben", headers=x.etag(one), expect=304)
    x.call("GET", f"{path}/LIC-1", "ben", query={"fields": "name,phone"}, expect=200)
    x.call("GET", f"{path}/LIC-1", "ben", query={"expand": "name"}, expect=400)
    x.call("GET", f"{path}/LIC-404", "ben", expect=404)
    x.refusals("GET", f"{path}/LIC-1")
    x.call("PATCH", f"{path}/LIC-1", "root", body={"phone": None, "emergency": False},
           expect=200)
    x.call("PATCH", f"{path}/LIC-1", "root", body={"id": "LIC-7"}, expect=400,
           invalid="id is not in vets_update")
    x.call("PATCH", f"{path}/LIC-404", "root", body={"name": "X"}, expect=404)
    x.refusals("PATCH", f"{path}/LIC-1", {"name": "n"}, forbidden="ann", too_large="root")
    x.call("GET", f"{path}/schema", "ben", expect=200)
    x.refusals("GET", f"{path}/schema")

    batch = f"{path}/batch"
    x.call("POST", batch, "root", body={"records": [{"id": "B-1", "name": "b"},
                                                    {"id": "B-2", "name": "c"}]}, expect=201)
    x.call("POST", batch, "root", body={"records": [{"id": "B-3", "name": "d"},
                                                    {"id": "B-1", "name": "dup"}]},
           expect=207)  # UNIQUE_VIOLATION on the existing id
    x.call("POST", batch, "root", body={"records": [{"id": "B-5", "name": "e"},
                                                    {"id": "B-1", "name": "dup"}],
                                        "options": {"atomic": True}}, expect=400)
    x.call("POST", batch, "root", body={"records": [{"name": "no id"}]}, expect=207,
           invalid="id is required on this id-text table")
    x.refusals("POST", batch, {"records": [{"id": "B-6", "name": "t"}]}, forbidden="ann",
               too_large="root")
    x.call("PATCH", batch, "root", body={"records": [{"id": "B-1", "phone": "1"}]}, expect=200)
    x.call("PATCH", batch, "root", body={"records": [{"id": "B-1", "phone": "2"},
                                                     {"id": "B-404", "phone": "3"}]},
           expect=207)
    x.call("PATCH", batch, "root", body={"records": [{"phone": "3"}]}, expect=400,
           invalid="batch update records need an id")
    x.refusals("PATCH", batch, {"records": [{"id": "B-1", "phone": "p"}]}, forbidden="ann",
               too_large="root")
    x.call("PUT", batch, "root", body={"records": [{"id": "B-1", "name": "b!"},
                                                   {"id": "B-9", "name": "new"}]}, expect=200)
    x.call("PUT", batch, "root", body={"records": [{"id": "B-1", "name": "b?"},
                                                   {"id": "B-10"}]},
           expect=207)  # B-10 is a create without name: VALIDATION_REQUIRED
    x.call("PUT", batch, "root", body={"records": [{"name": "who"}]}, expect=400,
           invalid="batch upsert records need an id")
    x.refusals("PUT", batch, {"records": [{"id": "B-1", "name": "t"}]}, forbidden="ann",
               too_large="root")
    x.call("DELETE", batch, "root", body={"ids": ["B-1"]}, expect=200)
    x.call("DELETE", batch, "root", body={"ids": ["B-2", "B-404"]}, expect=207)
    x.call("DELETE", batch, "root", body={"ids": [["B-2"]]}, expect=400,
           invalid="an id is a string")
    x.refusals("DELETE", batch, {"ids": ["B-2"]}, forbidden="ann", too_large="root")

    x.call("DELETE", f"{path}/LIC-2", "ann", expect=403)
    x.call("DELETE", f"{path}/LIC-2", "root", expect=200)
    x.call("DELETE", f"{path}/LIC-2", "root", expect=404)
    x.refusals("DELETE", f"{path}/LIC-1", forbidden="ann")


def pets_cleanup(x, people, pets, tags):
    rex, tom = pets["rex"], pets["tom"]
    x.call("DELETE", f"/api/pets/{rex}", "ben", expect=403)  # not his pet
    x.call("DELETE", f"/api/pets/{tom}", "ann", expect=200)
    x.call("DELETE", f"/api/pets/{tom}", "ann", expect=404)
    x.refusals("DELETE", f"/api/pets/{rex}", forbidden="nobody")
    # Neither pets nor people has a `restore` rule: nobody restores directly.
    x.call("POST", f"/api/pets/{tom}/restore", "root", expect=403)
    x.refusals("POST", f"/api/pets/{tom}/restore", forbidden="ann")
    temp = people["temp"]
    x.call("DELETE", f"/api/people/{temp}", "ann", expect=403)  # delete is admin
    x.call("DELETE", f"/api/people/{temp}", "root", expect=200)
    x.call("DELETE", f"/api/people/{temp}", "root", expect=404)
    x.refusals("DELETE", f"/api/people/{people['ann']}", forbidden="ann")
    x.call("POST", f"/api/people/{temp}/restore", "root", expect=403)
    x.refusals("POST", f"/api/people/{temp}/restore", forbidden="ann")
    x.call("GET", f"/api/tags/{tags['tag']}", "ann", query={"expand": "pets"}, expect=200)


SCENARIOS = {"tasks": scenario_tasks, "rooms": scenario_rooms, "pets": scenario_pets}


def load_tokens(path):
    tokens = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                name, token = line.split()
                tokens[name] = token
    return tokens


def report(x):
    print(f"== {x.name}")
    never, unseen = x.coverage()
    by_kind = {}
    for kind, where, status, excerpt, message in x.failures:
        by_kind.setdefault(kind, []).append((where, status, excerpt, message))
    for kind, items in by_kind.items():
        print(f"  FAIL {kind}: {len(items)}")
        for where, status, excerpt, message in items:
            print(f"    {where} -> {status}")
            print(f"      body: {excerpt}")
            print(f"      {message}")
    if never:
        print(f"  FAIL operations never called, or never answered with a declared success: "
              f"{len(never)}")
        for line in never:
            print(f"    {line}")
    if x.dropped:
        print(f"  info: connections the server closed without answering (request sent again on "
              f"a new connection): {len(x.dropped)}")
        for where in x.dropped:
            print(f"    {where}")
    if unseen:
        print(f"  info: declared statuses never seen (500/503 are faults, never provoked): "
              f"{len(unseen)} operations")
        for line in unseen:
            print(f"    {line}")
    summary(x.valid, x.invalid_rejected, x.invalid_accepted, x.valid_rejected,
            x.answers_valid, x.answers_invalid, "  ")
    return bool(x.failures or never)


def summary(valid, rejected, accepted, valid_rejected, ok, bad, indent):
    deliberate = rejected + accepted
    verdict = ("all rejected by the document" if not accepted
               else f"{accepted} ACCEPTED by the document")
    print(f"{indent}requests: {valid} valid, {deliberate} deliberately invalid ({verdict}), "
          f"{valid_rejected} valid-but-rejected")
    print(f"{indent}responses: {ok} valid, {bad} invalid")


def main(argv):
    if len(argv) == 0 or len(argv) % 3:
        print(__doc__, file=sys.stderr)
        return 2
    failed = False
    replays = []
    started = time.monotonic()
    for i in range(0, len(argv), 3):
        name, base, tokens = argv[i], argv[i + 1], load_tokens(argv[i + 2])
        if name not in SCENARIOS:
            print(f"no replay scenario for example `{name}` (known: {', '.join(SCENARIOS)})",
                  file=sys.stderr)
            return 2
        x = Replay(name, base, tokens)
        try:
            SCENARIOS[name](x)
        except Exception as e:  # noqa: BLE001 - an answer the scenario could not use
            frame = traceback.extract_tb(e.__traceback__)[-1]
            x.fail("scenario stopped", f"after {x.last}", "-", "",
                   f"{type(e).__name__}: {e} (openapi-replay.py line {frame.lineno})")
        failed |= report(x)
        replays.append(x)
    print(f"== total ({', '.join(x.name for x in replays)}; {time.monotonic() - started:.1f} s)")
    summary(*(sum(getattr(x, a) for x in replays) for a in (
        "valid", "invalid_rejected", "invalid_accepted", "valid_rejected",
        "answers_valid", "answers_invalid")), "  ")
    print("openapi-replay: " + ("FAILED" if failed else "ok"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
