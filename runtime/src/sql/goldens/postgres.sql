-- read by id, member (firewall, soft delete)
SELECT "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy" FROM "rooms" WHERE "org" = $1 AND "deletedAt" IS NULL AND "id" = $2
-- values: [String(Some("acme")), String(Some("01890000-0000-7000-8000-000000000001"))]

-- read by id, bypass role
SELECT "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy" FROM "rooms" WHERE "deletedAt" IS NULL AND "id" = $1
-- values: [String(Some("01890000-0000-7000-8000-000000000001"))]

-- page with the update rule's residual
SELECT "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy" FROM "rooms" WHERE "org" = $1 AND "deletedAt" IS NULL AND "ownerId" = $2 LIMIT $3 OFFSET $4
-- values: [String(Some("acme")), String(Some("m")), BigUnsigned(Some(51)), BigUnsigned(Some(10))]

-- count
SELECT COUNT(*) FROM "rooms" WHERE "org" = $1 AND "deletedAt" IS NULL
-- values: [String(Some("acme"))]

-- exists
SELECT "id" FROM "rooms" WHERE "id" = $1 LIMIT $2
-- values: [String(Some("01890000-0000-7000-8000-000000000001")), BigUnsigned(Some(1))]

-- insert
INSERT INTO "rooms" ("id", "status", "priority", "org", "createdAt", "modifiedAt") VALUES ($1, $2, $3, $4, $5, $6)
-- values: [String(Some("01890000-0000-7000-8000-000000000001")), String(Some("open")), BigInt(Some(3)), String(Some("acme")), String(Some("2026-01-01T00:00:00.000Z")), String(Some("2026-01-01T00:00:00.000Z"))]

-- insert returning
INSERT INTO "rooms" ("id", "status", "priority", "org", "createdAt", "modifiedAt") VALUES ($1, $2, $3, $4, $5, $6) RETURNING "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy"
-- values: [String(Some("01890000-0000-7000-8000-000000000001")), String(Some("open")), BigInt(Some(3)), String(Some("acme")), String(Some("2026-01-01T00:00:00.000Z")), String(Some("2026-01-01T00:00:00.000Z"))]

-- insert if new (upsert)
INSERT INTO "rooms" ("id", "status", "priority", "org", "createdAt", "modifiedAt") VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT ("id") DO NOTHING RETURNING "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy"
-- values: [String(Some("01890000-0000-7000-8000-000000000001")), String(Some("open")), BigInt(Some(3)), String(Some("acme")), String(Some("2026-01-01T00:00:00.000Z")), String(Some("2026-01-01T00:00:00.000Z"))]

-- update
UPDATE "rooms" SET "status" = $1, "modifiedAt" = $2 WHERE "org" = $3 AND "deletedAt" IS NULL AND "ownerId" = $4 AND "id" = $5
-- values: [String(Some("closed")), String(Some("2026-01-02T00:00:00.000Z")), String(Some("acme")), String(Some("m")), String(Some("01890000-0000-7000-8000-000000000001"))]

-- update returning
UPDATE "rooms" SET "status" = $1, "modifiedAt" = $2 WHERE "org" = $3 AND "deletedAt" IS NULL AND "ownerId" = $4 AND "id" = $5 RETURNING "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy"
-- values: [String(Some("closed")), String(Some("2026-01-02T00:00:00.000Z")), String(Some("acme")), String(Some("m")), String(Some("01890000-0000-7000-8000-000000000001"))]

-- update where (cascade)
UPDATE "rooms" SET "status" = $1, "modifiedAt" = $2 WHERE "org" = $3 AND "deletedAt" IS NULL
-- values: [String(Some("closed")), String(Some("2026-01-02T00:00:00.000Z")), String(Some("acme"))]

-- delete
DELETE FROM "rooms" WHERE "org" = $1 AND "deletedAt" IS NULL AND "ownerId" = $2 AND "id" = $3
-- values: [String(Some("acme")), String(Some("m")), String(Some("01890000-0000-7000-8000-000000000001"))]

-- ids of related rows
SELECT "id" FROM "rooms" WHERE "id" = $1
-- values: [String(Some("01890000-0000-7000-8000-000000000002"))]

