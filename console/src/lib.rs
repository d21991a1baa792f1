//! Warden's approval console: the web pages where approvers see what is
//! waiting, read a plan with the rules that asked for a human, decide, and
//! read the audit log. `warden serve` runs it beside the gRPC service when
//! its configuration has a `[console]` table.
//!
//! Decisions go through [`service::server::Decisions`], the same path as the
//! gRPC `Approve` and `Deny` (same checks, same store, same audit records).
//! The console is built to be safe against the agents whose plans it shows:
//! pages are rendered on the server by maud, which escapes every string; the
//! Content-Security-Policy allows no inline script and nothing from another
//! origin; sessions are `HttpOnly`, `SameSite=Strict` cookies (`Secure` under
//! TLS); every state change is a POST with the session's CSRF token; sign-in
//! is rate-limited per client address; a submitter credential cannot sign
//! in, and nobody can approve a plan they submitted.
#![warn(missing_docs)]

mod highlight;
mod pages;
mod session;

use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::Markup;
use serde::Deserialize;
use service::audit::EventKind;
use service::auth::{Identity, Role};
use service::server::{Companion, DecideError, Shared};
use service::store::{ApprovalRecord, ApprovalState, RecordQuery, StoreError};
use session::{
    LOGIN_COOKIE, RateLimiter, SESSION_COOKIE, Session, Sessions, random_token, same_secret,
};
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// The Content-Security-Policy of every response: scripts and styles from
/// this origin only (no inline script, no `eval`), nothing from elsewhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// At most this many pending approvals are listed (and sent live).
const MAX_LISTED: usize = 500;
/// The audit page shows this many of the latest records.
const AUDIT_PAGE: usize = 200;
/// The longest credential accepted at sign-in.
const MAX_SECRET: usize = 1024;

const CONSOLE_JS: &str = include_str!("../static/console.js");
const CONSOLE_CSS: &str = include_str!("../static/console.css");

/// How the console runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Sign-in attempts allowed per client address per minute.
    pub sign_in_per_minute: u32,
    /// How long a sign-in lasts.
    pub session: Duration,
    /// Served over TLS: cookies are `Secure`.
    pub tls: bool,
    /// How often a live page's list is read from the store (and so from
    /// other replicas sharing it).
    pub poll: Duration,
}

/// Why the console cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The certificate or key file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file, as configured.
        path: String,
        /// Why reading it failed.
        #[source]
        source: std::io::Error,
    },
    /// The certificate chain or the private key is not valid PEM, or
    /// rustls refuses them (a key that does not match the certificate, an
    /// unsupported key type).
    #[error("TLS for the console: {0}")]
    Tls(String),
}

struct Console {
    shared: Shared,
    sessions: Sessions,
    limiter: RateLimiter,
    opts: Options,
}

type App = Arc<Console>;

/// The console's routes over a running service's [`Shared`] parts.
pub fn router(shared: Shared, opts: Options) -> Router {
    let app: App = Arc::new(Console {
        shared,
        sessions: Sessions::new(opts.session),
        limiter: RateLimiter::new(opts.sign_in_per_minute),
        opts,
    });
    Router::new()
        .route("/", get(pending_page))
        .route("/decided", get(decided_page))
        .route("/login", get(sign_in_page).post(sign_in))
        .route("/logout", post(sign_out))
        .route("/events", get(events))
        .route("/approvals/{id}", get(approval_page))
        .route("/approvals/{id}/approve", post(approve))
        .route("/approvals/{id}/deny", post(deny))
        .route("/audit", get(audit_page))
        .route("/audit/runs/{submission}", get(run_page))
        .route("/static/console.js", get(script))
        .route("/static/console.css", get(style))
        .fallback(not_found)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(app)
}

async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// What a request is refused with: a page and a status.
enum Refusal {
    SignIn,
    Status(StatusCode, String),
    TooMany(Duration),
}

impl Refusal {
    fn forbidden(m: impl Into<String>) -> Self {
        Refusal::Status(StatusCode::FORBIDDEN, m.into())
    }
    fn internal(m: impl std::fmt::Display) -> Self {
        tracing::error!("console: {m}");
        Refusal::Status(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the service cannot do this now: {m}"),
        )
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::internal(e)
    }
}

impl From<tokio::task::JoinError> for Refusal {
    fn from(e: tokio::task::JoinError) -> Self {
        Refusal::internal(e)
    }
}

