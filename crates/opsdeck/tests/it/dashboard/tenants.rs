//! A tenant's page in a real headless Chromium, on the demo's made-up shop: the page comes
//! without the application database's answers, and the script loads each query's card in
//! its place (the profile, the users with their e-mails masked, the invoices).

use fantoccini::Locator;
use opsdeck_core::auth::Role;

use super::driver::{Driver, screenshot, sign_in, wait_for_text};
use crate::support::app::TestApp;
use crate::support::db::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_page_loads_each_application_query_on_its_own_in_chromium() {
    let Some(mut driver) = Driver::start("dashboard-tenant").await else {
        return;
    };
    let mut notes = None;
    let app = TestApp::spawn_with(TestDb::sqlite(), |config| {
        notes = Some(opsdeck_server::demo::prepare(config, true));
        config.session.secure_cookie = false;
    })
    .await;
    opsdeck_server::demo::seed(&app.state, &notes.expect("prepared"))
        .await
        .unwrap();
    let shop = opsdeck_server::demo::app_database_path(app.state.config().database.url.expose());
    let (_, support) = app.mint_role(Role::Support).await;
    let browser = driver.session().await;
    sign_in(&browser, &app, &support, "/tenants/acme").await;

    wait_for_text(&browser, "#query-account", "Acme Corporation").await;
    wait_for_text(&browser, "#query-users", "owner").await;
    wait_for_text(&browser, "#query-invoices", "INV-ACME-120").await;
    for name in ["account", "users", "invoices"] {
        let card = browser
            .find(Locator::Id(&format!("query-{name}")))
            .await
            .unwrap();
        assert_eq!(
            card.attr("data-query-status").await.unwrap().as_deref(),
            Some("ok"),
            "{name}"
        );
    }
    let users = browser
        .find(Locator::Id("query-users"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!users.contains("@acme.example"), "masked: {users}");
    assert!(
        browser
            .find_all(Locator::Css("[data-load]"))
            .await
            .unwrap()
            .is_empty(),
        "every card loaded"
    );
    screenshot(&browser, "tenant-page").await;
    browser.close().await.unwrap();
    app.shutdown().await.unwrap();
    std::fs::remove_file(shop).unwrap();
}
