//! `parvis:module/payments`: checkout sessions through the host's billing. Until the billing
//! issue connects Stripe, the host answers that online payment is not configured, so a module
//! can say so instead of pretending a payment happened.

use crate::modules::bindings::parvis::module::payments::{Checkout, Host};
use crate::modules::call::{CallState, Capability, Denied};

impl Host for CallState {
    async fn create_checkout(&mut self, c: Checkout) -> Result<String, String> {
        if let Err(Denied::Capability(cap)) = self.tx(Capability::Payments).await {
            return Err(format!(
                "le module n'a pas déclaré la capacité « {cap} » dans son manifeste"
            ));
        }
        if c.amount_cents == 0 || c.currency != "eur" {
            return Err("montant nul ou devise autre que l'euro".into());
        }
        Err("Le paiement en ligne n'est pas encore configuré pour cette commune.".into())
    }
}
