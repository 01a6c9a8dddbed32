-- Issue 18: what a map's clusters read instead of every point of a view. For each place, at
-- each level L of `place_levels`, the cell of side 2^-L degree holding it (cy, cx: the floors
-- of (lat + 90) * 2^L and (lon + 180) * 2^L) counts it and sums its point in whole units of
-- 10^-7 degree (offset to stay positive), so a view of a city reads a few hundred cells. Kept
-- by triggers on `module_places`, so every way a place comes, moves or goes (a document
-- deleted, a module's data purged) keeps them right. Same arithmetic as SQLite's triggers.
CREATE TABLE place_levels (
    level INTEGER PRIMARY KEY,
    scale DOUBLE PRECISION NOT NULL
);
INSERT INTO place_levels (level, scale) VALUES
    (4, 16.0), (5, 32.0), (6, 64.0), (7, 128.0), (8, 256.0),
    (9, 512.0), (10, 1024.0), (11, 2048.0), (12, 4096.0), (13, 8192.0);

CREATE TABLE module_place_cells (
    tenant_id BIGINT NOT NULL,
    module_id TEXT NOT NULL,
    collection TEXT NOT NULL,
    level INTEGER NOT NULL,
    cy BIGINT NOT NULL,
    cx BIGINT NOT NULL,
    n BIGINT NOT NULL,
    sum_lat BIGINT NOT NULL,
    sum_lon BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, module_id, collection, level, cy, cx)
);

-- The triggers work per statement on its transition tables, grouped by cell: a bulk insert,
-- a module's data purged, a cascade from deleted documents each touch a cell once.
CREATE FUNCTION parvis_place_cells_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO module_place_cells (tenant_id, module_id, collection, level, cy, cx, n, sum_lat, sum_lon)
    SELECT p.tenant_id, p.module_id, p.collection, l.level,
           floor((p.lat + 90) * l.scale)::bigint, floor((p.lon + 180) * l.scale)::bigint,
           COUNT(*), SUM(floor((p.lat + 90) * 10000000.0::float8)::bigint)::bigint,
           SUM(floor((p.lon + 180) * 10000000.0::float8)::bigint)::bigint
    FROM new_rows p CROSS JOIN place_levels l
    GROUP BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (tenant_id, module_id, collection, level, cy, cx) DO UPDATE SET
        n = module_place_cells.n + excluded.n,
        sum_lat = module_place_cells.sum_lat + excluded.sum_lat,
        sum_lon = module_place_cells.sum_lon + excluded.sum_lon;
    RETURN NULL;
END;
$$;

CREATE FUNCTION parvis_place_cells_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH gone AS (
        SELECT p.tenant_id, p.module_id, p.collection, l.level,
               floor((p.lat + 90) * l.scale)::bigint AS cy, floor((p.lon + 180) * l.scale)::bigint AS cx,
               COUNT(*) AS n, SUM(floor((p.lat + 90) * 10000000.0::float8)::bigint)::bigint AS sum_lat,
               SUM(floor((p.lon + 180) * 10000000.0::float8)::bigint)::bigint AS sum_lon
        FROM old_rows p CROSS JOIN place_levels l
        GROUP BY 1, 2, 3, 4, 5, 6
    )
    UPDATE module_place_cells c SET
        n = c.n - gone.n, sum_lat = c.sum_lat - gone.sum_lat, sum_lon = c.sum_lon - gone.sum_lon
    FROM gone
    WHERE c.tenant_id = gone.tenant_id AND c.module_id = gone.module_id
      AND c.collection = gone.collection AND c.level = gone.level
      AND c.cy = gone.cy AND c.cx = gone.cx;
    DELETE FROM module_place_cells c
    USING (SELECT DISTINCT p.tenant_id, p.module_id, p.collection, l.level,
                  floor((p.lat + 90) * l.scale)::bigint AS cy, floor((p.lon + 180) * l.scale)::bigint AS cx
           FROM old_rows p CROSS JOIN place_levels l) gone
    WHERE c.tenant_id = gone.tenant_id AND c.module_id = gone.module_id
      AND c.collection = gone.collection AND c.level = gone.level
      AND c.cy = gone.cy AND c.cx = gone.cx AND c.n = 0;
    RETURN NULL;
END;
$$;

CREATE TRIGGER module_places_cells_in AFTER INSERT ON module_places
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_place_cells_add();
CREATE TRIGGER module_places_cells_out AFTER DELETE ON module_places
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_place_cells_remove();
-- A move is an addition to the new cells and a removal from the old ones: two triggers on
-- the same statement, each reading its own transition table (in either order the counts end
-- the same). `INSERT … ON CONFLICT DO UPDATE` fires both the INSERT triggers (the rows it
-- inserted) and these (the rows it updated).
CREATE TRIGGER module_places_cells_move_out AFTER UPDATE ON module_places
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_place_cells_remove();
CREATE TRIGGER module_places_cells_move_in AFTER UPDATE ON module_places
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION parvis_place_cells_add();

-- The places already there.
INSERT INTO module_place_cells (tenant_id, module_id, collection, level, cy, cx, n, sum_lat, sum_lon)
SELECT p.tenant_id, p.module_id, p.collection, l.level,
       floor((p.lat + 90) * l.scale)::bigint, floor((p.lon + 180) * l.scale)::bigint,
       COUNT(*), SUM(floor((p.lat + 90) * 10000000.0::float8)::bigint)::bigint,
       SUM(floor((p.lon + 180) * 10000000.0::float8)::bigint)::bigint
FROM module_places p, place_levels l
GROUP BY 1, 2, 3, 4, 5, 6;

SELECT parvis_isolate_tenant('module_place_cells');
