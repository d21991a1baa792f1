//! The gateway's configuration file (TOML): its upstream servers, and the
//! credentials the gateway sends them, which the agent never sees.
//!
//! ```toml
//! [[upstream]]
//! prefix = "files"
//! command = ["node", "/opt/mcp/server-filesystem/dist/index.js", "/data"]
//!
//! [[upstream]]
//! prefix = "github"
//! url = "https://mcp.example.com/mcp"
//! headers = { Authorization = "Bearer ghp_..." }
//! ```

use crate::GatewayError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The file: upstream servers, in order.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GatewayFile {
    /// The `[[upstream]]` entries, in the file's order.
    #[serde(default)]
    pub upstream: Vec<UpstreamEntry>,
}

/// One upstream server: a command (stdio) or a URL (streamable HTTP).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UpstreamEntry {
    /// The agent sees the server's tool `NAME` as `PREFIX.NAME`.
    pub prefix: Option<String>,
    /// The server's program and arguments.
    pub command: Option<Vec<String>>,
    /// The server's streamable HTTP endpoint.
    pub url: Option<String>,
    /// HTTP headers sent to the server with every request (for a `url`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// Where an upstream entry's server is: exactly one of the two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server<'a> {
    /// A program the gateway starts, speaking stdio.
    Command {
        /// The program (the command's first element).
        program: &'a str,
        /// Its arguments (the rest).
        args: &'a [String],
    },
    /// A streamable HTTP endpoint, with the headers sent to it.
    Url {
        /// The endpoint, `http://` or `https://`.
        url: &'a str,
        /// The headers sent with every request.
        headers: &'a BTreeMap<String, String>,
    },
}

impl UpstreamEntry {
    /// The entry's server, or why the entry names none (or both).
    pub fn server(&self) -> Result<Server<'_>, String> {
        match (self.command.as_deref(), self.url.as_deref()) {
            (Some([program, args @ ..]), None) => {
                if !self.headers.is_empty() {
                    return Err("headers are for a `url` server".into());
                }
                Ok(Server::Command { program, args })
            }
            (None, Some(url)) if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Server::Url {
                    url,
                    headers: &self.headers,
                })
            }
            (None, Some(url)) => Err(format!("`{url}` is not an http:// or https:// URL")),
            _ => Err("give exactly one of `command` (a non-empty list) and `url`".into()),
        }
    }
}

/// A prefix is one or more names joined by dots, as plans name tools.
fn valid_prefix(p: &str) -> bool {
    !p.is_empty()
        && p.split('.').all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

impl GatewayFile {
    /// Parses the file's text, refusing an unknown key, an entry without
    /// exactly one of `command` (non-empty) and `url` (`http://` or
    /// `https://`), `headers` on a `command` entry, and a prefix that is
    /// not a dotted name (`github`, `acme.crm`).
    pub fn parse(text: &str) -> Result<GatewayFile, GatewayError> {
        let file: GatewayFile =
            toml::from_str(text).map_err(|e| GatewayError::Config(e.to_string()))?;
        for (i, u) in file.upstream.iter().enumerate() {
            let n = i + 1;
            u.server()
                .map_err(|why| GatewayError::Config(format!("upstream {n}: {why}")))?;
            if let Some(p) = &u.prefix
                && !valid_prefix(p)
            {
                return Err(GatewayError::Config(format!(
                    "upstream {n}: the prefix `{p}` is not a dotted name (`github`, `acme.crm`)"
                )));
            }
        }
        Ok(file)
    }

    /// Reads and parses the file at `path` ([`GatewayFile::parse`]); the
    /// errors name the file.
    pub fn load(path: &Path) -> Result<GatewayFile, GatewayError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| GatewayError::Config(format!("cannot read {}: {e}", path.display())))?;
        GatewayFile::parse(&text)
            .map_err(|e| GatewayError::Config(format!("{}: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let f = GatewayFile::parse(
            r#"
[[upstream]]
prefix = "files"
command = ["node", "/opt/mcp/server-filesystem/dist/index.js", "/data"]

[[upstream]]
prefix = "github"
url = "https://mcp.example.com/mcp"
headers = { Authorization = "Bearer ghp_x" }
"#,
        )
        .unwrap();
        assert_eq!(f.upstream.len(), 2);
        assert_eq!(f.upstream[1].headers["Authorization"], "Bearer ghp_x");
        assert!(matches!(
            f.upstream[0].server(),
            Ok(Server::Command { program: "node", args }) if args.len() == 2
        ));
        assert!(matches!(
            f.upstream[1].server(),
            Ok(Server::Url { url: "https://mcp.example.com/mcp", headers }) if headers.len() == 1
        ));
    }

    #[test]
    fn bad_entries_are_refused() {
        for bad in [
            "[[upstream]]\n",
            "[[upstream]]\ncommand = []\n",
            "[[upstream]]\ncommand = [\"x\"]\nurl = \"http://a\"\n",
            "[[upstream]]\nurl = \"file:///etc/passwd\"\n",
            "[[upstream]]\ncommand = [\"x\"]\nheaders = { A = \"b\" }\n",
            "[[upstream]]\nurl = \"http://a\"\nprefix = \"has space\"\n",
            "[[upstream]]\nurl = \"http://a\"\nprefix = \"a..b\"\n",
            "[[upstream]]\nurl = \"http://a\"\ncredentials = \"x\"\n",
        ] {
            assert!(GatewayFile::parse(bad).is_err(), "{bad}");
        }
        assert!(valid_prefix("acme.crm") && valid_prefix("_x1"));
    }
}
