//! Connecting to the CRM's PostgreSQL: libpq-style URLs and `key=value`
//! strings, `DATABASE_URL` and the `PG*` variables, and TLS through rustls so
//! a Supabase URL (direct or through its pooler) just works.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How long a server may take to finish the handshake once reached.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(20);

/// How much TLS to insist on, as libpq's `sslmode` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum TlsMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, without checking its certificate.
    #[default]
    Prefer,
    /// TLS always, without checking the certificate (what Supabase documents).
    Require,
    /// TLS with a certificate signed by a trusted authority.
    VerifyCa,
    /// As `VerifyCa`, and the certificate must name the host.
    VerifyFull,
}

impl TlsMode {
    /// Every mode, for pickers.
    pub const ALL: [TlsMode; 5] = [
        TlsMode::Disable,
        TlsMode::Prefer,
        TlsMode::Require,
        TlsMode::VerifyCa,
        TlsMode::VerifyFull,
    ];

    /// The `sslmode` keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }

    fn parse(value: &str) -> Result<TlsMode, ConnectError> {
        Ok(match value {
            "disable" => TlsMode::Disable,
            "allow" | "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            other => {
                return Err(ConnectError::InvalidSettings(format!(
                    "unknown sslmode '{other}' (use disable, prefer, require, verify-ca or verify-full)"
                )));
            }
        })
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// Why a connection failed, in words that say what to do. None of these
/// ever contains the password.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// No connection was given anywhere.
    #[error("no database given: pass --database-url or set DATABASE_URL")]
    Missing,
    /// The URL or settings could not be understood.
    #[error("the connection settings are not valid: {0}")]
    InvalidSettings(String),
    /// Nothing answered at the address.
    #[error("cannot reach the database server at {target}: {detail}")]
    Unreachable {
        /// host:port
        target: String,
        /// What the network said.
        detail: String,
    },
    /// The server refused the user name or password.
    #[error("the server refused the password for user '{user}'")]
    WrongPassword {
        /// The user name.
        user: String,
    },
    /// The server only accepts encrypted connections.
    #[error(
        "the server requires an encrypted connection: set TLS mode to 'require' (sslmode=require)"
    )]
    TlsRequired,
    /// TLS was required but the handshake failed.
    #[error("the secure (TLS) connection failed: {0}")]
    Tls(String),
    /// The database does not exist on that server.
    #[error("the server has no database named '{0}'")]
    NoSuchDatabase(String),
    /// Something answered at the address, but not PostgreSQL (or not in time).
    #[error(
        "the server at {target} answered, but not as PostgreSQL does: check the host and port (PostgreSQL usually listens on 5432, Supabase's pooler on 6543)"
    )]
    NotPostgres {
        /// host:port
        target: String,
    },
    /// Any other refusal from the server.
    #[error("the server refused the connection: {0}")]
    Refused(String),
}

/// Where and how to connect. Its `Debug` output never shows the password.
#[derive(Clone)]
pub struct ConnectionSettings {
    config: tokio_postgres::Config,
    tls: TlsMode,
    root_certificate: Option<PathBuf>,
}

impl fmt::Debug for ConnectionSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl ConnectionSettings {
    /// Parses a `postgres://` URL or a libpq `key=value` string. Anything it
    /// leaves out comes from the `PG*` variables, then libpq's defaults.
    pub fn parse(text: &str) -> Result<ConnectionSettings, ConnectError> {
        let text = text.trim();
        if let Some((scheme, _)) = text.split_once("://")
            && !matches!(scheme, "postgres" | "postgresql")
        {
            return Err(ConnectError::InvalidSettings(format!(
                "a connection URL starts with postgres:// or postgresql://, not {scheme}://"
            )));
        }
        let (cleaned, ssl) = split_tls_options(text)?;
        let mut config = tokio_postgres::Config::from_str(&cleaned)
            .map_err(|e| ConnectError::InvalidSettings(e.to_string()))?;
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if config.get_hosts().is_empty() {
            config.host(env("PGHOST").unwrap_or_else(|| "localhost".to_owned()));
        }
        if config.get_ports().is_empty()
            && let Some(port) = env("PGPORT").and_then(|p| p.parse().ok())
        {
            config.port(port);
        }
        if config.get_user().is_none() {
            let user = env("PGUSER")
                .or_else(|| env("USER"))
                .unwrap_or_else(|| "postgres".to_owned());
            config.user(user);
        }
        if config.get_password().is_none()
            && let Some(password) = env("PGPASSWORD")
        {
            config.password(password);
        }
        if config.get_dbname().is_none()
            && let Some(dbname) = env("PGDATABASE")
        {
            config.dbname(dbname);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("pantry-import");
        let tls = match ssl.mode {
            Some(mode) => mode,
            None => match env("PGSSLMODE") {
                Some(mode) => TlsMode::parse(&mode)?,
                None => TlsMode::Prefer,
            },
        };
        Ok(ConnectionSettings {
            config,
            tls,
            root_certificate: ssl
                .root_certificate
                .or_else(|| env("PGSSLROOTCERT").map(PathBuf::from)),
        })
    }

    /// From `DATABASE_URL`, or else from the `PG*` variables alone.
    pub fn from_env() -> Result<ConnectionSettings, ConnectError> {
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => ConnectionSettings::parse(&url),
            _ if std::env::var_os("PGHOST").is_some()
                || std::env::var_os("PGDATABASE").is_some() =>
            {
                ConnectionSettings::parse("")
            }
            _ => Err(ConnectError::Missing),
        }
    }

