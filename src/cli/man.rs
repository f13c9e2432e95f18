//! `remedy man [COMMAND]`: print a roff man page generated from the clap
//! definitions (clap_mangen), for remedy or one of its subcommands.

use clap::{Args, CommandFactory as _};

use crate::exit_code;

/// Print the man page (roff) of remedy, or of one subcommand.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  remedy man > remedy.1 && man ./remedy.1
  remedy man run | man -l -
  for c in run validate doctor runs report; do remedy man $c > remedy-$c.1; done")]
pub struct ManArgs {
    /// A subcommand whose page to print (e.g. `run`). Default: remedy's.
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

/// The page of `command` (a subcommand name), or of remedy itself.
///
/// # Errors
///
/// When `command` names no subcommand, or rendering fails.
pub fn page(command: Option<&str>) -> Result<Vec<u8>, String> {
    let mut cli = super::Cli::command();
    cli.build();
    let (cmd, title) = match command {
        None => (cli, "remedy".to_owned()),
        Some(name) => {
            let sub = cli
                .find_subcommand(name)
                .ok_or_else(|| format!("no subcommand `{name}`"))?
                .clone();
            let title = format!("remedy-{}", sub.get_name());
            (sub, title)
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .title(title)
        .source(format!("remedy {}", env!("CARGO_PKG_VERSION")))
        .render(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(title_first(&out))
}

/// `roff` with its `.TH` line moved to the top. clap_mangen starts pages
/// with the apostrophe preamble (`.ie \n(.g .ds Aq …`); tools that
/// recognise a man page by its first line (and `file`) look for `.TH`.
/// The title holds no apostrophe, so it does not need the preamble.
fn title_first(roff: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(roff);
    let Some(th) = text.lines().find(|l| l.starts_with(".TH ")) else {
        return roff.to_vec();
    };
    let mut out = format!("{th}\n");
    let mut moved = false;
    for line in text.lines() {
        if !moved && line == th {
            moved = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}

pub fn run(args: &ManArgs) -> u8 {
    match page(args.command.as_deref()) {
        Ok(text) => super::write_stdout(&text),
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("  hint: `remedy --help` lists the subcommands");
            exit_code::USAGE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_roff_with_the_title_first() {
        let main = String::from_utf8(page(None).unwrap()).unwrap();
        assert!(main.starts_with(".TH remedy 1 "), "{main}");
        assert_eq!(main.matches(".TH ").count(), 1);
        assert!(main.contains(".ds Aq"), "the preamble is kept");
        let run = String::from_utf8(page(Some("run")).unwrap()).unwrap();
        assert!(run.starts_with(".TH remedy-run 1 "), "{run}");
        assert!(run.contains("remedy\\-run \\- Apply a playbook"), "{run}");
        assert!(run.contains("\\-\\-shard"), "{run}");
        assert!(page(Some("frobnicate")).is_err());
    }
}
