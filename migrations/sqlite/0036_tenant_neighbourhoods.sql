-- Issue 19: the neighbourhoods (quartiers) a commune's admins define: imported from a GeoJSON
-- file, or taken from the registry's municipal arrondissements (Paris, Lyon, Marseille). Each
-- is GeoJSON MultiPolygon geometry text in WGS 84 with its bounding box, which narrows the
-- outlines weighed for a point. (The registry's `neighbourhoods` table lists delegated
-- communes and arrondissements of every commune; this one is the commune's own choice.)
CREATE TABLE tenant_neighbourhoods (
    tenant_id BIGINT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    outline TEXT NOT NULL,
    south REAL NOT NULL,
    west REAL NOT NULL,
    north REAL NOT NULL,
    east REAL NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX tenant_neighbourhoods_by_box ON tenant_neighbourhoods(tenant_id, south, north);

-- The neighbourhood each place lies in (a place in none has no row), kept by the host: set
-- with the place, and again for all of a commune's places when its neighbourhoods change. A
-- module lists and counts a collection's documents by neighbourhood on its index. A table of
-- its own rather than a column of module_places: rewriting a city's neighbourhoods touches
-- neither the places nor the map's cells their triggers keep.
CREATE TABLE module_place_neighbourhoods (
    tenant_id BIGINT NOT NULL,
    module_id TEXT NOT NULL,
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    neighbourhood TEXT NOT NULL,
    PRIMARY KEY (tenant_id, module_id, collection, key),
    FOREIGN KEY (tenant_id, module_id, collection, key)
        REFERENCES module_places(tenant_id, module_id, collection, key) ON DELETE CASCADE
);
CREATE INDEX module_place_neighbourhoods_by_neighbourhood
    ON module_place_neighbourhoods(tenant_id, module_id, collection, neighbourhood, key);
