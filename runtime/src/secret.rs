//! Where the HS256 secret comes from: the environment variable the IR names, else a per-project
//! dev secret in `<project>/.ward/dev-secret`. Shared with `ward token`, so minted tokens verify.

use std::path::{Path, PathBuf};

use ward_ir::{Ir, JwtKey};

use crate::StartError;

/// Where the verification key was read from (for the start banner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// HS256 secret from this environment variable.
    Env(String),
    /// HS256 dev secret from this file (not for production).
    DevFile(PathBuf),
    /// A PEM public key or JWKS file.
    KeyFile(PathBuf),
}

impl std::fmt::Display for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Env(v) => write!(f, "HS256 secret from ${v}"),
            SecretSource::DevFile(p) => write!(
                f,
                "HS256 dev secret from {} (development only)",
                p.display()
            ),
            SecretSource::KeyFile(p) => write!(f, "public key from {}", p.display()),
        }
    }
}

/// The HS256 secret the project is served with.
pub fn hs256_secret(
    ir: &Ir,
    project_dir: &Path,
    require: bool,
) -> Result<(Vec<u8>, SecretSource), StartError> {
    let JwtKey::Secret { env } = &ir.auth.jwt.key else {
        return Err(StartError::NotHs256);
    };
    if let Ok(v) = std::env::var(env)
        && !v.is_empty()
    {
        return Ok((v.into_bytes(), SecretSource::Env(env.clone())));
    }
    if require {
        return Err(StartError::MissingSecret { env: env.clone() });
    }
    let path = project_dir.join(".ward").join("dev-secret");
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => {
            return Ok((s.trim().as_bytes().to_vec(), SecretSource::DevFile(path)));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(StartError::Io(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    }
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    match write_private(&path, &secret) {
        Ok(()) => Ok((secret.into_bytes(), SecretSource::DevFile(path))),
        // Another process (`ward token` beside `ward serve`) created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let existing = std::fs::read_to_string(&path)
                .map_err(|e| StartError::Io(format!("cannot read {}: {e}", path.display())))?;
            Ok((
                existing.trim().as_bytes().to_vec(),
                SecretSource::DevFile(path),
            ))
        }
        Err(e) => Err(StartError::Io(format!(
            "cannot write {}: {e}",
            path.display()
        ))),
    }
}

/// Creates `path` readable by its owner only; fails with `AlreadyExists` rather than overwrite.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    std::io::Write::write_all(&mut f, contents.as_bytes())
}
