//! `parvis:module/places` (since 0.2.2): a point on the map carried by a document of the
//! calling module in the request's commune (`crate::modules::places`). It is storage: the
//! `storage` capability, the call's transaction, its time and write bounds.

use std::time::Instant;

use crate::communes::outline;
use crate::modules::bindings::parvis::module::places::{
    Bbox, Cluster, Error, Host, Placed, Point, Spot,
};
use crate::modules::call::{CallState, Capability};
use crate::modules::host::storage::{MAX_PAGE, check_name, denied, document};
use crate::modules::places::{self, BBox, MAX_GRID, MAX_POINTS, MAX_RADIUS_M, PlacesError};
use crate::modules::store::Footprint;

fn point(p: Point) -> Result<places::Point, Error> {
    let p = places::Point {
        lat: p.lat,
        lon: p.lon,
    };
    if p.is_valid() {
        Ok(p)
    } else {
        Err(Error::Invalid(
            "point hors de la Terre : latitude de −90 à 90, longitude de −180 à 180".into(),
        ))
    }
}

fn bbox(b: Bbox) -> Result<BBox, Error> {
    let b = BBox {
        south: b.south,
        west: b.west,
        north: b.north,
        east: b.east,
    };
    if b.is_valid() {
        Ok(b)
    } else {
        Err(Error::Invalid(
            "boîte invalide : sud ≤ nord et ouest ≤ est, dans les limites de la Terre".into(),
        ))
    }
}

fn wire_point(p: places::Point) -> Point {
    Point {
        lat: p.lat,
        lon: p.lon,
    }
}

fn limit(limit: u32) -> Result<u32, Error> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(Error::Invalid(format!("nombre de lieux : 1 à {MAX_PAGE}")));
    }
    Ok(limit)
}

fn placed(p: places::Placed) -> Placed {
    Placed {
        document: document(p.doc),
        at: wire_point(p.at),
        distance: p.distance,
    }
}

fn spot((key, at): (String, places::Point)) -> Spot {
    Spot {
        key,
        at: wire_point(at),
    }
}

fn cluster(c: places::Cluster) -> Cluster {
    Cluster {
        count: c.count,
        at: wire_point(c.at),
        bounds: Bbox {
            south: c.bounds.south,
            west: c.bounds.west,
            north: c.bounds.north,
            east: c.bounds.east,
        },
        key: c.key,
    }
}

impl CallState {
    /// A list query's answer in the contract's terms: each item as `wire` gives it, a refusal
    /// as `invalid` with its reason, a database failure as `unavailable`.
    fn places_answer<T, U>(
        &mut self,
        found: Result<Vec<T>, PlacesError>,
        wire: impl Fn(T) -> U,
    ) -> Result<Vec<U>, Error> {
        match found {
            Ok(list) => Ok(list.into_iter().map(wire).collect()),
            Err(PlacesError::Db(e)) => Err(Error::Unavailable(self.fail(&e))),
            Err(e) => Err(Error::Invalid(e.to_string())),
        }
    }
}

impl Host for CallState {
    async fn set(&mut self, collection: String, key: String, at: Point) -> Result<(), Error> {
        let _leaving = self.leaving_database();
        check_name("collection", &collection)?;
        check_name("clé", &key)?;
        let at = point(at)?;
        // A place changes no stored size worth a quota (one per document), but it is a
        // write: it counts toward the call's bound on documents written.
        let write = Footprint {
            bytes: 0,
            documents: 1,
        };
        self.within_call_bounds(write)?;
        let module = self.module.clone();
        let tx = self.write_tx(Capability::Storage).await.map_err(denied)?;
        match places::set(tx, &module, &collection, &key, at).await {
            Ok(true) => {
                self.wrote(write);
                Ok(())
            }
            Ok(false) => Err(Error::Invalid(format!(
                "aucun document « {key} » dans « {collection} » à placer"
            ))),
            Err(e) => Err(Error::Unavailable(self.fail(&e))),
        }
    }

    async fn clear(&mut self, collection: String, key: String) -> Result<bool, Error> {
        let _leaving = self.leaving_database();
        check_name("collection", &collection)?;
        check_name("clé", &key)?;
        let module = self.module.clone();
        let tx = self.write_tx(Capability::Storage).await.map_err(denied)?;
        match places::clear(tx, &module, &collection, &key).await {
            Ok(done) => Ok(done),
            Err(e) => Err(Error::Unavailable(self.fail(&e))),
        }
    }

