//! PayPal's response bodies, as far as Vetted reads them, typed after the official OpenAPI
//! documents (reporting_transactions_v1, customer_disputes_v1, customer_partner_referrals_v1).
//! Unknown fields are ignored; fields PayPal documents as optional are `Option`s.
use serde::Deserialize;

/// POST /v1/oauth2/token (client-credentials grant).
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// `money`: an ISO 4217 code and a decimal string such as "1234.56".
#[derive(Debug, Clone, Deserialize)]
pub struct Money {
    pub currency_code: String,
    pub value: String,
}

/// GET /v1/reporting/balances → `balances_response`.
#[derive(Debug, Clone, Deserialize)]
pub struct BalancesResponse {
    #[serde(default)]
    pub balances: Vec<BalanceDetail>,
    pub account_id: Option<String>,
    pub as_of_time: Option<String>,
}

/// `balance_detail`.
#[derive(Debug, Clone, Deserialize)]
pub struct BalanceDetail {
    pub currency: String,
    #[serde(default)]
    pub primary: bool,
    pub total_balance: Money,
    pub available_balance: Option<Money>,
    pub withheld_balance: Option<Money>,
}

/// GET /v1/reporting/transactions → `search_response`.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchResponse {
    #[serde(default)]
    pub transaction_details: Vec<TransactionDetail>,
    pub page: Option<u32>,
    pub total_items: Option<u32>,
    pub total_pages: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TransactionDetail {
    pub transaction_info: Option<TransactionInfo>,
    pub payer_info: Option<PayerInfo>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TransactionInfo {
    pub transaction_id: Option<String>,
    pub transaction_event_code: Option<String>,
    pub transaction_initiation_date: Option<String>,
    pub transaction_amount: Option<Money>,
    pub fee_amount: Option<Money>,
    /// D (denied), P (pending), S (success), V (reversed).
    pub transaction_status: Option<String>,
    pub transaction_subject: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PayerInfo {
    pub email_address: Option<String>,
}

/// GET /v1/customer/disputes → `dispute_search`.
#[derive(Debug, Clone, Deserialize)]
pub struct DisputeSearch {
    #[serde(default)]
    pub items: Vec<DisputeInfo>,
    #[serde(default)]
    pub links: Vec<Link>,
}

/// `dispute_info`.
#[derive(Debug, Clone, Deserialize)]
pub struct DisputeInfo {
    pub dispute_id: Option<String>,
    pub create_time: Option<String>,
    pub reason: Option<String>,
    pub status: Option<String>,
    pub dispute_amount: Option<Money>,
    pub dispute_life_cycle_stage: Option<String>,
    pub seller_response_due_date: Option<String>,
}

/// `link_description`.
#[derive(Debug, Clone, Deserialize)]
pub struct Link {
    pub href: String,
    pub rel: String,
}

/// GET /v1/customer/partners/{partner_id}/merchant-integrations/{merchant_id} → `merchant-integration`.
#[derive(Debug, Clone, Deserialize)]
pub struct MerchantIntegration {
    pub merchant_id: Option<String>,
    pub payments_receivable: Option<bool>,
    pub primary_email_confirmed: Option<bool>,
    pub primary_email: Option<String>,
}

/// `POST /v1/notifications/verify-webhook-signature`: the headers PayPal sent and the event.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub struct VerifyWebhookSignature {
    pub auth_algo: String,
    pub cert_url: String,
    pub transmission_id: String,
    pub transmission_sig: String,
    pub transmission_time: String,
    pub webhook_id: String,
    /// The delivery's body exactly as received: PayPal checks the signature against those bytes.
    pub webhook_event: Box<serde_json::value::RawValue>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VerifyWebhookSignatureResponse {
    pub verification_status: String,
}

/// `GET /v1/notifications/webhooks-events`. Events stay raw JSON: each is processed as a webhook
/// body would be.
#[derive(Debug, Clone, Deserialize)]
pub struct EventList {
    #[serde(default)]
    pub events: Vec<serde_json::Value>,
    #[serde(default)]
    pub links: Vec<Link>,
}

/// PayPal's `PayPal-Auth-Assertion`: an unsigned JWT naming the merchant a partner acts for.
pub fn auth_assertion(client_id: &str, payer_id: &str) -> reqwest::header::HeaderValue {
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = engine.encode(br#"{"alg":"none"}"#);
    let claims = engine.encode(serde_json::json!({ "iss": client_id, "payer_id": payer_id }).to_string());
    reqwest::header::HeaderValue::from_str(&format!("{header}.{claims}.")).expect("base64 is a valid header value")
}

/// Reads the merchant's PayPal id back from a `PayPal-Auth-Assertion` (used by the simulator).
pub fn payer_id_from_assertion(value: &str) -> Option<String> {
    use base64::Engine;
    let claims = value.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).ok()?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    json.get("payer_id")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_assertion_round_trips_the_merchant_id() {
        let header = auth_assertion("client", "V000000000042");
        assert_eq!(payer_id_from_assertion(header.to_str().unwrap()).as_deref(), Some("V000000000042"));
    }
}