    /// Builds settings from separate fields, as a connection form has them.
    pub fn from_parts(
        host: &str,
        port: u16,
        database: &str,
        user: &str,
        password: &str,
        tls: TlsMode,
    ) -> ConnectionSettings {
        let mut config = tokio_postgres::Config::new();
        config
            .host(host.trim())
            .port(port)
            .dbname(database.trim())
            .user(user.trim())
            .connect_timeout(Duration::from_secs(10))
            .application_name("pantry-import");
        if !password.is_empty() {
            config.password(password);
        }
        ConnectionSettings {
            config,
            tls,
            root_certificate: None,
        }
    }

    /// The TLS mode in force.
    pub fn tls(&self) -> TlsMode {
        self.tls
    }

    /// Changes the TLS mode.
    pub fn set_tls(&mut self, tls: TlsMode) {
        self.tls = tls;
    }

    /// The first host name (or socket folder).
    pub fn host(&self) -> String {
        match self.config.get_hosts().first() {
            Some(Host::Tcp(name)) => name.clone(),
            #[cfg(unix)]
            Some(Host::Unix(path)) => path.display().to_string(),
            None => "localhost".to_owned(),
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.config.get_ports().first().copied().unwrap_or(5432)
    }

    /// The user name.
    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or("")
    }

    /// The database name (the user name when none is given, as libpq does).
    pub fn database(&self) -> &str {
        self.config
            .get_dbname()
            .unwrap_or_else(|| self.config.get_user().unwrap_or(""))
    }

    /// Whether a password is set (never the password itself).
    pub fn has_password(&self) -> bool {
        self.config.get_password().is_some()
    }

    /// Sets the password.
    pub fn set_password(&mut self, password: &str) {
        self.config.password(password);
    }

    /// Sets the database name.
    pub fn set_database(&mut self, database: &str) {
        self.config.dbname(database);
    }

    /// `user@host:port/database (TLS mode)`, safe to show and log.
    pub fn describe(&self) -> String {
        format!(
            "{}@{}:{}/{} (TLS {})",
            self.user(),
            self.host(),
            self.port(),
            self.database(),
            self.tls
        )
    }

