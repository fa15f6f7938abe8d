-- delete
DELETE FROM `sales`.`order lines` WHERE EXISTS(SELECT 1 FROM `#order lines_wkm0` AS ts_w WHERE ts_w.`__op` = 'D' AND `sales`.`order lines`.`order_id` = ts_w.`order_id` AND `sales`.`order lines`.`line` = ts_w.`line`)
-- upsert
MERGE INTO `sales`.`order lines` AS ts_t USING (SELECT `order_id`, `line`, `qty`, `say "hi"`, `Note` FROM `#order lines_wkm0` WHERE `__op` = 'I') AS ts_w ON (ts_t.`order_id` = ts_w.`order_id` AND ts_t.`line` = ts_w.`line`) WHEN MATCHED THEN UPDATE SET `qty` = ts_w.`qty`, `say "hi"` = ts_w.`say "hi"`, `Note` = ts_w.`Note` WHEN NOT MATCHED THEN INSERT (`order_id`, `line`, `qty`, `say "hi"`, `Note`) VALUES (ts_w.`order_id`, ts_w.`line`, ts_w.`qty`, ts_w.`say "hi"`, ts_w.`Note`)
-- update group 0 (qty)
MERGE INTO `sales`.`order lines` AS ts_t USING (SELECT `order_id`, `line`, `qty` FROM `#order lines_wkm0` WHERE `__op` = 'U' AND `__grp` = 0) AS ts_w ON (ts_t.`order_id` = ts_w.`order_id` AND ts_t.`line` = ts_w.`line`) WHEN MATCHED THEN UPDATE SET `qty` = ts_w.`qty`
-- update group 1 (two columns)
MERGE INTO `sales`.`order lines` AS ts_t USING (SELECT `order_id`, `line`, `say "hi"`, `Note` FROM `#order lines_wkm0` WHERE `__op` = 'U' AND `__grp` = 1) AS ts_w ON (ts_t.`order_id` = ts_w.`order_id` AND ts_t.`line` = ts_w.`line`) WHEN MATCHED THEN UPDATE SET `say "hi"` = ts_w.`say "hi"`, `Note` = ts_w.`Note`
-- upsert of a key-only table
MERGE INTO `sales`.`tags` AS ts_t USING (SELECT `tag` FROM `#tags_wkm1` WHERE `__op` = 'I') AS ts_w ON (ts_t.`tag` = ts_w.`tag`) WHEN NOT MATCHED THEN INSERT (`tag`) VALUES (ts_w.`tag`)
