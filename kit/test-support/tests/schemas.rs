//! The events' JSON Schemas in kit/contracts/schemas/ are what the contract types generate
//! (contracts::schema). After changing a contract, write them again:
//!
//!     WRITE_SCHEMAS=1 cargo test -p test-support --test schemas

use std::path::PathBuf;

fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contracts/schemas")
}

#[test]
fn each_events_schema_file_is_what_its_contract_type_generates() {
    let write = std::env::var_os("WRITE_SCHEMAS").is_some();
    let generated = contracts::schema::all();
    for (name, schema) in &generated {
        let path = folder().join(name);
        let text = serde_json::to_string_pretty(schema).expect("JSON") + "\n";
        if write {
            std::fs::write(&path, &text).expect("write the schema");
            continue;
        }
        let found = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            found == text,
            "{} is not what its contract generates: WRITE_SCHEMAS=1 cargo test -p test-support --test schemas",
            path.display()
        );
    }
    let mut files: Vec<String> = std::fs::read_dir(folder())
        .expect("kit/contracts/schemas")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut names: Vec<String> = generated.into_iter().map(|(name, _)| name).collect();
    names.sort();
    assert_eq!(files, names, "one schema file per known event, no other");
}
