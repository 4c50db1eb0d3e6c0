//! Rebuilds the crate when a migration changes: `sqlx::migrate!` embeds the SQL files at
//! compile time, and cargo does not otherwise watch them.

fn main() {
    println!("cargo:rerun-if-changed=src/sqlite/migrations");
    println!("cargo:rerun-if-changed=src/postgres/migrations");
}
