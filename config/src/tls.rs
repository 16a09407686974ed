//! TLS settings, with the OpenTelemetry Collector's `configtls` key names, and the rustls configurations they
//! become. Loading lives here, next to the keys, so that a bad certificate fails `spanguard validate` and start-up
//! with the key at fault, and the receiver and the exporters build their TLS one way.
//!
//! Only rustls' `ring` provider is compiled in and it is passed explicitly, so no process-wide default has to be
//! installed and no second provider can make the choice ambiguous.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use serde::Deserialize;

use crate::ConfigError;

/// `receivers.otlp.protocols.{grpc,http}.tls`: serve TLS with this certificate; with `client_ca_file`, also
/// require every client to present a certificate signed by that CA (mutual TLS).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTls {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key of the leaf (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// PEM CA certificate(s) that client certificates must chain to; absent = no client certificate asked for.
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
}

/// `exporters.{otlp,otlphttp}.tls`: how an `https://` endpoint is verified and what the exporter presents.
/// With no `tls` key an `https://` endpoint is verified against the system's roots.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientTls {
    /// PEM CA certificate(s) to trust instead of the system's roots (a private CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain, for peers that require mutual TLS (with `key_file`).
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The name to verify the peer's certificate against, when the endpoint's host is not that name (an IP, a
    /// load balancer).
    #[serde(default)]
    pub server_name_override: Option<String>,
}

impl ServerTls {
    /// Reads the files and builds the server configuration offering `alpn` (e.g. `h2` for gRPC). Errors name
    /// `path.<key>` (`path` is this block's own key path).
    pub fn load(&self, path: &str, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, ConfigError> {
        let certs = certs(&format!("{path}.cert_file"), &self.cert_file)?;
        let key = key(&format!("{path}.key_file"), &self.key_file)?;
        let builder = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| ConfigError::key(path, format!("no TLS protocol version available: {e}")))?;
        let builder = match &self.client_ca_file {
            Some(file) => {
                let key_path = format!("{path}.client_ca_file");
                let roots = roots(&key_path, file)?;
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                    .build()
                    .map_err(|e| ConfigError::key(key_path, format!("cannot verify clients with it: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| ConfigError::key(format!("{path}.key_file"), format!("does not go with cert_file: {e}")))?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

impl ClientTls {
    /// Reads the files and builds the client configuration (no ALPN: the connector sets it). Errors name
    /// `path.<key>`.
    pub fn load(&self, path: &str) -> Result<ClientConfig, ConfigError> {
        let identity = match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(k)) => Some((
                certs(&format!("{path}.cert_file"), cert)?,
                key(&format!("{path}.key_file"), k)?,
            )),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::key(
                    format!("{path}.key_file"),
                    "is required with cert_file (the client certificate's private key)",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::key(
                    format!("{path}.cert_file"),
                    "is required with key_file (the client certificate for mutual TLS)",
                ))
            }
        };
        let roots = match &self.ca_file {
            Some(file) => roots(&format!("{path}.ca_file"), file)?,
            None => system_roots(path)?,
        };
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| ConfigError::key(path, format!("no TLS protocol version available: {e}")))?
            .with_root_certificates(roots);
        match identity {
            Some((certs, key)) => builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| ConfigError::key(format!("{path}.key_file"), format!("does not go with cert_file: {e}"))),
            None => Ok(builder.with_no_client_auth()),
        }
    }

    /// Checks `server_name_override` is a DNS name or an IP address.
    pub fn server_name(&self, path: &str) -> Result<Option<rustls::pki_types::ServerName<'static>>, ConfigError> {
        self.server_name_override
            .as_ref()
            .map(|name| {
                rustls::pki_types::ServerName::try_from(name.clone()).map_err(|_| {
                    ConfigError::key(
                        format!("{path}.server_name_override"),
                        format!("{name:?} is not a DNS name or an IP address"),
                    )
                })
            })
            .transpose()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// PEM files are a few KiB; reading stops past this, so a path like `/dev/zero` is an error, not an
/// out-of-memory.
const MAX_PEM_BYTES: u64 = 1 << 20;

fn read(key: &str, file: &Path) -> Result<Vec<u8>, ConfigError> {
    use std::io::Read;
    let cannot = |e: std::io::Error| ConfigError::key(key, format!("cannot read {}: {e}", file.display()));
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_PEM_BYTES + 1).read_to_end(&mut bytes))
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(ConfigError::key(
            key,
            format!("{} is larger than 1 MiB: not a PEM certificate or key", file.display()),
        ));
    }
    Ok(bytes)
}

