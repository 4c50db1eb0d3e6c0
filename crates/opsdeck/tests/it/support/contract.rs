//! The contract-suite generator shared by every storage capability's tests.

/// Generates `sqlite::<test>` and `postgres::<test>` for each test: `store` tests take a
/// migrated `Arc<dyn Store>`, `db` tests take the [`TestDb`] itself.
macro_rules! contract {
    (store: [$($store_test:ident),* $(,)?], db: [$($db_test:ident),* $(,)?] $(,)?) => {
        mod sqlite {
            use crate::support::db::TestDb;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $store_test() {
                    let db = TestDb::sqlite();
                    super::$store_test(db.store().await).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $db_test() {
                    super::$db_test(&TestDb::sqlite()).await;
                }
            )*
        }

        mod postgres {
            use crate::support::db::TestDb;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $store_test() {
                    let Some(db) = TestDb::postgres() else { return };
                    super::$store_test(db.store().await).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $db_test() {
                    let Some(db) = TestDb::postgres() else { return };
                    super::$db_test(&db).await;
                }
            )*
        }
    };
}

pub(crate) use contract;

/// Generates `sqlite::<test>` and `postgres::<test>` for tests of a whole app, each given
/// its own fresh [`TestDb`] by value (to hand to `TestApp::spawn_with`).
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            use crate::support::db::TestDb;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(TestDb::sqlite()).await;
                }
            )*
        }

        mod postgres {
            use crate::support::db::TestDb;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(db) = TestDb::postgres() else { return };
                    super::$test(db).await;
                }
            )*
        }
    };
}

pub(crate) use on_both_backends;