-- first children per parent
SELECT "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy" FROM (SELECT "id", "status", "priority", "ownerId", "org", "createdAt", "createdBy", "modifiedAt", "modifiedBy", "deletedAt", "deletedBy", COUNT(*) OVER ( PARTITION BY "ownerId" ORDER BY "createdAt" DESC, "id" DESC ROWS UNBOUNDED PRECEDING ) AS "_ward_rank" FROM "rooms" WHERE "org" = $1 AND "deletedAt" IS NULL) AS "_ward_page" WHERE "_ward_rank" <= $2 ORDER BY "ownerId" ASC, "_ward_rank" ASC
-- values: [String(Some("acme")), BigInt(Some(5))]

-- create table
CREATE TABLE "rooms" ( "id" uuid NOT NULL PRIMARY KEY, "status" text COLLATE "C", "priority" bigint, "ownerId" text COLLATE "C", "org" text COLLATE "C", "createdAt" timestamp with time zone NOT NULL, "createdBy" text COLLATE "C", "modifiedAt" timestamp with time zone NOT NULL, "modifiedBy" text COLLATE "C", "deletedAt" timestamp with time zone, "deletedBy" text COLLATE "C" )

-- create index
CREATE INDEX IF NOT EXISTS "ix_rooms_org" ON "rooms" ("org")

-- create unique index within the scope
CREATE UNIQUE INDEX IF NOT EXISTS "ux_rooms_org_status" ON "rooms" ("org", "status")

-- drop index
DROP INDEX IF EXISTS "ux_rooms_status"

-- list tables
SELECT CAST("table_name" AS text) FROM "information_schema"."tables" WHERE "table_schema" = current_schema() AND "table_type" = $1 ORDER BY "table_name" ASC
-- values: [String(Some("BASE TABLE"))]

-- list indexes
SELECT CAST("indexname" AS text), CAST("tablename" AS text) FROM "pg_catalog"."pg_indexes" WHERE "schemaname" = current_schema()

-- live columns
SELECT CAST("column_name" AS text), CAST("data_type" AS text), "is_nullable" = $1 FROM "information_schema"."columns" WHERE "table_schema" = current_schema() AND "table_name" = $2 ORDER BY "ordinal_position" ASC
-- values: [String(Some("NO")), String(Some("rooms"))]

-- live unique constraints
SELECT CAST("constraint_name" AS text) FROM "information_schema"."table_constraints" WHERE "table_schema" = current_schema() AND "table_name" = $1 AND "constraint_type" = $2
-- values: [String(Some("rooms")), String(Some("UNIQUE"))]

-- savepoint, release, rollback to
SAVEPOINT ward_record
RELEASE SAVEPOINT ward_record
ROLLBACK TO SAVEPOINT ward_record; RELEASE SAVEPOINT ward_record

-- create the change log
CREATE TABLE IF NOT EXISTS "_ward_changes" ( "tbl" TEXT NOT NULL, "seq" bigint NOT NULL, "op" TEXT NOT NULL, "row_id" TEXT NOT NULL, "at" TEXT NOT NULL, "actor" TEXT, "role" TEXT, "request" TEXT, "before" TEXT, "after" TEXT, PRIMARY KEY ("tbl", "seq") )

-- create the change log
CREATE INDEX IF NOT EXISTS "ix__ward_changes_row" ON "_ward_changes" ("tbl", "row_id", "seq")

-- create the change log
CREATE TABLE IF NOT EXISTS "_ward_change_erased" ( "tbl" TEXT NOT NULL PRIMARY KEY, "seq" bigint NOT NULL )

-- create the change log
CREATE TABLE IF NOT EXISTS "_ward_change_inbox" ( "id" bigint GENERATED BY DEFAULT AS IDENTITY NOT NULL PRIMARY KEY, "tbl" TEXT NOT NULL, "op" TEXT NOT NULL, "row_id" TEXT NOT NULL, "at" TEXT NOT NULL, "actor" TEXT, "role" TEXT, "request" TEXT, "before" TEXT, "after" TEXT )

-- create the change log
CREATE SEQUENCE IF NOT EXISTS "_ward_change_numbers"

-- create the change log
SELECT setval('"_ward_change_numbers"', max(seq)) FROM "_ward_changes" HAVING max(seq) >= (SELECT last_value FROM "_ward_change_numbers")

