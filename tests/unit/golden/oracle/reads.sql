-- integer key: bounds
SELECT "TS_K0" FROM (SELECT "ID" AS "TS_K0", row_number() OVER (ORDER BY "ID") AS ts_rn FROM "DBO"."ORDERS") AS numbered WHERE ts_rn > 1 AND mod(ts_rn - 1, ?) = 0 ORDER BY ts_rn
-- integer key: a middle window, from [10]
SELECT "ID", "V" FROM "DBO"."ORDERS" WHERE "ID" >= ? ORDER BY "ID"
-- uniqueidentifier key: bounds
SELECT "TS_K0" FROM (SELECT "ID" AS "TS_K0", row_number() OVER (ORDER BY "ID") AS ts_rn FROM "DBO"."DEVICES") AS numbered WHERE ts_rn > 1 AND mod(ts_rn - 1, ?) = 0 ORDER BY ts_rn
-- uniqueidentifier key: a middle window, from [b'\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00']
SELECT "ID", "V" FROM "DBO"."DEVICES" WHERE "ID" >= ? ORDER BY "ID"
-- string key: bounds
SELECT "TS_K0" FROM (SELECT "K" AS "TS_K0", row_number() OVER (ORDER BY "K") AS ts_rn FROM "DBO"."CODES") AS numbered WHERE ts_rn > 1 AND mod(ts_rn - 1, ?) = 0 ORDER BY ts_rn
-- string key: a middle window, from ['m']
SELECT "K", "V" FROM "DBO"."CODES" WHERE "K" >= ? ORDER BY "K"
-- composite key: bounds
SELECT "TS_K0", "TS_K1", "TS_K2" FROM (SELECT "order" AS "TS_K0", "SKU" AS "TS_K1", "DAY" AS "TS_K2", row_number() OVER (ORDER BY "order", "SKU", "DAY") AS ts_rn FROM "SALES"."order lines") AS numbered WHERE ts_rn > 1 AND mod(ts_rn - 1, ?) = 0 ORDER BY ts_rn
-- composite key: a middle window, from [3, 3, 'AB', 3, 'AB', datetime.datetime(2024, 1, 31, 0, 0)]
SELECT "order", "SKU", "DAY", "QTY" FROM "SALES"."order lines" WHERE (("order" > ?) OR ("order" = ? AND "SKU" > ?) OR ("order" = ? AND "SKU" = ? AND "DAY" >= ?)) ORDER BY "order", "SKU", "DAY"
