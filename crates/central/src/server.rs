//! Running the central: the HTTP server and the sweeper as two tasks that share one shutdown
//! signal, and a handle whose `shutdown` stops both and waits for them. The server speaks plain
//! HTTP/1.1 or, given a certificate and key ([`load_tls`]), HTTPS with rustls (ring provider,
//! TLS 1.2 and 1.3): the accept loop does the handshake inside the connection's slot and under
//! the header-read timeout, and a failed handshake only drops that connection.
//!
//! Deliberately absent: parsing arguments and choosing the database (the binary does that).

use std::net::SocketAddr;
use std::path::Path;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{service_fn, Service as _};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

use crate::http::{router, AppState, Config};
use crate::store::Store;
use crate::sweeper::{self, IntentLookup};

/// A running central. Dropping it without `shutdown` leaves the tasks running until the runtime
/// ends; call `shutdown` to stop them in order.
#[derive(Debug)]
pub struct RunningCentral {
    /// Where the HTTP server listens (the real port when bound to port 0).
    pub addr: SocketAddr,
    /// The store the server uses, shared with tests and tools.
    pub store: Store,
    /// Set to true once to stop the server and the sweeper.
    shutdown: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    sweeper: JoinHandle<()>,
}

/// Starts serving plain HTTP on `listener` and sweeping every `config.sweep_interval_ms`.
pub fn start(
    store: Store,
    config: Config,
    gateway: Option<Arc<dyn IntentLookup>>,
    listener: TcpListener,
) -> std::io::Result<RunningCentral> {
    start_with_tls(store, config, gateway, listener, None)
}

/// [`start`], serving HTTPS when `tls` is given (see [`load_tls`]).
pub fn start_with_tls(
    store: Store,
    config: Config,
    gateway: Option<Arc<dyn IntentLookup>>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
) -> std::io::Result<RunningCentral> {
    let addr = listener.local_addr()?;
    let (shutdown, _) = watch::channel(false);
    let sweep_interval_ms = config.sweep_interval_ms;
    let state = AppState {
        store: store.clone(),
        config: Arc::new(config),
        gateway: gateway.clone(),
        terminals: Default::default(),
    };
    let limits = ConnLimits::from(&*state.config);
    let app = router(state);
    let server = tokio::spawn(serve(listener, app, limits, tls, shutdown.subscribe()));
    let sweeper = tokio::spawn(sweeper::run(
        store.clone(),
        gateway,
        sweep_interval_ms,
        shutdown.subscribe(),
    ));
    Ok(RunningCentral {
        addr,
        store,
        shutdown,
        server,
        sweeper,
    })
}

impl RunningCentral {
    /// Stops accepting requests, lets in-flight requests and the current sweep pass finish, and
    /// waits for both tasks.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        match self.server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "server stopped with an error"),
            Err(e) => tracing::error!(error = %e, "server task failed"),
        }
        if let Err(e) = self.sweeper.await {
            tracing::error!(error = %e, "sweeper task failed");
        }
        tracing::info!("central stopped");
    }
}

