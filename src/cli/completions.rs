//! `remedy completions SHELL`: print a shell completion script generated
//! from the same clap definitions the parser uses (clap_complete).

use clap::{Args, CommandFactory as _, ValueEnum};

/// Print a completion script for a shell.
///
/// The script completes subcommands, flags and their values (formats,
/// clouds, progress modes). Load it from your shell's startup files, or
/// install it where your shell looks for completions.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  remedy completions bash > ~/.local/share/bash-completion/completions/remedy
  remedy completions zsh > \"${fpath[1]}/_remedy\"
  remedy completions fish > ~/.config/fish/completions/remedy.fish
  remedy completions powershell >> $PROFILE")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

/// The completion script for `shell`.
#[must_use]
pub fn script(shell: Shell) -> Vec<u8> {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut super::Cli::command(), "remedy", &mut out);
    out
}

pub fn run(args: &CompletionsArgs) -> u8 {
    super::write_stdout(&script(args.shell))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_completes_the_subcommands() {
        for shell in Shell::value_variants() {
            let text = String::from_utf8(script(*shell)).unwrap();
            for sub in ["run", "validate", "doctor", "runs", "report"] {
                assert!(text.contains(sub), "{shell:?} lacks {sub}");
            }
        }
    }
}
