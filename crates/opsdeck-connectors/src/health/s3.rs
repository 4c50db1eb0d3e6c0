//! `s3`: an S3-compatible bucket answers a listing (the "head bucket" of any store that
//! speaks the S3 API) and a probe object `opsdeck-probe/<instance id>` survives a
//! put/get/delete round trip with its content intact.

use std::error::Error as StdError;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig};
use opsdeck_core::secret::Secret;
use serde::{Deserialize, Serialize};

use super::target::strip_credentials;
use super::{ComponentType, Observation, ProbeContext, ProbeType, Problems};

/// Longest error text quoted from the store: S3 errors carry a whole XML document.
const ERROR_LIMIT: usize = 240;

/// `type = "s3"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3 {
    /// The endpoint of an S3-compatible store; unset means AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The bucket to probe.
    pub bucket: String,
    /// The region (default `us-east-1`).
    #[serde(default = "default_region")]
    pub region: String,
    /// Credentials; unset uses none (anonymous).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<Secret>,
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

#[async_trait]
impl ProbeType for S3 {
    const TYPE: &'static str = "s3";
    const COMPONENT: ComponentType = ComponentType::Datastore;

    fn validate(&self) -> Problems {
        if self.access_key_id.is_some() == self.secret_access_key.is_some() {
            return Problems::new();
        }
        vec![(
            "secret_access_key".to_owned(),
            "access_key_id and secret_access_key go together".to_owned(),
        )]
    }

    fn target(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => format!("{}/{}", strip_credentials(endpoint), self.bucket),
            None => format!("s3://{}", self.bucket),
        }
    }

    fn secrets(&self) -> Vec<&Secret> {
        [&self.access_key_id, &self.secret_access_key]
            .into_iter()
            .flatten()
            .collect()
    }

    async fn run(&self, ctx: &ProbeContext) -> Observation {
        let (endpoint, bucket, region) = (&self.endpoint, &self.bucket, &self.region);
        let (access_key_id, secret_access_key) = (&self.access_key_id, &self.secret_access_key);
        let at = match endpoint {
            Some(endpoint) => format!("bucket \"{bucket}\" at {}", strip_credentials(endpoint)),
            None => format!("bucket \"{bucket}\""),
        };
        // Retrying is the monitor's business (the next interval): object_store's default of
        // ten retries over three minutes would turn a down store into a timeout, hiding why.
        let retry = RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: 0,
            retry_timeout: Duration::from_secs(5),
        };
        let mut builder = AmazonS3Builder::new()
            .with_client_options(ClientOptions::new().with_connect_timeout(Duration::from_secs(5)))
            .with_retry(retry)
            .with_bucket_name(bucket)
            .with_region(region)
            .with_virtual_hosted_style_request(false);
        if let Some(endpoint) = endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        builder = match (access_key_id, secret_access_key) {
            (Some(key), Some(secret)) => builder
                .with_access_key_id(key.expose())
                .with_secret_access_key(secret.expose()),
            // Without configured keys, requests go unsigned: looking up ambient credentials
            // (instance metadata) could stall a probe for seconds on a machine that has none.
            _ => builder.with_skip_signature(true),
        };
        let store = match builder.build() {
            Ok(store) => store,
            Err(err) => return Observation::fail(format!("the s3 check is misconfigured: {err}")),
        };
        match round_trip(&store, ctx.instance_id).await {
            Ok(()) => Observation::pass(),
            Err((step, err)) => Observation::fail(format!("{at}: {step} failed: {}", short(&err))),
        }
    }
}

/// The probe proper: each failure names the step that failed.
async fn round_trip(
    store: &AmazonS3,
    instance_id: uuid::Uuid,
) -> Result<(), (&'static str, object_store::Error)> {
    let prefix = Path::from("opsdeck-probe");
    store
        .list_with_delimiter(Some(&prefix))
        .await
        .map_err(|err| ("listing the bucket", err))?;
    let location = prefix.clone().join(instance_id.to_string());
    // A fresh content per run: an object left over from an earlier run cannot pass for
    // this one.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let content = format!("opsdeck health probe {instance_id} {nanos}");
    store
        .put(&location, content.clone().into())
        .await
        .map_err(|err| ("writing the probe object", err))?;
    let read = async { store.get(&location).await?.bytes().await }
        .await
        .map_err(|err| ("reading the probe object back", err))?;
    store
        .delete(&location)
        .await
        .map_err(|err| ("deleting the probe object", err))?;
    if read.as_ref() == content.as_bytes() {
        Ok(())
    } else {
        Err((
            "comparing the probe object",
            object_store::Error::Generic {
                store: "S3",
                source: "the object read back differs from what was written".into(),
            },
        ))
    }
}

/// The store's error on one short line. object_store wraps the cause in layers that repeat
/// the object path and request URL; what an engineer needs is the kind of failure and the
/// innermost cause (a status with S3's error code, or "connection refused").
fn short(err: &object_store::Error) -> String {
    let kind = match err {
        object_store::Error::NotFound { .. } => "not found: ",
        object_store::Error::PermissionDenied { .. } => "permission denied: ",
        object_store::Error::Unauthenticated { .. } => "not authenticated: ",
        _ => "",
    };
    let mut chain = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(error) = current {
        chain.push(error.to_string());
        current = error.source();
    }
    // Below the retry layer ("Error performing GET <url> in 3ms - …") are the causes.
    let start = chain
        .iter()
        .rposition(|text| text.starts_with("Error performing"))
        .map_or(0, |index| index + 1)
        .min(chain.len() - 1);
    let mut kept: Vec<String> = Vec::new();
    for text in &chain[start..] {
        // reqwest's top-level message quotes the whole URL and says nothing its cause
        // does not.
        if text.contains("for url (") {
            continue;
        }
        let text = without_xml(text).trim_end_matches([':', ' ']).to_owned();
        if !kept.iter().any(|seen| seen.contains(&text)) {
            kept.push(text);
        }
    }
    let text = format!("{kind}{}", kept.join(": "))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if text.chars().count() <= ERROR_LIMIT {
        text
    } else {
        let cut: String = text.chars().take(ERROR_LIMIT).collect();
        format!("{cut}…")
    }
}

/// An S3 error document reduced to its `Code` and `Message`.
fn without_xml(text: &str) -> String {
    let Some(at) = text.find("<?xml").or_else(|| text.find("<Error")) else {
        return text.to_owned();
    };
    let head = text[..at].trim_end().trim_end_matches(':');
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let from = text.find(&open)? + open.len();
        let to = text[from..].find('<')? + from;
        Some(text[from..to].trim().to_owned())
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => format!("{head} ({code}: {message})"),
        (Some(code), None) => format!("{head} ({code})"),
        _ => head.to_owned(),
    }
}
