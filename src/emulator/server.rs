//! Serving: the accept loop (one hyper connection per task, each able to
//! be killed by its own request, over plain TCP or TLS), the top-level
//! router (hooks, token endpoint, `$batch`, Graph), and
//! [`start`]/[`RunningEmulator`].
//!
//! The accept loop is hand-written rather than `axum::serve` because the
//! `--reset-rate` fault must close a connection with no HTTP response:
//! each connection task `select!`s on its [`Kill`] signal and, when a
//! handler fires it, drops the connection (and with it the socket).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::batch;
use super::clock;
use super::config::{EmulatorConfig, EmulatorError};
use super::faults::{Fault, Scope};
use super::hooks;
use super::jwt::Principal;
use super::meter::{self, Place};
use super::paths::percent_decode;
use super::response::{Ids, Reply, graph_error, into_response, oauth_error};
use super::routes::{Call, Kill, Outcome, execute, note_write_attempt};
use super::state::State;
use super::stats::{Stats, bump};
use super::token;
use super::view::UserView;

/// Largest request body read (a full `$batch` is far smaller).
const MAX_BODY: usize = 4 * 1024 * 1024;
/// How long shutdown waits for open connections before closing them.
const GRACE: Duration = Duration::from_secs(5);
/// How long a handler whose connection was killed lingers. HTTP/1 drops it
/// at once; an HTTP/2 stream task is not dropped with its connection, so
/// it ends itself after this.
const LINGER: Duration = Duration::from_secs(10);

/// An emulator serving in the background; dropping it stops the server.
#[derive(Debug)]
pub struct RunningEmulator {
    addr: SocketAddr,
    url: String,
    state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl RunningEmulator {
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (`https://` when serving TLS), no trailing slash.
    #[must_use]
    pub fn url(&self) -> String {
        self.url.clone()
    }

    #[must_use]
    pub fn tenant_id(&self) -> &str {
        self.state.tenant_id()
    }

    #[must_use]
    pub fn tenant_domain(&self) -> &str {
        self.state.tenant_domain()
    }

    /// The same data as `GET /_stats`.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// The same data as `GET /_users`.
    #[must_use]
    pub fn users_snapshot(&self) -> Vec<UserView> {
        self.state.users_snapshot()
    }

    /// The shared state (for `POST /_reset`-like control from Rust).
    #[must_use]
    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// Stop accepting, let open requests finish (up to a few seconds), stop.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Seed the directory, bind `config.listen` (loopback only) and serve in
/// the background.
///
/// # Errors
///
/// A bad option or non-loopback address, seed CSV problems, or a bind
/// failure (see [`EmulatorError`]).
pub async fn start(config: EmulatorConfig) -> Result<RunningEmulator, EmulatorError> {
    config.validate()?;
    let listen = config.listen;
    // Seeding a million users takes a moment of CPU: keep it off the
    // async worker threads.
    let state = tokio::task::spawn_blocking(move || State::new(config))
        .await
        .map_err(|e| EmulatorError::Bind {
            addr: listen,
            source: io::Error::other(e),
        })??;
    let state = Arc::new(state);
    let bind_error = |source| EmulatorError::Bind {
        addr: listen,
        source,
    };
    let listener = TcpListener::bind(listen).await.map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    state.set_addr(addr);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, Arc::clone(&state), async {
        let _ = stopped.await;
    }));
    Ok(RunningEmulator {
        addr,
        url: state.base_url().to_owned(),
        state,
        stop: Some(stop),
        task: Some(task),
    })
}

/// Serve `state` on `listener` until `shutdown` completes.
///
/// # Errors
///
/// `InvalidInput` if the listener is not on a loopback address, or the
/// error reading its address.
pub async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to serve on `{addr}`: the emulator only serves loopback addresses"),
        ));
    }
    state.set_addr(addr);
    let (stop_all, stop) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, Arc::clone(&state), stop.clone()));
                }
                // Out of file descriptors and the like: wait, then go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_all.send(true);
    let _ = tokio::time::timeout(GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.shutdown().await;
    Ok(())
}

async fn connection(stream: TcpStream, state: Arc<State>, stop: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    match state.tls.clone() {
        None => http(stream, state, stop).await,
        Some(tls) => {
            if let Some(stream) = tls.accept(stream).await {
                http(stream, state, stop).await;
            }
        }
    }
}

