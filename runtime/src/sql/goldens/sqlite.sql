-- read by id, member (firewall, soft delete)
SELECT "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy" FROM "rooms" WHERE "org" = ? AND "deletedAt" IS NULL AND "id" = ?
-- values: [String(Some("acme")), String(Some("01890000-0000-7000-8000-000000000001"))]

-- read by id, bypass role
SELECT "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy" FROM "rooms" WHERE "deletedAt" IS NULL AND "id" = ?
-- values: [String(Some("01890000-0000-7000-8000-000000000001"))]

-- page with the update rule's residual
SELECT "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy" FROM "rooms" WHERE "org" = ? AND "deletedAt" IS NULL AND "ownerId" = ? LIMIT ? OFFSET ?
-- values: [String(Some("acme")), String(Some("m")), BigUnsigned(Some(51)), BigUnsigned(Some(10))]

-- count
SELECT COUNT(*) FROM "rooms" WHERE "org" = ? AND "deletedAt" IS NULL
-- values: [String(Some("acme"))]

-- exists
SELECT "id" FROM "rooms" WHERE "id" = ? LIMIT ?
-- values: [String(Some("01890000-0000-7000-8000-000000000001")), BigUnsigned(Some(1))]

-- insert
INSERT INTO "rooms" ("id", "status", "priority", "org", "createdAt", "modifiedAt") VALUES (?, ?, ?, ?, ?, ?)
-- values: [String(Some("01890000-0000-7000-8000-000000000001")), String(Some("open")), BigInt(Some(3)), String(Some("acme")), String(Some("2026-01-01T00:00:00.000Z")), String(Some("2026-01-01T00:00:00.000Z"))]

-- insert returning
INSERT INTO "rooms" ("id", "status", "priority", "org", "createdAt", "modifiedAt") VALUES (?, ?, ?, ?, ?, ?) RETURNING "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy"
-- values: [String(Some("01890000-0000-7000-8000-000000000001")), String(Some("open")), BigInt(Some(3)), String(Some("acme")), String(Some("2026-01-01T00:00:00.000Z")), String(Some("2026-01-01T00:00:00.000Z"))]

-- insert if new (upsert)
INSERT INTO "rooms" ("id", "status", "priority", "org", "createdAt", "modifiedAt") VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT ("id") DO NOTHING RETURNING "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy"
-- values: [String(Some("01890000-0000-7000-8000-000000000001")), String(Some("open")), BigInt(Some(3)), String(Some("acme")), String(Some("2026-01-01T00:00:00.000Z")), String(Some("2026-01-01T00:00:00.000Z"))]

-- update
UPDATE "rooms" SET "status" = ?, "modifiedAt" = ? WHERE "org" = ? AND "deletedAt" IS NULL AND "ownerId" = ? AND "id" = ?
-- values: [String(Some("closed")), String(Some("2026-01-02T00:00:00.000Z")), String(Some("acme")), String(Some("m")), String(Some("01890000-0000-7000-8000-000000000001"))]

-- update returning
UPDATE "rooms" SET "status" = ?, "modifiedAt" = ? WHERE "org" = ? AND "deletedAt" IS NULL AND "ownerId" = ? AND "id" = ? RETURNING "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy"
-- values: [String(Some("closed")), String(Some("2026-01-02T00:00:00.000Z")), String(Some("acme")), String(Some("m")), String(Some("01890000-0000-7000-8000-000000000001"))]

-- update where (cascade)
UPDATE "rooms" SET "status" = ?, "modifiedAt" = ? WHERE "org" = ? AND "deletedAt" IS NULL
-- values: [String(Some("closed")), String(Some("2026-01-02T00:00:00.000Z")), String(Some("acme"))]

-- delete
DELETE FROM "rooms" WHERE "org" = ? AND "deletedAt" IS NULL AND "ownerId" = ? AND "id" = ?
-- values: [String(Some("acme")), String(Some("m")), String(Some("01890000-0000-7000-8000-000000000001"))]

-- ids of related rows
SELECT "id" FROM "rooms" WHERE "id" = ?
-- values: [String(Some("01890000-0000-7000-8000-000000000002"))]

-- first children per parent
SELECT "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy" FROM (SELECT "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy", COUNT(*) OVER ( PARTITION BY "ownerId" ORDER BY "createdAt" DESC, "id" DESC ROWS UNBOUNDED PRECEDING ) AS "_ward_rank" FROM "rooms" WHERE "org" = ? AND "deletedAt" IS NULL) AS "_ward_page" WHERE "_ward_rank" <= ? ORDER BY "ownerId" ASC, "_ward_rank" ASC
-- values: [String(Some("acme")), BigInt(Some(5))]