-- record a change
INSERT INTO "_ward_change_inbox" ("tbl", "op", "row_id", "at", "actor", "role", "request", "before", "after") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
-- values: [String(Some("rooms")), String(Some("update")), String(Some("00000000-0000-4000-8000-000000000001")), String(Some("2026-01-01T00:00:00.000Z")), String(Some("u1")), String(Some("member")), String(None), String(Some("{}")), String(None)]

-- versions of a row
SELECT "tbl", "seq", "op", "row_id", "at", "actor", "role", "request", "before", "after" FROM "_ward_changes" WHERE "tbl" = $1 AND "row_id" = $2 AND "seq" < $3 ORDER BY "seq" DESC LIMIT $4
-- values: [String(Some("rooms")), String(Some("r1")), BigInt(Some(9)), BigUnsigned(Some(21))]

-- changes of a table since a seq
SELECT "tbl", "seq", "op", "row_id", "at", "actor", "role", "request", "before", "after" FROM "_ward_changes" WHERE "tbl" = $1 AND "seq" > $2 AND "seq" <= $3 ORDER BY "seq" ASC LIMIT $4
-- values: [String(Some("rooms")), BigInt(Some(7)), BigInt(Some(12)), BigUnsigned(Some(500))]

-- where a table's log stands
SELECT (SELECT MAX("seq") FROM "_ward_changes" WHERE "tbl" = $1), (SELECT "seq" FROM "_ward_change_erased" WHERE "tbl" = $2)
-- values: [String(Some("rooms")), String(Some("rooms"))]

-- the highest seq a purge erases
SELECT MAX("seq") FROM (SELECT "seq" FROM "_ward_changes" WHERE "tbl" = $1 AND "at" < $2 ORDER BY "seq" ASC LIMIT $3) AS "erasing"
-- values: [String(Some("rooms")), String(Some("2026-01-01T00:00:00.000Z")), BigUnsigned(Some(500))]

-- erase a purge's batch
DELETE FROM "_ward_changes" WHERE "tbl" = $1 AND "seq" IN (SELECT "seq" FROM "_ward_changes" WHERE "tbl" = $2 AND "at" < $3 ORDER BY "seq" ASC LIMIT $4)
-- values: [String(Some("rooms")), String(Some("rooms")), String(Some("2026-01-01T00:00:00.000Z")), BigUnsigned(Some(500))]

-- mark a seq erased
INSERT INTO "_ward_change_erased" ("tbl", "seq") VALUES ($1, $2) ON CONFLICT ("tbl") DO UPDATE SET "seq" = "excluded"."seq" WHERE "_ward_change_erased"."seq" < "excluded"."seq"
-- values: [String(Some("rooms")), BigInt(Some(41))]

-- is a record waiting
SELECT "id" FROM "_ward_change_inbox" LIMIT $1
-- values: [BigUnsigned(Some(1))]

-- take the numbering lock
SELECT pg_advisory_xact_lock($1, $2)
-- values: [Int(Some(2003985518)), Int(Some(0))]

-- number committed records
WITH "moved" AS (DELETE FROM "_ward_change_inbox" WHERE "id" IN (SELECT "id" FROM "_ward_change_inbox" ORDER BY "id" LIMIT $1) RETURNING *) INSERT INTO "_ward_changes" ("seq", "tbl", "op", "row_id", "at", "actor", "role", "request", "before", "after") SELECT nextval('"_ward_change_numbers"'), "m"."tbl", "m"."op", "m"."row_id", "m"."at", "m"."actor", "m"."role", "m"."request", "m"."before", "m"."after" FROM (SELECT * FROM "moved" ORDER BY "id") AS "m"
-- values: [BigInt(Some(5000))]

-- announce the logs that grew
SELECT pg_notify($1, $2), pg_notify($3, $4)
-- values: [String(Some("ward_changes")), String(Some("rooms")), String(Some("ward_changes")), String(Some("notes"))]

-- insert many
INSERT INTO "rooms" ("id", "status", "priority", "org", "createdAt", "modifiedAt") VALUES ($1, $2, $3, $4, $5, $6)
-- values: [String(Some("01890000-0000-7000-8000-000000000001")), String(Some("open")), BigInt(Some(3)), String(Some("acme")), String(Some("2026-01-01T00:00:00.000Z")), String(Some("2026-01-01T00:00:00.000Z"))]

