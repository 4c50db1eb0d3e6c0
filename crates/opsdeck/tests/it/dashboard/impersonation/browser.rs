//! Impersonation in a real headless Chromium: a support engineer signs in, starts an
//! impersonation through the form, sees the token with its copy button (shown by the
//! script) and copies it, then ends the impersonation from the list.

use fantoccini::{Client, Locator};
use opsdeck_core::auth::Role;

use super::LIST;
use crate::dashboard::driver::{Driver, WITHIN, path_of, screenshot, sign_in, wait_for_text};
use crate::impersonation::enable;
use crate::support::app::TestApp;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

async fn type_into(browser: &Client, selector: &str, text: &str) {
    browser
        .find(Locator::Css(selector))
        .await
        .unwrap_or_else(|_| panic!("no {selector}"))
        .send_keys(text)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_starts_an_impersonation_copies_the_token_and_ends_it_in_chromium() {
    let Some(mut driver) = Driver::start("dashboard-impersonation").await else {
        return;
    };
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| {
        enable(c);
        c.session.secure_cookie = false;
    })
    .await;
    let (_, support) = app.mint_role(Role::Support).await;
    let browser = driver.session().await;
    sign_in(&browser, &app, &support, LIST).await;

    type_into(&browser, "#start-form input[name=user_id]", "user_7").await;
    type_into(&browser, "#start-form input[name=reason]", "ticket 4711").await;
    browser
        .find(Locator::Id("start-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&browser, "h1", "Impersonating user_7").await;
    let token = browser
        .find(Locator::Id("impersonation-token"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let copy = browser.find(Locator::Id("copy-token")).await.unwrap();
    assert!(
        copy.is_displayed().await.unwrap(),
        "the script shows the button"
    );
    screenshot(&browser, "impersonation-1-token").await;
    copy.click().await.unwrap();
    // Copied to the clipboard, or (where the browser refuses the clipboard) selected for
    // the person to copy: either way, the token is what is taken.
    let b = browser.clone();
    let taken = wait_for_async(WITHIN, "the token to be copied or selected", move || {
        let b = b.clone();
        async move {
            let copied = b.find(Locator::Css("[data-copied]")).await.ok()?;
            if copied.is_displayed().await.ok()? {
                return Some("copied".to_owned());
            }
            let selected = b
                .execute("return window.getSelection().toString() || (document.activeElement.value || '').substring(document.activeElement.selectionStart, document.activeElement.selectionEnd);", vec![])
                .await
                .ok()?;
            selected.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
        }
    })
    .await;
    assert!(taken == "copied" || taken == token, "{taken}");
    screenshot(&browser, "impersonation-2-copied").await;

    browser.goto(&app.url(LIST)).await.unwrap();
    let row = browser.find(Locator::Css("tr[data-jti]")).await.unwrap();
    let jti = row.attr("data-jti").await.unwrap().unwrap();
    assert!(!browser.source().await.unwrap().contains(&token));
    screenshot(&browser, "impersonation-3-listed").await;
    type_into(
        &browser,
        "tr[data-jti] input[name=reason]",
        "ticket 4711 resolved",
    )
    .await;
    browser
        .find(Locator::Css("tr[data-jti] button.end-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&browser, "#notice", "ended").await;
    assert_eq!(path_of(&browser).await, format!("{LIST}?ended={jti}"));
    assert!(browser.find(Locator::Css("tr[data-jti]")).await.is_err());
    screenshot(&browser, "impersonation-4-ended").await;
    browser.close().await.unwrap();
}
