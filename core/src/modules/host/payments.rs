//! `parvis:module/payments`: checkout sessions through the platform's billing. The payment is
//! made to the commune (its connected account), never to the platform; the module hears of it
//! through `event::payment-succeeded`. Without billing, the host says payment is not configured
//! so a module can tell its users instead of pretending.

use crate::modules::bindings::parvis::module::payments::{Checkout, Host};
use crate::modules::call::{CallState, Capability, Denied};
use crate::payments::CheckoutRequest;

/// Largest single payment a module may ask for (10,000 €).
const MAX_AMOUNT_CENTS: u64 = 1_000_000;

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
        if c.amount_cents > MAX_AMOUNT_CENTS {
            return Err("montant supérieur à 10 000 € : un tel don se fait hors ligne".into());
        }
        let path_ok = |p: &str| p.starts_with('/') && !p.starts_with("//") && !p.contains('\\');
        if !path_ok(&c.success_path) || !path_ok(&c.cancel_path) {
            return Err("les chemins de retour doivent commencer par « / »".into());
        }
        let (Some(tenant), Some(gateway)) = (self.tenant, self.app.payments.get().cloned()) else {
            return Err("Le paiement en ligne n'est pas configuré sur cette plateforme.".into());
        };
        let base = format!("{}{}", self.origin, self.mount);
        let request = CheckoutRequest {
            amount_cents: c.amount_cents,
            currency: c.currency,
            description: c.description,
            reference: c.reference,
            success_url: format!("{base}{}", c.success_path),
            cancel_url: format!("{base}{}", c.cancel_path),
        };
        let app = self.app.clone();
        let module = self.module.to_string();
        let started = std::time::Instant::now();
        let url = gateway.checkout(&app, tenant, &module, request).await;
        self.excuse(started.elapsed());
        let url = url?;
        self.after_commit.checkouts.push(url.clone());
        Ok(url)
    }
}
