// The SQL migrations are compiled into the binary (sqlx::migrate! and include_str!): rebuild
// when one changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