impl From<DecideError> for Refusal {
    fn from(e: DecideError) -> Self {
        let status = match &e {
            DecideError::Invalid(_) => StatusCode::BAD_REQUEST,
            DecideError::Role { .. } | DecideError::OwnSubmission { .. } => StatusCode::FORBIDDEN,
            DecideError::NotFound(_) => StatusCode::NOT_FOUND,
            DecideError::NotPending { .. }
            | DecideError::SubmitterUnknown(_)
            | DecideError::SpecGone(_)
            | DecideError::RejectedNow(_)
            | DecideError::Plan(service::engine::PlanError::Invalid(_)) => StatusCode::CONFLICT,
            DecideError::Plan(service::engine::PlanError::Internal(_))
            | DecideError::Sign(_)
            | DecideError::Worker(_)
            | DecideError::Store(_) => {
                return Refusal::internal(e);
            }
        };
        Refusal::Status(status, e.to_string())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::SignIn => Redirect::to("/login").into_response(),
            Refusal::Status(code, text) => {
                let title = code.canonical_reason().unwrap_or("Refused");
                (code, page(title, None, pages::message(title, &text))).into_response()
            }
            Refusal::TooMany(wait) => {
                let secs = wait.as_secs().max(1);
                let text =
                    format!("too many sign-in attempts from this address; try again in {secs} s");
                let mut r = (
                    StatusCode::TOO_MANY_REQUESTS,
                    page(
                        "Too many attempts",
                        None,
                        pages::message("Too many attempts", &text),
                    ),
                )
                    .into_response();
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
        }
    }
}

fn page(title: &str, s: Option<&Session>, body: Markup) -> Html<String> {
    Html(pages::layout(title, s, body).into_string())
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(app: &Console, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
    let secure = if app.opts.tls { "; Secure" } else { "" };
    let age = max_age
        .map(|a| format!("; Max-Age={a}"))
        .unwrap_or_default();
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}{age}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// A signed-in approver (or a redirect to the sign-in page).
struct SignedIn {
    id: String,
    session: Session,
}

impl FromRequestParts<App> for SignedIn {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Refusal> {
        let id = cookie(&parts.headers, SESSION_COOKIE).ok_or(Refusal::SignIn)?;
        let session = app.sessions.get(id).ok_or(Refusal::SignIn)?;
        Ok(SignedIn {
            id: id.to_owned(),
            session,
        })
    }
}

impl SignedIn {
    /// Refuses a state change whose form does not carry this session's token.
    fn check_csrf(&self, presented: &str) -> Result<(), Refusal> {
        if same_secret(presented, &self.session.csrf) {
            Ok(())
        } else {
            Err(Refusal::forbidden(
                "this form is missing its CSRF token or has another session's: reload the page and try again",
            ))
        }
    }
}

/// The client's address, as the connection saw it (no forwarded headers:
/// they are the client's to forge).
struct ClientIp(IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip()),
        ))
    }
}

async fn pending_list(app: &App) -> Result<Vec<ApprovalRecord>, Refusal> {
    let store = app.shared.store.clone();
    Ok(
        tokio::task::spawn_blocking(move || store.approvals(ApprovalState::Pending, MAX_LISTED))
            .await??,
    )
}

async fn pending_page(State(app): State<App>, me: SignedIn) -> Result<Html<String>, Refusal> {
    let list = pending_list(&app).await?;
    Ok(page(
        "Pending approvals",
        Some(&me.session),
        pages::pending(&list),
    ))
}

async fn decided_page(State(app): State<App>, me: SignedIn) -> Result<Html<String>, Refusal> {
    let store = app.shared.store.clone();
    let (mut a, d) = tokio::task::spawn_blocking(move || {
        Ok::<_, StoreError>((
            store.approvals(ApprovalState::Approved, MAX_LISTED)?,
            store.approvals(ApprovalState::Denied, MAX_LISTED)?,
        ))
    })
    .await??;
    a.extend(d);
    a.sort_by_key(|x| std::cmp::Reverse(x.decided_ms));
    a.truncate(MAX_LISTED);
    Ok(page("Decisions", Some(&me.session), pages::decided(&a)))
}

fn sign_in_response(
    app: &Console,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, Refusal> {
    let token = random_token().map_err(Refusal::internal)?;
    let mut r = (status, page("Sign in", None, pages::sign_in(&token, error))).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(app, LOGIN_COOKIE, &token, Some(3600)),
    );
    Ok(r)
}

async fn sign_in_page(State(app): State<App>) -> Result<Response, Refusal> {
    sign_in_response(&app, StatusCode::OK, None)
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    secret: String,
}

