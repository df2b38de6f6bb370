//! `ward token`: mint an HS256 token with the secret a project is served with, for development
//! and tests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value};
use ward_ir::{CLAIM_ORG_ID, Ir, JwtKey, ROLE_AUTHENTICATED, ROLE_PUBLIC};

use super::{exit_failure, project};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The project whose secret signs the token (default: the current directory).
    #[arg(value_name = "DIR", conflicts_with = "project")]
    dir: Option<PathBuf>,
    /// The same as DIR, for scripts written before DIR was positional.
    #[arg(long, value_name = "DIR")]
    project: Option<PathBuf>,
    /// The user id (the `user-id` claim, `sub` by default).
    #[arg(long)]
    sub: String,
    /// Roles, comma-separated.
    #[arg(long, value_delimiter = ',')]
    roles: Vec<String>,
    /// The organisation id (the `org-id` claim, `org_id` by default).
    #[arg(long)]
    org: Option<String>,
    /// Any other claim, as NAME=VALUE; NAME may be an auth value name from the project's `claims`.
    #[arg(long = "claim", value_parser = parse_claim)]
    claims: Vec<(String, String)>,
    /// Lifetime: a number followed by s, m, h or d.
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    ttl: u64,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = args
        .dir
        .clone()
        .or_else(|| args.project.clone())
        .unwrap_or_else(|| PathBuf::from("."));
    let compiled = project::compile_dir(&dir)?;
    let ir = match compiled.into_ir() {
        Ok(ir) => ir,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(exit_failure());
        }
    };
    if !matches!(ir.auth.jwt.key, JwtKey::Secret { .. }) {
        bail!(
            "this project verifies tokens with a public key; ward token can only mint HS256 tokens, so mint them with your identity provider"
        );
    }
    if args.sub.is_empty() {
        bail!("--sub is empty: the server refuses a token without a user id (empty-claim)");
    }
    check_roles(&ir, &args.roles)?;
    let (secret, _source) = ward_runtime::secret::hs256_secret(&ir, &dir, false)?;
    let grant = Grant {
        sub: args.sub,
        roles: args.roles,
        org: args.org,
        claims: args.claims,
        ttl: args.ttl,
    };
    println!("{}", sign(&ir, &secret, &grant)?);
    Ok(ExitCode::SUCCESS)
}

/// What a minted token says about its holder; claim names are the project's auth value names.
pub struct Grant {
    pub sub: String,
    pub roles: Vec<String>,
    pub org: Option<String>,
    /// Any other claim, as (auth value name or claim name, value).
    pub claims: Vec<(String, String)>,
    /// Lifetime in seconds.
    pub ttl: u64,
}

/// `grant` as an HS256 token the project accepts: its claim names, issuer and audience.
pub fn sign(ir: &Ir, secret: &[u8], grant: &Grant) -> anyhow::Result<String> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &build_claims(ir, grant)?,
        &EncodingKey::from_secret(secret),
    )
    .context("could not sign the token")
}

/// A role the project does not declare would only ever get 403s: refuse it, naming the roles
/// there are.
fn check_roles(ir: &Ir, roles: &[String]) -> anyhow::Result<()> {
    for role in roles {
        if ir.roles.contains(role) {
            continue;
        }
        if role == ROLE_PUBLIC || role == ROLE_AUTHENTICATED {
            bail!(
                "`{role}` is a pseudo-role every caller (with a token, for `authenticated`) already has; leave it out of --roles"
            );
        }
        let declared = if ir.roles.is_empty() {
            "the project declares no roles".to_owned()
        } else {
            format!("its roles are {}", ir.roles.join(", "))
        };
        let hint = ward_compiler::diagnostics::suggest(role, ir.roles.iter().map(String::as_str))
            .map(|s| format!("; {s}"))
            .unwrap_or_default();
        bail!("the project has no role `{role}` ({declared}){hint}");
    }
    Ok(())
}

fn build_claims(ir: &Ir, grant: &Grant) -> anyhow::Result<Map<String, Value>> {
    let claim_for = |auth_name: &str| -> String {
        ir.auth
            .claims
            .get(auth_name)
            .cloned()
            .unwrap_or_else(|| auth_name.to_string())
    };
    let now = chrono::Utc::now().timestamp();
    let mut claims: BTreeMap<String, Value> = BTreeMap::new();
    claims.insert("iat".into(), now.into());
    // A huge `--ttl` must be a clear error, not an overflowed (or panicking) expiry.
    let exp = i64::try_from(grant.ttl)
        .ok()
        .and_then(|ttl| now.checked_add(ttl))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--ttl of {} seconds is too long: the expiry time would overflow",
                grant.ttl
            )
        })?;
    claims.insert("exp".into(), exp.into());
    if let Some(issuer) = &ir.auth.jwt.issuer {
        claims.insert("iss".into(), issuer.clone().into());
    }
    if let Some(audience) = &ir.auth.jwt.audience {
        claims.insert("aud".into(), audience.clone().into());
    }
    claims.insert(
        ir.auth.user_id_claim().to_string(),
        grant.sub.clone().into(),
    );
    let roles: Vec<Value> = grant
        .roles
        .iter()
        .map(|r| Value::from(r.as_str()))
        .collect();
    claims.insert(ir.auth.roles_claim().to_string(), Value::Array(roles));
    if let Some(org) = &grant.org {
        claims.insert(claim_for(CLAIM_ORG_ID), org.clone().into());
    }
    for (name, value) in &grant.claims {
        claims.insert(claim_for(name), value.clone().into());
    }
    Ok(claims.into_iter().collect())
}

fn parse_claim(raw: &str) -> Result<(String, String), String> {
    match raw.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("expected NAME=VALUE, got `{raw}`")),
    }
}

fn parse_ttl(raw: &str) -> Result<u64, String> {
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("expected a number followed by s, m, h or d, got `{raw}`"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit `{unit}`: use s, m, h or d")),
    };
    number
        .checked_mul(scale)
        .filter(|ttl| *ttl > 0)
        .ok_or_else(|| format!("`{raw}` is not a usable lifetime"))
}

#[cfg(test)]
mod tests {
    use super::parse_ttl;

    #[test]
    fn ttl_units() {
        assert_eq!(parse_ttl("90"), Ok(90));
        assert_eq!(parse_ttl("30m"), Ok(1800));
        assert_eq!(parse_ttl("1h"), Ok(3600));
        assert_eq!(parse_ttl("2d"), Ok(172_800));
        assert!(parse_ttl("0h").is_err());
        assert!(parse_ttl("h").is_err());
        assert!(parse_ttl("5w").is_err());
        assert!(parse_ttl("99999999999999999999d").is_err());
    }
}
