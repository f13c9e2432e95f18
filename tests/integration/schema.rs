//! The JSON Schema: the checked-in copy matches `remedy schema`, and every
//! shipped workflow is valid against it according to an independent
//! validator.

use crate::support::{files, remedy, root, run};

fn yaml_to_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn validator() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/playbook.schema.json")).unwrap(),
    )
    .unwrap();
    jsonschema::validator_for(&schema).expect("the schema is itself valid")
}

#[test]
fn checked_in_schema_matches_remedy_schema() {
    let r = run(remedy().arg("schema"));
    assert_eq!(r.code, 0);
    let path = root().join("schemas/playbook.schema.json");
    if std::env::var_os("REMEDY_BLESS").is_some() {
        std::fs::write(&path, &r.stdout).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == r.stdout,
        "schemas/playbook.schema.json differs from `remedy schema`; regenerate it with\n    cargo run -- schema > schemas/playbook.schema.json\n(or REMEDY_BLESS=1 cargo test --test integration schema) and commit it"
    );
}

#[test]
fn shipped_workflows_are_valid_against_the_schema() {
    let v = validator();
    let workflows = files(&root().join("workflows"), &["yaml"]);
    assert_eq!(workflows.len(), 4);
    for wf in workflows
        .iter()
        .chain(files(&root().join("tests/corpus/playbooks/ok"), &["yaml"]).iter())
    {
        let doc = yaml_to_json(wf);
        let errors: Vec<String> = v
            .iter_errors(&doc)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", wf.display());
    }
}

#[test]
fn schema_rejects_what_the_loader_rejects() {
    let v = validator();
    let dir = root().join("tests/corpus/playbooks/err");
    // Files whose problem is visible to a JSON Schema (structure, names,
    // closed sets); semantic rules such as duplicate ids are the loader's.
    for name in [
        "unknown-action-typo.yaml",
        "unknown-top-level-field.yaml",
        "missing-steps.yaml",
        "step-without-kind.yaml",
        "step-with-both-kinds.yaml",
        "empty-steps.yaml",
        "unknown-api-version.yaml",
        "max-failures-words.yaml",
        "concurrency-zero.yaml",
    ] {
        let doc = yaml_to_json(&dir.join(name));
        assert!(!v.is_valid(&doc), "{name} passes the schema");
    }
}
