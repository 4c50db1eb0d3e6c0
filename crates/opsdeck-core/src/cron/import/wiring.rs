//! How an imported job is wired to its monitor: a crontab line's command wrapped in
//! `opsdeck exec` ([`ImportedMonitor::exec_line`]), written to be pasted back in place of
//! the command. Jobs whose command opsdeck does not see (a CronJob's image, a Vercel
//! path) report with their ping URL instead.

use super::ImportedMonitor;

/// Characters that make a command more than a program and its arguments: `opsdeck exec`
/// runs its command without a shell, so such a command runs under `sh -c`, as cron
/// itself runs every command.
const SHELL_SYNTAX: &[char] = &[
    ';', '&', '|', '<', '>', '(', ')', '$', '`', '\\', '"', '\'', '*', '?', '[', ']', '{', '}',
    '~', '#', '!', '\n',
];

impl ImportedMonitor {
    /// The command that reports this crontab job's runs: `opsdeck exec <slug> -- <command>`,
    /// to replace the command in its line (with `%` escaped, as cron requires); `None` for
    /// a job that is not a crontab line.
    pub fn exec_line(&self) -> Option<String> {
        let command = self.command.as_deref()?;
        // `NAME=value cmd` sets the environment: shell syntax too.
        let assigns = command
            .split_whitespace()
            .next()
            .is_some_and(|word| word.contains('='));
        let wrapped = if assigns || command.contains(SHELL_SYNTAX) {
            format!("sh -c {}", single_quoted(command))
        } else {
            command.to_owned()
        };
        // In a crontab an unescaped `%` ends the command; the rest becomes its stdin.
        let escaped = wrapped.replace('%', "\\%");
        Some(format!("opsdeck exec {} -- {escaped}", self.spec.slug()))
    }
}

/// `text` as one shell word: in single quotes, each `'` written `'\''`.
fn single_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}
