//! `parvis:module/neighbourhoods` (since 0.2.5): the commune's neighbourhoods, and the calling
//! module's documents by the neighbourhood their place lies in (`crate::neighbourhoods`). It is
//! storage: the `storage` capability, the call's transaction and its read bounds.

use std::time::Instant;

use crate::modules::bindings::parvis::module::neighbourhoods::{
    Bbox, Error, Host, IndexEntry, Neighbourhood, Page, Point, Query,
};
use crate::modules::call::{CallState, Capability};
use crate::modules::host::storage::{check_name, denied, list_query, one_index};
use crate::modules::places;
use crate::modules::store;
use crate::neighbourhoods::store as neighbourhoods;

fn wire(n: neighbourhoods::Neighbourhood) -> Neighbourhood {
    Neighbourhood {
        bounds: Bbox {
            south: n.south,
            west: n.west,
            north: n.north,
            east: n.east,
        },
        id: n.id,
        name: n.name,
    }
}

impl Host for CallState {
    async fn list(&mut self) -> Result<Vec<Neighbourhood>, Error> {
        let _leaving = self.leaving_database();
        let tx = self.tx(Capability::Storage).await.map_err(denied)?;
        let started = Instant::now();
        let found = neighbourhoods::list(tx).await;
        self.read_documents(started.elapsed(), 0);
        match found {
            Ok(list) => Ok(list.into_iter().map(wire).collect()),
            Err(e) => Err(Error::Unavailable(self.fail(&e))),
        }
    }

    async fn at(&mut self, at: Point) -> Result<Option<String>, Error> {
        let _leaving = self.leaving_database();
        let at = places::Point {
            lat: at.lat,
            lon: at.lon,
        };
        if !at.is_valid() {
            return Err(Error::Invalid(
                "point hors de la Terre : latitude de −90 à 90, longitude de −180 à 180".into(),
            ));
        }
        let tx = self.tx(Capability::Storage).await.map_err(denied)?;
        let started = Instant::now();
        let found = neighbourhoods::at(tx, at).await;
        self.read_documents(started.elapsed(), 0);
        found.map_err(|e| Error::Unavailable(self.fail(&e)))
    }

    async fn documents(&mut self, q: Query, neighbourhood: String) -> Result<Page, Error> {
        let _leaving = self.leaving_database();
        check_name("quartier", &neighbourhood)?;
        let query = list_query(q, Some(neighbourhood))?;
        self.list_page(&query).await
    }

    async fn counts(
        &mut self,
        collection: String,
        index: Option<IndexEntry>,
    ) -> Result<Vec<(String, u64)>, Error> {
        let _leaving = self.leaving_database();
        check_name("collection", &collection)?;
        let index = one_index(index)?;
        let module = self.module.clone();
        let tx = self.tx(Capability::Storage).await.map_err(denied)?;
        let started = Instant::now();
        let found = store::neighbourhood_counts(tx, &module, &collection, index.as_ref()).await;
        self.read_documents(started.elapsed(), 0);
        match found {
            Ok(counts) => Ok(counts
                .into_iter()
                .map(|(id, n)| (id, u64::try_from(n).unwrap_or(0)))
                .collect()),
            Err(e) => Err(Error::Unavailable(self.fail(&e))),
        }
    }
}