    /// Opens a connection. The returned task drives it and must be spawned
    /// (or awaited) on the runtime; it ends when the client is dropped.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, ConnectError> {
        let mut config = self.config.clone();
        config.ssl_mode(match self.tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        });
        let tls = MakeRustlsConnect::new(self.rustls_config()?);
        // connect_timeout covers reaching the server; this covers a server
        // that takes the connection and then never answers as PostgreSQL does.
        let connecting = tokio::time::timeout(HANDSHAKE_LIMIT, config.connect(tls));
        let Ok(connected) = connecting.await else {
            return Err(ConnectError::NotPostgres {
                target: format!("{}:{}", self.host(), self.port()),
            });
        };
        match connected {
            Ok((client, connection)) => {
                tokio::spawn(async move {
                    // The error, if any, surfaces on the client's next call.
                    let _ = connection.await;
                });
                Ok(client)
            }
            Err(error) => Err(self.classify(&error)),
        }
    }

    fn rustls_config(&self) -> Result<rustls::ClientConfig, ConnectError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| ConnectError::Tls(e.to_string()))?;
        let config = match self.tls {
            TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
                .with_no_client_auth(),
            TlsMode::VerifyCa | TlsMode::VerifyFull => {
                let roots = self.root_store()?;
                let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    Arc::clone(&provider),
                )
                .build()
                .map_err(|e| ConnectError::Tls(e.to_string()))?;
                if self.tls == TlsMode::VerifyCa {
                    builder
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(ChainOnly(verifier)))
                        .with_no_client_auth()
                } else {
                    builder.with_webpki_verifier(verifier).with_no_client_auth()
                }
            }
        };
        Ok(config)
    }

    /// `sslrootcert` when given (only it is trusted, as in libpq), otherwise
    /// the Mozilla roots that Supabase's certificates chain to.
    fn root_store(&self) -> Result<rustls::RootCertStore, ConnectError> {
        let mut roots = rustls::RootCertStore::empty();
        match &self.root_certificate {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    ConnectError::Tls(format!("cannot read sslrootcert {}: {e}", path.display()))
                })?;
                for certificate in rustls_pemfile::certs(&mut pem.as_slice()) {
                    let certificate = certificate.map_err(|e| {
                        ConnectError::Tls(format!("sslrootcert {}: {e}", path.display()))
                    })?;
                    roots.add(certificate).map_err(|e| {
                        ConnectError::Tls(format!("sslrootcert {}: {e}", path.display()))
                    })?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        Ok(roots)
    }

    fn classify(&self, error: &tokio_postgres::Error) -> ConnectError {
        if let Some(db) = error.as_db_error() {
            let code = db.code();
            if *code == SqlState::INVALID_PASSWORD {
                return ConnectError::WrongPassword {
                    user: self.user().to_owned(),
                };
            }
            if *code == SqlState::INVALID_CATALOG_NAME {
                return ConnectError::NoSuchDatabase(self.database().to_owned());
            }
            if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                && db.message().contains("no encryption")
            {
                return ConnectError::TlsRequired;
            }
            return ConnectError::Refused(db.message().to_owned());
        }
        let text = error.to_string();
        let source = std::error::Error::source(error)
            .map(ToString::to_string)
            .unwrap_or_default();
        let lowered = format!("{text}: {source}").to_lowercase();
        // Something answered, but not in PostgreSQL's protocol (a web server,
        // another database on the port, a TLS-only proxy).
        if lowered.contains("bytes remaining on stream")
            || lowered.contains("unexpected message")
            || lowered.contains("invalid message length")
        {
            return ConnectError::NotPostgres {
                target: format!("{}:{}", self.host(), self.port()),
            };
        }
        if lowered.contains("server does not support tls")
            || lowered.contains("tls") && lowered.contains("not support")
        {
            return ConnectError::Tls(
                "the server does not offer TLS; set TLS mode to 'disable' or 'prefer'".to_owned(),
            );
        }
        if lowered.contains("certificate")
            || lowered.contains("handshake")
            || lowered.contains("tls")
        {
            return ConnectError::Tls(if source.is_empty() { text } else { source });
        }
        ConnectError::Unreachable {
            target: format!("{}:{}", self.host(), self.port()),
            detail: if source.is_empty() { text } else { source },
        }
    }
}

/// The connection text with its password taken out, for remembering a
/// connection without its secret. Text that cannot be parsed is dropped
/// entirely, since it might hold a password in a form not understood here.
pub fn without_password(text: &str) -> String {
    let text = text.trim();
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        return match url::Url::parse(text) {
            Ok(mut url) => {
                let _ = url.set_password(None);
                let pairs: Vec<(String, String)> = url
                    .query_pairs()
                    .filter(|(key, _)| key != "password")
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                if pairs.is_empty() {
                    url.set_query(None);
                } else {
                    url.query_pairs_mut().clear().extend_pairs(pairs);
                }
                url.to_string()
            }
            Err(_) => String::new(),
        };
    }
    match key_value_pairs(text) {
        Ok(pairs) => pairs
            .into_iter()
            .filter(|(key, _)| key != "password")
            .map(|(key, value)| {
                if value.is_empty() || value.contains([' ', '\'', '\\']) {
                    format!(
                        "{key}='{}'",
                        value.replace('\\', "\\\\").replace('\'', "\\'")
                    )
                } else {
                    format!("{key}={value}")
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        Err(_) => String::new(),
    }
}

/// The TLS options tokio-postgres does not parse, taken out of the string.
#[derive(Default)]
struct TlsOptions {
    mode: Option<TlsMode>,
    root_certificate: Option<PathBuf>,
}

fn split_tls_options(text: &str) -> Result<(String, TlsOptions), ConnectError> {
    let mut options = TlsOptions::default();
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        let mut url = url::Url::parse(text)
            .map_err(|e| ConnectError::InvalidSettings(format!("not a valid URL: {e}")))?;
        let mut kept = Vec::new();
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "sslmode" => options.mode = Some(TlsMode::parse(&value)?),
                "sslrootcert" => options.root_certificate = Some(PathBuf::from(value.as_ref())),
                _ => kept.push((key.into_owned(), value.into_owned())),
            }
        }
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
        return Ok((url.to_string(), options));
    }
    let mut kept = Vec::new();
    for (key, value) in key_value_pairs(text)? {
        match key.as_str() {
            "sslmode" => options.mode = Some(TlsMode::parse(&value)?),
            "sslrootcert" => options.root_certificate = Some(PathBuf::from(value)),
            _ => kept.push(format!(
                "{key}='{}'",
                value.replace('\\', "\\\\").replace('\'', "\\'")
            )),
        }
    }
    Ok((kept.join(" "), options))
}

