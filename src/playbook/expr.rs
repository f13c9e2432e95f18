//! `when` conditions and `{{ }}` templates: compiled with minijinja at
//! validate time, and the CSV columns they read.
//!
//! The only variable a playbook expression may use is `row`, the current CSV
//! row; `row.<column>` must name a declared column. Undefined values are
//! errors at run time (strict mode), never a silent empty string.

use std::collections::BTreeSet;
use std::ops::Range;

use minijinja::{Environment, UndefinedBehavior};

/// A syntax error inside an expression or template, with the byte range
/// within the expression text when minijinja gives one.
#[derive(Debug)]
pub struct ExprError {
    pub message: String,
    pub range: Option<Range<usize>>,
}

/// What an expression reads.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct References {
    /// Columns read as `row.<name>`.
    pub columns: BTreeSet<String>,
    /// Variables other than `row` (always an error: nothing else exists).
    pub unknown_variables: BTreeSet<String>,
    /// `row` used other than by attribute (e.g. `row["a b"]`); its columns
    /// cannot be checked before a run.
    pub dynamic_row: bool,
}

/// The environment every playbook expression is compiled and evaluated in.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

/// Compiles a `when` condition.
pub fn check_condition(env: &Environment<'_>, text: &str) -> Result<References, ExprError> {
    if text.contains("{{") || text.contains("{%") {
        return Err(ExprError {
            message: "a `when` condition is an expression, not a template".into(),
            range: text
                .find("{{")
                .or_else(|| text.find("{%"))
                .map(|i| i..i + 2),
        });
    }
    let expr = env.compile_expression(text).map_err(to_expr_error)?;
    Ok(references(expr.undeclared_variables(true)))
}

/// Compiles a `{{ }}` template.
pub fn check_template(env: &Environment<'_>, text: &str) -> Result<References, ExprError> {
    let tmpl = env.template_from_str(text).map_err(to_expr_error)?;
    Ok(references(tmpl.undeclared_variables(true)))
}

fn to_expr_error(e: minijinja::Error) -> ExprError {
    ExprError {
        message: e
            .detail()
            .map_or_else(|| e.kind().to_string(), str::to_owned),
        range: e.range(),
    }
}

fn references(vars: std::collections::HashSet<String>) -> References {
    let mut refs = References::default();
    for var in vars {
        match var.split_once('.') {
            Some(("row", rest)) => {
                let column = rest.split('.').next().unwrap_or(rest);
                refs.columns.insert(column.to_owned());
            }
            None if var == "row" => refs.dynamic_row = true,
            _ => {
                let root = var.split('.').next().unwrap_or(&var);
                refs.unknown_variables.insert(root.to_owned());
            }
        }
    }
    refs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(r: &References) -> Vec<&str> {
        r.columns.iter().map(String::as_str).collect()
    }

    #[test]
    fn lists_row_columns() {
        let env = environment();
        let r =
            check_condition(&env, "row.compromised == 'yes' and row.dept.lower() == 'x'").unwrap();
        assert_eq!(cols(&r), ["compromised", "dept"]);
        assert!(r.unknown_variables.is_empty());
        let t = check_template(&env, "{{ row.temp_password }}!").unwrap();
        assert_eq!(cols(&t), ["temp_password"]);
    }

    #[test]
    fn flags_other_variables_and_dynamic_access() {
        let env = environment();
        let r = check_condition(&env, "user.enabled or row['display name']").unwrap();
        assert!(r.unknown_variables.contains("user"));
        assert!(r.dynamic_row);
    }

    #[test]
    fn syntax_errors_carry_a_range() {
        let env = environment();
        let e = check_condition(&env, "row.a == ").unwrap_err();
        assert!(
            e.message.contains("unexpected end of input"),
            "{}",
            e.message
        );
        assert!(e.range.is_some());
        let e = check_template(&env, "{{ row.a }").unwrap_err();
        assert_eq!(e.range, Some(9..10));
        assert!(check_condition(&env, "{{ row.a }}").is_err());
    }
}
