//! The console over HTTPS with the service's `[tls]` certificate: a real
//! socket, a TLS client that trusts only that certificate, and a session
//! cookie marked `Secure`.

use std::process::{Command, Stdio};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

#[tokio::test]
async fn the_console_serves_https_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let st = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-keyout",
            "c.key",
            "-out",
            "c.crt",
        ])
        .current_dir(d)
        .stderr(Stdio::null())
        .status()
        .expect("openssl (scripts/deps.sh installs it)");
    assert!(st.success());
    let tls = service::config::TlsConfig {
        cert: d.join("c.crt"),
        key: d.join("c.key"),
        client_ca: None,
    };
    let acceptor = console::tls_acceptor(&tls).unwrap();
    // A missing file is an error, not a console without TLS.
    let missing = service::config::TlsConfig {
        cert: d.join("nope.crt"),
        ..tls.clone()
    };
    assert!(console::tls_acceptor(&missing).is_err());

    let signer = service::audit::CheckpointSigner::new(token::SigningKey::generate().unwrap());
    let db = d.join("w.db");
    let store =
        Arc::new(service::store::sqlite::SqliteStore::open(&db, None, Default::default()).unwrap());
    let auth = service::auth::Authenticator::new(&[service::auth::CredentialConfig {
        name: "alice".into(),
        role: service::auth::Role::Approver,
        secret: Some("approver-secret-for-tests-0001".into()),
        secret_sha256: None,
    }])
    .unwrap();
    // Only sign-in pages are fetched: decisions are never reached.
    struct NoDecisions;
    impl service::server::Decisions for NoDecisions {
        fn decide<'a>(
            &'a self,
            _: &'a service::auth::Identity,
            id: &'a str,
            _: &'a str,
            _: bool,
        ) -> service::server::Decided<'a> {
            Box::pin(async move { Err(service::server::DecideError::NotFound(id.to_owned())) })
        }
    }
    let shared = service::server::Shared {
        decisions: Arc::new(NoDecisions),
        store,
        auth,
        audit_keys: signer.public_key().into(),
        metrics: Default::default(),
    };
    let app = console::router(
        shared,
        console::Options {
            sign_in_per_minute: 10,
            session: std::time::Duration::from_secs(60),
            tls: true,
            poll: std::time::Duration::from_secs(1),
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(console::serve(listener, app, Some(acceptor)));

    let mut roots = rustls::RootCertStore::empty();
    use rustls_pki_types::pem::PemObject;
    for c in rustls_pki_types::CertificateDer::pem_file_iter(d.join("c.crt")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls_stream = connector.connect(name, tcp).await.unwrap();
    tls_stream
        .write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tls_stream.read_to_string(&mut response).await.ok();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let cookie = response
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: warden_login=")
        })
        .expect("the sign-in cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("; HttpOnly; SameSite=Strict"), "{cookie}");

    // Plain HTTP to the TLS port gets no page.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = plain.read_to_end(&mut buf).await;
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
    server.abort();
}