/// Splits a libpq `key=value` string, honouring single quotes and backslashes.
fn key_value_pairs(text: &str) -> Result<Vec<(String, String)>, ConnectError> {
    let mut pairs = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(ConnectError::InvalidSettings(if pairs.is_empty() {
                format!(
                    "'{key}' is not a connection string: paste a URL such as postgres://user:password@host:5432/database, or settings such as host=localhost dbname=crm"
                )
            } else {
                format!("'{key}' has no value: write it as {key}=value")
            }));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => {
                        return Err(ConnectError::InvalidSettings(format!(
                            "the value of '{key}' has no closing quote"
                        )));
                    }
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                if c == '\\' {
                    chars.next();
                    value.extend(chars.next());
                } else {
                    value.push(c);
                    chars.next();
                }
            }
        }
        pairs.push((key, value));
    }
}

/// libpq's `require`: encrypt, check the handshake signatures, but do not
/// judge the certificate (Supabase's own instructions rely on this).
#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// libpq's `verify-ca`: the chain must reach a trusted root; the name is not checked.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The database's own words for an error, with its detail when it has one.
pub fn database_reason(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) if *db.code() == tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE => {
            format!(
                "{} (the database role needs SELECT and INSERT on the CRM tables it imports into and links to (UPDATE too to update records already there), SELECT, INSERT and UPDATE on import_batches, and SELECT and INSERT on import_matches)",
                db.message()
            )
        }
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        },
        None => match std::error::Error::source(error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supabase_url_with_sslmode() {
        let settings = ConnectionSettings::parse(
            "postgresql://postgres.abcd:s3cret@aws-0-eu-central-1.pooler.supabase.com:6543/postgres?sslmode=require",
        )
        .unwrap();
        assert_eq!(settings.tls(), TlsMode::Require);
        assert_eq!(settings.port(), 6543);
        assert_eq!(settings.user(), "postgres.abcd");
        assert_eq!(settings.database(), "postgres");
        assert!(settings.has_password());
        let shown = format!("{settings:?} {}", settings.describe());
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn key_value_string_with_quotes() {
        let settings = ConnectionSettings::parse(
            "host=db.example.com port=5433 dbname='my db' user=broker password='it\\'s' sslmode=verify-full",
        )
        .unwrap();
        assert_eq!(settings.tls(), TlsMode::VerifyFull);
        assert_eq!(settings.host(), "db.example.com");
        assert_eq!(settings.port(), 5433);
        assert_eq!(settings.database(), "my db");
        assert!(!settings.describe().contains("it's"));
    }

    #[test]
    fn remembered_connections_lose_their_password() {
        assert_eq!(
            without_password("postgres://broker:s3cret@db.example.com:5432/crm?sslmode=require"),
            "postgres://broker@db.example.com:5432/crm?sslmode=require"
        );
        assert_eq!(
            without_password("host=db port=5432 password='a b' user=broker"),
            "host=db port=5432 user=broker"
        );
        assert_eq!(without_password("postgres://x:y@[bad"), "");
    }

    #[test]
    fn mistyped_connection_strings_say_what_a_good_one_looks_like() {
        let garbage = ConnectionSettings::parse("htp:/garbage")
            .unwrap_err()
            .to_string();
        assert!(
            garbage.contains(
                "'htp:/garbage' is not a connection string: paste a URL such as postgres://"
            ),
            "{garbage}"
        );
        let scheme = ConnectionSettings::parse("http://example.com/db")
            .unwrap_err()
            .to_string();
        assert!(
            scheme.contains("starts with postgres:// or postgresql://, not http://"),
            "{scheme}"
        );
        let half = ConnectionSettings::parse("host=localhost dbname")
            .unwrap_err()
            .to_string();
        assert!(
            half.contains("'dbname' has no value: write it as dbname=value"),
            "{half}"
        );
    }

    /// A server that is not PostgreSQL (here: one that answers with HTTP).
    #[tokio::test]
    async fn a_server_that_is_not_postgresql_is_named_as_such() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                // Read the startup message first, as a web server reads a request.
                let mut request = [0u8; 512];
                let _ = socket.read(&mut request).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    .await;
                let _ = socket.shutdown().await;
            }
        });
        let settings =
            ConnectionSettings::parse(&format!("postgres://u@127.0.0.1:{port}/db?sslmode=disable"))
                .unwrap();
        let error = settings.connect().await.unwrap_err().to_string();
        assert!(
            error.contains("answered, but not as PostgreSQL does"),
            "{error}"
        );
    }

    #[test]
    fn bad_sslmode_is_refused() {
        let error = ConnectionSettings::parse("postgres://u@h/db?sslmode=maybe").unwrap_err();
        assert!(error.to_string().contains("unknown sslmode 'maybe'"));
    }
}
