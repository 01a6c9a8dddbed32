//! `parvis:module/payments`: checkout sessions through the platform's billing. The payment is
//! made to the commune (its connected account), never to the platform; the module hears of it
//! through `event::payment-succeeded`. Without billing, the host says payment is not configured
//! so a module can tell its users instead of pretending.

use crate::modules::bindings::parvis::module::payments::{Checkout, Host};
use crate::modules::call::{CallState, Capability, Denied};
use crate::payments::CheckoutRequest;

/// Largest single payment a module may ask for (10,000 €).
const MAX_AMOUNT_CENTS: u64 = 1_000_000;
/// Checkout sessions one call may ask the payment provider for: a page opens one.
pub const MAX_CHECKOUTS_PER_CALL: u32 = 3;

/// Why payments are closed when the platform has no payment provider.
const NOT_CONFIGURED: &str = "Le paiement en ligne n'est pas configuré sur cette plateforme.";

impl CallState {
    /// The call may use payments: the module declared them (one host call counted).
    async fn payments_allowed(&mut self) -> Result<(), String> {
        match self.tx(Capability::Payments).await {
            Ok(_) => Ok(()),
            Err(Denied::Capability(cap)) => Err(format!(
                "le module n'a pas déclaré la capacité « {cap} » dans son manifeste"
            )),
            Err(Denied::Unavailable(why)) => Err(why),
        }
    }
}

impl Host for CallState {
    async fn available(&mut self) -> Result<(), String> {
        let _leaving = self.leaving_database();
        self.payments_allowed().await?;
        let (Some(tenant), Some(gateway)) = (self.tenant(), self.services.payments()) else {
            return Err(NOT_CONFIGURED.into());
        };
        let commune = self.services.tenant(tenant);
        let asked = async move { gateway.accepts(&commune).await };
        self.excused_wait(crate::modules::call::PROVIDER_WAIT, asked)
            .await
            .unwrap_or_else(|| Err("le service de paiement n'a pas répondu à temps".into()))
    }

    async fn create_checkout(&mut self, c: Checkout) -> Result<String, String> {
        let _leaving = self.leaving_database();
        self.payments_allowed().await?;
        if c.amount_cents == 0 || c.currency != "eur" {
            return Err("montant nul ou devise autre que l'euro".into());
        }
        if c.amount_cents > MAX_AMOUNT_CENTS {
            return Err("montant supérieur à 10 000 € : un tel don se fait hors ligne".into());
        }
        // The return pages are paths of this site, normalised as the browser will read them.
        let (Some(success_path), Some(cancel_path)) = (
            crate::util::same_origin_path(&c.success_path),
            crate::util::same_origin_path(&c.cancel_path),
        ) else {
            return Err("les chemins de retour doivent être des chemins de ce site".into());
        };
        let (Some(tenant), Some(gateway)) = (self.tenant(), self.services.payments()) else {
            return Err(NOT_CONFIGURED.into());
        };
        if self.checkouts_asked >= MAX_CHECKOUTS_PER_CALL {
            return Err(format!(
                "au plus {MAX_CHECKOUTS_PER_CALL} paiements peuvent être ouverts dans une seule requête"
            ));
        }
        // Each checkout is a session at the payment provider: one client opens a bounded
        // number per commune, whatever the module (a refused call records nothing).
        if let Some(client) = &self.client
            && !self.checkout_limit.check(&(tenant, client.clone()))
        {
            return Err(
                "Vous avez commencé trop de paiements en peu de temps : réessayez dans une heure."
                    .into(),
            );
        }
        let base = format!("{}{}", self.origin, self.mount);
        let request = CheckoutRequest {
            amount_cents: c.amount_cents,
            currency: c.currency,
            description: c.description,
            reference: c.reference,
            success_url: format!("{base}{success_path}"),
            cancel_url: format!("{base}{cancel_path}"),
        };
        let commune = self.services.tenant(tenant);
        let module = self.module.to_string();
        self.checkouts_asked += 1;
        // The provider's time is not the module's: excused, and bounded.
        let asked = async move { gateway.checkout(&commune, &module, request).await };
        let Some(url) = self
            .excused_wait(crate::modules::call::PROVIDER_WAIT, asked)
            .await
        else {
            return Err(
                "le service de paiement n'a pas répondu à temps : réessayez dans quelques instants"
                    .into(),
            );
        };
        let url = url?;
        self.after_commit.checkouts.push(url.clone());
        Ok(url)
    }
}
