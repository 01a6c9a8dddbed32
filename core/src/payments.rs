//! Online payments for modules (donations): the host asks the platform's billing for a
//! checkout. `core` defines the door; the billing crate plugs its Stripe implementation in at
//! start (`modules::services::Payments`), so a host without billing says payment is not configured.

use std::sync::Arc;

use crate::db::TenantDb;
use crate::modules::services::Payments;

/// What a module asks to be paid.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    /// Amount in cents.
    pub amount_cents: u64,
    /// ISO 4217, lowercase.
    pub currency: String,
    /// Shown to the payer.
    pub description: String,
    /// The module's reference, given back when the payment succeeds.
    pub reference: String,
    /// Absolute URL after payment.
    pub success_url: String,
    /// Absolute URL if the payer gives up.
    pub cancel_url: String,
}

/// The platform's payment service.
#[async_trait::async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Creates a checkout paid to the commune; returns the URL to send the payer to, or a
    /// French message the module can show.
    async fn checkout(
        &self,
        commune: &TenantDb,
        module: &str,
        request: CheckoutRequest,
    ) -> Result<String, String>;

    /// Whether a checkout can be created for the commune now (the platform's provider is
    /// configured and the commune linked its account), or a French message saying why not.
    /// Asks the provider nothing.
    async fn accepts(&self, commune: &TenantDb) -> Result<(), String>;
}

/// Plugs the payment service in (once, at start).
pub fn install(payments: &Payments, gateway: Arc<dyn PaymentGateway>) {
    if payments.set(gateway).is_err() {
        tracing::warn!("payment service already installed");
    }
}
