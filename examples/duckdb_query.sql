-- Query a cxrshard output folder with DuckDB, no code:  duckdb -c ".read examples/duckdb_query.sql"
-- (run from the output folder, or replace 'data/*.parquet' with OUTPUT/data/*.parquet).
-- Rows per split, images with fewer than 20 ribs, and the label histogram.
SELECT split, count(*) AS rows FROM 'data/*.parquet' GROUP BY split ORDER BY split;

SELECT split, image_id, len(labels_present) AS ribs
FROM 'data/*.parquet' WHERE len(labels_present) < 20 ORDER BY split, image_id;

SELECT label, count(*) AS images
FROM (SELECT unnest(labels_present) AS label FROM 'data/*.parquet') GROUP BY label ORDER BY label;
