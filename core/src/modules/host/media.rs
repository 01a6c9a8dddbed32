//! `parvis:module/media` (since 0.2.4): the files of the call's request, cleaned by the host
//! before the call (`modules::uploads`), kept by the module in the call's transaction, served
//! at `/media/<id>`. A module never sees a file's bytes, and can keep only what a person sent
//! in this very request: its media cannot grow past what people upload (the media pipeline's
//! allowance per account). Storage: the `storage` capability and the call's transaction.

use crate::media::store::{self as media_store, NewMedia};
use crate::modules::bindings::parvis::module::media::{Error, Host, Refusal, Upload};
use crate::modules::call::{CallState, Capability};
use crate::modules::host::storage::denied;

/// The purpose of the media rows a module keeps: `module:<id>`, so a module deletes only its
/// own.
fn purpose(state: &CallState) -> String {
    format!("module:{}", state.module)
}

impl Host for CallState {
    async fn uploads(&mut self) -> Vec<Upload> {
        self.count_runtime_call();
        let Some(uploads) = &self.uploads else {
            return Vec::new();
        };
        uploads
            .files
            .iter()
            .map(|f| Upload {
                field: f.field.clone(),
                handle: f.handle.clone(),
                content_type: f.image.content_type.to_string(),
                width: f.image.width,
                height: f.image.height,
                size: f.image.bytes.len() as u64,
            })
            .collect()
    }

    async fn refused(&mut self) -> Vec<Refusal> {
        self.count_runtime_call();
        let Some(uploads) = &self.uploads else {
            return Vec::new();
        };
        uploads
            .refused
            .iter()
            .map(|r| Refusal {
                field: r.field.clone(),
                message: r.message.clone(),
            })
            .collect()
    }

    async fn keep(&mut self, handle: String) -> Result<String, Error> {
        let _leaving = self.leaving_database();
        let Some(uploads) = self.uploads.clone() else {
            return Err(Error::Invalid(
                "cette requête n'a envoyé aucun fichier".into(),
            ));
        };
        let Some(file) = uploads.files.iter().find(|f| f.handle == handle) else {
            return Err(Error::Invalid(
                "aucun fichier de cette requête ne porte cet identifiant".into(),
            ));
        };
        if self.kept_uploads.contains(&handle) {
            return Err(Error::Invalid("ce fichier est déjà gardé".into()));
        }
        let purpose = purpose(self);
        let tx = self.write_tx(Capability::Storage).await.map_err(denied)?;
        let row = NewMedia::image(&purpose, &uploads.account, &file.image);
        match media_store::insert_tenant(tx, &row).await {
            Ok(id) => {
                self.kept_uploads.insert(handle);
                Ok(id)
            }
            Err(e) => Err(Error::Unavailable(self.fail(&e))),
        }
    }

    async fn delete(&mut self, id: String) -> Result<bool, Error> {
        let _leaving = self.leaving_database();
        if id.is_empty() || id.len() > 64 {
            return Ok(false);
        }
        let purpose = purpose(self);
        let tx = self.write_tx(Capability::Storage).await.map_err(denied)?;
        match media_store::delete_module(tx, &id, &purpose).await {
            Ok(done) => Ok(done),
            Err(e) => Err(Error::Unavailable(self.fail(&e))),
        }
    }
}
