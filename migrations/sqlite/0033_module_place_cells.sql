-- Issue 18: what a map's clusters read instead of every point of a view. For each place, at
-- each level L of `place_levels`, the cell of side 2^-L degree holding it (cy, cx: the floors
-- of (lat + 90) * 2^L and (lon + 180) * 2^L) counts it and sums its point in whole units of
-- 10^-7 degree (offset to stay positive), so a view of a city reads a few hundred cells. Kept
-- by triggers on `module_places`, so every way a place comes, moves or goes (a document
-- deleted, a module's data purged) keeps them right. Same arithmetic as PostgreSQL's triggers:
-- SQLite's CAST truncates, which is the floor of these positive values.
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

CREATE TRIGGER module_places_cells_in AFTER INSERT ON module_places BEGIN
    INSERT INTO module_place_cells (tenant_id, module_id, collection, level, cy, cx, n, sum_lat, sum_lon)
    SELECT NEW.tenant_id, NEW.module_id, NEW.collection, l.level,
           CAST((NEW.lat + 90) * l.scale AS INTEGER), CAST((NEW.lon + 180) * l.scale AS INTEGER),
           1, CAST((NEW.lat + 90) * 10000000.0 AS INTEGER), CAST((NEW.lon + 180) * 10000000.0 AS INTEGER)
    FROM place_levels l WHERE true
    ON CONFLICT (tenant_id, module_id, collection, level, cy, cx) DO UPDATE SET
        n = n + 1, sum_lat = sum_lat + excluded.sum_lat, sum_lon = sum_lon + excluded.sum_lon;
END;

CREATE TRIGGER module_places_cells_out AFTER DELETE ON module_places BEGIN
    UPDATE module_place_cells SET
        n = n - 1,
        sum_lat = sum_lat - CAST((OLD.lat + 90) * 10000000.0 AS INTEGER),
        sum_lon = sum_lon - CAST((OLD.lon + 180) * 10000000.0 AS INTEGER)
    WHERE tenant_id = OLD.tenant_id AND module_id = OLD.module_id AND collection = OLD.collection
      AND (level, cy, cx) IN (
        SELECT l.level, CAST((OLD.lat + 90) * l.scale AS INTEGER), CAST((OLD.lon + 180) * l.scale AS INTEGER)
        FROM place_levels l);
    DELETE FROM module_place_cells
    WHERE tenant_id = OLD.tenant_id AND module_id = OLD.module_id AND collection = OLD.collection
      AND (level, cy, cx) IN (
        SELECT l.level, CAST((OLD.lat + 90) * l.scale AS INTEGER), CAST((OLD.lon + 180) * l.scale AS INTEGER)
        FROM place_levels l)
      AND n = 0;
END;

CREATE TRIGGER module_places_cells_move AFTER UPDATE OF lat, lon ON module_places BEGIN
    UPDATE module_place_cells SET
        n = n - 1,
        sum_lat = sum_lat - CAST((OLD.lat + 90) * 10000000.0 AS INTEGER),
        sum_lon = sum_lon - CAST((OLD.lon + 180) * 10000000.0 AS INTEGER)
    WHERE tenant_id = OLD.tenant_id AND module_id = OLD.module_id AND collection = OLD.collection
      AND (level, cy, cx) IN (
        SELECT l.level, CAST((OLD.lat + 90) * l.scale AS INTEGER), CAST((OLD.lon + 180) * l.scale AS INTEGER)
        FROM place_levels l);
    DELETE FROM module_place_cells
    WHERE tenant_id = OLD.tenant_id AND module_id = OLD.module_id AND collection = OLD.collection
      AND (level, cy, cx) IN (
        SELECT l.level, CAST((OLD.lat + 90) * l.scale AS INTEGER), CAST((OLD.lon + 180) * l.scale AS INTEGER)
        FROM place_levels l)
      AND n = 0;
    INSERT INTO module_place_cells (tenant_id, module_id, collection, level, cy, cx, n, sum_lat, sum_lon)
    SELECT NEW.tenant_id, NEW.module_id, NEW.collection, l.level,
           CAST((NEW.lat + 90) * l.scale AS INTEGER), CAST((NEW.lon + 180) * l.scale AS INTEGER),
           1, CAST((NEW.lat + 90) * 10000000.0 AS INTEGER), CAST((NEW.lon + 180) * 10000000.0 AS INTEGER)
    FROM place_levels l WHERE true
    ON CONFLICT (tenant_id, module_id, collection, level, cy, cx) DO UPDATE SET
        n = n + 1, sum_lat = sum_lat + excluded.sum_lat, sum_lon = sum_lon + excluded.sum_lon;
END;

-- The places already there.
INSERT INTO module_place_cells (tenant_id, module_id, collection, level, cy, cx, n, sum_lat, sum_lon)
SELECT p.tenant_id, p.module_id, p.collection, l.level,
       CAST((p.lat + 90) * l.scale AS INTEGER), CAST((p.lon + 180) * l.scale AS INTEGER),
       COUNT(*), SUM(CAST((p.lat + 90) * 10000000.0 AS INTEGER)), SUM(CAST((p.lon + 180) * 10000000.0 AS INTEGER))
FROM module_places p, place_levels l
GROUP BY 1, 2, 3, 4, 5, 6;
