//! The user guide stays true: the playbook reference lists exactly the
//! schema's fields and values, the guide's local links resolve, and the
//! shard examples run remedy the way the guide says (a shard, a rate share,
//! credentials only from the environment).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::support::root;

/// The object a property's schema leads to, through `$ref`, `anyOf`,
/// `oneOf` and `items`.
fn object_def<'a>(schema: &'a Value, defs: &'a Value) -> Option<&'a Value> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let def = &defs[r.trim_start_matches("#/$defs/")];
        return object_def(def, defs);
    }
    if schema.get("properties").is_some() {
        return Some(schema);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(found) = schema
            .get(key)
            .and_then(Value::as_array)
            .and_then(|alts| alts.iter().find_map(|a| object_def(a, defs)))
        {
            return Some(found);
        }
    }
    schema.get("items").and_then(|i| object_def(i, defs))
}

/// Every object of the schema by its reference heading (`Top level`,
/// `target`, `guards.protect`, `steps[]`, `steps[].with`), with its fields.
fn schema_objects(schema: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let defs = &schema["$defs"];
    let mut out = BTreeMap::new();
    let mut stack = vec![(String::new(), schema)];
    while let Some((path, object)) = stack.pop() {
        let props = object["properties"].as_object().unwrap();
        let heading = if path.is_empty() {
            "Top level".to_owned()
        } else {
            format!("`{path}`")
        };
        out.insert(heading, props.keys().cloned().collect());
        for (name, prop) in props {
            if let Some(child) = object_def(prop, defs) {
                let is_list = prop.get("items").is_some();
                let prefix = if path.is_empty() {
                    String::new()
                } else {
                    format!("{path}.")
                };
                let suffix = if is_list { "[]" } else { "" };
                stack.push((format!("{prefix}{name}{suffix}"), child));
            }
        }
    }
    out
}

/// Every `const` and `enum` string of the schema.
fn schema_values(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            if let Some(c) = map.get("const").and_then(Value::as_str) {
                out.insert(c.to_owned());
            }
            if let Some(e) = map.get("enum").and_then(Value::as_array) {
                out.extend(e.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            map.values().for_each(|c| schema_values(c, out));
        }
        Value::Array(items) => items.iter().for_each(|c| schema_values(c, out)),
        _ => {}
    }
}

/// The reference's tables: `### heading` → the first cell (`` `name` ``)
/// of each row.
fn doc_tables(doc: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut heading = None;
    for line in doc.lines() {
        if let Some(h) = line
            .strip_prefix("### ")
            .or_else(|| line.strip_prefix("## "))
        {
            heading = Some(h.trim().to_owned());
        } else if let (Some(h), Some(rest)) = (&heading, line.strip_prefix("| `")) {
            let name = rest.split('`').next().unwrap_or_default();
            out.entry(h.clone()).or_default().insert(name.to_owned());
        }
    }
    out
}

#[test]
fn playbook_reference_lists_every_schema_field_and_value() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/playbook.schema.json")).unwrap(),
    )
    .unwrap();
    let doc = std::fs::read_to_string(root().join("docs/playbook.md")).unwrap();
    let tables = doc_tables(&doc);
    let objects = schema_objects(&schema);
    assert!(objects.len() >= 8, "{objects:?}");
    for (heading, fields) in &objects {
        let documented = tables.get(heading).cloned().unwrap_or_default();
        let missing: Vec<_> = fields.difference(&documented).collect();
        let stale: Vec<_> = documented.difference(fields).collect();
        assert!(
            missing.is_empty() && stale.is_empty(),
            "docs/playbook.md, section `### {heading}`: fields missing from the reference {missing:?}, \
             listed but not in the schema {stale:?}"
        );
    }
    let mut values = BTreeSet::new();
    schema_values(&schema, &mut values);
    let documented = tables.get("Values").cloned().unwrap_or_default();
    assert_eq!(
        values, documented,
        "docs/playbook.md, section `## Values` must list every schema value"
    );
}

#[test]
fn guide_links_resolve_and_readme_links_the_guide() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(readme.contains("(docs/guide.md)"), "README links the guide");
    for doc in ["docs/guide.md", "docs/playbook.md"] {
        let text = std::fs::read_to_string(root().join(doc)).unwrap();
        let base = root().join(doc);
        let base = base.parent().unwrap();
        for (i, _) in text.match_indices("](") {
            let target = text[i + 2..].split(')').next().unwrap();
            let path = target.split('#').next().unwrap();
            if path.is_empty() || path.starts_with("http") {
                continue;
            }
            assert!(base.join(path).exists(), "{doc}: broken link {target}");
        }
    }
}

#[test]
fn shard_examples_split_the_rate_and_keep_secrets_out_of_argv() {
    for file in [
        "examples/shards/github-actions-matrix.yml",
        "examples/shards/kubernetes-indexed-job.yaml",
    ] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        let _: serde_json::Value = serde_saphyr::from_str(&text)
            .unwrap_or_else(|e| panic!("{file} is not valid YAML: {e}"));
        for needed in [
            "--shard",
            "--max-rate",
            "--state-dir",
            "AZURE_CLIENT_SECRET",
        ] {
            assert!(text.contains(needed), "{file} lacks {needed}");
        }
        let command_lines = text
            .lines()
            .filter(|l| l.contains("remedy ") && !l.trim_start().starts_with('#'));
        for line in command_lines {
            assert!(
                !line.contains("SECRET") && !line.contains("secrets."),
                "{file}: a secret on a command line: {line}"
            );
        }
    }
}

/// Every sign-in error code remedy has a hint for (`AuthError::hint`) has a
/// row in the guide's troubleshooting section.
#[test]
fn troubleshooting_covers_every_mapped_sign_in_error() {
    let auth = std::fs::read_to_string(root().join("src/graph/auth/error.rs")).unwrap();
    let guide = std::fs::read_to_string(root().join("docs/guide.md")).unwrap();
    let troubleshooting = guide.split("## Troubleshooting").nth(1).unwrap();
    let mut codes = Vec::new();
    for line in auth.lines().map(str::trim) {
        let Some((arms, _)) = line.split_once(" => \"") else {
            continue;
        };
        for arm in arms.split(" | ") {
            if !arm.is_empty() && arm.chars().all(|c| c.is_ascii_digit() || c == '_') {
                codes.push(arm.replace('_', ""));
            }
        }
    }
    assert!(codes.len() >= 6, "{codes:?}");
    for code in codes {
        assert!(
            troubleshooting.contains(&format!("AADSTS{code}")),
            "docs/guide.md troubleshooting lacks AADSTS{code}"
        );
    }
}
