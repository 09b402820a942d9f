//! Launch settings: flags first, then environment variables, then defaults.
//!
//! `--data-dir DIR` / `INFINITE_STORIES_DATA_DIR`: where the local cache lives (default:
//! the OS's per-user app data directory). Two instances with two data directories are two
//! devices.
//! `--server URL` / `INFINITE_STORIES_SERVER`: the backend (default http://127.0.0.1:8787).

use std::path::PathBuf;

use anyhow::{bail, Context};

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8787";

#[derive(Debug, Clone, PartialEq)]
pub struct LaunchArgs {
    pub data_dir: Option<PathBuf>,
    pub server_url: String,
}

impl LaunchArgs {
    pub fn from_env() -> anyhow::Result<LaunchArgs> {
        Self::parse(std::env::args().skip(1), |k| std::env::var(k).ok())
    }

    pub fn parse(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<LaunchArgs> {
        let mut data_dir = env("INFINITE_STORIES_DATA_DIR")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        let mut server_url = env("INFINITE_STORIES_SERVER").filter(|s| !s.is_empty());
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
                None => (arg.clone(), None),
            };
            let mut value = |name: &str| {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .with_context(|| format!("{name} needs a value"))
            };
            match flag.as_str() {
                "--data-dir" => data_dir = Some(PathBuf::from(value("--data-dir")?)),
                "--server" => server_url = Some(value("--server")?),
                // Arguments the platform or a test driver may add are not ours to refuse.
                _ if flag.starts_with("-psn_") => {}
                other if other.starts_with("--") => {
                    bail!("unknown option {other} (known: --data-dir DIR, --server URL)")
                }
                _ => {}
            }
        }
        let server_url = server_url.unwrap_or_else(|| DEFAULT_SERVER.to_owned());
        if !(server_url.starts_with("http://") || server_url.starts_with("https://")) {
            bail!("--server must be an http:// or https:// URL, got {server_url:?}");
        }
        Ok(LaunchArgs {
            data_dir,
            server_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<LaunchArgs> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LaunchArgs::parse(args.iter().map(|s| s.to_string()), |k| {
            env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn flags_override_environment_which_overrides_defaults() {
        assert_eq!(
            parse(&[], &[]).unwrap(),
            LaunchArgs {
                data_dir: None,
                server_url: DEFAULT_SERVER.into()
            }
        );
        let env = [
            ("INFINITE_STORIES_DATA_DIR", "/e"),
            ("INFINITE_STORIES_SERVER", "http://env:1"),
        ];
        assert_eq!(parse(&[], &env).unwrap().server_url, "http://env:1");
        let got = parse(&["--data-dir", "/f", "--server=http://flag:2"], &env).unwrap();
        assert_eq!(
            got,
            LaunchArgs {
                data_dir: Some("/f".into()),
                server_url: "http://flag:2".into()
            }
        );
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        assert!(parse(&["--server", "ftp://x"], &[])
            .unwrap_err()
            .to_string()
            .contains("http://"));
        assert!(parse(&["--data-dir"], &[])
            .unwrap_err()
            .to_string()
            .contains("needs a value"));
        assert!(parse(&["--bogus"], &[])
            .unwrap_err()
            .to_string()
            .contains("unknown option"));
    }
}
