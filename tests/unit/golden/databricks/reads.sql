-- integer key: bounds
SELECT `ts_k0` FROM (SELECT `id` AS `ts_k0`, row_number() OVER (ORDER BY `id`) AS ts_rn FROM `dbo`.`orders`) AS numbered WHERE ts_rn > 1 AND mod(ts_rn - 1, ?) = 0 ORDER BY ts_rn
-- integer key: a middle window, from [10]
SELECT `id`, `v` FROM `dbo`.`orders` WHERE `id` >= ? ORDER BY `id`
-- uniqueidentifier key: bounds
SELECT `ts_k0` FROM (SELECT `id` AS `ts_k0`, row_number() OVER (ORDER BY `id`) AS ts_rn FROM `dbo`.`devices`) AS numbered WHERE ts_rn > 1 AND mod(ts_rn - 1, ?) = 0 ORDER BY ts_rn
-- uniqueidentifier key: a middle window, from ['80000000-0000-0000-0000-000000000000']
SELECT `id`, `v` FROM `dbo`.`devices` WHERE `id` >= ? ORDER BY `id`
-- string key: bounds
SELECT `ts_k0` FROM (SELECT `k` AS `ts_k0`, row_number() OVER (ORDER BY `k`) AS ts_rn FROM `dbo`.`codes`) AS numbered WHERE ts_rn > 1 AND mod(ts_rn - 1, ?) = 0 ORDER BY ts_rn
-- string key: a middle window, from ['m']
SELECT `k`, `v` FROM `dbo`.`codes` WHERE `k` >= ? ORDER BY `k`
-- composite key: bounds
SELECT `ts_k0`, `ts_k1`, `ts_k2` FROM (SELECT `order` AS `ts_k0`, `sku` AS `ts_k1`, `day` AS `ts_k2`, row_number() OVER (ORDER BY `order`, `sku`, `day`) AS ts_rn FROM `sales`.`order lines`) AS numbered WHERE ts_rn > 1 AND mod(ts_rn - 1, ?) = 0 ORDER BY ts_rn
-- composite key: a middle window, from [3, 3, 'AB', 3, 'AB', datetime.date(2024, 1, 31)]
SELECT `order`, `sku`, `day`, `qty` FROM `sales`.`order lines` WHERE ((`order` > ?) OR (`order` = ? AND `sku` > ?) OR (`order` = ? AND `sku` = ? AND `day` >= ?)) ORDER BY `order`, `sku`, `day`
-- a table's columns
SELECT column_name, full_data_type, is_nullable FROM information_schema.columns WHERE lower(table_schema) = lower(?) AND lower(table_name) = lower(?) ORDER BY ordinal_position
-- its primary key
SELECT k.column_name FROM information_schema.table_constraints AS c JOIN information_schema.key_column_usage AS k ON k.constraint_schema = c.constraint_schema AND k.constraint_name = c.constraint_name WHERE c.constraint_type = 'PRIMARY KEY' AND lower(c.table_schema) = lower(?) AND lower(c.table_name) = lower(?) ORDER BY k.ordinal_position
