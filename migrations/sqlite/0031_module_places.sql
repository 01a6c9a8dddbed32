-- Issue 18: a point on the map (WGS 84 degrees) carried by a module's document, at most one,
-- gone with it: the contract's `places` (parvis:module@0.2.2), found by bounding box and by
-- distance. The same B-tree serves both databases alike: a box is a latitude range read in the
-- index, its longitude filtered there too (key included, so the index answers alone); a
-- distance is the box around its circle, the exact distance computed by the host.
CREATE TABLE module_places (
    tenant_id BIGINT NOT NULL,
    module_id TEXT NOT NULL,
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant_id, module_id, collection, key),
    FOREIGN KEY (tenant_id, module_id, collection, key)
        REFERENCES module_docs(tenant_id, module_id, collection, key) ON DELETE CASCADE
);
CREATE INDEX module_places_by_point ON module_places(tenant_id, module_id, collection, lat, lon, key);
