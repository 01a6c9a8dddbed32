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

CREATE FUNCTION parvis_place_cells_leave(t BIGINT, m TEXT, c TEXT, lat DOUBLE PRECISION, lon DOUBLE PRECISION)
RETURNS void LANGUAGE sql AS $$
    UPDATE module_place_cells p SET
        n = p.n - 1,
        sum_lat = p.sum_lat - floor((lat + 90) * 10000000.0::float8)::bigint,
        sum_lon = p.sum_lon - floor((lon + 180) * 10000000.0::float8)::bigint
    FROM place_levels l
    WHERE p.tenant_id = t AND p.module_id = m AND p.collection = c AND p.level = l.level
      AND p.cy = floor((lat + 90) * l.scale)::bigint AND p.cx = floor((lon + 180) * l.scale)::bigint;
    DELETE FROM module_place_cells p USING place_levels l
    WHERE p.tenant_id = t AND p.module_id = m AND p.collection = c AND p.level = l.level
      AND p.cy = floor((lat + 90) * l.scale)::bigint AND p.cx = floor((lon + 180) * l.scale)::bigint
      AND p.n = 0;
$$;

CREATE FUNCTION parvis_place_cells_enter(t BIGINT, m TEXT, c TEXT, lat DOUBLE PRECISION, lon DOUBLE PRECISION)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO module_place_cells (tenant_id, module_id, collection, level, cy, cx, n, sum_lat, sum_lon)
    SELECT t, m, c, l.level, floor((lat + 90) * l.scale)::bigint, floor((lon + 180) * l.scale)::bigint,
           1, floor((lat + 90) * 10000000.0::float8)::bigint, floor((lon + 180) * 10000000.0::float8)::bigint
    FROM place_levels l
    ON CONFLICT (tenant_id, module_id, collection, level, cy, cx) DO UPDATE SET
        n = module_place_cells.n + 1,
        sum_lat = module_place_cells.sum_lat + excluded.sum_lat,
        sum_lon = module_place_cells.sum_lon + excluded.sum_lon;
$$;

CREATE FUNCTION parvis_place_cells() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM parvis_place_cells_leave(OLD.tenant_id, OLD.module_id, OLD.collection, OLD.lat, OLD.lon);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM parvis_place_cells_enter(NEW.tenant_id, NEW.module_id, NEW.collection, NEW.lat, NEW.lon);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER module_places_cells AFTER INSERT OR DELETE OR UPDATE OF lat, lon ON module_places
    FOR EACH ROW EXECUTE FUNCTION parvis_place_cells();

-- The places already there.
INSERT INTO module_place_cells (tenant_id, module_id, collection, level, cy, cx, n, sum_lat, sum_lon)
SELECT p.tenant_id, p.module_id, p.collection, l.level,
       floor((p.lat + 90) * l.scale)::bigint, floor((p.lon + 180) * l.scale)::bigint,
       COUNT(*), SUM(floor((p.lat + 90) * 10000000.0::float8)::bigint)::bigint,
       SUM(floor((p.lon + 180) * 10000000.0::float8)::bigint)::bigint
FROM module_places p, place_levels l
GROUP BY 1, 2, 3, 4, 5, 6;

SELECT parvis_isolate_tenant('module_place_cells');
