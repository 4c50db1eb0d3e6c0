//! Targets as they may be shown: URLs and addresses with their credentials left out, for
//! the dashboard and for probe output. What a probe writes passes the monitor's scrubber
//! too; these keep credentials out in the first place.

/// A URL without its user-info part; text that does not parse is returned as it is (the
/// redactor still runs over it).
pub fn strip_credentials(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        _ => text.to_owned(),
    }
}

/// A URL shown without credentials and with the general redactor run over it, for a
/// check's target.
pub fn shown_target(url: &str) -> String {
    opsdeck_core::redact::redact_text(&strip_credentials(url)).into_owned()
}

/// A URL for messages: scheme, host, port and path only. User-info and query strings are
/// where credentials hide (`?token=`), so neither is shown.
pub fn shown_url(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(url) => {
            format!(
                "{}://{}{}",
                url.scheme(),
                url.host_str().unwrap_or_default(),
                url.port().map(|p| format!(":{p}")).unwrap_or_default()
            ) + url.path()
        }
        Err(_) => "the configured URL".to_owned(),
    }
}

/// `host:port` of a connection URL, for messages: never the user-info or query, which may
/// hold credentials.
pub fn server_address(url: &str, default_port: u16) -> String {
    match url::Url::parse(url) {
        Ok(url) => match url.host_str().filter(|host| !host.is_empty()) {
            Some(host) => format!("{host}:{}", url.port().unwrap_or(default_port)),
            None => "the configured local socket".to_owned(),
        },
        Err(_) => "the configured URL".to_owned(),
    }
}

/// A problem for a `host:port` address written without its port, as (key, message).
pub(super) fn needs_port(key: &str, address: &str, example_port: u16) -> Option<(String, String)> {
    (!address.contains(':')).then(|| {
        (
            key.to_owned(),
            format!("\"{address}\" needs a port, e.g. \"{address}:{example_port}\""),
        )
    })
}