/// Reads a PEM certificate chain (the server's certificate first) and its PEM private key
/// (PKCS#8, PKCS#1 or SEC1) into a TLS acceptor. The message says which file is wrong and how;
/// it never contains key material.
pub fn load_tls(cert_file: &Path, key_file: &Path) -> Result<TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let certs = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            format!(
                "the certificate file {}: {e} (a PEM file starting with -----BEGIN CERTIFICATE-----)",
                cert_file.display()
            )
        })?;
    if certs.is_empty() {
        return Err(format!(
            "the certificate file {} holds no certificate (expected -----BEGIN CERTIFICATE-----)",
            cert_file.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
        format!(
            "the key file {}: {e} (a PEM private key: -----BEGIN PRIVATE KEY-----, RSA or EC)",
            key_file.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "the certificate {} and the key {} do not make a usable pair: {e}",
                cert_file.display(),
                key_file.display()
            )
        })?;
    // HTTP/1.1 only, like the plain server.
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The connection limits of [`Config`], as the serve loop uses them.
#[derive(Debug, Clone, Copy)]
struct ConnLimits {
    header_read: Duration,
    idle: Duration,
    connections_max: usize,
}

impl From<&Config> for ConnLimits {
    fn from(c: &Config) -> ConnLimits {
        ConnLimits {
            header_read: Duration::from_millis(c.header_read_timeout_ms.max(1)),
            idle: Duration::from_millis(c.idle_timeout_ms.max(1)),
            connections_max: c.connections_max.max(1),
        }
    }
}

/// The accept loop (instead of `axum::serve`, which sets no timeouts): at most
/// `connections_max` connections at once, each served over HTTP/1.1 with a header-read timeout
/// and closed after `idle` without a byte either way. On shutdown it stops accepting, asks every
/// connection to finish its request in flight and close, and waits for them all.
async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.connections_max));
    loop {
        // Take a slot before accepting: beyond the cap, clients wait in the listen backlog.
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = stopped(&mut stop) => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors or a connection reset before it was accepted: wait a
                    // little (EMFILE would otherwise spin) and keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let conn_stop = stop.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_connection(Box::new(stream), app, limits, conn_stop).await,
                Some(tls) => {
                    // The handshake holds the slot and gets no longer than a request head: a
                    // client that never finishes it cannot pin a connection.
                    match tokio::time::timeout(limits.header_read, tls.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            serve_connection(Box::new(stream), app, limits, conn_stop).await
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    // Every connection holds a slot until it ends: taking them all means all have ended.
    let all = u32::try_from(limits.connections_max).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    Ok(())
}

/// A connection's byte stream: a TCP socket, or TLS over one.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

async fn serve_connection(
    stream: Box<dyn Stream>,
    app: Router,
    limits: ConnLimits,
    mut stop: watch::Receiver<bool>,
) {
    let started = Instant::now();
    let last_active = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(ActivityIo {
        inner: stream,
        started,
        last_active: last_active.clone(),
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    // Requests this connection is running, so shutdown can tell a connection that is only
    // waiting for (part of) a request, which it drops, from one that is serving one.
    let in_flight = Arc::new(AtomicUsize::new(0));
    let app = TowerToHyperService::new(app);
    let counter = in_flight.clone();
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        let running = InFlight::enter(&counter);
        let response = app.call(req);
        async move {
            let response = response.await;
            drop(running);
            response
        }
    });
    let mut conn = pin!(builder.serve_connection(io, service));
    let mut stopping = false;
    // Shutdown checks taken in a row with no request in flight.
    let mut quiet_checks = 0u32;
    loop {
        let idle_deadline =
            started + Duration::from_millis(last_active.load(Ordering::Relaxed)) + limits.idle;
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = stopped(&mut stop), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            // hyper's graceful shutdown closes a connection between requests, but one that has
            // sent nothing or half a request head would hold shutdown until the header
            // timeout: once no request has been in flight for SHUTDOWN_GRACE, drop it (this
            // also leaves hyper that long to finish writing the last response).
            _ = tokio::time::sleep(SHUTDOWN_CHECK), if stopping => {
                if in_flight.load(Ordering::SeqCst) == 0 {
                    quiet_checks += 1;
                    if SHUTDOWN_CHECK * quiet_checks >= SHUTDOWN_GRACE {
                        return;
                    }
                } else {
                    quiet_checks = 0;
                }
            }
            _ = tokio::time::sleep_until(idle_deadline) => {
                let quiet = started.elapsed()
                    - Duration::from_millis(last_active.load(Ordering::Relaxed));
                if quiet >= limits.idle {
                    tracing::debug!("connection idle too long: closed");
                    return;
                }
            }
        }
    }
}

/// How often a stopping connection checks whether it still serves a request.
const SHUTDOWN_CHECK: Duration = Duration::from_millis(100);
/// How long a stopping connection with no request in flight is kept before it is dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// Counts a request in flight until dropped (the request answered, or abandoned).
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(counter: &Arc<AtomicUsize>) -> InFlight {
        counter.fetch_add(1, Ordering::SeqCst);
        InFlight(counter.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Resolves once shutdown is asked for (a true value, or the sender gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// A socket that notes when it last read or wrote a byte (milliseconds after `started`).
struct ActivityIo {
    inner: Box<dyn Stream>,
    started: Instant,
    last_active: Arc<AtomicU64>,
}

impl std::fmt::Debug for ActivityIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivityIo").finish_non_exhaustive()
    }
}

impl ActivityIo {
    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_active.store(ms, Ordering::Relaxed);
    }
}

impl AsyncRead for ActivityIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        poll
    }
}

impl AsyncWrite for ActivityIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Waits for Ctrl-C or SIGTERM: how a server binary learns it should shut down gracefully
/// (shared by `paydesk-central serve` and `paydesk stack`).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