fn certs(key: &str, file: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let pem = read(key, file)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConfigError::key(key, format!("{} is not PEM: {e}", file.display())))?;
    if certs.is_empty() {
        return Err(ConfigError::key(
            key,
            format!("{} holds no PEM CERTIFICATE block", file.display()),
        ));
    }
    Ok(certs)
}

fn key(key: &str, file: &Path) -> Result<PrivateKeyDer<'static>, ConfigError> {
    let pem = read(key, file)?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| ConfigError::key(key, format!("{} holds no usable PEM private key: {e}", file.display())))
}

fn roots(key: &str, file: &Path) -> Result<RootCertStore, ConfigError> {
    let mut roots = RootCertStore::empty();
    for cert in certs(key, file)? {
        roots
            .add(cert)
            .map_err(|e| ConfigError::key(key, format!("{}: not a usable CA certificate: {e}", file.display())))?;
    }
    Ok(roots)
}

fn system_roots(path: &str) -> Result<RootCertStore, ConfigError> {
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::debug!(error = %e, "skipping an unreadable system CA certificate");
    }
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(ConfigError::key(
            format!("{path}.ca_file"),
            "no system CA certificates found (install ca-certificates); name the CA that signed the peer's certificate",
        ));
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_name_the_key() {
        let tls = ServerTls {
            cert_file: "/nonexistent/cert.pem".into(),
            key_file: "/nonexistent/key.pem".into(),
            client_ca_file: None,
        };
        let err = tls
            .load("receivers.otlp.protocols.grpc.tls", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("receivers.otlp.protocols.grpc.tls.cert_file"), "{err}");
        assert!(err.contains("/nonexistent/cert.pem"), "{err}");
    }

    #[test]
    fn a_file_without_pem_blocks_is_refused() {
        let dir = std::env::temp_dir().join(format!("spanguard-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("not.pem");
        std::fs::write(&file, "just text\n").unwrap();
        let tls = ClientTls {
            ca_file: Some(file.clone()),
            ..ClientTls::default()
        };
        let err = tls.load("exporters.otlp.tls").unwrap_err().to_string();
        assert!(err.contains("exporters.otlp.tls.ca_file"), "{err}");
        assert!(err.contains("no PEM CERTIFICATE"), "{err}");
        let half = ClientTls {
            key_file: Some(file),
            ..ClientTls::default()
        };
        let err = half.load("exporters.otlp.tls").unwrap_err().to_string();
        assert!(
            err.contains("exporters.otlp.tls.cert_file: is required with key_file"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_endless_file_is_refused_not_read_into_memory() {
        let tls = ClientTls {
            ca_file: Some("/dev/zero".into()),
            ..ClientTls::default()
        };
        let err = tls.load("exporters.otlp.tls").unwrap_err().to_string();
        assert!(err.contains("exporters.otlp.tls.ca_file"), "{err}");
        assert!(err.contains("larger than 1 MiB"), "{err}");
    }

    #[test]
    fn server_name_override_must_be_a_name() {
        let tls = ClientTls {
            server_name_override: Some("not a name".into()),
            ..ClientTls::default()
        };
        let err = tls.server_name("exporters.otlp.tls").unwrap_err().to_string();
        assert!(err.contains("exporters.otlp.tls.server_name_override"), "{err}");
        let ok = ClientTls {
            server_name_override: Some("collector.example".into()),
            ..ClientTls::default()
        };
        assert!(ok.server_name("x").unwrap().is_some());
    }
}