async fn sign_in(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, Refusal> {
    app.limiter.attempt(ip).map_err(Refusal::TooMany)?;
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || !same_secret(&form.csrf, expected) {
        return sign_in_response(
            &app,
            StatusCode::FORBIDDEN,
            Some("the sign-in form expired (or came from another page): sign in again here"),
        );
    }
    let who = (form.secret.len() <= MAX_SECRET)
        .then(|| app.shared.auth.identify(form.secret.trim()))
        .flatten();
    let Some(who) = who else {
        tracing::warn!("console: failed sign-in from {ip}");
        return sign_in_response(&app, StatusCode::UNAUTHORIZED, Some("unknown credential"));
    };
    if !matches!(who.role, Role::Approver | Role::Admin) {
        tracing::warn!(
            "console: {} ({}) tried to sign in from {ip}",
            who.name,
            who.role.as_str()
        );
        return sign_in_response(
            &app,
            StatusCode::FORBIDDEN,
            Some(
                "this credential is a submitter's: only approvers and admins sign in to the console",
            ),
        );
    }
    let (id, _) = app.sessions.start(who.clone()).map_err(Refusal::internal)?;
    tracing::info!("console: {} signed in from {ip}", who.name);
    let mut r = Redirect::to("/").into_response();
    let h = r.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(&app, SESSION_COOKIE, &id, Some(app.opts.session.as_secs())),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(&app, LOGIN_COOKIE, "", Some(0)),
    );
    Ok(r)
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(
    State(app): State<App>,
    me: SignedIn,
    Form(f): Form<CsrfForm>,
) -> Result<Response, Refusal> {
    me.check_csrf(&f.csrf)?;
    app.sessions.end(&me.id);
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&app, SESSION_COOKIE, "", Some(0)),
    );
    Ok(r)
}

async fn approval_page(
    State(app): State<App>,
    me: SignedIn,
    Path(id): Path<String>,
) -> Result<Html<String>, Refusal> {
    let store = app.shared.store.clone();
    let lookup = id.clone();
    let rec = tokio::task::spawn_blocking(move || store.approval(&lookup))
        .await??
        .ok_or_else(|| {
            Refusal::Status(StatusCode::NOT_FOUND, format!("approval {id} not found"))
        })?;
    let title = pages::plan_name(&rec.plan).unwrap_or_else(|| rec.id.clone());
    Ok(page(
        &title,
        Some(&me.session),
        pages::approval(&rec, &me.session.csrf),
    ))
}

#[derive(Deserialize)]
struct DecideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

async fn decide(
    app: App,
    me: SignedIn,
    id: String,
    form: DecideForm,
    approve: bool,
) -> Result<Response, Refusal> {
    me.check_csrf(&form.csrf)?;
    let who: &Identity = &me.session.identity;
    let decided = app
        .shared
        .decisions
        .decide(who, &id, &form.reason, approve)
        .await?;
    tracing::info!(
        "console: {} {} approval {}",
        who.name,
        decided.state.as_str(),
        decided.id
    );
    Ok(Redirect::to(&format!("/approvals/{}", decided.id)).into_response())
}

async fn approve(
    State(app): State<App>,
    me: SignedIn,
    Path(id): Path<String>,
    Form(f): Form<DecideForm>,
) -> Result<Response, Refusal> {
    decide(app, me, id, f, true).await
}

async fn deny(
    State(app): State<App>,
    me: SignedIn,
    Path(id): Path<String>,
    Form(f): Form<DecideForm>,
) -> Result<Response, Refusal> {
    decide(app, me, id, f, false).await
}

async fn audit_page(State(app): State<App>, me: SignedIn) -> Result<Html<String>, Refusal> {
    let store = app.shared.store.clone();
    let key = app.shared.audit_keys.clone();
    let (records, verified) = tokio::task::spawn_blocking(move || {
        // The whole chain is verified (one read of the log), and its length
        // says where the newest records are (seqs run from 1 without gaps);
        // a broken chain shows the records up to the break.
        let verified = store.verify_chain(&key)?;
        let last = match &verified {
            Ok(rep) => rep.records,
            Err(f) => f.seq,
        };
        let mut recs = store.records(&RecordQuery {
            after_seq: last.saturating_sub(AUDIT_PAGE as u64),
            limit: AUDIT_PAGE,
            ..Default::default()
        })?;
        recs.reverse();
        Ok::<_, StoreError>((recs, verified))
    })
    .await??;
    Ok(page(
        "Audit log",
        Some(&me.session),
        pages::audit(&records, pages::chain(&verified)),
    ))
}

async fn run_page(
    State(app): State<App>,
    me: SignedIn,
    Path(submission): Path<String>,
) -> Result<Html<String>, Refusal> {
    let store = app.shared.store.clone();
    let sub = submission.clone();
    let (records, enforcement) = tokio::task::spawn_blocking(move || {
        let records: Vec<_> = store
            .records(&RecordQuery {
                kinds: vec![
                    EventKind::Submission,
                    EventKind::Verdict,
                    EventKind::Approval,
                    EventKind::Token,
                ],
                ..Default::default()
            })?
            .into_iter()
            .filter(|r| {
                r.body_json().get("submission_id").and_then(|v| v.as_str()) == Some(sub.as_str())
            })
            .collect();
        let mut enforcement = Vec::new();
        for t in records.iter().filter(|r| r.kind == "token") {
            if let Some(id) = t.body_json().get("token_id").and_then(|v| v.as_str()) {
                enforcement.extend(store.records(&RecordQuery {
                    kinds: vec![EventKind::Enforcement],
                    token_id: Some(id.to_owned()),
                    ..Default::default()
                })?);
            }
        }
        Ok::<_, StoreError>((records, enforcement))
    })
    .await??;
    Ok(page(
        &format!("Run {submission}"),
        Some(&me.session),
        pages::run(&pages::Run {
            submission_id: &submission,
            records: &records,
            enforcement: &enforcement,
        }),
    ))
}