-- uuid eq malformed
SELECT COUNT(*) FROM "rooms" WHERE "id" <> "id"

-- uuid ne malformed
SELECT COUNT(*) FROM "rooms" WHERE "id" = "id"

-- uuid in malformed only
SELECT COUNT(*) FROM "rooms" WHERE "id" <> "id"

-- uuid in malformed and valid
SELECT COUNT(*) FROM "rooms" WHERE "id" IN ($1)
-- values: [String(Some("01890000-0000-7000-8000-000000000001"))]

-- uuid not-in malformed only
SELECT COUNT(*) FROM "rooms" WHERE "id" = "id"

-- uuid not-in malformed and valid
SELECT COUNT(*) FROM "rooms" WHERE "id" NOT IN ($1)
-- values: [String(Some("01890000-0000-7000-8000-000000000001"))]

-- uuid like
SELECT COUNT(*) FROM "rooms" WHERE LOWER(CAST("id" AS text)) LIKE $1 ESCAPE E'\\'
-- values: [String(Some("%0189%"))]

-- integer eq text
SELECT COUNT(*) FROM "rooms" WHERE "priority" <> "priority"

-- integer eq integer
SELECT COUNT(*) FROM "rooms" WHERE "priority" = $1
-- values: [BigInt(Some(3))]

-- text eq integer
SELECT COUNT(*) FROM "rooms" WHERE "status" <> "status"

-- text eq boolean
SELECT COUNT(*) FROM "rooms" WHERE "status" <> "status"

-- text like escaped
SELECT COUNT(*) FROM "rooms" WHERE LOWER("status") LIKE $1 ESCAPE E'\\'
-- values: [String(Some("%ab\\%\\_%"))]

-- text like a number
SELECT COUNT(*) FROM "rooms" WHERE $1
-- values: [Bool(Some(false))]

-- datetime lt a date
SELECT COUNT(*) FROM "rooms" WHERE $1
-- values: [Bool(None)]

-- datetime lt a datetime
SELECT COUNT(*) FROM "rooms" WHERE "createdAt" < $1
-- values: [String(Some("2026-01-01T00:00:00.000Z"))]

-- datetime like
SELECT COUNT(*) FROM "rooms" WHERE LOWER(to_char(timezone($1, "createdAt"), $2)) LIKE $3 ESCAPE E'\\'
-- values: [String(Some("UTC")), String(Some("YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"")), String(Some("%2026-01%"))]

-- date lt a datetime
SELECT COUNT(*) FROM "rooms" WHERE "dueOn" <= $1
-- values: [String(Some("2026-03-04"))]

-- date lte a datetime
SELECT COUNT(*) FROM "rooms" WHERE "dueOn" <= $1
-- values: [String(Some("2026-03-04"))]

-- date gt a datetime
SELECT COUNT(*) FROM "rooms" WHERE "dueOn" > $1
-- values: [String(Some("2026-03-04"))]

-- date gt nonsense
SELECT COUNT(*) FROM "rooms" WHERE $1
-- values: [Bool(None)]

-- date eq a date
SELECT COUNT(*) FROM "rooms" WHERE "dueOn" = $1
-- values: [String(Some("2026-03-04"))]

-- date eq a datetime
SELECT COUNT(*) FROM "rooms" WHERE "dueOn" <> "dueOn"

-- date like
SELECT COUNT(*) FROM "rooms" WHERE LOWER(to_char("dueOn", $1)) LIKE $2 ESCAPE E'\\'
-- values: [String(Some("YYYY-MM-DD")), String(Some("%03-04%"))]

-- any of nothing
SELECT COUNT(*) FROM "rooms" WHERE $1
-- values: [Bool(Some(false))]

-- all of nothing
SELECT COUNT(*) FROM "rooms" WHERE TRUE

-- any of two
SELECT COUNT(*) FROM "rooms" WHERE "priority" = $1 OR "priority" = $2
-- values: [BigInt(Some(1)), BigInt(Some(2))]

-- drop a legacy unique constraint
ALTER TABLE "rooms" DROP CONSTRAINT "rooms_status_key"