    async fn get(&mut self, collection: String, key: String) -> Result<Option<Point>, Error> {
        let _leaving = self.leaving_database();
        check_name("collection", &collection)?;
        check_name("clé", &key)?;
        let module = self.module.clone();
        let tx = self.tx(Capability::Storage).await.map_err(denied)?;
        let started = Instant::now();
        let found = places::get(tx, &module, &collection, &key).await;
        self.read_documents(started.elapsed(), 0);
        match found {
            Ok(p) => Ok(p.map(wire_point)),
            Err(e) => Err(Error::Unavailable(self.fail(&e))),
        }
    }

    async fn within(
        &mut self,
        collection: String,
        bbox: Bbox,
        max: u32,
    ) -> Result<Vec<Placed>, Error> {
        let _leaving = self.leaving_database();
        check_name("collection", &collection)?;
        let bbox = self::bbox(bbox)?;
        let max = limit(max)?;
        let module = self.module.clone();
        let tx = self.tx(Capability::Storage).await.map_err(denied)?;
        let started = Instant::now();
        let found = places::within(tx, &module, &collection, bbox, max).await;
        self.read_documents(started.elapsed(), found.as_ref().map_or(0, Vec::len));
        self.places_answer(found, placed)
    }

    async fn near(
        &mut self,
        collection: String,
        center: Point,
        radius: f64,
        max: u32,
    ) -> Result<Vec<Placed>, Error> {
        let _leaving = self.leaving_database();
        check_name("collection", &collection)?;
        let center = point(center)?;
        if !(0.0..=MAX_RADIUS_M).contains(&radius) {
            return Err(Error::Invalid(format!(
                "rayon : de 0 à {} km",
                MAX_RADIUS_M / 1000.0
            )));
        }
        let max = limit(max)?;
        let module = self.module.clone();
        let tx = self.tx(Capability::Storage).await.map_err(denied)?;
        let started = Instant::now();
        let found = places::near(tx, &module, &collection, center, radius, max).await;
        self.read_documents(started.elapsed(), found.as_ref().map_or(0, Vec::len));
        self.places_answer(found, placed)
    }

    async fn points(
        &mut self,
        collection: String,
        bbox: Bbox,
        max: u32,
    ) -> Result<Vec<Spot>, Error> {
        let _leaving = self.leaving_database();
        check_name("collection", &collection)?;
        let bbox = self::bbox(bbox)?;
        if max == 0 || max > MAX_POINTS {
            return Err(Error::Invalid(format!(
                "nombre de points : 1 à {MAX_POINTS}"
            )));
        }
        let module = self.module.clone();
        let tx = self.tx(Capability::Storage).await.map_err(denied)?;
        let started = Instant::now();
        let found = places::points(tx, &module, &collection, bbox, max).await;
        self.read_documents(started.elapsed(), 0);
        self.places_answer(found, spot)
    }

    async fn clusters(
        &mut self,
        collection: String,
        bbox: Bbox,
        columns: u32,
        rows: u32,
    ) -> Result<Vec<Cluster>, Error> {
        let _leaving = self.leaving_database();
        check_name("collection", &collection)?;
        let bbox = self::bbox(bbox)?;
        if !(1..=MAX_GRID).contains(&columns) || !(1..=MAX_GRID).contains(&rows) {
            return Err(Error::Invalid(format!(
                "grille : de 1 à {MAX_GRID} colonnes et rangées"
            )));
        }
        let module = self.module.clone();
        let backend = self.services.db().backend();
        let tx = self.tx(Capability::Storage).await.map_err(denied)?;
        let started = Instant::now();
        let found = places::clusters(tx, backend, &module, &collection, bbox, columns, rows).await;
        self.read_documents(started.elapsed(), 0);
        self.places_answer(found, cluster)
    }

    async fn in_commune(&mut self, at: Point) -> Result<Option<bool>, Error> {
        let _leaving = self.leaving_database();
        self.count_runtime_call();
        let at = point(at)?;
        let Some(tenant) = self.tenant() else {
            return Err(Error::Unavailable("aucune commune pour cet appel".into()));
        };
        let started = Instant::now();
        let outline = outline::of_tenant(self.services.db(), tenant).await;
        self.read_documents(started.elapsed(), 0);
        match outline {
            Ok(outline) => Ok(outline.map(|o| o.holds(at))),
            Err(e) => Err(Error::Unavailable(self.fail(&e))),
        }
    }
}
