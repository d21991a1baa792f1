//! Running a gateway: its upstream servers (children over stdio, or URLs
//! over streamable HTTP) and the agent's side (stdio, or streamable HTTP).

use crate::{Config, Gateway, GatewayError, UpstreamSide};
use rmcp::RoleClient;
use rmcp::ServiceExt;
use rmcp::service::RunningService;
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{
    StreamableHttpClientTransport, StreamableHttpServerConfig, StreamableHttpService,
    TokioChildProcess,
};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;

/// One server behind the gateway.
pub enum UpstreamSpec {
    /// A child process speaking MCP on its stdin and stdout (its stderr is
    /// the gateway's).
    Command {
        /// The agent sees the server's tool `NAME` as `PREFIX.NAME`
        /// (`None`: as `NAME`).
        prefix: Option<String>,
        /// The server's program, with its arguments.
        command: tokio::process::Command,
    },
    /// A streamable HTTP endpoint. The headers (credentials, typically) go
    /// to the server only; the agent never sees them.
    Http {
        /// The agent sees the server's tool `NAME` as `PREFIX.NAME`
        /// (`None`: as `NAME`).
        prefix: Option<String>,
        /// The endpoint, `http://` or `https://`.
        url: String,
        /// HTTP headers sent with every request.
        headers: BTreeMap<String, String>,
    },
}

/// How the agent reaches the gateway.
pub enum AgentTransport {
    /// The gateway's stdin and stdout; lines longer than `max_message`
    /// bytes are discarded.
    Stdio {
        /// The longest line read, in bytes (`warden mcp` gives
        /// [`crate::DEFAULT_MAX_MESSAGE`] unless told otherwise).
        max_message: usize,
    },
    /// Streamable HTTP at `http://ADDR/mcp`, loopback host names only
    /// (rmcp's DNS-rebinding guard) unless `allowed_hosts` lists more.
    Http {
        /// The address to listen on.
        listen: SocketAddr,
        /// Host names accepted in the `Host` header besides the loopback
        /// ones.
        allowed_hosts: Vec<String>,
        /// Called with the bound address once the gateway listens.
        on_listen: Option<Box<dyn FnOnce(SocketAddr) + Send>>,
    },
}

async fn connect(
    gateway: &Gateway,
    spec: UpstreamSpec,
) -> Result<RunningService<RoleClient, UpstreamSide>, GatewayError> {
    match spec {
        UpstreamSpec::Command { prefix, command } => {
            let shown = format!("{:?}", command.as_std());
            let (child, _) = TokioChildProcess::builder(command)
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|source| GatewayError::Spawn {
                    command: shown,
                    source,
                })?;
            gateway.connect(prefix, child).await
        }
        UpstreamSpec::Http {
            prefix,
            url,
            headers,
        } => {
            let mut custom = HashMap::new();
            for (k, v) in &headers {
                let name = axum::http::HeaderName::try_from(k.as_str())
                    .map_err(|e| GatewayError::Config(format!("header name `{k}`: {e}")))?;
                let value = axum::http::HeaderValue::try_from(v.as_str())
                    .map_err(|e| GatewayError::Config(format!("the value of header `{k}`: {e}")))?;
                custom.insert(name, value);
            }
            let config = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(custom);
            gateway
                .connect(prefix, StreamableHttpClientTransport::from_config(config))
                .await
        }
    }
}

