//! The tenant a request concerns, for its audit entry: the `{id}` of every route under
//! `/ops/tenants/{id}` (and of the dashboard's `/tenants/{id}` pages), parsed as a
//! [`TenantId`]. A path whose id does not parse names no tenant (the handler answers 400).

use opsdeck_core::ids::TenantId;

/// Route templates whose second segment after the prefix is the tenant id.
const TENANT_ROUTES: [&str; 2] = ["/ops/tenants/{id}", "/tenants/{id}"];

/// The tenant of a request to `path` that matched the route template `route`.
pub fn tenant_of(route: &str, path: &str) -> Option<TenantId> {
    let prefix = TENANT_ROUTES.iter().find(|prefix| {
        route
            .strip_prefix(**prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })?;
    // The template and the path have the same segments up to the id.
    let index = prefix.split('/').count() - 1;
    let segment = path.split('/').nth(index)?;
    TenantId::parse(&percent_decode(segment)?).ok()
}

/// `%XX` escapes decoded; `None` for a malformed escape or text that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
