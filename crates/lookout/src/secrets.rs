//! Secrets (Twilio auth token, SMTP password, ack token) come from the
//! environment or from a separate file, never from the config. Errors name
//! the variable or key, never a value, and `Secret` prints as `***`.

use std::collections::HashMap;

use anyhow::{Context, bail};
use lookout_core::config::{Config, SecretRef};

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Clone, Debug, Default)]
pub struct Secrets {
    values: HashMap<String, Secret>,
}

fn key(r: &SecretRef) -> String {
    format!("{r:?}")
}

impl Secrets {
    /// Resolve every secret the config refers to; a missing one is an error.
    pub fn resolve(cfg: &Config) -> anyhow::Result<Secrets> {
        let refs = cfg.secret_refs();
        let mut file: Option<HashMap<String, String>> = None;
        let mut values = HashMap::new();
        for r in refs {
            let v = match r {
                SecretRef::Env(name) => std::env::var(name)
                    .with_context(|| format!("secret: environment variable {name} is not set"))?,
                SecretRef::File(k) => {
                    if file.is_none() {
                        file = Some(load_file(cfg)?);
                    }
                    let f = file.as_ref().expect("just loaded");
                    f.get(k)
                        .cloned()
                        .with_context(|| format!("secret: key `{k}` not in the secrets file"))?
                }
            };
            if v.is_empty() {
                bail!("secret {r:?} is empty");
            }
            values.insert(key(r), Secret(v));
        }
        Ok(Secrets { values })
    }

    pub fn get(&self, r: &SecretRef) -> Option<&Secret> {
        self.values.get(&key(r))
    }
}

fn load_file(cfg: &Config) -> anyhow::Result<HashMap<String, String>> {
    let path = cfg
        .monitor
        .secrets_file
        .as_deref()
        .context("a { secret = ... } reference needs monitor.secrets_file")?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading secrets file {path}"))?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("secrets file {path}: {}", e.message()))?;
    let mut out = HashMap::new();
    for (k, v) in table {
        match v {
            toml::Value::String(s) => {
                out.insert(k, s);
            }
            _ => bail!("secrets file {path}: `{k}` must be a string"),
        }
    }
    Ok(out)
}

/// Environment variables that hold secrets: exec checks do not inherit them.
pub fn env_names(cfg: &Config) -> Vec<String> {
    cfg.secret_refs()
        .into_iter()
        .filter_map(|r| match r {
            SecretRef::Env(n) => Some(n.clone()),
            SecretRef::File(_) => None,
        })
        .collect()
}
