-- integer key: bounds
SELECT [ts_k0] FROM (SELECT [id] AS [ts_k0], row_number() OVER (ORDER BY [id]) AS ts_rn FROM [dbo].[orders]) AS numbered WHERE ts_rn > 1 AND (ts_rn - 1) % ? = 0 ORDER BY ts_rn
-- integer key: a middle window, from [10]
SELECT [id], [v] FROM [dbo].[orders] WHERE [id] >= ? ORDER BY [id]
-- uniqueidentifier key: bounds
SELECT [ts_k0] FROM (SELECT [id] AS [ts_k0], row_number() OVER (ORDER BY CONVERT(char(36), [id]) COLLATE Latin1_General_100_BIN2) AS ts_rn FROM [dbo].[devices]) AS numbered WHERE ts_rn > 1 AND (ts_rn - 1) % ? = 0 ORDER BY ts_rn
-- uniqueidentifier key: a middle window, from ['80000000-0000-0000-0000-000000000000']
SELECT [id], [v] FROM [dbo].[devices] WHERE CONVERT(char(36), [id]) COLLATE Latin1_General_100_BIN2 >= ? ORDER BY CONVERT(char(36), [id]) COLLATE Latin1_General_100_BIN2
-- string key: bounds
SELECT [ts_k0] FROM (SELECT [k] AS [ts_k0], row_number() OVER (ORDER BY CAST([k] COLLATE Latin1_General_100_BIN2_UTF8 AS varchar(max)) COLLATE Latin1_General_100_BIN2_UTF8) AS ts_rn FROM [dbo].[codes]) AS numbered WHERE ts_rn > 1 AND (ts_rn - 1) % ? = 0 ORDER BY ts_rn
-- string key: a middle window, from ['m']
SELECT [k], [v] FROM [dbo].[codes] WHERE CAST([k] COLLATE Latin1_General_100_BIN2_UTF8 AS varchar(max)) COLLATE Latin1_General_100_BIN2_UTF8 >= ? ORDER BY CAST([k] COLLATE Latin1_General_100_BIN2_UTF8 AS varchar(max)) COLLATE Latin1_General_100_BIN2_UTF8
-- composite key: bounds
SELECT [ts_k0], [ts_k1], [ts_k2] FROM (SELECT [order] AS [ts_k0], [sku] AS [ts_k1], [day] AS [ts_k2], row_number() OVER (ORDER BY [order], CAST([sku] COLLATE Latin1_General_100_BIN2_UTF8 AS varchar(max)) COLLATE Latin1_General_100_BIN2_UTF8, [day]) AS ts_rn FROM [sales].[order lines]) AS numbered WHERE ts_rn > 1 AND (ts_rn - 1) % ? = 0 ORDER BY ts_rn
-- composite key: a middle window, from [3, 3, 'AB', 3, 'AB', datetime.date(2024, 1, 31)]
SELECT [order], [sku], [day], [qty] FROM [sales].[order lines] WHERE (([order] > ?) OR ([order] = ? AND CAST([sku] COLLATE Latin1_General_100_BIN2_UTF8 AS varchar(max)) COLLATE Latin1_General_100_BIN2_UTF8 > ?) OR ([order] = ? AND CAST([sku] COLLATE Latin1_General_100_BIN2_UTF8 AS varchar(max)) COLLATE Latin1_General_100_BIN2_UTF8 = ? AND [day] >= ?)) ORDER BY [order], CAST([sku] COLLATE Latin1_General_100_BIN2_UTF8 AS varchar(max)) COLLATE Latin1_General_100_BIN2_UTF8, [day]