/// Run a gateway until the agent disconnects (stdio), the process is told
/// to stop (HTTP: SIGINT or SIGTERM), or a server exits; with `metrics`, a
/// listening socket, serve its Prometheus metrics there (`GET /metrics`)
/// for as long.
pub async fn serve(
    config: Config,
    upstreams: Vec<UpstreamSpec>,
    agent: AgentTransport,
    metrics: Option<std::net::TcpListener>,
) -> Result<(), GatewayError> {
    if upstreams.is_empty() {
        return Err(GatewayError::NoUpstream);
    }
    // reqwest (the HTTP upstreams' client) is built without a TLS provider of
    // its own: ring, the one the rest of Warden uses, is the process default.
    // An error means a default is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let gateway = Gateway::open(config)?;
    let metrics = match metrics {
        None => None,
        Some(l) => {
            let listener = l
                .set_nonblocking(true)
                .and_then(|()| tokio::net::TcpListener::from_std(l))
                .map_err(|e| GatewayError::Config(format!("the metrics listener: {e}")))?;
            let m = gateway.metrics();
            let scrape = service::metrics::Scrape {
                encode: Arc::new(move || service::metrics::encode(m.registry())),
                refresh: None,
            };
            Some(tokio::spawn(async move {
                if let Err(e) =
                    service::metrics::serve(listener, scrape, std::future::pending()).await
                {
                    tracing::error!("warden mcp: the metrics endpoint failed: {e}");
                }
            }))
        }
    };
    let mut clients = Vec::new();
    for spec in upstreams {
        clients.push(connect(&gateway, spec).await?);
    }
    let servers_gone = async move {
        let waits = clients.into_iter().map(|c| Box::pin(c.waiting()));
        let _ = futures_select_all(waits.collect()).await;
    };
    let result = match agent {
        AgentTransport::Stdio { max_message } => {
            let transport = AsyncRwTransport::new_server(tokio::io::stdin(), tokio::io::stdout())
                .with_max_line_length(max_message);
            let running = gateway
                .agent_side()
                .serve(transport)
                .await
                .map_err(|e| GatewayError::Agent(e.to_string()))?;
            tokio::select! {
                r = running.waiting() => r.map(|_| ()).map_err(|e| GatewayError::Agent(e.to_string())),
                () = servers_gone => Err(GatewayError::Upstream("a server exited".into())),
            }
        }
        AgentTransport::Http {
            listen,
            allowed_hosts,
            on_listen,
        } => {
            let agent = gateway.agent_side();
            let mut http_config = StreamableHttpServerConfig::default();
            if !allowed_hosts.is_empty() {
                http_config.allowed_hosts.extend(allowed_hosts);
            }
            let cancel = http_config.cancellation_token.clone();
            let service = StreamableHttpService::new(
                move || Ok(agent.clone()),
                Arc::new(LocalSessionManager::default()),
                http_config,
            );
            let router = axum::Router::new().nest_service("/mcp", service);
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| GatewayError::Agent(format!("cannot listen on {listen}: {e}")))?;
            let bound = listener
                .local_addr()
                .map_err(|e| GatewayError::Agent(e.to_string()))?;
            // Installed before `on_listen` says the gateway listens, so a
            // signal right after that stops it gracefully.
            let shutdown = service::server::shutdown_signals().map_err(|e| {
                GatewayError::Agent(format!("cannot handle SIGTERM and SIGINT: {e}"))
            })?;
            if let Some(f) = on_listen {
                f(bound);
            }
            let stop = cancel.clone();
            let server = axum::serve(listener, router).with_graceful_shutdown(async move {
                stop.cancelled().await;
            });
            tokio::select! {
                r = server => r.map_err(|e| GatewayError::Agent(e.to_string())),
                () = servers_gone => { cancel.cancel(); Err(GatewayError::Upstream("a server exited".into())) }
                () = shutdown => { cancel.cancel(); Ok(()) }
            }
        }
    };
    if let Some(m) = metrics {
        m.abort();
    }
    gateway.close();
    result
}

/// The first of several futures to finish.
async fn futures_select_all<F: std::future::Future + Unpin>(futures: Vec<F>) {
    if futures.is_empty() {
        return std::future::pending().await;
    }
    let mut futures = futures;
    std::future::poll_fn(move |cx| {
        for f in futures.iter_mut() {
            if std::pin::Pin::new(f).poll(cx).is_ready() {
                return std::task::Poll::Ready(());
            }
        }
        std::task::Poll::Pending
    })
    .await
}
