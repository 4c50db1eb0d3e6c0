//! The guards of state-changing requests, as extractors, so no handler checks them by hand.
//! The route table already demands the permission, and the authorization layer the
//! same-origin check, the CSRF header of JSON calls from a session and the tighter write
//! rate limit. What is left is here:
//!
//! - [`Caller`] from any authenticated request: the principal, its address, its request id;
//! - [`Guarded`] for JSON actions: the caller, the parsed body and its mandatory `reason`;
//! - [`GuardedForm`] for dashboard forms: the caller, the session's CSRF token checked
//!   against the form's `csrf_token` field (403 otherwise), the parsed form, and its
//!   `reason` parsed — a missing reason is for the page to explain next to the form, so
//!   it is handed over rather than refused.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::auth::session::SessionContext;
use crate::error::ApiError;
use crate::extract::Json;
use crate::middleware::auth::{Authenticated, RequestContext};
use crate::middleware::request_id::RequestId;
use crate::ops::{Caller, Reason};

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Authenticated(principal) = parts
            .extensions
            .get::<Authenticated>()
            .ok_or_else(ApiError::unauthorized)?;
        let client = parts
            .extensions
            .get::<RequestContext>()
            .and_then(|context| context.client);
        let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.clone());
        Ok(Caller::new(principal, client, request_id))
    }
}

/// A guarded write's JSON body: its own fields and a `reason`.
pub trait WriteBody: DeserializeOwned + Send {
    fn reason(&self) -> &str;
}

/// The extractor every state-changing JSON handler takes: the caller, the validated reason
/// and the parsed body.
#[derive(Debug)]
pub struct Guarded<T> {
    pub caller: Caller,
    pub reason: Reason,
    pub body: T,
}

impl<T: WriteBody, S: Send + Sync> FromRequest<S> for Guarded<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let caller = Caller::from_request_parts(&mut parts, state).await?;
        let Json(body) = Json::<T>::from_request(Request::from_parts(parts, body), state).await?;
        let reason = Reason::parse(body.reason())?;
        Ok(Self {
            caller,
            reason,
            body,
        })
    }
}

/// The fields every dashboard form carries besides its own.
#[derive(Debug, Deserialize)]
struct FormGuard {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    reason: String,
}

/// The own fields of a form that has none besides `csrf_token` and `reason`.
#[derive(Debug, Deserialize)]
pub struct NoFields {}

/// The reason typed into a form: the text as typed (a page that refuses it shows it again)
/// and whether it is one.
#[derive(Debug)]
pub struct FormReason {
    pub typed: String,
    pub parsed: Result<Reason, ApiError>,
}

/// The extractor every dashboard form handler takes. `T` reads the form's own fields (and
/// ignores `csrf_token` and `reason`; [`NoFields`] for a form with none).
#[derive(Debug)]
pub struct GuardedForm<T> {
    pub caller: Caller,
    pub reason: FormReason,
    pub form: T,
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for GuardedForm<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let caller = Caller::from_request_parts(&mut parts, state).await?;
        let session = parts.extensions.get::<SessionContext>().cloned();
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| ApiError::bad_request("invalid_body", "the form could not be read"))?;
        let invalid = |e: serde_urlencoded::de::Error| {
            ApiError::bad_request("invalid_form", format!("the form is malformed: {e}"))
        };
        let guard: FormGuard = serde_urlencoded::from_bytes(&bytes).map_err(invalid)?;
        // A bearer-token caller sends no cookie, so no other site can send its requests:
        // only a session needs the token.
        if let Some(session) = session
            && !session.csrf_matches(&guard.csrf_token)
        {
            return Err(ApiError::forbidden(
                "the form's CSRF token does not match this session; reload the page",
            ));
        }
        let form = serde_urlencoded::from_bytes(&bytes).map_err(invalid)?;
        Ok(Self {
            caller,
            reason: FormReason {
                parsed: Reason::parse(&guard.reason),
                typed: guard.reason,
            },
            form,
        })
    }
}
