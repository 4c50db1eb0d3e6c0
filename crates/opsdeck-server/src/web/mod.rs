//! Server-rendered pages. Templates live in `templates/` and are compiled into the binary
//! (askama); handlers here fill a template's struct and nothing else. Every page is answered
//! through [`Page`], which adds the security headers pages need; the frame of every signed-in
//! page (who is signed in, the navigation that principal may use) is [`shell::Shell`].

pub mod alerts;
pub mod assets;
pub mod audit;
pub mod charts;
pub mod checks;
pub mod cron;
pub mod format;
pub mod health;
pub mod impersonation;
pub mod login;
pub mod overview;
pub mod queues;
pub mod shell;
pub mod tenants;
pub mod tokens;

use askama::Template;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Only our own scripts, styles and images: no inline script can run even if some text
/// escaped its escaping, and no other site can frame a page (clickjacking).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// A rendered template answered as a page, with the given status (200 unless changed).
#[derive(Debug)]
pub struct Page<T> {
    template: T,
    status: StatusCode,
}

impl<T: Template> Page<T> {
    pub fn new(template: T) -> Self {
        Self {
            template,
            status: StatusCode::OK,
        }
    }

    pub fn with_status(template: T, status: StatusCode) -> Self {
        Self { template, status }
    }
}

impl<T: Template> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        match self.template.render() {
            Ok(body) => {
                let mut response = (self.status, body).into_response();
                let headers = response.headers_mut();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                secure_page_headers(headers);
                response
            }
            Err(err) => ApiError::internal(err).into_response(),
        }
    }
}

#[derive(Template)]
#[template(path = "refused.html")]
struct RefusedPage<'a> {
    message: &'a str,
}

/// The page a signed-in person sees for a page or form their role may not use (403): the
/// same refusal the JSON API gives, readable in a browser.
pub fn refused_page(message: &str) -> Response {
    Page::with_status(RefusedPage { message }, StatusCode::FORBIDDEN).into_response()
}

/// The headers every page carries: pages show operational data of the moment, so they are
/// never stored by the browser or a proxy, and they are never framed or sniffed.
pub fn secure_page_headers(headers: &mut axum::http::HeaderMap) {
    let fixed: [(HeaderName, &'static str); 6] = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
}
