-- create shadow
CREATE TABLE "sales"."_targetsync_order lines_wkm0" ("__op" TEXT NULL, "__grp" INTEGER NULL, "order_id" bigint NULL, "qty" numeric(12, 3) NULL)
-- empty shadow
DELETE FROM "sales"."_targetsync_order lines_wkm0" WHERE TRUE
-- copy from s3
COPY INTO "sales"."_targetsync_order lines_wkm0" ("__op" $1, "__grp" $2, "order_id" $3, "line" $4, "qty" $5, "say ""hi""" $6, "Note" $7) FROM 's3://bucket/p/targetsync/run/000001/sales.order_lines-1a2b/00001.csv' WITH TYPE = CSV HEADER = FALSE NULL_STRING = '\N' EMPTY_FIELD_AS_NULL = FALSE MAX_ERRORS_PER_FILE = 0 AUTO_CREATE = FALSE CREDENTIALS = (AWS_KEY_ID = 'AKIAEXAMPLE' AWS_SECRET_KEY = 'secret-example')
-- delete (D and I keys)
DELETE FROM "sales"."order lines" AS ts_t USING "sales"."_targetsync_order lines_wkm0" AS ts_w WHERE ts_w."__op" IN ('D', 'I') AND ts_t."order_id" = ts_w."order_id" AND ts_t."line" = ts_w."line"
-- insert (I rows)
INSERT INTO "sales"."order lines" ("order_id", "line", "qty", "say ""hi""", "Note") SELECT "order_id", "line", "qty", "say ""hi""", "Note" FROM "sales"."_targetsync_order lines_wkm0" WHERE "__op" = 'I'
-- U rows that find their row
SELECT count(*) FROM "sales"."_targetsync_order lines_wkm0" AS ts_w JOIN "sales"."order lines" AS ts_t ON ts_t."order_id" = ts_w."order_id" AND ts_t."line" = ts_w."line" WHERE ts_w."__op" = 'U'
-- update group 0 (qty)
UPDATE "sales"."order lines" AS ts_t SET "qty" = ts_w."qty" FROM "sales"."_targetsync_order lines_wkm0" AS ts_w WHERE ts_w."__op" = 'U' AND ts_w."__grp" = 0 AND ts_t."order_id" = ts_w."order_id" AND ts_t."line" = ts_w."line"
-- update group 1 (two columns)
UPDATE "sales"."order lines" AS ts_t SET "say ""hi""" = ts_w."say ""hi""", "Note" = ts_w."Note" FROM "sales"."_targetsync_order lines_wkm0" AS ts_w WHERE ts_w."__op" = 'U' AND ts_w."__grp" = 1 AND ts_t."order_id" = ts_w."order_id" AND ts_t."line" = ts_w."line"
-- drop shadow
DROP TABLE IF EXISTS "sales"."_targetsync_order lines_wkm0"
-- c.sql
CREATE TABLE IF NOT EXISTS "sales"."order lines" (
    "order_id" BIGINT NOT NULL,
    "line" INTEGER NOT NULL,
    "qty" NUMERIC(12, 3) NULL,
    "say ""hi""" TEXT NULL,
    "Note" TEXT NULL,
    "at" TIMESTAMPTZ NULL,
    "id" TEXT NULL,
    "blob" BYTEA NULL,
    "f" REAL NULL,
    "ok" BOOLEAN NULL
) PRIMARY INDEX "order_id", "line";
-- i.sql
-- Firebolt: each table's key is its PRIMARY INDEX, declared in c.sql; it enforces no uniqueness (targetsync's apply keeps one row a key)
-- f.sql
-- Firebolt has no foreign keys
-- d.sql
DROP TABLE IF EXISTS "sales"."order lines";