/// Serve HTTP/1.1 or HTTP/2 on one connection until it ends, is killed or
/// the server stops. Killing drops `io`, and with it the socket (a TLS
/// stream closes without `close_notify`, like a broken connection).
async fn http<S>(io: S, state: Arc<State>, mut stop: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let kill = Kill::default();
    let service = {
        let kill = kill.clone();
        service_fn(move |request| {
            let state = Arc::clone(&state);
            let kill = kill.clone();
            async move { Ok::<_, Infallible>(handle(&state, &kill, request).await) }
        })
    };
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            // Returning drops `conn`: the socket closes with no response.
            () = kill.fired() => return,
            _ = stop.changed(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Route one HTTP request.
async fn handle(state: &State, kill: &Kill, request: Request<Incoming>) -> Response<Body> {
    let ids = state.new_ids(
        request
            .headers()
            .get("client-request-id")
            .map(HeaderValue::as_bytes),
    );
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let query = parts.uri.query();
    if path.starts_with("/_") {
        return hooks::handle(state, &parts.method, path, query, &ids);
    }
    bump(&state.counters.requests);
    let body = match axum::body::to_bytes(Body::new(body), MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let reply = graph_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "The request body is too large or could not be read.",
                &ids,
            );
            return respond(state, reply, &ids);
        }
    };
    let authorization = parts.headers.get(AUTHORIZATION).map(HeaderValue::as_bytes);
    if let Some(tenant) = token_tenant(path) {
        bump(&state.counters.token);
        let reply = if parts.method == Method::POST {
            token::handle(state, &tenant, authorization, &body, &ids)
        } else {
            oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900_561,
                "The endpoint only accepts POST requests.",
                &ids,
            )
        };
        return respond(state, reply, &ids);
    }
    if let Some(tenant) = discovery_tenant(path) {
        let reply = if parts.method == Method::GET {
            token::openid_configuration(state, &tenant, &ids)
        } else {
            graph_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "BadRequest",
                "Use GET.",
                &ids,
            )
        };
        return respond(state, reply, &ids);
    }
    let Some(graph_path) = path
        .strip_prefix("/v1.0")
        .filter(|p| p.is_empty() || p.starts_with('/'))
    else {
        let segment = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        let reply = graph_error(
            StatusCode::NOT_FOUND,
            "BadRequest",
            &format!("Resource not found for the segment '{segment}'."),
            &ids,
        );
        return respond(state, reply, &ids);
    };
    if !matches!(graph_path, "/$batch" | "/%24batch") {
        note_write_attempt(state, &parts.method, graph_path);
    }
    let _in_flight = state.counters.in_flight();
    if !state.config.latency.is_zero() {
        tokio::time::sleep(state.config.latency).await;
    }
    let principal = match state.tokens.verify(authorization, clock::now()) {
        Ok(p) => p,
        Err(rejection) => {
            let reply = graph_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                rejection.message(),
                &ids,
            )
            .with_header(
                "WWW-Authenticate",
                "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
            );
            return respond(state, reply, &ids);
        }
    };
    if matches!(graph_path, "/$batch" | "/%24batch") {
        return handle_batch(state, kill, &parts.method, &principal, &body, ids).await;
    }
    let call = Call {
        method: &parts.method,
        path: graph_path,
        query,
        body: (!body.is_empty()).then(|| serde_json::from_slice::<Value>(&body).map_err(|_| ())),
        ids,
    };
    match execute(state, &principal, &call, Scope::Direct, Some(kill)).await {
        Outcome::Reply(reply) => respond(state, reply, &call.ids),
        Outcome::Dropped => linger().await,
    }
}

async fn handle_batch(
    state: &State,
    kill: &Kill,
    method: &Method,
    principal: &Principal,
    body: &[u8],
    ids: Ids,
) -> Response<Body> {
    bump(&state.counters.batch);
    if *method != Method::POST {
        let reply = graph_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "BadRequest",
            "Use POST for $batch.",
            &ids,
        );
        return respond(state, reply, &ids);
    }
    let bad = |message: &str| graph_error(StatusCode::BAD_REQUEST, "BadRequest", message, &ids);
    let items = match batch::parse(body) {
        Ok(items) => items,
        Err(message) => return respond(state, bad(&message), &ids),
    };
    let fault = state.faults.decide(Scope::Envelope);
    if fault == Fault::DropBefore {
        bump(&state.counters.dropped_before_apply);
        kill.fire();
        return linger().await;
    }
    let answered = match batch::run(state, principal, &items).await {
        Ok(answered) => answered,
        Err(message) => return respond(state, bad(&message), &ids),
    };
    if fault == Fault::DropAfter {
        bump(&state.counters.dropped_after_apply);
        kill.fire();
        return linger().await;
    }
    let mut reply = Reply::json(StatusCode::OK, json!({ "responses": answered.responses }));
    if let Some(level) = meter::level_header(&state.config, answered.level, Place::Envelope) {
        reply = reply.with_header("x-ms-throttle-limit-percentage", level);
    }
    respond(state, reply, &ids)
}

/// Count the status and build the response.
fn respond(state: &State, reply: Reply, ids: &Ids) -> Response<Body> {
    state.counters.status(reply.status.as_u16());
    into_response(reply, ids)
}

/// The answer of a request whose connection was killed: nobody reads it.
async fn linger() -> Response<Body> {
    tokio::time::sleep(LINGER).await;
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response
}

/// `{tenant}` of `/{tenant}/oauth2/v2.0/token`.
fn token_tenant(path: &str) -> Option<String> {
    tenant_of(path, &["oauth2", "v2.0", "token"])
}

/// `{tenant}` of `/{tenant}/v2.0/.well-known/openid-configuration`.
fn discovery_tenant(path: &str) -> Option<String> {
    tenant_of(path, &["v2.0", ".well-known", "openid-configuration"])
}

fn tenant_of(path: &str, suffix: &[&str]) -> Option<String> {
    let mut segments = path.strip_prefix('/')?.split('/');
    let tenant = segments.next().filter(|t| !t.is_empty())?;
    segments
        .eq(suffix.iter().copied())
        .then(|| percent_decode(tenant).unwrap_or_else(|| tenant.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::{discovery_tenant, token_tenant};

    #[test]
    fn token_paths() {
        assert_eq!(
            discovery_tenant("/contoso.com/v2.0/.well-known/openid-configuration").as_deref(),
            Some("contoso.com")
        );
        assert_eq!(
            token_tenant("/contoso.onmicrosoft.com/oauth2/v2.0/token").as_deref(),
            Some("contoso.onmicrosoft.com")
        );
        assert_eq!(token_tenant("/oauth2/v2.0/token"), None);
        assert_eq!(token_tenant("/t/oauth2/v2.0/token/x"), None);
        assert_eq!(token_tenant("//oauth2/v2.0/token"), None);
    }
}
