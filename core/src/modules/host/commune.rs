//! `parvis:module/commune` (since 0.2.1): what the host knows of the call's commune beyond the
//! request's `commune` record: how its name joins a French sentence (the registry's
//! `typeLiaison`), for the SDK's `req.commune.de()`; and since 0.2.5 the site's origin, for
//! absolute links.

use crate::modules::bindings::parvis::module::commune::Host;
use crate::modules::call::CallState;

impl Host for CallState {
    async fn name_kind(&mut self) -> Option<u8> {
        self.count_runtime_call();
        self.name_kind.and_then(|k| u8::try_from(k).ok())
    }

    async fn origin(&mut self) -> String {
        self.count_runtime_call();
        self.origin.clone()
    }
}