-- create table
CREATE TABLE "rooms" ( "id" TEXT NOT NULL PRIMARY KEY, "status" TEXT, "priority" INTEGER, "ownerId" TEXT, "org" TEXT, "createdAt" TEXT NOT NULL, "createdBy" TEXT, "modifiedAt" TEXT NOT NULL, "modifiedBy" TEXT, "deletedAt" TEXT, "deletedBy" TEXT ) STRICT

-- create index
CREATE INDEX IF NOT EXISTS "ix_rooms_org" ON "rooms" ("org")

-- create unique index within the scope
CREATE UNIQUE INDEX IF NOT EXISTS "ux_rooms_org_status" ON "rooms" ("org", "status")

-- drop index
DROP INDEX IF EXISTS "ux_rooms_status"

-- list tables
SELECT "name" FROM "sqlite_master" WHERE "type" = ? ORDER BY "name" ASC
-- values: [String(Some("table"))]

-- list indexes
SELECT "name", "tbl_name" FROM "sqlite_master" WHERE "type" = ?
-- values: [String(Some("index"))]

-- live columns
SELECT "name", "type", "notnull" OR "pk" <> ? FROM pragma_table_info(?) AS "info" ORDER BY "cid" ASC
-- values: [Int(Some(0)), String(Some("rooms"))]

-- live unique constraints
SELECT "name" FROM pragma_index_list(?) AS "list" WHERE "origin" = ?
-- values: [String(Some("rooms")), String(Some("u"))]

-- savepoint, release, rollback to
SAVEPOINT ward_record
RELEASE SAVEPOINT ward_record
ROLLBACK TO SAVEPOINT ward_record; RELEASE SAVEPOINT ward_record

-- create the change log
CREATE TABLE IF NOT EXISTS "_ward_changes" ( "tbl" TEXT NOT NULL, "seq" INTEGER NOT NULL, "op" TEXT NOT NULL, "row_id" TEXT NOT NULL, "at" TEXT NOT NULL, "actor" TEXT, "role" TEXT, "request" TEXT, "before" TEXT, "after" TEXT, PRIMARY KEY ("tbl", "seq") ) WITHOUT ROWID, STRICT

-- create the change log
CREATE INDEX IF NOT EXISTS "ix__ward_changes_row" ON "_ward_changes" ("tbl", "row_id", "seq")

-- create the change log
CREATE TABLE IF NOT EXISTS "_ward_change_erased" ( "tbl" TEXT NOT NULL PRIMARY KEY, "seq" INTEGER NOT NULL ) WITHOUT ROWID, STRICT

-- record a change
INSERT INTO "_ward_changes" ("tbl", "seq", "op", "row_id", "at", "actor", "role", "request", "before", "after") SELECT ?, max(COALESCE((SELECT MAX("seq") FROM "_ward_changes" WHERE "tbl" = ?), ?), COALESCE((SELECT "seq" FROM "_ward_change_erased" WHERE "tbl" = ?), ?)) + ?, ?, ?, ?, ?, ?, ?, ?, ?
-- values: [String(Some("rooms")), String(Some("rooms")), BigInt(Some(0)), String(Some("rooms")), BigInt(Some(0)), BigInt(Some(1)), String(Some("update")), String(Some("00000000-0000-4000-8000-000000000001")), String(Some("2026-01-01T00:00:00.000Z")), String(Some("u1")), String(Some("member")), String(None), String(Some("{}")), String(None)]

-- versions of a row
SELECT "tbl", "seq", "op", "row_id", "at", "actor", "role", "request", "before", "after" FROM "_ward_changes" WHERE "tbl" = ? AND "row_id" = ? AND "seq" < ? ORDER BY "seq" DESC LIMIT ?
-- values: [String(Some("rooms")), String(Some("r1")), BigInt(Some(9)), BigUnsigned(Some(21))]

-- changes of a table since a seq
SELECT "tbl", "seq", "op", "row_id", "at", "actor", "role", "request", "before", "after" FROM "_ward_changes" WHERE "tbl" = ? AND "seq" > ? AND "seq" <= ? ORDER BY "seq" ASC LIMIT ?
-- values: [String(Some("rooms")), BigInt(Some(7)), BigInt(Some(12)), BigUnsigned(Some(500))]

-- where a table's log stands
SELECT (SELECT MAX("seq") FROM "_ward_changes" WHERE "tbl" = ?), (SELECT "seq" FROM "_ward_change_erased" WHERE "tbl" = ?)
-- values: [String(Some("rooms")), String(Some("rooms"))]

-- the highest seq a purge erases
SELECT MAX("seq") FROM (SELECT "seq" FROM "_ward_changes" WHERE "tbl" = ? AND "at" < ? ORDER BY "seq" ASC LIMIT ?) AS "erasing"
-- values: [String(Some("rooms")), String(Some("2026-01-01T00:00:00.000Z")), BigUnsigned(Some(500))]

