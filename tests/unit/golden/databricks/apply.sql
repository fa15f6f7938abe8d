SET TIME ZONE 'UTC'
CREATE SCHEMA IF NOT EXISTS `_targetsync`
CREATE TABLE IF NOT EXISTS `_targetsync`.`applied` (run_id STRING NOT NULL, file_no BIGINT NOT NULL, records BIGINT NOT NULL, applied_at DOUBLE NOT NULL, CONSTRAINT ts_applied_pk PRIMARY KEY (run_id, file_no))
CREATE TABLE IF NOT EXISTS `_targetsync`.`lease` (name STRING NOT NULL, holder STRING NOT NULL, host STRING NOT NULL, pid BIGINT NOT NULL, expires_at DOUBLE NOT NULL, version BIGINT NOT NULL, CONSTRAINT ts_lease_pk PRIMARY KEY (name))
MERGE INTO `_targetsync`.`lease` AS l USING (SELECT 'loader' AS name) AS s ON l.name = s.name WHEN NOT MATCHED THEN INSERT (name, holder, host, pid, expires_at, version) VALUES ('loader', '', '', 0, 0, 0)
SELECT holder, host, pid, expires_at, version FROM `_targetsync`.`lease` WHERE name = 'loader'
UPDATE `_targetsync`.`lease` SET holder = ?, host = ?, pid = ?, expires_at = ?, version = version + 1 WHERE name = 'loader' AND version = ?
SELECT holder, host, pid, expires_at, version FROM `_targetsync`.`lease` WHERE name = 'loader'
UPDATE `_targetsync`.`lease` SET holder = ?, host = ?, pid = ?, expires_at = ?, version = version + 1 WHERE name = 'loader' AND version = ?
SELECT 1 FROM `_targetsync`.`applied` WHERE run_id = ? AND file_no = ?
SET TIME ZONE 'UTC'
SELECT column_name, full_data_type, is_nullable FROM information_schema.columns WHERE lower(table_schema) = lower(?) AND lower(table_name) = lower(?) ORDER BY ordinal_position
SELECT k.column_name FROM information_schema.table_constraints AS c JOIN information_schema.key_column_usage AS k ON k.constraint_schema = c.constraint_schema AND k.constraint_name = c.constraint_name WHERE c.constraint_type = 'PRIMARY KEY' AND lower(c.table_schema) = lower(?) AND lower(c.table_name) = lower(?) ORDER BY k.ordinal_position
CREATE OR REPLACE TABLE `_targetsync`.`order lines_wkm5bfb27a2` (`__op` STRING, `__grp` INT, `order` int, `sku` string, `day` date, `qty` decimal(9,2)) TBLPROPERTIES ('delta.columnMapping.mode' = 'name', 'delta.minReaderVersion' = '2', 'delta.minWriterVersion' = '5')
TRUNCATE TABLE `_targetsync`.`order lines_wkm5bfb27a2`
COPY INTO `_targetsync`.`order lines_wkm5bfb27a2` FROM (SELECT CAST(c0 AS STRING) AS `__op`, CAST(c1 AS INT) AS `__grp`, CAST(c2 AS int) AS `order`, CAST(c3 AS string) AS `sku`, CAST(c4 AS date) AS `day`, CAST(c5 AS decimal(9,2)) AS `qty` FROM 's3://bkt/stage/targetsync/run/000000/sales.order_lines-5bfb27a2/') FILEFORMAT = JSON FILES = ('b00000.json') FORMAT_OPTIONS ('primitivesAsString' = 'true', 'mode' = 'FAILFAST') COPY_OPTIONS ('force' = 'true')
DELETE FROM `sales`.`order lines` WHERE EXISTS(SELECT 1 FROM `_targetsync`.`order lines_wkm5bfb27a2` AS ts_w WHERE ts_w.`__op` = 'D' AND `sales`.`order lines`.`order` = ts_w.`order` AND `sales`.`order lines`.`sku` = ts_w.`sku` AND `sales`.`order lines`.`day` = ts_w.`day`)
MERGE INTO `sales`.`order lines` AS ts_t USING (SELECT `order`, `sku`, `day`, `qty` FROM `_targetsync`.`order lines_wkm5bfb27a2` WHERE `__op` = 'I') AS ts_w ON (ts_t.`order` = ts_w.`order` AND ts_t.`sku` = ts_w.`sku` AND ts_t.`day` = ts_w.`day`) WHEN MATCHED THEN UPDATE SET `qty` = ts_w.`qty` WHEN NOT MATCHED THEN INSERT (`order`, `sku`, `day`, `qty`) VALUES (ts_w.`order`, ts_w.`sku`, ts_w.`day`, ts_w.`qty`)
MERGE INTO `sales`.`order lines` AS ts_t USING (SELECT `order`, `sku`, `day`, `qty` FROM `_targetsync`.`order lines_wkm5bfb27a2` WHERE `__op` = 'U' AND `__grp` = 0) AS ts_w ON (ts_t.`order` = ts_w.`order` AND ts_t.`sku` = ts_w.`sku` AND ts_t.`day` = ts_w.`day`) WHEN MATCHED THEN UPDATE SET `qty` = ts_w.`qty`
MERGE INTO `_targetsync`.`applied` AS a USING (SELECT CAST(? AS STRING) AS run_id, CAST(? AS BIGINT) AS file_no, CAST(? AS BIGINT) AS records, CAST(? AS DOUBLE) AS applied_at FROM `_targetsync`.`lease` WHERE name = 'loader' AND holder = ?) AS r ON a.run_id = r.run_id AND a.file_no = r.file_no WHEN NOT MATCHED THEN INSERT (run_id, file_no, records, applied_at) VALUES (r.run_id, r.file_no, r.records, r.applied_at)
UPDATE `_targetsync`.`lease` SET holder = '', expires_at = 0, version = version + 1 WHERE name = 'loader' AND holder = ?
TRUNCATE TABLE `_targetsync`.`order lines_wkm5bfb27a2`
