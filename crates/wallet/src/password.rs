//! Where a keystore password comes from, in this order:
//!
//! 1. a password file (`--password-file FILE` or `OCEAN_PASSWORD_FILE`): its first line, without the line ending;
//! 2. the `OCEAN_PASSWORD` environment variable;
//! 3. a hidden prompt on the terminal (asked twice for a new key), only when stdin is a terminal.
//!
//! The file wins over the variable because it is the more explicit setting (a flag or a config entry). With none
//! of them and no terminal (CI, pipes), [`resolve`] fails with [`Error::NoPassword`], which names all three.
//! Passwords live in [`Zeroizing`] strings, wiped from memory when dropped.

use std::{
    io::{self, IsTerminal},
    path::Path,
};

use zeroize::Zeroizing;

use crate::{Error, Result};

/// The environment variable that holds a password directly.
pub const ENV: &str = "OCEAN_PASSWORD";

/// Resolves the password for `purpose` (shown in the prompt and in errors, e.g. "key `default`").
///
/// `confirm` is for new keys: the prompt asks twice and an empty password is refused.
pub fn resolve(file: Option<&Path>, purpose: &str, confirm: bool) -> Result<Zeroizing<String>> {
    let env = std::env::var(ENV).ok().map(Zeroizing::new);
    let interactive = io::stdin().is_terminal();
    resolve_with(file, env, interactive, purpose, confirm, |prompt| {
        rpassword::prompt_password(prompt).map(Zeroizing::new)
    })
}

/// [`resolve`] with its inputs explicit (the environment, whether a terminal is there, how to prompt).
fn resolve_with(
    file: Option<&Path>,
    env: Option<Zeroizing<String>>,
    interactive: bool,
    purpose: &str,
    confirm: bool,
    mut ask: impl FnMut(&str) -> io::Result<Zeroizing<String>>,
) -> Result<Zeroizing<String>> {
    let password = if let Some(path) = file {
        read_file(path)?
    } else if let Some(password) = env {
        password
    } else if interactive {
        let first = ask(&format!("Password for {purpose}: ")).map_err(Error::Prompt)?;
        if confirm {
            let again = ask("Repeat the password: ").map_err(Error::Prompt)?;
            if *first != *again {
                return Err(Error::PasswordMismatch);
            }
        }
        first
    } else {
        return Err(Error::NoPassword { purpose: purpose.to_owned() });
    };
    if confirm && password.is_empty() {
        return Err(Error::EmptyPassword);
    }
    Ok(password)
}

/// Reads a password file: its first line, without `\n` or `\r\n`.
pub fn read_file(path: &Path) -> Result<Zeroizing<String>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|source| Error::PasswordFile { path: path.to_owned(), source })?,
    );
    let line = text.split('\n').next().unwrap_or_default();
    Ok(Zeroizing::new(line.strip_suffix('\r').unwrap_or(line).to_owned()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn z(s: &str) -> Zeroizing<String> {
        Zeroizing::new(s.to_owned())
    }

    fn no_prompt(_: &str) -> io::Result<Zeroizing<String>> {
        panic!("must not prompt")
    }

    #[test]
    fn file_first_line_without_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\r\nsecond line\n").unwrap();
        assert_eq!(*read_file(&path).unwrap(), "s3cret");
        std::fs::write(&path, "only\n").unwrap();
        assert_eq!(*read_file(&path).unwrap(), "only");
        std::fs::write(&path, "no newline").unwrap();
        assert_eq!(*read_file(&path).unwrap(), "no newline");
    }

    #[test]
    fn file_beats_env_and_env_beats_prompt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "from-file\n").unwrap();
        let got = resolve_with(Some(&path), Some(z("from-env")), true, "k", false, no_prompt).unwrap();
        assert_eq!(*got, "from-file");
        let got = resolve_with(None, Some(z("from-env")), true, "k", false, no_prompt).unwrap();
        assert_eq!(*got, "from-env");
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let err =
            resolve_with(Some(Path::new("/nonexistent/pw")), None, false, "k", false, no_prompt).unwrap_err();
        assert!(matches!(err, Error::PasswordFile { .. }), "{err}");
    }

    #[test]
    fn no_source_and_no_terminal_names_the_three_options() {
        let err = resolve_with(None, None, false, "key `default`", false, no_prompt).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::NoPassword { .. }));
        for option in ["OCEAN_PASSWORD", "--password-file", "terminal", "key `default`"] {
            assert!(msg.contains(option), "{msg}");
        }
    }

    #[test]
    fn prompt_asks_twice_for_new_keys() {
        let mut answers = vec![z("b"), z("a")];
        let mut asked = Vec::new();
        let got = resolve_with(None, None, true, "new key `x`", true, |p| {
            asked.push(p.to_owned());
            Ok(answers.pop().unwrap())
        });
        assert!(matches!(got, Err(Error::PasswordMismatch)));
        assert_eq!(asked.len(), 2);

        let mut answers = vec![z("same"), z("same")];
        let got =
            resolve_with(None, None, true, "new key `x`", true, |_| Ok(answers.pop().unwrap())).unwrap();
        assert_eq!(*got, "same");

        // Unlocking asks once.
        let mut count = 0;
        let got = resolve_with(None, None, true, "key `x`", false, |_| {
            count += 1;
            Ok(z("pw"))
        })
        .unwrap();
        assert_eq!((count, got.as_str()), (1, "pw"));
    }

    #[test]
    fn new_keys_refuse_an_empty_password() {
        let err = resolve_with(None, Some(z("")), false, "k", true, no_prompt).unwrap_err();
        assert!(matches!(err, Error::EmptyPassword));
        // An existing keystore may have an empty password (cast allows it): unlocking accepts it.
        assert_eq!(*resolve_with(None, Some(z("")), false, "k", false, no_prompt).unwrap(), "");
    }
}