-- erase a purge's batch
DELETE FROM "_ward_changes" WHERE "tbl" = ? AND "seq" IN (SELECT "seq" FROM "_ward_changes" WHERE "tbl" = ? AND "at" < ? ORDER BY "seq" ASC LIMIT ?)
-- values: [String(Some("rooms")), String(Some("rooms")), String(Some("2026-01-01T00:00:00.000Z")), BigUnsigned(Some(500))]

-- mark a seq erased
INSERT INTO "_ward_change_erased" ("tbl", "seq") VALUES (?, ?) ON CONFLICT ("tbl") DO UPDATE SET "seq" = "excluded"."seq" WHERE "_ward_change_erased"."seq" < "excluded"."seq"
-- values: [String(Some("rooms")), BigInt(Some(41))]

-- insert many
INSERT INTO "rooms" ("id", "status", "priority", "org", "createdAt", "modifiedAt") VALUES (?, ?, ?, ?, ?, ?)
-- values: [String(Some("01890000-0000-7000-8000-000000000001")), String(Some("open")), BigInt(Some(3)), String(Some("acme")), String(Some("2026-01-01T00:00:00.000Z")), String(Some("2026-01-01T00:00:00.000Z"))]

-- uuid eq malformed
SELECT COUNT(*) FROM "rooms" WHERE "id" <> "id"

-- uuid ne malformed
SELECT COUNT(*) FROM "rooms" WHERE "id" = "id"

-- uuid in malformed only
SELECT COUNT(*) FROM "rooms" WHERE "id" <> "id"

-- uuid in malformed and valid
SELECT COUNT(*) FROM "rooms" WHERE "id" IN (?)
-- values: [String(Some("01890000-0000-7000-8000-000000000001"))]

-- uuid not-in malformed only
SELECT COUNT(*) FROM "rooms" WHERE "id" = "id"

-- uuid not-in malformed and valid
SELECT COUNT(*) FROM "rooms" WHERE "id" NOT IN (?)
-- values: [String(Some("01890000-0000-7000-8000-000000000001"))]

-- uuid like
SELECT COUNT(*) FROM "rooms" WHERE "id" LIKE ? ESCAPE '\'
-- values: [String(Some("%0189%"))]

-- integer eq text
SELECT COUNT(*) FROM "rooms" WHERE "priority" <> "priority"

-- integer eq integer
SELECT COUNT(*) FROM "rooms" WHERE "priority" = ?
-- values: [BigInt(Some(3))]

-- text eq integer
SELECT COUNT(*) FROM "rooms" WHERE "status" <> "status"

-- text eq boolean
SELECT COUNT(*) FROM "rooms" WHERE "status" <> "status"

-- text like escaped
SELECT COUNT(*) FROM "rooms" WHERE "status" LIKE ? ESCAPE '\'
-- values: [String(Some("%Ab\\%\\_%"))]

-- text like a number
SELECT COUNT(*) FROM "rooms" WHERE ?
-- values: [Bool(Some(false))]

-- datetime lt a date
SELECT COUNT(*) FROM "rooms" WHERE ?
-- values: [Bool(None)]

-- datetime lt a datetime
SELECT COUNT(*) FROM "rooms" WHERE "createdAt" < ?
-- values: [String(Some("2026-01-01T00:00:00.000Z"))]

-- datetime like
SELECT COUNT(*) FROM "rooms" WHERE "createdAt" LIKE ? ESCAPE '\'
-- values: [String(Some("%2026-01%"))]

-- date lt a datetime
SELECT COUNT(*) FROM "rooms" WHERE "dueOn" <= ?
-- values: [String(Some("2026-03-04"))]

-- date lte a datetime
SELECT COUNT(*) FROM "rooms" WHERE "dueOn" <= ?
-- values: [String(Some("2026-03-04"))]

-- date gt a datetime
SELECT COUNT(*) FROM "rooms" WHERE "dueOn" > ?
-- values: [String(Some("2026-03-04"))]

-- date gt nonsense
SELECT COUNT(*) FROM "rooms" WHERE ?
-- values: [Bool(None)]

-- date eq a date
SELECT COUNT(*) FROM "rooms" WHERE "dueOn" = ?
-- values: [String(Some("2026-03-04"))]

-- date eq a datetime
SELECT COUNT(*) FROM "rooms" WHERE "dueOn" <> "dueOn"

-- date like
SELECT COUNT(*) FROM "rooms" WHERE "dueOn" LIKE ? ESCAPE '\'
-- values: [String(Some("%03-04%"))]

-- any of nothing
SELECT COUNT(*) FROM "rooms" WHERE ?
-- values: [Bool(Some(false))]

-- all of nothing
SELECT COUNT(*) FROM "rooms" WHERE TRUE

-- any of two
SELECT COUNT(*) FROM "rooms" WHERE "priority" = ? OR "priority" = ?
-- values: [BigInt(Some(1)), BigInt(Some(2))]