/// The pending list as the live updates send it.
#[derive(serde::Serialize, PartialEq)]
struct LiveItem {
    id: String,
    plan: String,
    agent: String,
    spec: String,
    created: String,
    reasons: Vec<String>,
}

fn live_items(list: &[ApprovalRecord]) -> String {
    let items: Vec<LiveItem> = list
        .iter()
        .map(|a| LiveItem {
            id: a.id.clone(),
            plan: pages::plan_name(&a.plan).unwrap_or_else(|| a.id.clone()),
            agent: a.agent.clone(),
            spec: a.spec.clone(),
            created: pages::when(a.created_ms),
            reasons: a.reasons.clone(),
        })
        .collect();
    serde_json::to_string(&items).unwrap_or_else(|_| "[]".into())
}

/// Server-sent events: the pending list, sent when it changes. The list is
/// read from the store (so a decision taken through another replica that
/// shares it shows too), at once after a local approval record and at least
/// every poll interval; a connection costs one read of the pending list per
/// interval when nothing changes, and nothing when nobody is signed in.
async fn events(
    State(app): State<App>,
    me: SignedIn,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let live = app.shared.store.subscribe();
    let mut tick = tokio::time::interval(app.opts.poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = (app, me.id, live, tick, String::new());
    let stream = futures_util::stream::unfold(
        state,
        |(app, session, mut live, mut tick, last)| async move {
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    r = live.recv() => match r {
                        // Only approval records change the list: a busy
                        // service's other commits do not wake the page.
                        Ok(rec) if rec.kind != EventKind::Approval.as_str() => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                        _ => {}
                    },
                }
                // The stream ends with the session (signed out or expired).
                app.sessions.get(&session)?;
                match pending_list(&app).await {
                    Ok(list) => {
                        let data = live_items(&list);
                        if data != last {
                            let ev = Event::default().event("pending").data(data.clone());
                            return Some((Ok(ev), (app, session, live, tick, data)));
                        }
                    }
                    // The page says so and the browser reconnects.
                    Err(_) => return None,
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn script() -> Response {
    static_file("text/javascript; charset=utf-8", CONSOLE_JS)
}

async fn style() -> Response {
    static_file("text/css; charset=utf-8", CONSOLE_CSS)
}

fn static_file(kind: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    r
}

async fn not_found() -> Refusal {
    Refusal::Status(StatusCode::NOT_FOUND, "no such page".into())
}

/// Serves the console on `listener` until the future is dropped: plain
/// HTTP, or HTTPS with `tls`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let Some(tls) = tls else {
        let svc = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, svc).await {
            tracing::error!("console: {e}");
        }
        return;
    };
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("console: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let tls = tls.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let stream = match tls.accept(tcp).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!("console: TLS handshake with {peer}: {e}");
                    return;
                }
            };
            let svc = tower::ServiceExt::map_request(
                app,
                move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    req
                },
            );
            let conn =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection_with_upgrades(
                        hyper_util::rt::TokioIo::new(stream),
                        hyper_util::service::TowerToHyperService::new(svc),
                    )
                    .await;
            if let Err(e) = conn {
                tracing::debug!("console: connection from {peer}: {e}");
            }
        });
    }
}

/// A TLS acceptor from the service's `[tls]` certificate and key (PEM).
pub fn tls_acceptor(
    tls: &service::config::TlsConfig,
) -> Result<tokio_rustls::TlsAcceptor, ConsoleError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|source| ConsoleError::Read {
            path: p.display().to_string(),
            source,
        })
    };
    let certs = CertificateDer::pem_slice_iter(&read(&tls.cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConsoleError::Tls(format!("{}: {e}", tls.cert.display())))?;
    let key = PrivateKeyDer::from_pem_slice(&read(&tls.key)?)
        .map_err(|e| ConsoleError::Tls(format!("{}: {e}", tls.key.display())))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConsoleError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ConsoleError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The console as a [`Companion`] of `warden serve`: it serves on
/// `listener` once the service has started, until the service stops.
pub fn companion(
    listener: tokio::net::TcpListener,
    opts: Options,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Companion {
    Box::new(move |shared: Shared| Box::pin(serve(listener, router(shared, opts), tls)))
}
