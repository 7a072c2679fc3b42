//! Shell completions and the manual page, generated from the same grammar the parser
//! uses, so they cannot drift from it (as kubectl and argo rollouts do).

use super::grammar::Cli;
use clap::CommandFactory;
use std::io::Write;

/// Writes the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "naap", out);
}

/// Writes the manual page (roff): `naap(1)`, then a page per subcommand (`naap-deploy(1)`
/// …) with its own options, in one stream `man -l -` reads.
pub fn man_page(out: &mut dyn Write) -> std::io::Result<()> {
    let mut command = Cli::command();
    command.build();
    clap_mangen::Man::new(command.clone()).render(out)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub = sub.clone().name(format!("naap-{}", sub.get_name()));
        clap_mangen::Man::new(sub).render(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_and_man_page_come_from_the_grammar() {
        let mut bash = Vec::new();
        completions(clap_complete::Shell::Bash, &mut bash);
        let bash = String::from_utf8_lossy(&bash);
        assert!(
            bash.contains("rollback") && bash.contains("--dry-run"),
            "{bash}"
        );
        let mut man = Vec::new();
        man_page(&mut man).expect("roff");
        let man = String::from_utf8_lossy(&man);
        assert!(
            man.contains(".TH naap 1") && man.contains("naap\\-deploy"),
            "{man}"
        );
        assert!(
            !man.contains("sample\\-service"),
            "hidden commands stay out"
        );
    }
}
